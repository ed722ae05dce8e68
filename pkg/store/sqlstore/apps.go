package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// PutApp creates or replaces the app document, sealed whole (its OAuth
// configs may fix client secrets) and bound to the app's name. The
// revision increases by one with every save; a new app starts at 1.
func (s *Store) PutApp(ctx context.Context, app latchkey.App) (latchkey.App, error) {
	if app.Name == "" {
		return latchkey.App{}, latchkey.Errorf(latchkey.EINVALID, "the app has no name")
	}
	doc := app
	doc.Revision, doc.CreatedAt, doc.UpdatedAt = 0, time.Time{}, time.Time{}
	data, err := json.Marshal(doc)
	if err != nil {
		return latchkey.App{}, fmt.Errorf("sqlstore: encoding app %q: %w", app.Name, err)
	}
	sealed, err := s.seal(string(data), "app", app.Name)
	if err != nil {
		return latchkey.App{}, err
	}
	now := s.now()
	var row appRow
	err = s.tx(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO apps (name, document, revision, created_at, updated_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (name) DO UPDATE SET document = excluded.document, revision = apps.revision + 1, updated_at = excluded.updated_at`,
			app.Name, sealed, now, now).Error
		if err != nil {
			return fail(err, "saving app %q", app.Name)
		}
		_, err = find(tx.Where("name = ?", app.Name), &row)
		return fail(err, "reading app %q", app.Name)
	})
	if err != nil {
		return latchkey.App{}, err
	}
	app.Revision, app.CreatedAt, app.UpdatedAt = row.Revision, utc(row.CreatedAt), utc(row.UpdatedAt)
	return app, nil
}

// GetApp returns the app called name.
func (s *Store) GetApp(ctx context.Context, name string) (latchkey.App, error) {
	var row appRow
	ok, err := find(s.db.WithContext(ctx).Where("name = ?", name), &row)
	if err != nil {
		return latchkey.App{}, fail(err, "reading app %q", name)
	}
	if !ok {
		return latchkey.App{}, notFound("app %q not found", name)
	}
	return s.decodeApp(row)
}

// ListApps returns every app, by name.
func (s *Store) ListApps(ctx context.Context) ([]latchkey.App, error) {
	var rows []appRow
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, fail(err, "listing apps")
	}
	apps := make([]latchkey.App, 0, len(rows))
	for _, row := range rows {
		app, err := s.decodeApp(row)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return apps, nil
}

func (s *Store) decodeApp(row appRow) (latchkey.App, error) {
	data, err := s.open(row.Document, fmt.Sprintf("the document of app %q", row.Name), "app", row.Name)
	if err != nil {
		return latchkey.App{}, err
	}
	var app latchkey.App
	if err := json.Unmarshal([]byte(data), &app); err != nil {
		return latchkey.App{}, fmt.Errorf("sqlstore: decoding app %q: %w", row.Name, err)
	}
	app.Name = row.Name
	app.Revision, app.CreatedAt, app.UpdatedAt = row.Revision, utc(row.CreatedAt), utc(row.UpdatedAt)
	return app, nil
}

// DeleteApp deletes the app with its installations, connections, setting
// values, links and states. API keys scoped to the app are kept: they are
// credentials an admin revokes, and they grant nothing without the app.
func (s *Store) DeleteApp(ctx context.Context, name string) error {
	defer s.forgetOrgConnections(name, "")
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, table := range []string{"setting_values", "connections", "installations", "links", "auth_states", "install_links",
			"webhook_attempts", "webhook_deliveries", "webhooks"} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE app = ?", name).Error; err != nil {
				return fail(err, "deleting the %s of app %q", table, name)
			}
		}
		res := tx.Exec("DELETE FROM apps WHERE name = ?", name)
		if res.Error != nil {
			return fail(res.Error, "deleting app %q", name)
		}
		if res.RowsAffected == 0 {
			return notFound("app %q not found", name)
		}
		return nil
	})
}

// appExists reports, inside tx, whether the app called name exists.
func appExists(tx *gorm.DB, name string) error {
	var n int64
	if err := tx.Table("apps").Where("name = ?", name).Count(&n).Error; err != nil {
		return fail(err, "reading app %q", name)
	}
	if n == 0 {
		return notFound("app %q not found", name)
	}
	return nil
}
