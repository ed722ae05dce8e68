package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

type installLinkRow struct {
	ID        string     `gorm:"column:id;primaryKey"`
	Env       string     `gorm:"column:env"`
	TokenHash string     `gorm:"column:token_hash"`
	App       string     `gorm:"column:app"`
	Org       string     `gorm:"column:org"`
	CreatedBy string     `gorm:"column:created_by"`
	CreatedAt time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
	RevokedAt *time.Time `gorm:"column:revoked_at"`
}

func (installLinkRow) TableName() string { return "install_links" }

func installLinkOf(r installLinkRow) store.InstallLink {
	l := store.InstallLink{Env: latchkey.Environment(r.Env), ID: r.ID, App: r.App, Org: r.Org, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if r.UsedAt != nil {
		t := r.UsedAt.UTC()
		l.UsedAt = &t
	}
	if r.RevokedAt != nil {
		t := r.RevokedAt.UTC()
		l.RevokedAt = &t
	}
	return l
}

// CreateInstallLink stores an install link of an existing app under the
// SHA-256 of token.
func (s *Store) CreateInstallLink(ctx context.Context, token string, l store.InstallLink) error {
	at := l.CreatedAt
	if at.IsZero() {
		at = s.now()
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	row := installLinkRow{Env: string(env), ID: l.ID, TokenHash: hashHex(token), App: l.App, Org: l.Org, CreatedBy: l.CreatedBy,
		CreatedAt: utc(at), ExpiresAt: utc(l.ExpiresAt)}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := appExists(tx, env, l.App); err != nil {
			return err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error == nil && res.RowsAffected == 0 {
			return latchkey.Errorf(latchkey.ECONFLICT, "the install link exists already")
		}
		return res.Error
	})
	return fail(err, "create an install link for app %q", l.App)
}

// checkInstallLink finds the usable install link of app for token in db.
func checkInstallLink(db *gorm.DB, env latchkey.Environment, app, token string, now time.Time) (installLinkRow, error) {
	var row installLinkRow
	ok, err := find(inEnv(db, env).Where("token_hash = ? AND app = ?", hashHex(token), app), &row)
	switch {
	case err != nil:
		return row, err
	case !ok || row.UsedAt != nil || row.RevokedAt != nil:
		return row, notFound("install link not found, already used or revoked")
	case !now.Before(row.ExpiresAt):
		return row, latchkey.Errorf(latchkey.EEXPIRED, "the install link has expired")
	}
	return row, nil
}

// GetInstallLink returns the install link of app for token without using
// it.
func (s *Store) GetInstallLink(ctx context.Context, app, token string, now time.Time) (store.InstallLink, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return store.InstallLink{}, err
	}
	row, err := checkInstallLink(s.db.WithContext(ctx), env, app, token, now)
	if err != nil {
		return store.InstallLink{}, fail(err, "read an install link")
	}
	return installLinkOf(row), nil
}

// InstallThroughLink uses up the install link of token and saves inst, in
// one transaction; the link's row is locked (FOR UPDATE on PostgreSQL, the
// writer's transaction on SQLite) and marked used only if it still is not.
func (s *Store) InstallThroughLink(ctx context.Context, token string, now time.Time, inst latchkey.Installation) (store.InstallLink, latchkey.Installation, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return store.InstallLink{}, latchkey.Installation{}, err
	}
	saved := s.now()
	var row installLinkRow
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if row, err = checkInstallLink(s.forUpdate(tx), env, inst.App, token, now); err != nil {
			return err
		}
		if row.Org != inst.Org {
			return latchkey.Errorf(latchkey.EINVALID, "the install link is for another org")
		}
		res := tx.Model(&installLinkRow{}).Where("id = ? AND used_at IS NULL AND revoked_at IS NULL", row.ID).Update("used_at", utc(now))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return notFound("install link not found, already used or revoked")
		}
		used := utc(now)
		row.UsedAt = &used
		sealed, err := s.sealInstallation(latchkey.Environment(row.Env), inst)
		if err != nil {
			return err
		}
		return putInstallation(tx, latchkey.Environment(row.Env), inst, sealed, saved)
	})
	if err != nil {
		return store.InstallLink{}, latchkey.Installation{}, fail(err, "install app %q through a link", inst.App)
	}
	return installLinkOf(row), savedInstallation(inst, saved), nil
}

// ListInstallLinks returns the install links of an app (of one org when org
// is not empty), newest first.
func (s *Store) ListInstallLinks(ctx context.Context, app, org string) ([]store.InstallLink, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("env = ? AND app = ?", env, app)
	if org != "" {
		q = q.Where("org = ?", org)
	}
	var rows []installLinkRow
	if err := q.Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fail(err, "list the install links of app %q", app)
	}
	out := make([]store.InstallLink, 0, len(rows))
	for _, r := range rows {
		out = append(out, installLinkOf(r))
	}
	return out, nil
}

// RevokeInstallLink marks an install link of app revoked and returns it.
func (s *Store) RevokeInstallLink(ctx context.Context, app, id string, at time.Time) (store.InstallLink, error) {
	var row installLinkRow
	env, err := s.envOf(ctx)
	if err != nil {
		return store.InstallLink{}, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		ok, err := find(s.forUpdate(tx).Where("env = ? AND app = ? AND id = ?", env, app, id), &row)
		switch {
		case err != nil:
			return err
		case !ok:
			return notFound("app %q has no install link %q", app, id)
		case row.UsedAt != nil:
			return latchkey.Errorf(latchkey.ECONFLICT, "install link %q was used already", id)
		case row.RevokedAt != nil:
			return nil
		}
		revoked := utc(at)
		row.RevokedAt = &revoked
		return tx.Model(&installLinkRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", revoked).Error
	})
	if err != nil {
		return store.InstallLink{}, fail(err, "revoke install link %q of app %q", id, app)
	}
	return installLinkOf(row), nil
}
