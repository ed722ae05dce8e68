package latchkey

import "time"

// TraceKind says which flow a trace follows.
type TraceKind string

// The flows Latchkey traces.
const (
	// TraceAuthorization is a user's return from the provider: the
	// callback, the code's exchange (RFC 6749 §4.1.3) and the config's
	// verification call when it declares one.
	TraceAuthorization TraceKind = "authorization"
	// TraceRefresh is a refresh (RFC 6749 §6), or a client-credentials
	// token fetched anew (§4.4).
	TraceRefresh TraceKind = "refresh"
	// TraceAPI is a call of a declared API.
	TraceAPI TraceKind = "api"
	// TraceProxy is a call through the proxy.
	TraceProxy TraceKind = "proxy"
	// TraceVerify is a run of the config's verification call on its own
	// (Test connection on a connection that exists).
	TraceVerify TraceKind = "verify"
)

// KeepTraces is how many traces the store keeps per connection: the
// newest; older ones are deleted as new ones come in.
const KeepTraces = 50

// TraceRetention is how long a trace is kept at most: the server's sweep
// deletes older ones, also those of connections that are gone.
const TraceRetention = 30 * 24 * time.Hour

// Trace is one run of a flow of a connection, as a list of steps, each a
// request Latchkey sent and the answer it got, with every secret masked:
// the values of secret settings and tokens, credentials in headers, and
// token-like fields of bodies. Nothing in a trace is a secret.
type Trace struct {
	// ID is "trc_" and 24 hex digits.
	ID string `json:"id"`
	// Env is the environment of the trace (written later than the flow
	// runs, so it travels with it).
	Env Environment `json:"-"`
	ConnectionKey
	Kind TraceKind `json:"kind"`
	// Name says what ran: the API's name, the proxied method and path.
	Name      string    `json:"name,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// DurationMS is how long the flow took, in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// OK says the flow succeeded; Error is what failed, as the provider
	// said it when it did.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Status is the HTTP status of the last answer, 0 when none came.
	Status int `json:"status,omitempty"`
	// StepCount is len(Steps), kept when Steps are left out of a listing.
	StepCount int `json:"step_count"`
	// Steps are the requests of the flow, in order; a listing leaves them
	// out.
	Steps []TraceStep `json:"steps,omitempty"`
}

// TraceStep is one request of a trace and its answer, secrets masked.
type TraceStep struct {
	// Name says what the request was for: "authorization", "token
	// exchange", "refresh", "verification", "API call", "proxied call".
	Name      string    `json:"name"`
	StartedAt time.Time `json:"started_at"`
	// DurationMS runs from sending the request to the end of the answer's
	// body.
	DurationMS float64           `json:"duration_ms"`
	Method     string            `json:"method,omitempty"`
	URL        string            `json:"url,omitempty"`
	Request    map[string]string `json:"request_headers,omitempty"`
	// RequestBody and ResponseBody are at most TraceBodyLimit bytes each;
	// Truncated says one was cut.
	RequestBody string            `json:"request_body,omitempty"`
	Status      int               `json:"status,omitempty"`
	Response    map[string]string `json:"response_headers,omitempty"`
	// ResponseBody, and the headers of both ways, are kept for every
	// answer of the OAuth flows; for API and proxied calls only when the
	// provider refused (status 400 and above) or no answer came, so that
	// its error is shown as it said it. A call that succeeded is its
	// method, URL, status and time.
	ResponseBody string `json:"response_body,omitempty"`
	Truncated    bool   `json:"truncated,omitempty"`
	// Error is why no answer came (network, timeout, refused address), or
	// what the provider's redirect said (a refusal such as access_denied).
	Error string `json:"error,omitempty"`
	// Redirect marks the user's return from the provider (the callback's
	// URL as it arrived), not a request Latchkey sent.
	Redirect bool `json:"redirect,omitempty"`
}

// TraceFilter selects an app's traces: of one kind, one org, failed only,
// older than the trace Before (an id), newest first, at most Limit (200
// when 0 or more).
type TraceFilter struct {
	Kind   TraceKind
	Org    string
	Failed bool
	Before string
	Limit  int
}

// TraceBodyLimit is how many bytes of a request or answer body a trace
// step keeps.
const TraceBodyLimit = 8 << 10
