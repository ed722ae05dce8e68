package sqlstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
)

// DefaultRotateBatch is the batch size Rotate uses when given none.
const DefaultRotateBatch = 500

// sealedColumn is a column Rotate re-encrypts: the table, its key columns,
// the sealed column, and the associated data of a row from its key.
type sealedColumn struct {
	table  string
	keys   []string
	column string
	ad     func(key []string) []string
	what   string
}

var sealedColumns = []sealedColumn{
	{"apps", []string{"env", "name"}, "document", func(k []string) []string { return envAD(latchkey.Environment(k[0]), "app", k[1]) }, "an app document"},
	{"setting_values", []string{"env", "app", "org", "user_id", "name"}, "value", func(k []string) []string {
		return valueAD(latchkey.Environment(k[0]), k[1], k[2], k[3], k[4])
	}, "a setting value"},
	{"auth_states", []string{"env", "state_hash"}, "code_verifier", func(k []string) []string { return envAD(latchkey.Environment(k[0]), "state", k[1]) }, "a code verifier"},
	{"webhooks", []string{"env", "id"}, "secret", func(k []string) []string { return envAD(latchkey.Environment(k[0]), "webhooks", k[1]) }, "a webhook secret"},
	{"traces", []string{"env", "id"}, "steps", func(k []string) []string { return envAD(latchkey.Environment(k[0]), "traces", k[1]) }, "a trace's steps"},
	{"server_secrets", []string{"name"}, "value", func(k []string) []string { return []string{"server_secrets", k[0]} }, "a server secret"},
}

// Rotate re-encrypts every sealed value that is not under the keyring's
// primary key (app documents, setting values, code verifiers, webhook
// secrets, the server's own secrets: what signs install links and CSRF
// tokens stays valid), batch rows at a time, each batch in its own transaction, so that
// the store keeps serving while it runs. progress, when not nil, is called after each batch
// with the rows done and the rows that needed it when Rotate began. Once it
// returns nil, the keys other than the primary can be dropped from the
// keyring. It is safe to run again after a failure. Rotate works with the
// keyring current when it begins, whatever SetKeyring does meanwhile.
func (s *Store) Rotate(ctx context.Context, batch int, progress func(done, total int)) error {
	if batch <= 0 {
		batch = DefaultRotateBatch
	}
	ring := s.ring.Load()
	prefix := "v1." + ring.PrimaryID() + "."
	stale := fmt.Sprintf("%%s <> '' AND substr(%%s, 1, %d) <> ?", len(prefix))
	total := 0
	for _, c := range sealedColumns {
		var n int64
		if err := s.db.WithContext(ctx).Table(c.table).Where(fmt.Sprintf(stale, c.column, c.column), prefix).Count(&n).Error; err != nil {
			return fail(err, "counting the values to rotate in %s", c.table)
		}
		total += int(n)
	}
	done := 0
	for _, c := range sealedColumns {
		for {
			n, err := s.rotateBatch(ctx, ring, c, fmt.Sprintf(stale, c.column, c.column), prefix, batch)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			done += n
			if progress != nil {
				progress(done, max(total, done))
			}
		}
	}
	return nil
}

// rotateBatch re-encrypts up to batch stale rows of c in one transaction and
// returns how many it did.
func (s *Store) rotateBatch(ctx context.Context, ring *secretbox.Keyring, c sealedColumn, stale, prefix string, batch int) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var rows []map[string]any
		err := s.forUpdate(tx.Table(c.table).Select(append(append([]string{}, c.keys...), c.column)).Where(stale, prefix).Limit(batch)).Find(&rows).Error
		if err != nil {
			return fail(err, "reading the values to rotate in %s", c.table)
		}
		for _, row := range rows {
			key := make([]string, len(c.keys))
			where := tx.Table(c.table)
			for i, k := range c.keys {
				key[i] = fmt.Sprint(row[k])
				where = where.Where(k+" = ?", key[i])
			}
			old := fmt.Sprint(row[c.column])
			plain, err := openWith(ring, old, c.what+" in "+c.table, c.ad(key)...)
			if err != nil {
				return err
			}
			sealed, err := sealWith(ring, plain, c.ad(key)...)
			if err != nil {
				return err
			}
			if err := where.Where(c.column+" = ?", old).Update(c.column, sealed).Error; err != nil {
				return fail(err, "re-encrypting %s in %s", c.what, c.table)
			}
			n++
		}
		return nil
	})
	return n, err
}
