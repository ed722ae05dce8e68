package sqlstore

import (
	"context"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// ClaimDue claims up to limit active connections whose access token
// expires before due and whose next retry, if any, is not after now, by
// setting their lease; it returns their keys, soonest expiry first. On
// PostgreSQL, rows another worker is claiming are skipped (FOR UPDATE SKIP
// LOCKED); on SQLite the immediate transaction serialises claimers.
func (s *Store) ClaimDue(ctx context.Context, now, due time.Time, limit int, lease time.Duration) ([]latchkey.ConnectionKey, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var keys []struct {
		App     string    `gorm:"column:app"`
		Org     string    `gorm:"column:org"`
		UserID  string    `gorm:"column:user_id"`
		Config  string    `gorm:"column:config"`
		Expires time.Time `gorm:"column:expires_at"`
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE connections SET lease_until = ?
			WHERE (app, org, user_id, config) IN (
				SELECT app, org, user_id, config FROM connections
				WHERE status = ? AND expires_at IS NOT NULL AND expires_at < ?
				  AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
				  AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY expires_at LIMIT ?`+lock+`)
			RETURNING app, org, user_id, config, expires_at`,
			utc(now.Add(lease)), string(latchkey.StatusActive), utc(due), utc(now), utc(now), limit).Scan(&keys).Error
	})
	if err != nil {
		return nil, fail(err, "claiming connections due for a refresh")
	}
	// RETURNING keeps no order.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Expires.Before(keys[j].Expires) })
	out := make([]latchkey.ConnectionKey, len(keys))
	for i, k := range keys {
		out[i] = latchkey.ConnectionKey{App: k.App, Org: k.Org, User: k.UserID, Config: k.Config}
	}
	return out, nil
}
