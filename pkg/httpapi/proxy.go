package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/proxy"
)

// proxyMethods are the methods the proxy forwards; CONNECT and TRACE are
// not (a tunnel, and an echo of the request's headers, credentials
// included).
var proxyMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions}

func (s *Server) proxyRoutes(g *echo.Group) {
	g.Match(proxyMethods, "/apps/:app/orgs/:org/users/:user/connections/:config/proxy/*", s.proxyCall)
	g.Match(proxyMethods, "/apps/:app/orgs/:org/connections/:config/proxy/*", s.proxyCall)
}

func init() {
	statusOf[proxy.ETimeout] = http.StatusGatewayTimeout
	statusOf[proxy.EUpstreamNotAllowed] = http.StatusBadGateway
	outwardCodes[proxy.ETimeout] = true
	outwardCodes[proxy.EUpstreamNotAllowed] = true
}

// isProxyRoute reports whether c is routed to the proxy, whose bodies are
// streamed and not bounded by the API's body limit.
func isProxyRoute(c echo.Context) bool { return strings.HasSuffix(c.Path(), "/proxy/*") }

// proxySegments is how many segments of the escaped path come before the
// proxied path on the user and the org routes (the leading empty one
// included): /api/v1/apps/A/orgs/O[/users/U]/connections/C/proxy/.
const proxySegments, proxyOrgSegments = 12, 10

// proxyCall sends any method and path under the connection's API base URL,
// with its credentials, and streams the answer back.
func (s *Server) proxyCall(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	call, done, err := callOptions(c)
	if err != nil {
		return err
	}
	defer done()
	r := c.Request()
	n := proxySegments
	if key.User == "" {
		n = proxyOrgSegments
	}
	segs := strings.SplitN(r.URL.EscapedPath(), "/", n+1)
	rawPath := ""
	if len(segs) == n+1 {
		rawPath = segs[n]
	}
	start := time.Now()
	ctx, rec := s.startTrace(r.Context(), latchkey.TraceProxy, key, r.Method+" /"+rawPath)
	if rec != nil {
		r = r.WithContext(ctx)
		c.SetRequest(r)
	}
	up, err := s.engine.Proxy(ctx, key)
	if err != nil {
		failCall(rec, err)
		s.observeCall(c, "proxy", key, proxy.Result{Err: err}, start, "")
		return err
	}
	call.Upstream = up
	if call.Target, err = proxy.Join(up.Base(), rawPath, r.URL.RawQuery); err != nil {
		failCall(rec, err)
		s.observeCall(c, "proxy", key, proxy.Result{Err: err}, start, "")
		return err
	}
	res := s.proxy.Serve(c.Response(), r, call, func(err error) { s.handleError(err, c) })
	finishCall(rec, res)
	s.observeCall(c, "proxy", up.Key(), res, start, r.Method+" /"+rawPath)
	return nil
}

// callOptions reads the caller's Latchkey-Timeout and Latchkey-Retry; the
// caller calls done when the call is over.
func callOptions(c echo.Context) (call proxy.Call, done func(), err error) {
	done = func() {}
	h := c.Request().Header
	if v := strings.TrimSpace(h.Get(proxy.HeaderTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if secs, serr := strconv.ParseFloat(v, 64); serr == nil {
			d, err = time.Duration(secs*float64(time.Second)), nil
		}
		if err != nil || d <= 0 {
			return call, done, &latchkey.Error{Code: latchkey.EINVALID, Message: "the deadline header is not a positive duration",
				Fields: []latchkey.FieldError{{Field: proxy.HeaderTimeout, Message: "must be seconds (2.5) or a duration (2500ms)"}}}
		}
		call.Timeout = d
		// The deadline bounds the whole call: reading the connection and a
		// refresh too, not only the provider's answer.
		ctx, cancel := context.WithTimeout(c.Request().Context(), d)
		c.SetRequest(c.Request().WithContext(ctx))
		done = cancel
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get(proxy.HeaderRetry))); v {
	case "", "false":
	case "true":
		call.Retry = true
	default:
		return call, done, &latchkey.Error{Code: latchkey.EINVALID, Message: "the retry header must be true or false",
			Fields: []latchkey.FieldError{{Field: proxy.HeaderRetry, Message: "must be true or false"}}}
	}
	return call, done, nil
}

// observeCall records a proxied or declared call: metrics, one audit event
// (who, which API or path, status; never a header or a body) and a log line
// without secrets.
func (s *Server) observeCall(c echo.Context, kind string, key latchkey.ConnectionKey, res proxy.Result, start time.Time, what string) {
	status := res.Status
	code := ""
	if res.Err != nil {
		le := toDomainError(res.Err)
		code = le.Code
		status = statusOf[le.Code]
	}
	if s.metrics != nil {
		s.metrics.APICall(key.App, key.Config, kind, status, res.Err != nil, time.Since(start), res.Retries, res.Refreshed)
	}
	action := latchkey.AuditProxyCall
	if kind == "api" {
		action = latchkey.AuditAPICall
	}
	ev := keyEvent(c, action, key)
	ev.Detail = what + " → " + strconv.Itoa(status)
	if code != "" {
		ev.Detail += " (latchkey: " + code + ")"
	}
	ctx := c.Request().Context()
	s.audit.enqueue(ctx, ev)
	if !s.logger.Enabled(ctx, slog.LevelInfo) {
		return // spares boxing the line's values for a handler that drops them
	}
	s.logger.InfoContext(ctx, "upstream call", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
		"kind", kind, "app", key.App, "config", key.Config, "status", status, "latchkey_error", code,
		"retries", res.Retries, "token_refreshed", res.Refreshed, "duration_ms", time.Since(start).Milliseconds())
}
