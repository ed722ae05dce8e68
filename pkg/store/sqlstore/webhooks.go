package sqlstore

import (
	"context"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

type webhookRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	Env       string    `gorm:"column:env"`
	App       string    `gorm:"column:app"`
	URL       string    `gorm:"column:url"`
	Events    string    `gorm:"column:events"`
	Secret    string    `gorm:"column:secret"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (webhookRow) TableName() string { return "webhooks" }

type deliveryRow struct {
	ID            int64      `gorm:"column:id;primaryKey;autoIncrement"`
	Env           string     `gorm:"column:env"`
	WebhookID     string     `gorm:"column:webhook_id"`
	App           string     `gorm:"column:app"`
	EventID       string     `gorm:"column:event_id"`
	EventType     string     `gorm:"column:event_type"`
	Payload       string     `gorm:"column:payload"`
	State         string     `gorm:"column:state"`
	AttemptCount  int        `gorm:"column:attempt_count"`
	NextAttemptAt *time.Time `gorm:"column:next_attempt_at"`
	CreatedAt     time.Time  `gorm:"column:created_at;autoCreateTime:false"`
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

type attemptRow struct {
	ID         int64     `gorm:"column:id;primaryKey;autoIncrement"`
	Env        string    `gorm:"column:env"`
	DeliveryID int64     `gorm:"column:delivery_id"`
	App        string    `gorm:"column:app"`
	At         time.Time `gorm:"column:at"`
	StatusCode int       `gorm:"column:status_code"`
	Error      string    `gorm:"column:error"`
	DurationMS int64     `gorm:"column:duration_ms"`
}

func (attemptRow) TableName() string { return "webhook_attempts" }

// CreateWebhook stores a webhook of an existing app, its secret sealed.
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	ct, err := s.seal(w.Secret, envAD(env, "webhooks", w.ID)...)
	if err != nil {
		return err
	}
	at := w.CreatedAt
	if at.IsZero() {
		at = s.now()
	}
	row := webhookRow{Env: string(env), ID: w.ID, App: w.App, URL: w.URL, Events: strings.Join(w.Events, ","), Secret: ct, CreatedAt: utc(at)}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := appExists(tx, env, w.App); err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	return fail(err, "create webhook %q of app %q", w.ID, w.App)
}

func (s *Store) webhookOf(r webhookRow) (store.Webhook, error) {
	secret, err := s.open(r.Secret, "the secret of webhook "+r.ID, envAD(latchkey.Environment(r.Env), "webhooks", r.ID)...)
	if err != nil {
		return store.Webhook{}, err
	}
	w := store.Webhook{ID: r.ID, App: r.App, URL: r.URL, Secret: secret, CreatedAt: r.CreatedAt.UTC(), Events: []string{}}
	if r.Events != "" {
		w.Events = strings.Split(r.Events, ",")
	}
	return w, nil
}

// GetWebhook returns a webhook of app with its secret.
func (s *Store) GetWebhook(ctx context.Context, app, id string) (store.Webhook, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return store.Webhook{}, err
	}
	var row webhookRow
	ok, err := find(s.db.WithContext(ctx).Where("env = ? AND app = ? AND id = ?", env, app, id), &row)
	if err != nil {
		return store.Webhook{}, fail(err, "read webhook %q", id)
	}
	if !ok {
		return store.Webhook{}, notFound("app %q has no webhook %q", app, id)
	}
	return s.webhookOf(row)
}

// ListWebhooks returns the webhooks of app (of every app when app is
// empty), oldest first.
func (s *Store) ListWebhooks(ctx context.Context, app string) ([]store.Webhook, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("env = ?", env).Order("created_at, id")
	if app != "" {
		q = q.Where("app = ?", app)
	}
	var rows []webhookRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fail(err, "list webhooks")
	}
	out := make([]store.Webhook, 0, len(rows))
	for _, r := range rows {
		w, err := s.webhookOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWebhook deletes a webhook of app with its deliveries and their
// attempts.
func (s *Store) DeleteWebhook(ctx context.Context, app, id string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM webhooks WHERE env = ? AND app = ? AND id = ?", env, app, id)
		if res.Error != nil {
			return fail(res.Error, "delete webhook %q", id)
		}
		if res.RowsAffected == 0 {
			return notFound("app %q has no webhook %q", app, id)
		}
		if err := tx.Exec("DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE env = ? AND webhook_id = ?)", env, id).Error; err != nil {
			return fail(err, "delete the attempts of webhook %q", id)
		}
		return fail(tx.Exec("DELETE FROM webhook_deliveries WHERE env = ? AND webhook_id = ?", env, id).Error, "delete the deliveries of webhook %q", id)
	})
}

// CreateDeliveries stores pending deliveries, in one transaction.
func (s *Store) CreateDeliveries(ctx context.Context, ds ...store.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	rows := make([]deliveryRow, len(ds))
	for i, d := range ds {
		at := d.CreatedAt
		if at.IsZero() {
			at = s.now()
		}
		next := d.NextAttemptAt
		if next.IsZero() {
			next = at
		}
		state := d.State
		if state == "" {
			state = store.DeliveryPending
		}
		rows[i] = deliveryRow{Env: string(env), WebhookID: d.WebhookID, App: d.App, EventID: d.EventID, EventType: d.EventType,
			Payload: string(d.Payload), State: state, NextAttemptAt: utcPtr(next), CreatedAt: utc(at)}
	}
	err = s.tx(ctx, func(tx *gorm.DB) error { return tx.CreateInBatches(rows, 200).Error })
	return fail(err, "create %d webhook deliveries", len(ds))
}

// ClaimDeliveries claims up to limit pending deliveries due at now by
// moving their next attempt to the end of the lease. On PostgreSQL, rows
// another dispatcher is claiming are skipped (FOR UPDATE SKIP LOCKED); on
// SQLite the immediate transaction serialises claimers.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []deliveryRow
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE webhook_deliveries SET next_attempt_at = ?
			WHERE id IN (
				SELECT id FROM webhook_deliveries
				WHERE env = ? AND state = ? AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id LIMIT ?`+lock+`)
			RETURNING id, env, webhook_id, app, event_id, event_type, payload, state, attempt_count, next_attempt_at, created_at`,
			utc(now.Add(lease)), env, store.DeliveryPending, utc(now), limit).Scan(&rows).Error
	})
	if err != nil {
		return nil, fail(err, "claiming webhook deliveries")
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	out := make([]store.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryOf(r)
	}
	return out, nil
}

func deliveryOf(r deliveryRow) store.WebhookDelivery {
	return store.WebhookDelivery{ID: r.ID, WebhookID: r.WebhookID, App: r.App, EventID: r.EventID, EventType: r.EventType,
		Payload: []byte(r.Payload), State: r.State, AttemptCount: r.AttemptCount, NextAttemptAt: fromPtr(r.NextAttemptAt),
		CreatedAt: r.CreatedAt.UTC()}
}

// RecordAttempt logs an attempt at delivery id and moves it on.
func (s *Store) RecordAttempt(ctx context.Context, id int64, a store.WebhookAttempt, state string, next time.Time) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var d deliveryRow
		ok, err := find(s.forUpdate(tx).Where("env = ? AND id = ?", env, id), &d)
		if err != nil {
			return fail(err, "read webhook delivery %d", id)
		}
		if !ok {
			return notFound("no webhook delivery %d", id)
		}
		at := a.At
		if at.IsZero() {
			at = s.now()
		}
		row := attemptRow{Env: string(env), DeliveryID: id, App: d.App, At: utc(at), StatusCode: a.StatusCode, Error: a.Error, DurationMS: a.DurationMS}
		if err := tx.Create(&row).Error; err != nil {
			return fail(err, "log an attempt at webhook delivery %d", id)
		}
		var nextPtr *time.Time
		if !next.IsZero() {
			nextPtr = utcPtr(next)
		}
		err = tx.Model(&deliveryRow{}).Where("id = ?", id).Updates(map[string]any{
			"state": state, "next_attempt_at": nextPtr, "attempt_count": d.AttemptCount + 1}).Error
		return fail(err, "update webhook delivery %d", id)
	})
}

// ListDeliveries returns the deliveries of a webhook of app, newest first,
// each with its attempts, oldest first.
func (s *Store) ListDeliveries(ctx context.Context, app, webhookID string, limit int) ([]store.WebhookDelivery, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("env = ? AND app = ? AND webhook_id = ?", env, app, webhookID).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []deliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fail(err, "list the deliveries of webhook %q", webhookID)
	}
	if len(rows) == 0 {
		return []store.WebhookDelivery{}, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var atts []attemptRow
	if err := s.db.WithContext(ctx).Where("delivery_id IN ?", ids).Order("id").Find(&atts).Error; err != nil {
		return nil, fail(err, "list the attempts of webhook %q", webhookID)
	}
	byDelivery := map[int64][]store.WebhookAttempt{}
	for _, a := range atts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], store.WebhookAttempt{At: a.At.UTC(),
			StatusCode: a.StatusCode, Error: a.Error, DurationMS: a.DurationMS})
	}
	out := make([]store.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryOf(r)
		out[i].Attempts = byDelivery[r.ID]
	}
	return out, nil
}

// PruneDeliveries deletes finished deliveries created before before, and
// their attempts, in one transaction: those of the call's environment, or
// of every environment when it says none (the pruner's sweep).
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.tx(ctx, func(tx *gorm.DB) error {
		finished := inEnv(tx.Model(&deliveryRow{}), env).Select("id").Where("state <> ? AND created_at < ?", store.DeliveryPending, utc(before))
		if err := tx.Where("delivery_id IN (?)", finished).Delete(&attemptRow{}).Error; err != nil {
			return fail(err, "pruning webhook attempts")
		}
		res := inEnv(tx, env).Where("state <> ? AND created_at < ?", store.DeliveryPending, utc(before)).Delete(&deliveryRow{})
		n = res.RowsAffected
		return fail(res.Error, "pruning webhook deliveries")
	})
	return n, err
}
