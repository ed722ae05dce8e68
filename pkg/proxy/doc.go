// Package proxy sends calls to a provider's API on a connection's behalf:
// the passthrough proxy (any method and path under a config's API base URL)
// and the app's declared APIs. It is built on net/http/httputil.ReverseProxy,
// which handles hop-by-hop headers, trailers, flushing and streaming; this
// package adds what an OAuth platform owes its callers:
//
//   - the connection's credentials, which the caller cannot override;
//   - one forced refresh, and one replay, when the provider answers that the
//     token expired (flow.Engine.ForceRefresh), never two and never a loop;
//   - retries of idempotent requests on network errors and the config's
//     statuses, with capped exponential backoff and jitter, Retry-After and
//     the config's rate-limit reset header honoured, within the caller's
//     deadline;
//   - request bodies streamed, and buffered for a replay only up to
//     MaxReplayBody;
//   - its own refusals told apart from the provider's answers by the
//     Latchkey-Error header, set by the caller's error handler.
//
// It knows no HTTP framework; pkg/httpapi routes to it.
package proxy
