// Package sqlstore is the store.Store of Latchkey on SQL databases through
// gorm: SQLite (a file in the data folder, the default) or PostgreSQL.
//
// Open applies the versioned migrations of the migrations package with goose
// before it returns, each in its own transaction. Every write is one
// transaction. On SQLite the database runs in WAL mode and every transaction
// begins IMMEDIATE, so writers take the database's write lock at BEGIN and
// queue behind each other (for up to the busy timeout) instead of failing
// half-way; those of one process queue on the store's writer slot, woken
// as soon as the one before them ends, and give up when their context
// does; on PostgreSQL, UpdateConnection locks the connection's row with
// SELECT … FOR UPDATE.
//
// Secret columns are sealed with a secretbox.Keyring, each value bound to
// its row by associated data:
//
//	apps.document              ["app", name]
//	setting_values.value       ["value", app, org, user, name]
//	auth_states.code_verifier  ["state", state hash]
//
// so that a ciphertext copied to another row fails to decrypt. Link tokens
// and authorization states are kept only as SHA-256 hashes. Rotate
// re-encrypts every sealed column under the keyring's primary key, and
// SetKeyring swaps the keyring of an open store, so that keys rotate while
// it serves.
//
// GetConnection, the read of every token request, is served from a bounded
// cache of decrypted connections that this store's writes invalidate when
// they commit and, on PostgreSQL, every replica's writes through the
// LISTEN/NOTIFY triggers of migration 00010 (see Store).
//
// Times are kept in UTC, to the microsecond.
package sqlstore
