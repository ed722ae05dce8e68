package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

type environmentRow struct {
	Name      string    `gorm:"column:name;primaryKey"`
	PublicURL string    `gorm:"column:public_url"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (environmentRow) TableName() string { return "environments" }

// PutEnvironment creates the environment info names, or replaces its
// public URL.
func (s *Store) PutEnvironment(ctx context.Context, info latchkey.EnvironmentInfo) (latchkey.EnvironmentInfo, error) {
	if !info.Name.Valid() {
		return latchkey.EnvironmentInfo{}, &latchkey.Error{Code: latchkey.EINVALID, Message: "the environment's name " + latchkey.NameRule,
			Fields: []latchkey.FieldError{{Field: "name", Message: latchkey.NameRule}}}
	}
	now := s.now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO environments (name, public_url, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET public_url = excluded.public_url`, string(info.Name), info.PublicURL, now).Error
	})
	if err != nil {
		return latchkey.EnvironmentInfo{}, fail(err, "saving environment %q", info.Name)
	}
	return s.GetEnvironment(ctx, info.Name)
}

// GetEnvironment returns the environment called name.
func (s *Store) GetEnvironment(ctx context.Context, name latchkey.Environment) (latchkey.EnvironmentInfo, error) {
	var row environmentRow
	ok, err := find(s.db.WithContext(ctx).Where("name = ?", string(name)), &row)
	if err != nil {
		return latchkey.EnvironmentInfo{}, fail(err, "reading environment %q", name)
	}
	if !ok {
		return latchkey.EnvironmentInfo{}, notFound("environment %q not found", name)
	}
	return latchkey.EnvironmentInfo{Name: latchkey.Environment(row.Name), PublicURL: row.PublicURL, CreatedAt: utc(row.CreatedAt)}, nil
}

// ListEnvironments returns every environment, by name.
func (s *Store) ListEnvironments(ctx context.Context) ([]latchkey.EnvironmentInfo, error) {
	var rows []environmentRow
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, fail(err, "listing environments")
	}
	out := make([]latchkey.EnvironmentInfo, len(rows))
	for i, r := range rows {
		out[i] = latchkey.EnvironmentInfo{Name: latchkey.Environment(r.Name), PublicURL: r.PublicURL, CreatedAt: utc(r.CreatedAt)}
	}
	return out, nil
}

// envTables are the tables whose rows belong to an environment, children
// before the apps they belong to.
var envTables = []string{"traces", "oauth_tokens", "oauth_authorizations", "oauth_clients", "oauth_scopes", "oauth_groups", "oauth_servers", "webhook_attempts", "webhook_deliveries", "webhooks", "install_links", "setting_values", "connections",
	"installations", "links", "auth_states", "api_keys", "audit_events", "apps"}

// DeleteEnvironment deletes the environment called name with everything
// in it. An environment that still has apps or connections is refused
// (ErrConflict, naming how many) unless force is set.
func (s *Store) DeleteEnvironment(ctx context.Context, name latchkey.Environment, force bool) error {
	defer func() {
		if s.cache != nil {
			s.cache.flush()
		}
	}()
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM environments WHERE name = ?", string(name))
		if res.Error != nil {
			return fail(res.Error, "deleting environment %q", name)
		}
		if res.RowsAffected == 0 {
			return notFound("environment %q not found", name)
		}
		var apps, conns int64
		if err := tx.Table("apps").Where("env = ?", string(name)).Count(&apps).Error; err != nil {
			return fail(err, "counting the apps of environment %q", name)
		}
		if err := tx.Table("connections").Where("env = ?", string(name)).Count(&conns).Error; err != nil {
			return fail(err, "counting the connections of environment %q", name)
		}
		if (apps > 0 || conns > 0) && !force {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf(
				"environment %q still has %s and %s; delete them with it by forcing the delete", name, plural(int(apps), "app"), plural(int(conns), "connection")),
				Fields: []latchkey.FieldError{{Field: "force", Message: "is needed to delete an environment that has apps or connections"}}}
		}
		for _, table := range envTables {
			if err := tx.Exec("DELETE FROM "+table+" WHERE env = ?", string(name)).Error; err != nil {
				return fail(err, "deleting the %s of environment %q", table, name)
			}
		}
		return nil
	})
}
