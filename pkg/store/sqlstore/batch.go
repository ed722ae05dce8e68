package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// WriteRefreshes writes a batch of refreshed connections in one
// transaction (on SQLite through statements prepared once for the batch, on
// PostgreSQL in one statement), so that the refresh worker pays one commit
// for many refreshes. Each connection is
// written only if its version is still the one it was claimed with and no
// value it owns would take the name of an org-level value of the
// installation; otherwise it is skipped, with its error, and the others are
// written.
func (s *Store) WriteRefreshes(ctx context.Context, conns []latchkey.Connection) ([]error, error) {
	if len(conns) == 0 {
		return nil, nil
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]refreshItem, len(conns))
	for i, c := range conns {
		if err := checkKey(c.ConnectionKey); err != nil {
			items[i].err = err
			continue
		}
		sealed, err := s.sealValues(env, c.ConnectionKey, c.Values)
		if err != nil {
			return nil, err
		}
		items[i].sealed, items[i].names = sealed, slices.Sorted(maps.Keys(sealed))
	}
	// Forgotten after the write, whether it committed or not (a failed
	// commit may have written).
	keys := make([]latchkey.ConnectionKey, len(conns))
	for i, c := range conns {
		keys[i] = c.ConnectionKey
	}
	defer s.forgetConnections(env, keys...)
	if s.postgres {
		return s.writeRefreshesPostgres(ctx, env, conns, items)
	}
	tx, release, err := s.begin(ctx)
	if err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	defer release()
	defer tx.Rollback()
	st, err := s.prepareRefreshWrite(ctx, tx)
	if err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	defer st.close()
	now := s.now()
	errs := make([]error, len(conns))
	for i, c := range conns {
		if items[i].err != nil {
			errs[i] = items[i].err
			continue
		}
		k, row := c.ConnectionKey, toRow(c)
		names, err := s.namesArg(items[i].names)
		if err != nil {
			return nil, fail(err, "saving refreshed connections")
		}
		res, err := st.update.ExecContext(ctx, row.Status, row.TokenType, row.Scope, row.ExpiresAt, c.Version+1, now,
			row.RefreshedAt, row.NextAttempt, row.Refreshing, row.KeepAlive, row.LastError, row.Failures, row.WorkerLease,
			k.App, k.Org, k.User, k.Config, c.Version, names, string(env))
		if err != nil {
			return nil, fail(err, "saving connection %s", connName(k))
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fail(err, "saving connection %s", connName(k))
		} else if n != 1 {
			errs[i] = s.whyNotWritten(ctx, tx, env, c)
			continue
		}
		for _, name := range items[i].names {
			if _, err := st.upsert.ExecContext(ctx, k.App, k.Org, k.User, name, items[i].sealed[name], k.Config, now, string(env)); err != nil {
				return nil, fail(err, "saving setting %q of connection %s", name, connName(k))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	return errs, nil
}

// refreshItem is a connection of WriteRefreshes with its values sealed.
type refreshItem struct {
	names  []string
	sealed map[string]string
	err    error
}

// writeRefreshesPostgres is WriteRefreshes in one statement: the batch
// travels as arrays (unnest), and data-modifying CTEs update the
// connections still at their claimed version, replace their values and
// return which were written. One round trip and one commit per batch.
func (s *Store) writeRefreshesPostgres(ctx context.Context, env latchkey.Environment, conns []latchkey.Connection, items []refreshItem) ([]error, error) {
	var (
		app, org, user, config, status, tokenType, scope, lastError []string
		version                                                     []int64
		failures                                                    []int64
		workerLease                                                 []bool
		expires, refreshed, next, refreshing, alive                 []*time.Time
		vApp, vOrg, vUser, vConfig, vName, vValue                   []string
	)
	errs := make([]error, len(conns))
	for i, c := range conns {
		if items[i].err != nil {
			errs[i] = items[i].err
			continue
		}
		r := toRow(c)
		app, org, user, config = append(app, c.App), append(org, c.Org), append(user, c.User), append(config, c.Config)
		status, tokenType, scope, lastError = append(status, r.Status), append(tokenType, r.TokenType), append(scope, r.Scope), append(lastError, r.LastError)
		version, failures = append(version, c.Version), append(failures, int64(r.Failures))
		workerLease = append(workerLease, r.WorkerLease)
		expires, refreshed, next = append(expires, r.ExpiresAt), append(refreshed, r.RefreshedAt), append(next, r.NextAttempt)
		refreshing, alive = append(refreshing, r.Refreshing), append(alive, r.KeepAlive)
		for _, name := range items[i].names {
			vApp, vOrg, vUser, vConfig = append(vApp, c.App), append(vOrg, c.Org), append(vUser, c.User), append(vConfig, c.Config)
			vName, vValue = append(vName, name), append(vValue, items[i].sealed[name])
		}
	}
	if len(app) == 0 {
		return errs, nil
	}
	tx, release, err := s.begin(ctx)
	if err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	defer release()
	defer tx.Rollback()
	if err := s.planForBatch(ctx, tx); err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	rows, err := tx.QueryContext(ctx, writeRefreshesSQL, app, org, user, config, version, status, tokenType, scope,
		expires, refreshed, next, refreshing, alive, lastError, failures, workerLease,
		vApp, vOrg, vUser, vConfig, vName, vValue, s.now(), string(env))
	if err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	written := map[latchkey.ConnectionKey]bool{}
	for rows.Next() {
		var k latchkey.ConnectionKey
		if err := rows.Scan(&k.App, &k.Org, &k.User, &k.Config); err != nil {
			rows.Close()
			return nil, fail(err, "saving refreshed connections")
		}
		written[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	for i, c := range conns {
		switch {
		case errs[i] != nil, written[c.ConnectionKey]:
		default:
			errs[i] = s.whyNotWritten(ctx, tx, env, c)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fail(err, "saving refreshed connections")
	}
	return errs, nil
}

// begin starts a transaction through database/sql: the worker's batch
// statements bypass gorm. On SQLite it first takes the store's writer slot
// (see writerSlot); call release after the transaction's Commit or
// Rollback.
func (s *Store) begin(ctx context.Context) (tx *sql.Tx, release func(), err error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, nil, err
	}
	release, err = s.writerSlot(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err = sqlDB.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, nil, err
	}
	return tx, release, nil
}

// planForBatch has PostgreSQL plan the rest of tx's statements for the
// batch at hand (a custom plan, knowing the arrays' lengths) rather than
// reuse the statement's cached generic plan, which guesses ten rows per
// array and loops over one batch list for every row of another: the
// worker's writes then grew with the batch and the table (38 ms of a
// 256-connection write went to that loop at 16,000 connections).
func (s *Store) planForBatch(ctx context.Context, tx *sql.Tx) error {
	if !s.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
	return err
}

// writeRefreshesSQL is writeRefreshesPostgres' statement. A connection is
// written only at its claimed version and when none of its values would
// take an org-level value's name; its values are updated in place, new
// names inserted (or taken over from another connection of the user), and
// values it owns that the batch lacks are kept.
const writeRefreshesSQL = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
		$9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::text[], $15::bigint[], $16::bool[])
		AS i(app, org, user_id, config, version, status, token_type, scope, expires_at, refreshed_at, next_attempt_at,
		     refreshing_until, keep_alive_at, last_error, failures, worker_lease)
), vals AS (
	SELECT * FROM unnest($17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])
		AS v(app, org, user_id, config, name, value)
), taken AS ( -- connections with a value named as an org-level value: one indexed probe per value
	SELECT DISTINCT v.app, v.org, v.user_id, v.config FROM vals v JOIN setting_values o
		ON o.env = $24 AND o.app = v.app AND o.org = v.org AND o.user_id = v.user_id AND o.name = v.name
	WHERE o.config = ''
), upd AS (
	UPDATE connections c SET status = i.status, token_type = i.token_type, scope = i.scope, expires_at = i.expires_at,
		version = i.version + 1, updated_at = $23, refreshed_at = i.refreshed_at, next_attempt_at = i.next_attempt_at,
		refreshing_until = i.refreshing_until, keep_alive_at = i.keep_alive_at, last_error = i.last_error, failures = i.failures,
		worker_lease = i.worker_lease
	FROM input i
	WHERE c.env = $24 AND c.app = i.app AND c.org = i.org AND c.user_id = i.user_id AND c.config = i.config AND c.version = i.version
	  AND NOT EXISTS (SELECT 1 FROM taken t WHERE t.app = i.app AND t.org = i.org AND t.user_id = i.user_id AND t.config = i.config)
	RETURNING c.app, c.org, c.user_id, c.config
), kept AS ( -- values the connection owns already: updated in place
	UPDATE setting_values s SET value = v.value, updated_at = $23
	FROM vals v JOIN upd u ON u.app = v.app AND u.org = v.org AND u.user_id = v.user_id AND u.config = v.config
	WHERE s.env = $24 AND s.app = v.app AND s.org = v.org AND s.user_id = v.user_id AND s.name = v.name AND s.config = v.config
), added AS ( -- new ones, or another connection's of the same user: taken over
	INSERT INTO setting_values (env, app, org, user_id, name, value, config, updated_at)
	SELECT $24, v.app, v.org, v.user_id, v.name, v.value, v.config, $23 FROM vals v JOIN upd u
		ON u.app = v.app AND u.org = v.org AND u.user_id = v.user_id AND u.config = v.config
	WHERE NOT EXISTS (SELECT 1 FROM setting_values s
		WHERE s.env = $24 AND s.app = v.app AND s.org = v.org AND s.user_id = v.user_id AND s.name = v.name AND s.config = v.config)
	ON CONFLICT (env, app, org, user_id, name) DO UPDATE SET value = excluded.value, config = excluded.config, updated_at = excluded.updated_at
)
SELECT app, org, user_id, config FROM upd`

// refreshWrite holds WriteRefreshes' statements, prepared in its
// transaction.
type refreshWrite struct {
	update, upsert *sql.Stmt
}

func (w *refreshWrite) close() {
	for _, st := range []*sql.Stmt{w.update, w.upsert} {
		if st != nil {
			st.Close()
		}
	}
}

// prepareRefreshWrite prepares the two statements of a refresh write. A
// list of value names is a JSON array on SQLite (json_each) and a text[]
// on PostgreSQL; $n parameters are numbered in order of first use, as
// go-sqlite3 binds them by position.
func (s *Store) prepareRefreshWrite(ctx context.Context, tx *sql.Tx) (*refreshWrite, error) {
	in := "SELECT value FROM json_each($19)"
	if s.postgres {
		in = "SELECT unnest($19::text[])"
	}
	var (
		w   refreshWrite
		err error
	)
	w.update, err = tx.PrepareContext(ctx, `UPDATE connections SET status = $1, token_type = $2, scope = $3, expires_at = $4,
		version = $5, updated_at = $6, refreshed_at = $7, next_attempt_at = $8, refreshing_until = $9, keep_alive_at = $10,
		last_error = $11, failures = $12, worker_lease = $13
		WHERE app = $14 AND org = $15 AND user_id = $16 AND config = $17 AND version = $18
		  AND NOT EXISTS (SELECT 1 FROM setting_values o WHERE o.app = $14 AND o.org = $15 AND o.user_id = $16
		    AND o.config = '' AND o.name IN (`+in+`) AND o.env = $20) AND env = $20`)
	if err != nil {
		return nil, err
	}
	if w.upsert, err = tx.PrepareContext(ctx, `INSERT INTO setting_values (app, org, user_id, name, value, config, updated_at, env)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (env, app, org, user_id, name) DO UPDATE SET value = excluded.value, config = excluded.config, updated_at = excluded.updated_at`); err != nil {
		w.close()
		return nil, err
	}
	return &w, nil
}

// namesArg is a list of value names as the dialect's statements take it.
func (s *Store) namesArg(names []string) (any, error) {
	if names == nil {
		names = []string{}
	}
	if s.postgres {
		return names, nil
	}
	b, err := json.Marshal(names)
	return string(b), err
}

// queryer is a *sql.Tx or a *sql.DB.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// whyNotWritten tells why a refresh write changed no row: the connection
// was deleted, changed since its claim, or one of its values has the name
// of an org-level value.
func (s *Store) whyNotWritten(ctx context.Context, tx queryer, env latchkey.Environment, c latchkey.Connection) error {
	k := c.ConnectionKey
	var version int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM connections WHERE app = $1 AND org = $2 AND user_id = $3 AND config = $4 AND env = $5`,
		k.App, k.Org, k.User, k.Config, string(env)).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound("connection %s not found", connName(k))
	case err != nil:
		return fail(err, "reading connection %s", connName(k))
	case version != c.Version:
		return latchkey.Errorf(latchkey.ECONFLICT, "connection %s has changed: version %d, not %d", connName(k), version, c.Version)
	}
	return latchkey.Errorf(latchkey.ECONFLICT, "connection %s: a value it owns has the name of an org-level value of the installation", connName(k))
}
