package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// ClaimRefreshes claims up to limit connections due for a refresh and takes
// their refresh lease, marked as the worker's (worker_lease: a lease lost
// with its holder may never have reached the provider), in one transaction
// of a few statements whatever the limit: on PostgreSQL, rows another
// worker is claiming are skipped (FOR UPDATE SKIP LOCKED); on SQLite the
// immediate transaction serialises claimers. It runs through database/sql,
// not gorm: it is the worker's query and the worker is measured against the
// provider's own rate. Its $n parameters are numbered in order of first
// use: go-sqlite3 binds them by position.
func (s *Store) ClaimRefreshes(ctx context.Context, now, due time.Time, limit int, lease time.Duration) ([]store.Claimed, []latchkey.ConnectionKey, error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	skip := ""
	if s.postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	tx, release, err := s.begin(ctx)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	defer release()
	defer tx.Rollback()
	var keys []latchkey.ConnectionKey
	defer func() { s.forgetConnections(env, keys...) }() // leased: the cached versions are stale
	until, nowU, active := utc(now.Add(lease)), utc(now), string(latchkey.StatusActive)

	// Due and free: lease them for a refresh (a new version, so that every
	// replica's cache forgets what it read of them). Expiring tokens first,
	// then refresh tokens to keep alive; each query walks its index and
	// stops after the batch.
	take := func(cond string, n int) ([]latchkey.ConnectionKey, error) {
		return claimKeys(ctx, tx, `UPDATE connections SET refreshing_until = $1, lease_until = $1, worker_lease = TRUE, version = version + 1, updated_at = $2
		WHERE (env, app, org, user_id, config) IN (
			SELECT env, app, org, user_id, config FROM connections
			WHERE status = $3 AND env = $4 AND `+cond+` AND refreshing_until IS NULL
			  AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
			  AND (lease_until IS NULL OR lease_until <= $2)
			ORDER BY `+strings.Fields(cond)[0]+` LIMIT $6`+skip+`)
		RETURNING app, org, user_id, config`, until, nowU, active, string(env), utc(due), n)
	}
	keys, err = take("expires_at < $5", limit)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	if len(keys) < limit {
		more, err := take("keep_alive_at <= $2 AND (expires_at IS NULL OR expires_at >= $5)", limit-len(keys))
		if err != nil {
			return nil, nil, fail(err, "claiming connections due for a keep-alive refresh")
		}
		keys = append(keys, more...)
	}
	// Refreshes whose holder never wrote an answer: claimed, not leased.
	lost, err := claimKeys(ctx, tx, `UPDATE connections SET lease_until = $1
		WHERE (env, app, org, user_id, config) IN (
			SELECT env, app, org, user_id, config FROM connections
			WHERE status = $2 AND env = $3 AND refreshing_until IS NOT NULL AND refreshing_until <= $4
			  AND (lease_until IS NULL OR lease_until <= $4)
			ORDER BY refreshing_until LIMIT $5`+skip+`)
		RETURNING app, org, user_id, config`, until, active, string(env), nowU, limit)
	if err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	if err := s.planForBatch(ctx, tx); err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
	claimed, err := s.readClaimed(ctx, tx, env, keys)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fail(err, "claiming connections due for a refresh")
	}
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
	refreshed_at, next_attempt_at, refreshing_until, keep_alive_at, worker_lease, last_error, failures`

// readClaimed reads the claimed connections, their values and their users'
// values in tx: two queries for the whole batch.
func (s *Store) readClaimed(ctx context.Context, tx *sql.Tx, env latchkey.Environment, keys []latchkey.ConnectionKey) ([]store.Claimed, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var apps, orgs, users, configs []string
	for _, k := range keys {
		apps, orgs, users, configs = append(apps, k.App), append(orgs, k.Org), append(users, k.User), append(configs, k.Config)
	}
	// env leads each tuple, as it leads the primary key.
	envs := make([]string, len(keys))
	for i := range envs {
		envs[i] = string(env)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+claimedColumns+` FROM connections
		WHERE (env, app, org, user_id, config) IN (`+s.keyList(5)+`)`, s.listArgs(envs, apps, orgs, users, configs)...)
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
			&c.CreatedAt, &c.UpdatedAt, &refreshed, &next, &refreshing, &alive, &c.WorkerLease, &c.LastError, &c.Failures); err != nil {
			rows.Close()
			return nil, fail(err, "reading claimed connections")
		}
		c.Status = latchkey.ConnectionStatus(status)
		c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
		c.ExpiresAt, c.RefreshedAt, c.NextAttemptAt = nullTime(expires), nullTime(refreshed), nullTime(next)
		c.RefreshingUntil, c.KeepAliveAt = nullTime(refreshing), nullTime(alive)
		c.Values = map[string]string{}
		out = append(out, store.Claimed{Env: env, Conn: c, UserValues: map[string]string{}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail(err, "reading claimed connections")
	}
	type user struct{ app, org, user string }
	byUser := make(map[user][]*store.Claimed)
	apps, orgs, users = apps[:0], orgs[:0], users[:0]
	for i := range out {
		c := &out[i]
		byKey[c.Conn.ConnectionKey] = c
		u := user{c.Conn.App, c.Conn.Org, c.Conn.User}
		if _, ok := byUser[u]; !ok {
			apps, orgs, users = append(apps, u.app), append(orgs, u.org), append(users, u.user)
		}
		byUser[u] = append(byUser[u], c)
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT app, org, user_id, config, name, value FROM setting_values
		WHERE config <> '' AND (env, app, org, user_id) IN (`+s.keyList(4)+`)`, s.listArgs(envs[:len(apps)], apps, orgs, users)...)
	if err != nil {
		return nil, fail(err, "reading the values of claimed connections")
	}
	defer rows.Close()
	for rows.Next() {
		v := valueRow{Env: string(env)}
		if err := rows.Scan(&v.App, &v.Org, &v.UserID, &v.Config, &v.Name, &v.Value); err != nil {
			return nil, fail(err, "reading the values of claimed connections")
		}
		plain, err := s.openValue(v)
		if err != nil {
			return nil, err
		}
		for _, c := range byUser[user{v.App, v.Org, v.UserID}] {
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

// keyList is a subquery listing the tuples of n columns listArgs passes as
// its $1…$n: unnest over arrays on PostgreSQL, so that a batch is one
// parameter per column and a hashed join; json_each over JSON arrays on
// SQLite.
func (s *Store) keyList(n int) string {
	cols := make([]string, n)
	for i := range cols {
		if s.postgres {
			cols[i] = fmt.Sprintf("$%d::text[]", i+1)
		} else {
			cols[i] = fmt.Sprintf("json_extract($1, '$[%d]')", i)
		}
	}
	if s.postgres {
		return "SELECT * FROM unnest(" + strings.Join(cols, ", ") + ")"
	}
	// One JSON array of rows: json_each walks the rows.
	for i := range cols {
		cols[i] = fmt.Sprintf("json_extract(value, '$[%d]')", i)
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM json_each($1)"
}

// listArgs passes the columns of keyList's tuples.
func (s *Store) listArgs(columns ...[]string) []any {
	if s.postgres {
		args := make([]any, len(columns))
		for i, c := range columns {
			args[i] = c
		}
		return args
	}
	rows := make([][]string, len(columns[0]))
	for r := range rows {
		rows[r] = make([]string, len(columns))
		for c := range columns {
			rows[r][c] = columns[c][r]
		}
	}
	b, _ := json.Marshal(rows)
	return []any{string(b)}
}

// CountDue counts, up to limit, the connections of the call's environment
// that ClaimRefreshes would claim at now (due before due, or a keep-alive
// come, or a lost lease), in one read that takes no lock: the refresh
// worker shares a batch among the environments by it.
func (s *Store) CountDue(ctx context.Context, now, due time.Time, limit int) (int, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return 0, err
	}
	nowU := utc(now)
	var n int64
	err = s.db.WithContext(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM connections
		WHERE env = ? AND status = ? AND (lease_until IS NULL OR lease_until <= ?) AND (
			(refreshing_until IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND (expires_at < ? OR keep_alive_at <= ?))
			OR (refreshing_until IS NOT NULL AND refreshing_until <= ?))
		LIMIT ?) due`, string(env), string(latchkey.StatusActive), nowU, nowU, utc(due), nowU, nowU, limit).Scan(&n).Error
	if err != nil {
		return 0, fail(err, "counting the connections due for a refresh")
	}
	return int(n), nil
}
