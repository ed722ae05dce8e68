package sqlstore

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// PutConnection creates or replaces a connection with its Values in one
// transaction. A new connection gets Version 1; a replaced one its stored
// version plus one. When conn.Version is not 0 it must equal the stored
// version, else ErrConflict, and that includes a connection that no longer
// exists (deleted since it was read): a stale writer never brings a
// disconnected connection back. The app must exist (ErrNotFound).
//
// The connection owns the values it is given; values it owned before and
// conn lacks are deleted. A value of the same name another connection of the
// same user owned passes to this one (the last connection made wins); an
// org-level value of the installation is never taken (ErrConflict).
func (s *Store) PutConnection(ctx context.Context, conn latchkey.Connection) (latchkey.Connection, error) {
	if err := checkKey(conn.ConnectionKey); err != nil {
		return latchkey.Connection{}, err
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Connection{}, err
	}
	sealed, err := s.sealValues(env, conn.ConnectionKey, conn.Values)
	if err != nil {
		return latchkey.Connection{}, err
	}
	var out latchkey.Connection
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := appExists(tx, env, conn.App); err != nil {
			return err
		}
		var old connectionRow
		ok, err := find(s.forUpdate(whereKey(tx, env, conn.ConnectionKey)), &old)
		if err != nil {
			return fail(err, "reading connection %s", connName(conn.ConnectionKey))
		}
		if !ok {
			// A new connection of a config the document no longer has
			// would be stranded: no route could read or delete it.
			if err := s.configExists(tx, env, conn.App, conn.Config); err != nil {
				return err
			}
		}
		switch {
		case ok && conn.Version != 0 && conn.Version != old.Version:
			return latchkey.Errorf(latchkey.ECONFLICT, "connection %s has changed: version %d, not %d", connName(conn.ConnectionKey), old.Version, conn.Version)
		case !ok && conn.Version != 0:
			return latchkey.Errorf(latchkey.ECONFLICT, "connection %s no longer exists", connName(conn.ConnectionKey))
		}
		var prev *connectionRow
		if ok {
			prev = &old
		}
		out, err = s.writeConnection(tx, env, prev, conn, sealed, true)
		return err
	})
	s.forgetConnections(env, conn.ConnectionKey)
	if err != nil {
		return latchkey.Connection{}, err
	}
	return out, nil
}

// GetConnection returns a connection with the values it owns, from the
// connection cache when it holds it (see Store). The connection returned is
// the caller's own: changing it changes nothing cached.
func (s *Store) GetConnection(ctx context.Context, key latchkey.ConnectionKey) (latchkey.Connection, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Connection{}, err
	}
	if s.cache == nil {
		return s.queryConnection(ctx, env, key)
	}
	conn, gen, ok := s.cache.get(env, key)
	if ok {
		return conn, nil
	}
	conn, err = s.queryConnection(ctx, env, key)
	if err != nil {
		return conn, err
	}
	s.cache.put(env, conn, gen)
	return conn, nil
}

// queryConnection reads a connection with the values it owns from the
// database.
func (s *Store) queryConnection(ctx context.Context, env latchkey.Environment, key latchkey.ConnectionKey) (latchkey.Connection, error) {
	// One statement reads the row and the values it owns, so a refresh
	// committed between two queries cannot pair a connection with another
	// version's tokens (a transaction would take SQLite's write lock). It is
	// prepared once and scanned by hand: it is the query of every token read.
	rows, err := s.getConn.QueryContext(ctx, string(env), key.App, key.Org, key.User, key.Config)
	if err != nil {
		return latchkey.Connection{}, fail(err, "reading connection %s", connName(key))
	}
	defer rows.Close()
	conn := latchkey.Connection{ConnectionKey: key, Values: map[string]string{}}
	found := false
	for rows.Next() {
		var (
			status, tokenType, scope, lastError  string
			version                              int64
			failures                             int
			created, updated                     time.Time
			expires, refreshed, next, refreshing sql.NullTime
			alive                                sql.NullTime
			workerLease                          bool
			name, value                          sql.NullString
		)
		if err := rows.Scan(&status, &tokenType, &scope, &expires, &version, &created, &updated, &refreshed, &next, &refreshing,
			&alive, &workerLease, &lastError, &failures, &name, &value); err != nil {
			return latchkey.Connection{}, fail(err, "reading connection %s", connName(key))
		}
		if !found {
			found = true
			conn.Status, conn.TokenType, conn.Scope = latchkey.ConnectionStatus(status), tokenType, scope
			conn.Version, conn.Failures, conn.LastError = version, failures, lastError
			conn.CreatedAt, conn.UpdatedAt = utc(created), utc(updated)
			conn.ExpiresAt, conn.RefreshedAt, conn.NextAttemptAt = nullTime(expires), nullTime(refreshed), nullTime(next)
			conn.RefreshingUntil, conn.KeepAliveAt, conn.WorkerLease = nullTime(refreshing), nullTime(alive), workerLease
		}
		if name.Valid {
			v := valueRow{Env: string(env), App: key.App, Org: key.Org, UserID: key.User, Name: name.String, Value: value.String}
			if conn.Values[v.Name], err = s.openValue(v); err != nil {
				return latchkey.Connection{}, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return latchkey.Connection{}, fail(err, "reading connection %s", connName(key))
	}
	if !found {
		return latchkey.Connection{}, notFound("connection %s not found", connName(key))
	}
	return conn, nil
}

// getConnectionSQL reads a connection joined with the values it owns; $n
// placeholders suit both PostgreSQL and SQLite.
const getConnectionSQL = `SELECT c.status, c.token_type, c.scope, c.expires_at, c.version, c.created_at, c.updated_at,
	c.refreshed_at, c.next_attempt_at, c.refreshing_until, c.keep_alive_at, c.worker_lease, c.last_error, c.failures, v.name, v.value
	FROM connections c LEFT JOIN setting_values v
	  ON v.env = c.env AND v.app = c.app AND v.org = c.org AND v.user_id = c.user_id AND v.config = c.config
	WHERE c.env = $1 AND c.app = $2 AND c.org = $3 AND c.user_id = $4 AND c.config = $5`

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return utc(t.Time)
}

// UpdateConnection reads the connection under a lock, calls update with it
// and writes what update returns with Version increased, in one
// transaction. On PostgreSQL the lock is the row's (SELECT … FOR UPDATE); on
// SQLite it is the database's write lock, held from BEGIN, so update should
// be quick there: every other writer waits for it. The key and CreatedAt of
// what update returns are ignored; its Values replace the owned values as in
// PutConnection. An error from update is returned as it is, and nothing is
// written.
func (s *Store) UpdateConnection(ctx context.Context, key latchkey.ConnectionKey, update func(latchkey.Connection) (latchkey.Connection, error)) (latchkey.Connection, error) {
	var (
		out  latchkey.Connection
		read bool
	)
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Connection{}, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		cur, err := s.readConnection(tx, env, key, true)
		if err != nil {
			return err
		}
		read = true
		old := toRow(cur)
		old.CreatedAt, old.Version = cur.CreatedAt, cur.Version
		next, err := update(cur)
		if err != nil {
			return err
		}
		next.ConnectionKey = key
		if maps.Equal(cur.Values, next.Values) {
			// Only the connection's row changed (a refresh lease, a
			// failure count): its values stay as they are, sealed.
			out, err = s.writeConnection(tx, env, &old, next, nil, false)
			return err
		}
		sealed, err := s.sealValues(env, key, next.Values)
		if err != nil {
			return err
		}
		out, err = s.writeConnection(tx, env, &old, next, sealed, true)
		return err
	})
	if read {
		// Written, or read under the lock without a write: either way the
		// cache may hold an older version (another replica's write whose
		// notification has not arrived yet), and the caller has just learnt
		// of a newer one. Forgotten, the next read sees at least this one.
		s.forgetConnections(env, key)
	}
	if err != nil {
		return latchkey.Connection{}, err
	}
	return out, nil
}

// ListConnections returns the connections of an app, or of one of its orgs,
// without their values, by org, user and config.
func (s *Store) ListConnections(ctx context.Context, app, org string) ([]latchkey.Connection, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("env = ? AND app = ?", env, app)
	if org != "" {
		q = q.Where("org = ?", org)
	}
	var rows []connectionRow
	if err := q.Order("org, user_id, config").Find(&rows).Error; err != nil {
		return nil, fail(err, "listing the connections of app %q", app)
	}
	out := make([]latchkey.Connection, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, nil
}

// DeleteConnection deletes a connection, the values it owns and its
// traces.
func (s *Store) DeleteConnection(ctx context.Context, key latchkey.ConnectionKey) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	defer s.forgetConnections(env, key)
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM connections WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?", env, key.App, key.Org, key.User, key.Config)
		if res.Error != nil {
			return fail(res.Error, "deleting connection %s", connName(key))
		}
		if res.RowsAffected == 0 {
			return notFound("connection %s not found", connName(key))
		}
		err := tx.Exec("DELETE FROM setting_values WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?", env, key.App, key.Org, key.User, key.Config).Error
		if err != nil {
			return fail(err, "deleting the values of connection %s", connName(key))
		}
		err = tx.Exec("DELETE FROM traces WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?", env, key.App, key.Org, key.User, key.Config).Error
		return fail(err, "deleting the traces of connection %s", connName(key))
	})
}

func checkKey(k latchkey.ConnectionKey) error {
	if k.App == "" || k.Org == "" || k.Config == "" {
		return latchkey.Errorf(latchkey.EINVALID, "a connection needs an app, an org and a config")
	}
	return nil
}

func whereKey(tx *gorm.DB, env latchkey.Environment, k latchkey.ConnectionKey) *gorm.DB {
	return tx.Where("env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?", env, k.App, k.Org, k.User, k.Config)
}

// readConnection reads a connection and its values in db (a transaction or
// not), locking its row on PostgreSQL when lock is set.
func (s *Store) readConnection(db *gorm.DB, env latchkey.Environment, key latchkey.ConnectionKey, lock bool) (latchkey.Connection, error) {
	q := whereKey(db, env, key)
	if lock {
		q = s.forUpdate(q)
	}
	var row connectionRow
	ok, err := find(q, &row)
	if err != nil {
		return latchkey.Connection{}, fail(err, "reading connection %s", connName(key))
	}
	if !ok {
		return latchkey.Connection{}, notFound("connection %s not found", connName(key))
	}
	var values []valueRow
	if err := whereKey(db, env, key).Find(&values).Error; err != nil {
		return latchkey.Connection{}, fail(err, "reading the values of connection %s", connName(key))
	}
	conn := fromRow(row)
	conn.Values = make(map[string]string, len(values))
	for _, v := range values {
		if conn.Values[v.Name], err = s.openValue(v); err != nil {
			return latchkey.Connection{}, err
		}
	}
	return conn, nil
}

func (s *Store) sealValues(env latchkey.Environment, key latchkey.ConnectionKey, values map[string]string) (map[string]string, error) {
	sealed := make(map[string]string, len(values))
	for name, v := range values {
		if name == "" {
			return nil, latchkey.Errorf(latchkey.EINVALID, "connection %s: a value has no name", connName(key))
		}
		ct, err := s.seal(v, valueAD(env, key.App, key.Org, key.User, name)...)
		if err != nil {
			return nil, err
		}
		sealed[name] = ct
	}
	return sealed, nil
}

// writeConnection writes conn over prev (nil when new) inside tx, and
// replaces the values it owns with sealed.
func (s *Store) writeConnection(tx *gorm.DB, env latchkey.Environment, prev *connectionRow, conn latchkey.Connection, sealed map[string]string, writeValues bool) (latchkey.Connection, error) {
	k := conn.ConnectionKey
	now := s.now()
	row := toRow(conn)
	row.Env = string(env)
	row.UpdatedAt = now
	if prev == nil {
		row.Version, row.CreatedAt = 1, now
		if err := tx.Create(&row).Error; err != nil {
			return latchkey.Connection{}, fail(err, "saving connection %s", connName(k))
		}
	} else {
		row.Version, row.CreatedAt = prev.Version+1, prev.CreatedAt
		res := tx.Exec(`UPDATE connections SET status = ?, token_type = ?, scope = ?, expires_at = ?, version = ?,
			updated_at = ?, refreshed_at = ?, next_attempt_at = ?, refreshing_until = ?, keep_alive_at = ?, worker_lease = ?, last_error = ?, failures = ?
			WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ? AND version = ?`,
			row.Status, row.TokenType, row.Scope, row.ExpiresAt, row.Version, row.UpdatedAt, row.RefreshedAt, row.NextAttempt, row.Refreshing, row.KeepAlive, row.WorkerLease, row.LastError, row.Failures,
			env, k.App, k.Org, k.User, k.Config, prev.Version)
		if res.Error != nil {
			return latchkey.Connection{}, fail(res.Error, "saving connection %s", connName(k))
		}
		if res.RowsAffected != 1 {
			return latchkey.Connection{}, latchkey.Errorf(latchkey.ECONFLICT, "connection %s changed while it was written", connName(k))
		}
	}
	if !writeValues {
		out := fromRow(row)
		out.Values = maps.Clone(conn.Values)
		if out.Values == nil {
			out.Values = map[string]string{}
		}
		return out, nil
	}
	// The installation's own org-level values are never taken over.
	if len(sealed) > 0 {
		var taken []string
		err := tx.Model(&valueRow{}).Where("env = ? AND app = ? AND org = ? AND user_id = ? AND config = '' AND name IN ?", env, k.App, k.Org, k.User, slices.Collect(maps.Keys(sealed))).
			Pluck("name", &taken).Error
		if err != nil {
			return latchkey.Connection{}, fail(err, "reading the values of connection %s", connName(k))
		}
		if len(taken) > 0 {
			slices.Sort(taken)
			return latchkey.Connection{}, latchkey.Errorf(latchkey.ECONFLICT, "connection %s: setting %q is an org-level value of the installation", connName(k), taken[0])
		}
	}
	if err := tx.Exec("DELETE FROM setting_values WHERE env = ? AND app = ? AND org = ? AND user_id = ? AND config = ?", env, k.App, k.Org, k.User, k.Config).Error; err != nil {
		return latchkey.Connection{}, fail(err, "replacing the values of connection %s", connName(k))
	}
	for _, name := range slices.Sorted(maps.Keys(sealed)) {
		err := tx.Exec(`INSERT INTO setting_values (env, app, org, user_id, name, value, config, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (env, app, org, user_id, name) DO UPDATE SET value = excluded.value, config = excluded.config, updated_at = excluded.updated_at`,
			env, k.App, k.Org, k.User, name, sealed[name], k.Config, now).Error
		if err != nil {
			return latchkey.Connection{}, fail(err, "saving setting %q of connection %s", name, connName(k))
		}
	}
	out := fromRow(row)
	out.Values = maps.Clone(conn.Values)
	if out.Values == nil {
		out.Values = map[string]string{}
	}
	return out, nil
}

func toRow(c latchkey.Connection) connectionRow {
	return connectionRow{
		App: c.App, Org: c.Org, UserID: c.User, Config: c.Config,
		Status: string(c.Status), TokenType: c.TokenType, Scope: c.Scope,
		ExpiresAt: utcPtr(c.ExpiresAt), RefreshedAt: utcPtr(c.RefreshedAt), NextAttempt: utcPtr(c.NextAttemptAt),
		Refreshing: utcPtr(c.RefreshingUntil), KeepAlive: utcPtr(c.KeepAliveAt), WorkerLease: c.WorkerLease,
		LastError: c.LastError, Failures: c.Failures,
	}
}

func fromRow(r connectionRow) latchkey.Connection {
	return latchkey.Connection{
		ConnectionKey:   latchkey.ConnectionKey{App: r.App, Org: r.Org, User: r.UserID, Config: r.Config},
		Status:          latchkey.ConnectionStatus(r.Status),
		TokenType:       r.TokenType,
		Scope:           r.Scope,
		ExpiresAt:       fromPtr(r.ExpiresAt),
		Version:         r.Version,
		CreatedAt:       utc(r.CreatedAt),
		UpdatedAt:       utc(r.UpdatedAt),
		RefreshedAt:     fromPtr(r.RefreshedAt),
		NextAttemptAt:   fromPtr(r.NextAttempt),
		RefreshingUntil: fromPtr(r.Refreshing),
		KeepAliveAt:     fromPtr(r.KeepAlive),
		WorkerLease:     r.WorkerLease,
		LastError:       r.LastError,
		Failures:        r.Failures,
	}
}
