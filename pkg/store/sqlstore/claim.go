package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// ClaimRefreshes claims up to limit connections due for a refresh and takes
// their refresh lease, in one transaction of a few statements whatever the
// limit: on PostgreSQL, rows another worker is claiming are skipped (FOR
// UPDATE SKIP LOCKED); on SQLite the immediate transaction serialises
// claimers. It runs through database/sql, not gorm: it is the worker's query
// and the worker is measured against the provider's own rate.
func (s *Store) ClaimRefreshes(ctx context.Context, now, due time.Time, limit int, lease time.Duration) ([]store.Claimed, []latchkey.ConnectionKey, error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	skip := ""
	if s.postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	defer tx.Rollback()
	until, nowU, active := utc(now.Add(lease)), utc(now), string(latchkey.StatusActive)

	// Due and free: lease them for a refresh (a new version, so that every
	// replica's cache forgets what it read of them).
	keys, err := claimKeys(ctx, tx, `UPDATE connections SET refreshing_until = $1, lease_until = $1, version = version + 1, updated_at = $2
		WHERE (app, org, user_id, config) IN (
			SELECT app, org, user_id, config FROM connections
			WHERE status = $3 AND refreshing_until IS NULL
			  AND ((expires_at IS NOT NULL AND expires_at < $4) OR (keep_alive_at IS NOT NULL AND keep_alive_at <= $2))
			  AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
			  AND (lease_until IS NULL OR lease_until <= $2)
			ORDER BY expires_at LIMIT $5`+skip+`)
		RETURNING app, org, user_id, config`, until, nowU, active, utc(due), limit)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	// Refreshes whose holder never wrote an answer: claimed, not leased.
	lost, err := claimKeys(ctx, tx, `UPDATE connections SET lease_until = $1
		WHERE (app, org, user_id, config) IN (
			SELECT app, org, user_id, config FROM connections
			WHERE status = $2 AND refreshing_until IS NOT NULL AND refreshing_until <= $3
			  AND (lease_until IS NULL OR lease_until <= $3)
			LIMIT $4`+skip+`)
		RETURNING app, org, user_id, config`, until, active, nowU, limit)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	claimed, err := s.readClaimed(ctx, tx, keys)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	// TODO(cache): s.forgetConnections(keys...)
	sort.SliceStable(claimed, func(i, j int) bool {
		a, b := claimed[i].Conn.ExpiresAt, claimed[j].Conn.ExpiresAt
		return !a.IsZero() && (b.IsZero() || a.Before(b))
	})
	return claimed, lost, nil
}

func claimKeys(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]latchkey.ConnectionKey, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []latchkey.ConnectionKey
	for rows.Next() {
		var k latchkey.ConnectionKey
		if err := rows.Scan(&k.App, &k.Org, &k.User, &k.Config); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// claimedColumns are the connection columns readClaimed scans, in order.
const claimedColumns = `app, org, user_id, config, status, token_type, scope, expires_at, version, created_at, updated_at,
	refreshed_at, next_attempt_at, refreshing_until, keep_alive_at, last_error, failures`

// readClaimed reads the claimed connections, their values and their users'
// values in tx: two queries for the whole batch.
func (s *Store) readClaimed(ctx context.Context, tx *sql.Tx, keys []latchkey.ConnectionKey) ([]store.Claimed, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var (
		tuples []string
		args   []any
	)
	for _, k := range keys {
		n := len(args)
		tuples = append(tuples, fmt.Sprintf("($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4))
		args = append(args, k.App, k.Org, k.User, k.Config)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+claimedColumns+` FROM connections
		WHERE (app, org, user_id, config) IN (`+strings.Join(tuples, ", ")+`)`, args...)
	if err != nil {
		return nil, fail(err, "reading claimed connections")
	}
	byKey := make(map[latchkey.ConnectionKey]*store.Claimed, len(keys))
	out := make([]store.Claimed, 0, len(keys))
	for rows.Next() {
		var (
			c                                           latchkey.Connection
			status                                      string
			expires, refreshed, next, refreshing, alive sql.NullTime
		)
		if err := rows.Scan(&c.App, &c.Org, &c.User, &c.Config, &status, &c.TokenType, &c.Scope, &expires, &c.Version,
			&c.CreatedAt, &c.UpdatedAt, &refreshed, &next, &refreshing, &alive, &c.LastError, &c.Failures); err != nil {
			rows.Close()
			return nil, fail(err, "reading claimed connections")
		}
		c.Status = latchkey.ConnectionStatus(status)
		c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
		c.ExpiresAt, c.RefreshedAt, c.NextAttemptAt = nullTime(expires), nullTime(refreshed), nullTime(next)
		c.RefreshingUntil, c.KeepAliveAt = nullTime(refreshing), nullTime(alive)
		c.Values = map[string]string{}
		out = append(out, store.Claimed{Conn: c, UserValues: map[string]string{}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail(err, "reading claimed connections")
	}
	type user struct{ app, org, user string }
	users := make(map[user][]*store.Claimed)
	tuples, args = tuples[:0], args[:0]
	for i := range out {
		c := &out[i]
		byKey[c.Conn.ConnectionKey] = c
		u := user{c.Conn.App, c.Conn.Org, c.Conn.User}
		if _, ok := users[u]; !ok {
			n := len(args)
			tuples = append(tuples, fmt.Sprintf("($%d, $%d, $%d)", n+1, n+2, n+3))
			args = append(args, u.app, u.org, u.user)
		}
		users[u] = append(users[u], c)
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT app, org, user_id, config, name, value FROM setting_values
		WHERE config <> '' AND (app, org, user_id) IN (`+strings.Join(tuples, ", ")+`)`, args...)
	if err != nil {
		return nil, fail(err, "reading the values of claimed connections")
	}
	defer rows.Close()
	for rows.Next() {
		var v valueRow
		if err := rows.Scan(&v.App, &v.Org, &v.UserID, &v.Config, &v.Name, &v.Value); err != nil {
			return nil, fail(err, "reading the values of claimed connections")
		}
		plain, err := s.openValue(v)
		if err != nil {
			return nil, err
		}
		for _, c := range users[user{v.App, v.Org, v.UserID}] {
			c.UserValues[v.Name] = plain
		}
		if c := byKey[latchkey.ConnectionKey{App: v.App, Org: v.Org, User: v.UserID, Config: v.Config}]; c != nil {
			c.Conn.Values[v.Name] = plain
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err, "reading the values of claimed connections")
	}
	return out, nil
}
