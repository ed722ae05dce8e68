package sqlstore

import (
	"context"
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
func (s *Store) AppendAudit(ctx context.Context, events ...latchkey.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
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
		rows[i] = auditRow{Env: string(env), At: utc(at), Actor: e.Actor, Action: e.Action, App: e.App, Org: e.Org, UserID: e.User, Config: e.Config, Detail: e.Detail}
	}
	err := s.tx(ctx, func(tx *gorm.DB) error { return tx.CreateInBatches(rows, 200).Error })
	return fail(err, "append %d audit events", len(events))
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
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
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
