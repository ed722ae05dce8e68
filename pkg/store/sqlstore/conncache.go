package sqlstore

import (
	"hash/maphash"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// DefaultConnectionCacheSize is how many connections the read cache holds
// when Config leaves ConnectionCacheSize zero.
const DefaultConnectionCacheSize = 10000

// DefaultConnectionCacheMaxAge is how long a cached connection is served
// when Config leaves ConnectionCacheMaxAge zero: a safety net behind the
// invalidations, not the way entries normally leave the cache.
const DefaultConnectionCacheMaxAge = 30 * time.Second

// userKey names the connections of one user (of one org's org-level
// connections when user is ""): the unit the cache forgets on a local write,
// since a write of a connection's values may take over a value another
// connection of the same user owned.
type userKey struct{ app, org, user string }

// cachedConn is a decrypted connection with the time it was read.
type cachedConn struct {
	conn latchkey.Connection
	at   time.Time
}

// connCache is GetConnection's read cache: decrypted connections, with their
// values, by key. It is bounded (size entries; when full, a random user's
// entries are evicted, which Go's map order makes cheap) and every entry is
// served for at most maxAge.
//
// A read that misses records the generation before its query and puts what
// it read only if the generation is unchanged: every invalidation bumps it
// under the same lock, so a read that raced a write (its query may have seen
// the row before the write committed) never puts a stale version in after
// the write has forgotten the key. The generation is an epoch, which
// flushes bump, and one of genStripes counters by a hash of the user, which
// forgetting a connection bumps: a busy writer of some users' tokens does
// not keep the reads of all the others out of the cache. Callers get deep
// copies.
type connCache struct {
	size   int
	maxAge time.Duration
	seed   maphash.Seed

	mu      sync.RWMutex
	epoch   uint64
	gens    [genStripes]uint64
	enabled bool
	n       int
	users   map[userKey]map[string]cachedConn
}

// genStripes is how many generation counters the users share.
const genStripes = 256

// generation is what a read records before its query: the epoch and its
// user's stripe's counter.
type generation struct{ epoch, gen uint64 }

func newConnCache(size int, maxAge time.Duration, enabled bool) *connCache {
	return &connCache{size: size, maxAge: maxAge, seed: maphash.MakeSeed(), enabled: enabled, users: map[userKey]map[string]cachedConn{}}
}

func userOf(k latchkey.ConnectionKey) userKey { return userKey{k.App, k.Org, k.User} }

func (c *connCache) stripe(u userKey) int {
	return int(maphash.Comparable(c.seed, u) % genStripes)
}

// get returns a copy of the cached connection, if there is a young enough
// one, else the generation a read of the database must give to put.
func (c *connCache) get(env latchkey.Environment, k latchkey.ConnectionKey) (latchkey.Connection, generation, bool) {
	u := userOf(k)
	i := c.stripe(u)
	c.mu.RLock()
	e, ok := c.users[u][configOf(env, k.Config)]
	gen := generation{c.epoch, c.gens[i]}
	c.mu.RUnlock()
	if !ok || time.Since(e.at) >= c.maxAge {
		return latchkey.Connection{}, gen, false
	}
	return copyConn(e.conn), gen, true
}

// put caches a copy of conn, read from the database at generation gen,
// unless something was forgotten since or the cache is disabled.
func (c *connCache) put(env latchkey.Environment, conn latchkey.Connection, gen generation) {
	config := configOf(env, conn.Config)
	e := cachedConn{conn: copyConn(conn), at: time.Now()}
	u := userOf(conn.ConnectionKey)
	i := c.stripe(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || gen != (generation{c.epoch, c.gens[i]}) {
		return
	}
	configs := c.users[u]
	if _, ok := configs[config]; !ok {
		for c.n >= c.size && len(c.users) > 0 {
			for victim, vc := range c.users {
				c.n -= len(vc)
				delete(c.users, victim)
				break
			}
		}
		if c.n >= c.size {
			return
		}
		if configs = c.users[u]; configs == nil {
			configs = map[string]cachedConn{}
			c.users[u] = configs
		}
		c.n++
	}
	configs[config] = e
}

// configOf is the key of a user's cached connection through config in env.
// A user's connections of every environment share one entry of users, so
// that forgetting a user (a notification names no environment) forgets
// them all.
func configOf(env latchkey.Environment, config string) string {
	return string(env) + "\x00" + config
}

// forgetKeys forgets these connections.
func (c *connCache) forgetKeys(keys ...latchkey.ConnectionKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		u := userOf(k)
		c.gens[c.stripe(u)]++
		configs := c.users[u]
		for name := range configs {
			if _, config, _ := strings.Cut(name, "\x00"); config == k.Config {
				delete(configs, name)
				c.n--
			}
		}
		if configs != nil && len(configs) == 0 {
			delete(c.users, u)
		}
	}
}

// forgetUsers forgets every connection of these keys' users.
func (c *connCache) forgetUsers(keys ...latchkey.ConnectionKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		u := userOf(k)
		c.gens[c.stripe(u)]++
		c.n -= len(c.users[u])
		delete(c.users, u)
	}
}

// forgetOrgs forgets every connection of an app (org "") or of one org of
// it.
func (c *connCache) forgetOrgs(app, org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for u, configs := range c.users {
		if u.app == app && (org == "" || u.org == org) {
			c.n -= len(configs)
			delete(c.users, u)
		}
	}
}

// setEnabled empties the cache and turns it on or off. Either way the
// generation moves, so a read that began before cannot put what it read.
func (c *connCache) setEnabled(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.enabled = on
	c.n = 0
	clear(c.users)
}

// flush empties the cache, leaving it on or off.
func (c *connCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.n = 0
	clear(c.users)
}

// isEnabled reports whether reads are served from the cache.
func (c *connCache) isEnabled() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.enabled
}

// len returns how many connections are cached.
func (c *connCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.n
}

// copyConn returns conn with its own Values map.
func copyConn(conn latchkey.Connection) latchkey.Connection {
	conn.Values = maps.Clone(conn.Values)
	if conn.Values == nil {
		conn.Values = map[string]string{}
	}
	return conn
}

// forgetConnections makes the read cache forget these connections and every
// other connection of their users, and stops any read that raced the write
// from caching what it read. Every function that writes rows of connections
// or connection-owned setting_values calls it after its transaction
// commits (whether or not it did: a failed commit may have written), with
// the keys it wrote. On PostgreSQL the notification trigger makes the other
// replicas forget them too.
//
// Users are forgotten in every environment (too much forgotten is only a
// cache miss).
func (s *Store) forgetConnections(_ latchkey.Environment, keys ...latchkey.ConnectionKey) {
	if s.cache == nil || len(keys) == 0 {
		return
	}
	s.cache.forgetUsers(keys...)
}

// forgetOrgConnections makes the read cache forget every connection of an
// app (org "") or of one of its orgs, after a delete of them.
//
// They are forgotten in every environment.
func (s *Store) forgetOrgConnections(_ latchkey.Environment, app, org string) {
	if s.cache != nil {
		s.cache.forgetOrgs(app, org)
	}
}
