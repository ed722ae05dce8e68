/**
 * @latchkey/connect: the browser side of a Latchkey connection. Your backend
 * creates a link (POST …/connections/{config}/link with "popup": true);
 * connect() opens its landing page in a popup, or sends the whole tab there
 * on mobile, and resolves when the result page posts the outcome back.
 * @packageDocumentation
 */
/** The codes of a ConnectError. */
export type ConnectErrorCode = 
/** The browser blocked the popup: call connect() from a click handler. */
'popup_blocked'
/** The popup closed before it posted a result: the user closed it. */
 | 'popup_closed'
/** No result within timeoutMs. */
 | 'timeout'
/** The signal passed to connect() was aborted. */
 | 'aborted'
/** The url option is not an http or https URL. */
 | 'invalid_url'
/** The user pressed Cancel on the landing page; nothing was shared. */
 | 'cancelled'
/** The provider refused or failed: see providerError and providerErrorDescription. */
 | 'provider_error'
/** Another error code of Latchkey's result page, such as forbidden (the flow came back in another browser) or invalid. */
 | (string & {});
/** ConnectOptions are the options of connect(). */
export interface ConnectOptions {
    /**
     * The link's URL, or a function that creates the link and returns its URL.
     * A function is called after the popup has opened (on the click itself, so
     * popup blockers let it through); an error it throws closes the popup and
     * rejects connect() unchanged.
     */
    url: string | (() => string | Promise<string>);
    /** 'popup' (the default on desktop) or 'redirect' (the default on mobile): the tab itself goes to the link and comes back to its return_to. */
    mode?: 'popup' | 'redirect';
    /** The popup's size in CSS pixels; 600 × 720 by default. */
    popup?: {
        width?: number;
        height?: number;
    };
    /** Rejects with code 'timeout' and closes the popup after this many milliseconds; no limit by default (the link itself expires). */
    timeoutMs?: number;
    /** Aborting it rejects with code 'aborted' and closes the popup. */
    signal?: AbortSignal;
}
/** Result is the outcome of a connection that succeeded. */
export interface Result {
    status: 'connected';
    /** The app's name. */
    app: string;
    /** The OAuth config's name. */
    config: string;
}
/** RedirectResult is what redirectResult() reads from the return_to URL after a redirect. */
export interface RedirectResult {
    status: 'connected';
    /** The OAuth config's name. */
    config: string;
}
/** ConnectError is how connect() rejects; code says why. */
export declare class ConnectError extends Error {
    /** Why connect() failed. */
    readonly code: ConnectErrorCode;
    /** The app's name, when the result page said it. */
    readonly app?: string;
    /** The OAuth config's name, when the result page said it. */
    readonly config?: string;
    /** The provider's OAuth error code (RFC 6749 §4.1.2.1, §5.2), such as access_denied. */
    readonly providerError?: string;
    /** The provider's error_description. */
    readonly providerErrorDescription?: string;
    constructor(code: ConnectErrorCode, message: string, fields?: Partial<Pick<ConnectError, 'app' | 'config' | 'providerError' | 'providerErrorDescription'>>);
}
/**
 * connect opens a link's landing page and resolves with the result the page
 * posts when the flow ends. It accepts the message only from the popup it
 * opened and only from the link's origin (Latchkey's). In redirect mode the
 * tab leaves the page and the promise never settles: read the outcome with
 * redirectResult() where the link's return_to leads.
 */
export declare function connect(options: ConnectOptions): Promise<Result>;
/**
 * redirectResult reads the outcome of a redirect-mode connection from the
 * URL Latchkey sent the tab back to (the link's return_to, with connection
 * and config added on success); null when it carries none. Anyone can craft
 * such a URL: confirm the connection with your backend before trusting it.
 */
export declare function redirectResult(href?: string): RedirectResult | null;
