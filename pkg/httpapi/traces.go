package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/proxy"
	"github.com/latchkey/latchkey/pkg/trace"
)

func (s *Server) traceRoutes(g *echo.Group) {
	g.GET("/apps/:app/orgs/:org/users/:user/connections/:config/traces", s.connectionTraces)
	g.GET("/apps/:app/orgs/:org/connections/:config/traces", s.connectionTraces)
	g.GET("/apps/:app/traces", s.appTraces)
	g.GET("/apps/:app/traces/:id", s.getTrace)
}

// startTrace starts a trace of a proxied or declared call in the request's
// context; with tracing off it returns ctx and a nil recorder.
func (s *Server) startTrace(ctx context.Context, kind latchkey.TraceKind, key latchkey.ConnectionKey, name string) (context.Context, *trace.Recorder) {
	if s.traces == nil {
		return ctx, nil
	}
	return trace.Start(ctx, s.traces, kind, key, name)
}

// finishCall ends a call's trace: failed when Latchkey failed it or the
// provider answered 400 or above.
func finishCall(rec *trace.Recorder, res proxy.Result) {
	switch {
	case res.Err != nil:
		failCall(rec, res.Err)
	case res.Status >= 400:
		rec.Finish(latchkey.Errorf(latchkey.EPROVIDER, "the provider answered HTTP %d %s", res.Status, http.StatusText(res.Status)))
	default:
		rec.Finish(nil)
	}
}

// failCall ends the trace of a call that failed with err before or
// without an answer. A call of no app, config or connection is no
// connection's trace: it is dropped, so that a caller naming users nobody
// connected cannot grow the store.
func failCall(rec *trace.Recorder, err error) {
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		rec.Drop()
		return
	}
	rec.Finish(err)
}

// connectionTraces lists a connection's traces, newest first, without
// their steps (?limit=, at most 50). What this replica has still queued is
// written first, so that a flow that just ended is listed.
func (s *Server) connectionTraces(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	var fe latchkey.FieldErrors
	limit := queryLimit(c, &fe, latchkey.KeepTraces, latchkey.KeepTraces)
	if err := fe.Err("the query is invalid"); err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.flushTraces(ctx)
	traces, err := s.store.ListTraces(ctx, key, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"traces": traces})
}

// appTraces lists the traces of an app's connections, newest first,
// without their steps: ?kind=, ?org=, ?failed=true, ?before= (a trace's id,
// for the next page), ?limit= (at most 200, 50 by default). A failed
// authorization is found here, though its user never connected.
func (s *Server) appTraces(c echo.Context) error {
	app := c.Param("app")
	if err := requireApp(c, app); err != nil {
		return err
	}
	var fe latchkey.FieldErrors
	f := latchkey.TraceFilter{Kind: latchkey.TraceKind(c.QueryParam("kind")), Org: c.QueryParam("org"), Before: c.QueryParam("before"),
		Limit: queryLimit(c, &fe, 50, 200)}
	switch f.Kind {
	case "", latchkey.TraceAuthorization, latchkey.TraceRefresh, latchkey.TraceAPI, latchkey.TraceProxy, latchkey.TraceVerify:
	default:
		fe.Add("kind", "must be authorization, refresh, api, proxy or verify")
	}
	switch v := c.QueryParam("failed"); v {
	case "", "false":
	case "true":
		f.Failed = true
	default:
		fe.Add("failed", "must be true or false")
	}
	if err := fe.Err("the query is invalid"); err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.flushTraces(ctx)
	traces, err := s.store.ListAppTraces(ctx, app, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"traces": traces})
}

// getTrace answers one trace of the app with its steps.
func (s *Server) getTrace(c echo.Context) error {
	app := c.Param("app")
	if err := requireApp(c, app); err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.flushTraces(ctx)
	t, err := s.store.GetTrace(ctx, app, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

// queryLimit reads ?limit=, a page's size from 1 to max, def when absent;
// another value is a field error in fe.
func queryLimit(c echo.Context, fe *latchkey.FieldErrors, def, max int) int {
	v := c.QueryParam("limit")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		fe.Add("limit", "must be a whole number from 1 to %d", max)
		return def
	}
	return n
}

// flushTraces waits, briefly, for this replica's queued traces to be
// written; a listing shows what is written when the wait ends.
func (s *Server) flushTraces(ctx context.Context) {
	if s.traces == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.traces.Flush(ctx); err != nil {
		s.logger.WarnContext(ctx, "the trace queue was not written in time for a listing", "error", err)
	}
}
