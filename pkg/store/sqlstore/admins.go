package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

type adminRow struct {
	Email        string    `gorm:"column:email;primaryKey"`
	PasswordHash []byte    `gorm:"column:password_hash"`
	CreatedAt    time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (adminRow) TableName() string { return "admins" }

type sessionRow struct {
	IDHash    string    `gorm:"column:id_hash;primaryKey"`
	Email     string    `gorm:"column:email"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (sessionRow) TableName() string { return "admin_sessions" }

type serverSecretRow struct {
	Name      string    `gorm:"column:name;primaryKey"`
	Value     string    `gorm:"column:value"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (serverSecretRow) TableName() string { return "server_secrets" }

// normEmail is the form an email is stored and looked up in.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateAdmin stores an admin account; an email in use is ErrConflict.
func (s *Store) CreateAdmin(ctx context.Context, a store.Admin) error {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	row := adminRow{Email: normEmail(a.Email), PasswordHash: a.PasswordHash, CreatedAt: utc(created)}
	if row.Email == "" || len(row.PasswordHash) == 0 {
		return latchkey.Errorf(latchkey.EINVALID, "an admin needs an email and a password hash")
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error == nil && res.RowsAffected == 0 {
			return latchkey.Errorf(latchkey.ECONFLICT, "admin %q exists already", row.Email)
		}
		return res.Error
	})
	return fail(err, "create admin %q", row.Email)
}

// GetAdmin returns the admin account of email.
func (s *Store) GetAdmin(ctx context.Context, email string) (store.Admin, error) {
	var row adminRow
	err := s.db.WithContext(ctx).Where("email = ?", normEmail(email)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return store.Admin{}, notFound("no admin %q", normEmail(email))
	}
	if err != nil {
		return store.Admin{}, fail(err, "get admin")
	}
	return store.Admin{Email: row.Email, PasswordHash: row.PasswordHash, CreatedAt: row.CreatedAt.UTC()}, nil
}

// ListAdmins returns every admin account, by email, without password hashes.
func (s *Store) ListAdmins(ctx context.Context) ([]store.Admin, error) {
	var rows []adminRow
	if err := s.db.WithContext(ctx).Order("email").Find(&rows).Error; err != nil {
		return nil, fail(err, "list admins")
	}
	out := make([]store.Admin, len(rows))
	for i, r := range rows {
		out[i] = store.Admin{Email: r.Email, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// SetAdminPassword replaces an admin's password hash, deletes the admin's
// sessions and revokes the OAuth authorizations the admin gave, in one
// transaction.
func (s *Store) SetAdminPassword(ctx context.Context, email string, hash []byte) error {
	email = normEmail(email)
	if len(hash) == 0 {
		return latchkey.Errorf(latchkey.EINVALID, "a password hash is required")
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&adminRow{}).Where("email = ?", email).Update("password_hash", hash)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return notFound("no admin %q", email)
		}
		if err := tx.Where("email = ?", email).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		return revokeOAuthOf(tx, email, time.Now())
	})
	return fail(err, "set the password of admin %q", email)
}

// revokeOAuthOf revokes, inside tx, every live authorization the admin
// gave an OAuth app of Latchkey's own server, in every environment, with
// their tokens: an admin whose password changed or who is gone must not
// keep acting through a tool they once allowed.
func revokeOAuthOf(tx *gorm.DB, email string, at time.Time) error {
	live := "SELECT id FROM oauth_authorizations WHERE subject = ? AND revoked_at IS NULL"
	if err := tx.Exec("UPDATE oauth_tokens SET active = ? WHERE authorization_id IN ("+live+")", false, email).Error; err != nil {
		return err
	}
	return tx.Exec("UPDATE oauth_authorizations SET revoked_at = ? WHERE subject = ? AND revoked_at IS NULL", utc(at), email).Error
}

// DeleteAdmin deletes an admin account and its sessions in one
// transaction, refusing to delete the last one. Every admin's row is locked
// first (FOR UPDATE on PostgreSQL, in email order so that two deletes take
// the locks alike; the IMMEDIATE transaction on SQLite), so the count it
// checks stays true until the delete commits: of two deletes at once that
// would leave none, the second waits, then counts one and is refused.
func (s *Store) DeleteAdmin(ctx context.Context, email string) error {
	email = normEmail(email)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var emails []string
		if err := s.forUpdate(tx.Model(&adminRow{})).Order("email").Pluck("email", &emails).Error; err != nil {
			return err
		}
		if !slices.Contains(emails, email) {
			return notFound("no admin %q", email)
		}
		if len(emails) == 1 {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("admin %q is the last admin: create another before deleting it", email),
				Fields: []latchkey.FieldError{{Field: "email", Message: "is the last admin account"}}}
		}
		if err := tx.Where("email = ?", email).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		if err := revokeOAuthOf(tx, email, time.Now()); err != nil {
			return err
		}
		return tx.Where("email = ?", email).Delete(&adminRow{}).Error
	})
	return fail(err, "delete admin %q", email)
}

// CreateSession stores a session under the hash of id.
func (s *Store) CreateSession(ctx context.Context, id string, sess store.Session) error {
	created := sess.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	row := sessionRow{IDHash: hashHex(id), Email: normEmail(sess.Email), CreatedAt: utc(created), ExpiresAt: utc(sess.ExpiresAt)}
	err := s.tx(ctx, func(tx *gorm.DB) error { return tx.Create(&row).Error })
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return notFound("no admin %q", row.Email)
	}
	return fail(err, "create a session")
}

// GetSession returns the session of id.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	var row sessionRow
	ok, err := find(s.db.WithContext(ctx).Where("id_hash = ?", hashHex(id)), &row)
	if err != nil {
		return store.Session{}, fail(err, "get a session")
	}
	if !ok {
		return store.Session{}, notFound("no such session")
	}
	if !now.Before(row.ExpiresAt) {
		return store.Session{}, latchkey.Errorf(latchkey.EEXPIRED, "the session has expired")
	}
	return store.Session{Email: row.Email, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// DeleteSession deletes the session of id, and every session that expired
// more than a day ago.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("id_hash = ?", hashHex(id)).Delete(&sessionRow{}).Error; err != nil {
			return err
		}
		return tx.Where("expires_at < ?", utc(time.Now().Add(-24*time.Hour))).Delete(&sessionRow{}).Error
	})
	return fail(err, "delete a session")
}

// ServerSecret returns the secret called name, creating it on first use.
// A secret that no key of the keyring opens any more (its key was dropped
// after a rotation) is replaced by a new one: what it signed stops being
// valid, which for short-lived install links is the safe outcome.
func (s *Store) ServerSecret(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var row serverSecretRow
		ok, err := find(s.forUpdate(tx).Where("name = ?", name), &row)
		if err != nil {
			return err
		}
		if ok {
			plain, oerr := s.open(row.Value, "server secret "+name, "server_secrets", name)
			if oerr == nil {
				out, err = base64.RawStdEncoding.DecodeString(plain)
				return err
			}
			s.log.Warn("a server secret cannot be decrypted with the current keys; replacing it", "name", name)
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		ct, err := s.seal(base64.RawStdEncoding.EncodeToString(b), "server_secrets", name)
		if err != nil {
			return err
		}
		row = serverSecretRow{Name: name, Value: ct, CreatedAt: s.now()}
		if ok {
			out = b
			return tx.Save(&row).Error
		}
		// Another replica may create it at the same time: the first wins,
		// and the other reads what it wrote.
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			out = b
			return nil
		}
		if err := tx.Where("name = ?", name).Take(&row).Error; err != nil {
			return err
		}
		plain, err := s.open(row.Value, "server secret "+name, "server_secrets", name)
		if err != nil {
			return err
		}
		out, err = base64.RawStdEncoding.DecodeString(plain)
		return err
	})
	if err != nil {
		return nil, fail(err, "server secret %q", name)
	}
	return out, nil
}
