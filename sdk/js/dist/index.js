/**
 * @latchkey/connect: the browser side of a Latchkey connection. Your backend
 * creates a link (POST …/connections/{config}/link with "popup": true);
 * connect() opens its landing page in a popup, or sends the whole tab there
 * on mobile, and resolves when the result page posts the outcome back.
 * @packageDocumentation
 */
/** ConnectError is how connect() rejects; code says why. */
export class ConnectError extends Error {
    constructor(code, message, fields = {}) {
        super(message);
        this.name = 'ConnectError';
        this.code = code;
        Object.assign(this, fields);
    }
}
/** The type of the message Latchkey's result page posts to its opener. */
const messageType = 'latchkey:connection';
/**
 * connect opens a link's landing page and resolves with the result the page
 * posts when the flow ends. It accepts the message only from the popup it
 * opened and only from the link's origin (Latchkey's). In redirect mode the
 * tab leaves the page and the promise never settles: read the outcome with
 * redirectResult() where the link's return_to leads.
 */
export function connect(options) {
    const { signal } = options;
    if (signal?.aborted)
        return Promise.reject(aborted(signal));
    const mode = options.mode ?? (isMobile() ? 'redirect' : 'popup');
    if (mode === 'redirect') {
        return linkURL(options.url).then(url => {
            location.assign(url);
            return new Promise(() => { });
        });
    }
    const direct = typeof options.url === 'string' ? checkedURL(options.url) : undefined;
    if (direct instanceof ConnectError)
        return Promise.reject(direct);
    const width = options.popup?.width ?? 600;
    const height = options.popup?.height ?? 720;
    const left = Math.max(0, screenX + (outerWidth - width) / 2);
    const top = Math.max(0, screenY + (outerHeight - height) / 2);
    const popup = open(direct?.href ?? 'about:blank', '_blank', `popup,width=${width},height=${height},left=${left},top=${top}`);
    if (!popup || popup.closed) {
        return Promise.reject(new ConnectError('popup_blocked', 'The browser blocked the popup window: call connect() from a click, or allow popups for this site.'));
    }
    return new Promise((resolve, reject) => {
        let origin = direct?.origin;
        let settled = false;
        const timers = [];
        const finish = (err, result) => {
            if (settled)
                return;
            settled = true;
            removeEventListener('message', onMessage);
            signal?.removeEventListener('abort', onAbort);
            clearInterval(poll);
            timers.forEach(clearTimeout);
            if (err !== undefined) {
                if (!popup.closed)
                    popup.close();
                reject(err);
            }
            else {
                resolve(result);
            }
        };
        const onMessage = (ev) => {
            const d = ev.data;
            if (ev.source !== popup || ev.origin !== origin || !d || d.type !== messageType)
                return;
            if (d.status === 'connected')
                finish(undefined, { status: 'connected', app: d.app, config: d.config });
            else
                finish(resultError(d));
        };
        const onAbort = () => finish(aborted(signal));
        addEventListener('message', onMessage);
        signal?.addEventListener('abort', onAbort);
        // The result page posts, then closes itself: a closed popup is given a
        // moment for that message to arrive before it counts as closed by the user.
        let closedSeen = false;
        const poll = setInterval(() => {
            if (!popup.closed || closedSeen)
                return;
            closedSeen = true;
            timers.push(setTimeout(() => finish(new ConnectError('popup_closed', 'The popup window closed without a result: the user closed it, or the link was not made with "popup": true, ' +
                "or this page's origin is not one of the app's allowed_return_urls.")), 400));
        }, 250);
        if (options.timeoutMs !== undefined) {
            timers.push(setTimeout(() => finish(new ConnectError('timeout', `No result within ${options.timeoutMs} ms.`)), options.timeoutMs));
        }
        if (!direct) {
            linkURL(options.url).then(url => {
                if (settled)
                    return;
                origin = new URL(url).origin;
                popup.location.href = url;
            }, err => finish(err));
        }
    });
}
/**
 * redirectResult reads the outcome of a redirect-mode connection from the
 * URL Latchkey sent the tab back to (the link's return_to, with connection
 * and config added on success); null when it carries none. Anyone can craft
 * such a URL: confirm the connection with your backend before trusting it.
 */
export function redirectResult(href = location.href) {
    const q = new URL(href).searchParams;
    return q.get('connection') === 'success' ? { status: 'connected', config: q.get('config') ?? '' } : null;
}
function resultError(d) {
    const fields = { app: d.app, config: d.config, providerError: d.provider_error, providerErrorDescription: d.provider_error_description };
    const code = d.error || 'failed';
    let message = d.message || 'The connection failed.';
    if (code === 'cancelled')
        message = 'The user cancelled on the landing page; nothing was shared.';
    if (d.provider_error)
        message += ` (${d.provider_error}` + (d.provider_error_description ? `: ${d.provider_error_description})` : ')');
    return new ConnectError(code, message, fields);
}
function aborted(signal) {
    const err = new ConnectError('aborted', 'connect() was aborted.');
    err.cause = signal.reason;
    return err;
}
function checkedURL(raw) {
    let u;
    try {
        u = new URL(raw, location.href);
    }
    catch {
        return new ConnectError('invalid_url', 'The link is not a URL.');
    }
    return u.protocol === 'https:' || u.protocol === 'http:' ? u : new ConnectError('invalid_url', 'The link is not an http or https URL.');
}
async function linkURL(url) {
    const u = checkedURL(typeof url === 'string' ? url : await url());
    if (u instanceof ConnectError)
        throw u;
    return u.href;
}
function isMobile() {
    const data = navigator.userAgentData;
    return data?.mobile ?? /Android|iPhone|iPad|iPod|Mobi/i.test(navigator.userAgent);
}
