package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// PutApp creates or replaces the app document, sealed whole (its OAuth
// configs may fix client secrets) and bound to the app's name. The
// revision increases by one with every save; a new app starts at 1. A
// document that drops an OAuth config with connections is refused
// (ErrConflict).
func (s *Store) PutApp(ctx context.Context, app latchkey.App) (latchkey.App, error) {
	saved, _, err := s.PutAppWith(ctx, app, store.PutAppOptions{})
	return saved, err
}

// PutAppWith is PutApp that, with opts.DeleteConnections, deletes the
// connections of the OAuth configs the document drops instead of refusing
// it. The stored document's row is locked (FOR UPDATE on PostgreSQL; the
// IMMEDIATE transaction on SQLite) before its configs are compared, and
// PutConnection locks it too (FOR KEY SHARE) before it creates a
// connection, so a connection created concurrently is either counted here
// or refused there.
func (s *Store) PutAppWith(ctx context.Context, app latchkey.App, opts store.PutAppOptions) (latchkey.App, []latchkey.ConnectionKey, error) {
	if app.Name == "" {
		return latchkey.App{}, nil, latchkey.Errorf(latchkey.EINVALID, "the app has no name")
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.App{}, nil, err
	}
	doc := app
	doc.Revision, doc.CreatedAt, doc.UpdatedAt = 0, time.Time{}, time.Time{}
	data, err := json.Marshal(doc)
	if err != nil {
		return latchkey.App{}, nil, fmt.Errorf("sqlstore: encoding app %q: %w", app.Name, err)
	}
	sealed, err := s.seal(string(data), envAD(env, "app", app.Name)...)
	if err != nil {
		return latchkey.App{}, nil, err
	}
	now := s.now()
	var row appRow
	var deleted []latchkey.ConnectionKey
	err = s.tx(ctx, func(tx *gorm.DB) error {
		deleted = nil
		if opts.Create {
			res := tx.Exec(`INSERT INTO apps (env, name, document, revision, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)
				ON CONFLICT (env, name) DO NOTHING`, env, app.Name, sealed, now, now)
			if res.Error != nil {
				return fail(res.Error, "creating app %q", app.Name)
			}
			if res.RowsAffected == 0 {
				return appNameTaken(app.Name)
			}
			_, err := find(tx.Where("env = ? AND name = ?", env, app.Name), &row)
			return fail(err, "reading app %q", app.Name)
		}
		if err := s.dropConfigs(tx, env, app, opts, &deleted); err != nil {
			return err
		}
		err := tx.Exec(`INSERT INTO apps (env, name, document, revision, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)
			ON CONFLICT (env, name) DO UPDATE SET document = excluded.document, revision = apps.revision + 1, updated_at = excluded.updated_at`,
			env, app.Name, sealed, now, now).Error
		if err != nil {
			return fail(err, "saving app %q", app.Name)
		}
		_, err = find(tx.Where("env = ? AND name = ?", env, app.Name), &row)
		return fail(err, "reading app %q", app.Name)
	})
	if len(deleted) > 0 {
		s.forgetConnections(env, deleted...)
	}
	if err != nil {
		return latchkey.App{}, nil, err
	}
	app.Revision, app.CreatedAt, app.UpdatedAt = row.Revision, utc(row.CreatedAt), utc(row.UpdatedAt)
	return app, deleted, nil
}

// appNameTaken is the refusal of a create-only put of an app whose name is
// taken.
func appNameTaken(name string) error {
	return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("an app called %q exists already", name),
		Fields: []latchkey.FieldError{{Field: "name", Message: "is the name of an existing app: choose another, or open that app to change it"}}}
}

// dropConfigs locks the stored document of app, inside tx, and compares its
// OAuth configs with app's: the connections of those app drops are refused
// (ErrConflict, naming each config and its count) or, with
// opts.DeleteConnections, deleted with their values and appended to
// deleted; the pending links and states of dropped configs are deleted.
func (s *Store) dropConfigs(tx *gorm.DB, env latchkey.Environment, app latchkey.App, opts store.PutAppOptions, deleted *[]latchkey.ConnectionKey) error {
	var old appRow
	ok, err := find(s.forUpdate(tx.Where("env = ? AND name = ?", env, app.Name)), &old)
	if err != nil || !ok {
		return fail(err, "reading app %q", app.Name)
	}
	prev, err := s.decodeApp(old)
	if err != nil {
		return err
	}
	var dropped []string
	for _, c := range prev.OAuthConfigs {
		if _, kept := app.OAuthConfig(c.Name); !kept {
			dropped = append(dropped, c.Name)
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	var rows []struct {
		Org    string `gorm:"column:org"`
		User   string `gorm:"column:user_id"`
		Config string `gorm:"column:config"`
	}
	if err := tx.Raw("SELECT org, user_id, config FROM connections WHERE env = ? AND app = ? AND config IN ? ORDER BY config, org, user_id",
		env, app.Name, dropped).Scan(&rows).Error; err != nil {
		return fail(err, "counting the connections of app %q", app.Name)
	}
	if len(rows) > 0 && !opts.DeleteConnections {
		count := map[string]int{}
		for _, r := range rows {
			count[r.Config]++
		}
		var fe []latchkey.FieldError
		var parts []string
		for _, name := range dropped {
			if n := count[name]; n > 0 {
				fe = append(fe, latchkey.FieldError{Field: "oauth_configs", Message: fmt.Sprintf("removes OAuth config %q, which still has %s", name, plural(n, "connection"))})
				parts = append(parts, fmt.Sprintf("%q (%s)", name, plural(n, "connection")))
			}
		}
		return &latchkey.Error{Code: latchkey.ECONFLICT, Fields: fe, Message: fmt.Sprintf(
			"the document of app %q removes OAuth configs that still have connections: %s; keep the configs, or delete their %s with the save",
			app.Name, strings.Join(parts, ", "), plural(len(rows), "connection"))}
	}
	for _, table := range []string{"setting_values", "connections", "links", "auth_states"} {
		if err := tx.Exec("DELETE FROM "+table+" WHERE env = ? AND app = ? AND config IN ?", env, app.Name, dropped).Error; err != nil {
			return fail(err, "deleting the %s of the OAuth configs app %q drops", table, app.Name)
		}
	}
	for _, r := range rows {
		*deleted = append(*deleted, latchkey.ConnectionKey{App: app.Name, Org: r.Org, User: r.User, Config: r.Config})
	}
	return nil
}

// plural writes n with noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// configExists returns ErrNotFound unless the stored document of app,
// inside tx, declares the OAuth config called config. On PostgreSQL it
// locks the document's row FOR KEY SHARE: a concurrent PutAppWith, which
// locks it FOR UPDATE, either commits first (and config is read gone) or
// waits for tx, and then counts the connection tx creates.
func (s *Store) configExists(tx *gorm.DB, env latchkey.Environment, app, config string) error {
	q := tx.Where("env = ? AND name = ?", env, app)
	if s.postgres {
		q = q.Clauses(clause.Locking{Strength: "KEY SHARE"})
	}
	var row appRow
	ok, err := find(q, &row)
	if err != nil {
		return fail(err, "reading app %q", app)
	}
	if !ok {
		return notFound("app %q not found", app)
	}
	doc, err := s.decodeApp(row)
	if err != nil {
		return err
	}
	if _, ok := doc.OAuthConfig(config); !ok {
		return notFound("app %q has no OAuth config %q", app, config)
	}
	return nil
}

// GetApp returns the app called name.
func (s *Store) GetApp(ctx context.Context, name string) (latchkey.App, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.App{}, err
	}
	var row appRow
	ok, err := find(s.db.WithContext(ctx).Where("env = ? AND name = ?", env, name), &row)
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
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []appRow
	if err := s.db.WithContext(ctx).Where("env = ?", env).Order("name").Find(&rows).Error; err != nil {
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
	data, err := s.open(row.Document, fmt.Sprintf("the document of app %q", row.Name), envAD(latchkey.Environment(row.Env), "app", row.Name)...)
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
// values, links, states, webhooks and traces. API keys scoped to the app are kept: they are
// credentials an admin revokes, and they grant nothing without the app.
func (s *Store) DeleteApp(ctx context.Context, name string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	defer s.forgetOrgConnections(env, name, "")
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, table := range []string{"traces", "setting_values", "connections", "installations", "links", "auth_states", "install_links",
			"webhook_attempts", "webhook_deliveries", "webhooks"} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE env = ? AND app = ?", env, name).Error; err != nil {
				return fail(err, "deleting the %s of app %q", table, name)
			}
		}
		res := tx.Exec("DELETE FROM apps WHERE env = ? AND name = ?", env, name)
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
func appExists(tx *gorm.DB, env latchkey.Environment, name string) error {
	var n int64
	if err := tx.Table("apps").Where("env = ? AND name = ?", env, name).Count(&n).Error; err != nil {
		return fail(err, "reading app %q", name)
	}
	if n == 0 {
		return notFound("app %q not found", name)
	}
	return nil
}
