package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// auditLog writes audit events. Admin changes are written before the
// response goes out; reads, which are many, are queued and written in
// batches so that a token read does not wait on a database write.
type auditLog struct {
	store  store.Store
	logger interface {
		Error(msg string, args ...any)
	}
	now   func() time.Time
	queue chan latchkey.AuditEvent
	done  chan struct{}
	once  sync.Once
}

const (
	auditBatch    = 256
	auditInterval = time.Second
)

func newAuditLog(st store.Store, logger interface{ Error(string, ...any) }, now func() time.Time) *auditLog {
	a := &auditLog{store: st, logger: logger, now: now, queue: make(chan latchkey.AuditEvent, 4096), done: make(chan struct{})}
	go a.run()
	return a
}

// record writes an event now.
func (a *auditLog) record(ctx context.Context, e latchkey.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if e.Env == "" {
		e.Env = latchkey.EnvironmentFrom(ctx)
	}
	if err := a.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.logger.Error("cannot write the audit log", "action", e.Action, "error", err)
	}
}

// enqueue queues an event for the next batch; when the queue is full the
// caller writes it itself, so no event is dropped.
func (a *auditLog) enqueue(ctx context.Context, e latchkey.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if e.Env == "" { // written later, without the request's context
		e.Env = latchkey.EnvironmentFrom(ctx)
	}
	select {
	case a.queue <- e:
	default:
		a.record(ctx, e)
	}
}

func (a *auditLog) run() {
	defer close(a.done)
	tick := time.NewTicker(auditInterval)
	defer tick.Stop()
	var batch []latchkey.AuditEvent
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.store.AppendAudit(ctx, batch...); err != nil {
			a.logger.Error("cannot write the audit log", "events", len(batch), "error", err)
		}
		cancel()
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-a.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= auditBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// close writes what is queued and stops the writer.
func (a *auditLog) close() {
	a.once.Do(func() { close(a.queue) })
	<-a.done
}

// event starts an audit event for the caller of c.
func event(c echo.Context, action string) latchkey.AuditEvent {
	return latchkey.AuditEvent{Actor: callerKey(c).ID, Action: action}
}

// listAudit returns audit events, newest first: ?app=, ?action=, ?actor=
// and ?org= (each exact, checked by the edge: checkQuery), ?before= (an
// id, for the next page) and ?limit= (at most 1,000). The store filters.
func (s *Server) listAudit(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	f := latchkey.AuditFilter{App: c.QueryParam("app"), Action: c.QueryParam("action"), Actor: c.QueryParam("actor"), Org: c.QueryParam("org")}
	for name, dst := range map[string]*int64{"before": &f.Before} {
		if v := c.QueryParam(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return &latchkey.Error{Code: latchkey.EINVALID, Message: "the query is invalid",
					Fields: []latchkey.FieldError{{Field: name, Message: "must be a non-negative whole number"}}}
			}
			*dst = n
		}
	}
	var fe latchkey.FieldErrors
	if f.Limit = queryLimit(c, &fe, 0, 1000); len(fe) > 0 {
		return fe.Err("the query is invalid")
	}
	events, err := s.store.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"events": events})
}

// RecordEvents keeps what happened to connections (the events webhooks
// announce) in the audit log, as each connection's history: the actor is
// latchkey.AuditActor, the action the event's type, the detail its status
// and, for a failure, the provider's error code and description.
func (s *Server) RecordEvents(ctx context.Context, events ...latchkey.Event) {
	for _, ev := range events {
		detail := "status " + string(ev.Status)
		if ev.Error != nil {
			detail += " error " + strings.TrimSpace(ev.Error.Code+" "+ev.Error.Description)
		}
		s.audit.enqueue(ctx, latchkey.AuditEvent{Time: ev.CreatedAt, Actor: latchkey.AuditActor, Action: string(ev.Type),
			App: ev.App, Org: ev.Org, User: ev.User, Config: ev.Config, Detail: detail})
	}
}

// connectionEvents answers a connection's history, newest first: created,
// refreshed, failed, needs re-authorization, disconnected (RecordEvents),
// and the reads of its token and the calls made with it. ?before= and
// ?limit= (at most 200, 50 by default) page it.
func (s *Server) connectionEvents(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	f := latchkey.AuditFilter{Connection: &key, Limit: 50}
	var fe latchkey.FieldErrors
	f.Limit = queryLimit(c, &fe, 50, 200)
	if v := c.QueryParam("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			fe.Add("before", "must be the id of an event")
		}
		f.Before = n
	}
	if err := fe.Err("the query is invalid"); err != nil {
		return err
	}
	events, err := s.store.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"events": events})
}
