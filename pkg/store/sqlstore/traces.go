package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

type traceRow struct {
	Seq        int64     `gorm:"column:seq;primaryKey;autoIncrement"`
	ID         string    `gorm:"column:id"`
	Env        string    `gorm:"column:env"`
	App        string    `gorm:"column:app"`
	Org        string    `gorm:"column:org"`
	UserID     string    `gorm:"column:user_id"`
	Config     string    `gorm:"column:config"`
	Kind       string    `gorm:"column:kind"`
	Name       string    `gorm:"column:name"`
	StartedAt  time.Time `gorm:"column:started_at"`
	DurationMS float64   `gorm:"column:duration_ms"`
	OK         bool      `gorm:"column:ok"`
	Error      string    `gorm:"column:error"`
	Status     int       `gorm:"column:status"`
	StepCount  int       `gorm:"column:step_count"`
	Steps      string    `gorm:"column:steps"`
}

func (traceRow) TableName() string { return "traces" }

// traceSummary is the columns of a listed trace: all but its sealed steps.
const traceSummary = "seq, id, env, app, org, user_id, config, kind, name, started_at, duration_ms, ok, error, status, step_count"

// traceColumns is the number of values of one trace row as inserted.
const traceColumns = 15

// AppendTraces stores traces in one transaction, their steps sealed, and
// deletes the traces of their connections beyond the newest
// latchkey.KeepTraces.
func (s *Store) AppendTraces(ctx context.Context, traces ...latchkey.Trace) error {
	if len(traces) == 0 {
		return nil
	}
	type connOf struct {
		env latchkey.Environment
		key latchkey.ConnectionKey
	}
	args := make([]any, 0, traceColumns*len(traces))
	touched := map[connOf]bool{}
	for _, t := range traces {
		env := t.Env
		if env == "" {
			var err error
			if env, err = s.envOf(ctx); err != nil {
				return err
			}
		}
		if t.ID == "" || t.App == "" || t.Org == "" || t.Config == "" {
			return latchkey.Errorf(latchkey.EINVALID, "a trace needs an id, an app, an org and a config")
		}
		steps, err := json.Marshal(t.Steps)
		if err != nil {
			return latchkey.WrapError(latchkey.EINTERNAL, err, "cannot encode the steps of trace %s", t.ID)
		}
		sealed, err := s.seal(string(steps), envAD(env, "traces", t.ID)...)
		if err != nil {
			return err
		}
		args = append(args, t.ID, string(env), t.App, t.Org, t.User, t.Config, string(t.Kind), t.Name, utc(t.StartedAt),
			t.DurationMS, t.OK, t.Error, t.Status, len(t.Steps), sealed)
		touched[connOf{env, t.ConnectionKey}] = true
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		// Straight to the driver, as AppendAudit does: gorm's Exec would
		// parse the statement's placeholders again on every batch.
		if _, err := tx.Statement.ConnPool.ExecContext(ctx, traceInsert(len(traces), s.postgres), args...); err != nil {
			return err
		}
		for c := range touched {
			k := c.key
			err := tx.Exec(`DELETE FROM traces WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ? AND seq <= (
				SELECT seq FROM traces WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?
				ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
				c.env, k.App, k.Org, k.User, k.Config, c.env, k.App, k.Org, k.User, k.Config, latchkey.KeepTraces).Error
			if err != nil {
				return err
			}
		}
		return nil
	})
	return fail(err, "append %d traces", len(traces))
}

// PruneTraces deletes the traces started before before: the call's
// environment's, or every environment's when it says none (the sweep).
func (s *Store) PruneTraces(ctx context.Context, before time.Time) (int64, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return 0, err
	}
	res := inEnv(s.db.WithContext(ctx), env).Where("started_at < ?", utc(before)).Delete(&traceRow{})
	return res.RowsAffected, fail(res.Error, "prune traces")
}

// traceInsert returns the INSERT statement of n trace rows.
func traceInsert(n int, postgres bool) string {
	return multiRowInsert("INSERT INTO traces (id, env, app, org, user_id, config, kind, name, started_at, duration_ms, ok, error, status, step_count, steps) VALUES ",
		n, traceColumns, postgres)
}

// ListTraces returns the traces of a connection, newest first, without
// their steps; at most limit (latchkey.KeepTraces when 0 or more).
func (s *Store) ListTraces(ctx context.Context, key latchkey.ConnectionKey, limit int) ([]latchkey.Trace, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > latchkey.KeepTraces {
		limit = latchkey.KeepTraces
	}
	var rows []traceRow
	err = whereKey(s.db.WithContext(ctx), env, key).Order("seq DESC").Limit(limit).
		Select(traceSummary).Find(&rows).Error
	if err != nil {
		return nil, fail(err, "list the traces of connection %s", connName(key))
	}
	out := make([]latchkey.Trace, len(rows))
	for i, r := range rows {
		out[i] = r.trace()
	}
	return out, nil
}

// ListAppTraces returns an app's traces, newest first, without their steps.
func (s *Store) ListAppTraces(ctx context.Context, app string, f latchkey.TraceFilter) ([]latchkey.Trace, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	q := s.db.WithContext(ctx).Where("env = ? AND app = ?", env, app)
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.Org != "" {
		q = q.Where("org = ?", f.Org)
	}
	if f.Failed {
		q = q.Where("ok = ?", false)
	}
	if f.Before != "" {
		var seqs []int64
		if err := s.db.WithContext(ctx).Model(&traceRow{}).Where("env = ? AND app = ? AND id = ?", env, app, f.Before).Pluck("seq", &seqs).Error; err != nil {
			return nil, fail(err, "read trace %s", f.Before)
		}
		if len(seqs) == 0 {
			return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: fmt.Sprintf("app %q has no trace %q to page from", app, f.Before),
				Fields: []latchkey.FieldError{{Field: "before", Message: "is no trace of the app (it may have been deleted since)"}}}
		}
		q = q.Where("seq < ?", seqs[0])
	}
	var rows []traceRow
	err = q.Order("seq DESC").Limit(limit).
		Select(traceSummary).Find(&rows).Error
	if err != nil {
		return nil, fail(err, "list the traces of app %q", app)
	}
	out := make([]latchkey.Trace, len(rows))
	for i, r := range rows {
		out[i] = r.trace()
	}
	return out, nil
}

// GetTrace returns a trace of app with its steps.
func (s *Store) GetTrace(ctx context.Context, app, id string) (latchkey.Trace, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Trace{}, err
	}
	var rows []traceRow
	if err := s.db.WithContext(ctx).Where("env = ? AND app = ? AND id = ?", env, app, id).Limit(1).Find(&rows).Error; err != nil {
		return latchkey.Trace{}, fail(err, "read trace %s", id)
	}
	if len(rows) == 0 {
		return latchkey.Trace{}, notFound("app %q has no trace %q", app, id)
	}
	r := rows[0]
	t := r.trace()
	plain, err := s.open(r.Steps, "the steps of trace "+id, envAD(env, "traces", id)...)
	if err != nil {
		return latchkey.Trace{}, err
	}
	if err := json.Unmarshal([]byte(plain), &t.Steps); err != nil {
		return latchkey.Trace{}, latchkey.WrapError(latchkey.EINTERNAL, err, "the steps of trace %s cannot be read", id)
	}
	return t, nil
}

func (r traceRow) trace() latchkey.Trace {
	return latchkey.Trace{ID: r.ID, Env: latchkey.Environment(r.Env),
		ConnectionKey: latchkey.ConnectionKey{App: r.App, Org: r.Org, User: r.UserID, Config: r.Config},
		Kind:          latchkey.TraceKind(r.Kind), Name: r.Name, StartedAt: r.StartedAt.UTC(), DurationMS: r.DurationMS,
		OK: r.OK, Error: r.Error, Status: r.Status, StepCount: r.StepCount}
}
