package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

type auditRow struct {
	ID     int64     `gorm:"column:id;primaryKey;autoIncrement"`
	Env    string    `gorm:"column:env"`
	At     time.Time `gorm:"column:at"`
	Actor  string    `gorm:"column:actor"`
	Action string    `gorm:"column:action"`
	App    string    `gorm:"column:app"`
	Org    string    `gorm:"column:org"`
	UserID string    `gorm:"column:user_id"`
	Config string    `gorm:"column:config"`
	Detail string    `gorm:"column:detail"`
}

func (auditRow) TableName() string { return "audit_events" }

// AppendAudit records audit events, in one transaction.
//
// The rows go in as multi-row INSERT statements written here rather than
// through gorm's Create, whose reflection over the model cost more than
// SQLite's own work: the proxy writes one event per call.
func (s *Store) AppendAudit(ctx context.Context, events ...latchkey.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	args := make([]any, 0, auditColumns*min(len(events), auditRowsPerInsert))
	err := s.tx(ctx, func(tx *gorm.DB) error {
		for chunk := range slices.Chunk(events, auditRowsPerInsert) {
			args = args[:0]
			for _, e := range chunk {
				env := e.Env
				if env == "" {
					var err error
					if env, err = s.envOf(ctx); err != nil {
						return err
					}
				}
				at := e.Time
				if at.IsZero() {
					at = time.Now()
				}
				args = append(args, string(env), utc(at), e.Actor, e.Action, e.App, e.Org, e.User, e.Config, e.Detail)
			}
			// Straight to the driver: gorm's Exec would parse the
			// statement's 2,304 placeholders again on every batch; a full
			// chunk goes through the statement prepared once.
			var err error
			if sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx); ok && len(chunk) == auditRowsPerInsert && s.auditFull != nil {
				_, err = sqlTx.StmtContext(ctx, s.auditFull).ExecContext(ctx, args...)
			} else {
				_, err = tx.Statement.ConnPool.ExecContext(ctx, auditInsert(len(chunk), s.postgres), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return fail(err, "append %d audit events", len(events))
}

// auditColumns is the number of values of one audit row, and
// auditRowsPerInsert the most rows one INSERT carries (SQLite allows 32,766
// bound values in a statement; PostgreSQL 65,535): as many as the server's
// audit writer puts in a batch, so that a full batch is one INSERT of the
// prepared statement.
const auditColumns, auditRowsPerInsert = 9, 256

// auditInsert returns the INSERT statement for n rows, with PostgreSQL's
// numbered placeholders or SQLite's question marks.
func auditInsert(n int, postgres bool) string {
	return multiRowInsert("INSERT INTO audit_events (env, at, actor, action, app, org, user_id, config, detail) VALUES ", n, auditColumns, postgres)
}

// multiRowInsert returns head followed by the placeholders of rows rows of
// cols values: PostgreSQL's numbered ones or SQLite's question marks.
func multiRowInsert(head string, rows, cols int, postgres bool) string {
	var b strings.Builder
	b.Grow(len(head) + rows*cols*5)
	b.WriteString(head)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			if postgres {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(i*cols + j + 1))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// ListAudit returns audit events matching the filter, newest first; at most
// 1,000 at a time.
func (s *Store) ListAudit(ctx context.Context, f latchkey.AuditFilter) ([]latchkey.AuditEvent, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Model(&auditRow{}).Where("env = ?", env).Order("id DESC")
	if f.App != "" {
		q = q.Where("app = ?", f.App)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.Org != "" {
		q = q.Where("org = ?", f.Org)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	if k := f.Connection; k != nil {
		q = q.Where("app = ? AND org = ? AND user_id = ? AND config = ?", k.App, k.Org, k.User, k.Config)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var rows []auditRow
	if err := q.Limit(limit).Find(&rows).Error; err != nil {
		return nil, fail(err, "list audit events")
	}
	out := make([]latchkey.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = latchkey.AuditEvent{Env: latchkey.Environment(r.Env), ID: r.ID, Time: r.At.UTC(), Actor: r.Actor, Action: r.Action, App: r.App, Org: r.Org,
			User: r.UserID, Config: r.Config, Detail: r.Detail}
	}
	return out, nil
}
