package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// PutInstallation replaces the org-level values of an org's installation of
// an app, creating the installation if needed. The app must exist
// (ErrNotFound). Values a connection owns at org level (the tokens of a
// client-credentials connection) are not the installation's: they are left
// alone, and naming one in inst.Values is ErrConflict.
func (s *Store) PutInstallation(ctx context.Context, inst latchkey.Installation) (latchkey.Installation, error) {
	if inst.App == "" || inst.Org == "" {
		return latchkey.Installation{}, latchkey.Errorf(latchkey.EINVALID, "an installation needs an app and an org")
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Installation{}, err
	}
	now := s.now()
	sealed, err := s.sealInstallation(env, inst)
	if err != nil {
		return latchkey.Installation{}, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error { return putInstallation(tx, env, inst, sealed, now) })
	if err != nil {
		return latchkey.Installation{}, err
	}
	return savedInstallation(inst, now), nil
}

// sealInstallation seals an installation's values, each bound to its row.
func (s *Store) sealInstallation(env latchkey.Environment, inst latchkey.Installation) (map[string]string, error) {
	sealed := make(map[string]string, len(inst.Values))
	for name, v := range inst.Values {
		ct, err := s.seal(v, valueAD(env, inst.App, inst.Org, "", name)...)
		if err != nil {
			return nil, err
		}
		sealed[name] = ct
	}
	return sealed, nil
}

// savedInstallation is inst as PutInstallation returns it once saved.
func savedInstallation(inst latchkey.Installation, now time.Time) latchkey.Installation {
	inst.Values = maps.Clone(inst.Values)
	if inst.Values == nil {
		inst.Values = map[string]string{}
	}
	inst.UpdatedAt = now
	return inst
}

// putInstallation writes PutInstallation's rows in tx, the values sealed.
func putInstallation(tx *gorm.DB, env latchkey.Environment, inst latchkey.Installation, sealed map[string]string, now time.Time) error {
	if err := appExists(tx, env, inst.App); err != nil {
		return err
	}
	var owned []valueRow
	if err := tx.Where("env = ? AND app = ? AND org = ? AND user_id = '' AND config <> ''", env, inst.App, inst.Org).Find(&owned).Error; err != nil {
		return fail(err, "reading the org-level values of %s/%s", inst.App, inst.Org)
	}
	for _, o := range owned {
		if _, ok := inst.Values[o.Name]; ok {
			return latchkey.Errorf(latchkey.ECONFLICT, "setting %q of org %q is owned by connection %q", o.Name, inst.Org, o.Config)
		}
	}
	err := tx.Exec(`INSERT INTO installations (env, app, org, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (env, app, org) DO UPDATE SET updated_at = excluded.updated_at`, env, inst.App, inst.Org, now).Error
	if err != nil {
		return fail(err, "saving the installation of app %q by org %q", inst.App, inst.Org)
	}
	if err := tx.Exec("DELETE FROM setting_values WHERE env = ? AND app = ? AND org = ? AND user_id = '' AND config = ''", env, inst.App, inst.Org).Error; err != nil {
		return fail(err, "replacing the values of org %q in app %q", inst.Org, inst.App)
	}
	for _, name := range slices.Sorted(maps.Keys(sealed)) {
		row := valueRow{Env: string(env), App: inst.App, Org: inst.Org, Name: name, Value: sealed[name], UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return fail(err, "saving setting %q of org %q in app %q", name, inst.Org, inst.App)
		}
	}
	return nil
}

// GetInstallation returns an org's installation of an app with its
// org-level values.
func (s *Store) GetInstallation(ctx context.Context, app, org string) (latchkey.Installation, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.Installation{}, err
	}
	db := s.db.WithContext(ctx)
	var row installationRow
	ok, err := find(db.Where("env = ? AND app = ? AND org = ?", env, app, org), &row)
	if err != nil {
		return latchkey.Installation{}, fail(err, "reading the installation of app %q by org %q", app, org)
	}
	if !ok {
		return latchkey.Installation{}, notFound("app %q is not installed by org %q", app, org)
	}
	var values []valueRow
	if err := db.Where("env = ? AND app = ? AND org = ? AND user_id = '' AND config = ''", env, app, org).Find(&values).Error; err != nil {
		return latchkey.Installation{}, fail(err, "reading the values of org %q in app %q", org, app)
	}
	inst := latchkey.Installation{App: app, Org: org, UpdatedAt: utc(row.UpdatedAt), Values: map[string]string{}}
	for _, v := range values {
		if inst.Values[v.Name], err = s.openValue(v); err != nil {
			return latchkey.Installation{}, err
		}
	}
	return inst, nil
}

// ListInstallations returns the installations of an app with their
// org-level values, by org; none when the app does not exist.
func (s *Store) ListInstallations(ctx context.Context, app string) ([]latchkey.Installation, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	var rows []installationRow
	if err := db.Where("env = ? AND app = ?", env, app).Order("org").Find(&rows).Error; err != nil {
		return nil, fail(err, "listing the installations of app %q", app)
	}
	var values []valueRow
	if err := db.Where("env = ? AND app = ? AND user_id = '' AND config = ''", env, app).Find(&values).Error; err != nil {
		return nil, fail(err, "reading the org-level values of app %q", app)
	}
	byOrg := map[string]map[string]string{}
	for _, v := range values {
		plain, err := s.openValue(v)
		if err != nil {
			return nil, err
		}
		if byOrg[v.Org] == nil {
			byOrg[v.Org] = map[string]string{}
		}
		byOrg[v.Org][v.Name] = plain
	}
	out := make([]latchkey.Installation, 0, len(rows))
	for _, r := range rows {
		vals := byOrg[r.Org]
		if vals == nil {
			vals = map[string]string{}
		}
		out = append(out, latchkey.Installation{App: app, Org: r.Org, Values: vals, UpdatedAt: utc(r.UpdatedAt)})
	}
	return out, nil
}

// DeleteInstallation deletes an org's installation with every value and
// connection of the org in the app, and its pending links and states, so
// that nothing of the org is left to complete a flow.
func (s *Store) DeleteInstallation(ctx context.Context, app, org string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	defer s.forgetOrgConnections(env, app, org)
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM installations WHERE env = ? AND app = ? AND org = ?", env, app, org)
		if res.Error != nil {
			return fail(res.Error, "deleting the installation of app %q by org %q", app, org)
		}
		if res.RowsAffected == 0 {
			return notFound("app %q is not installed by org %q", app, org)
		}
		for _, table := range []string{"setting_values", "connections", "links", "auth_states"} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE env = ? AND app = ? AND org = ?", env, app, org).Error; err != nil {
				return fail(err, "deleting the %s of org %q in app %q", table, org, app)
			}
		}
		return nil
	})
}

// UserValues returns the values the connections of a user own, by setting
// name. With user "", it returns those of the org's org-level connections.
func (s *Store) UserValues(ctx context.Context, app, org, user string) (map[string]string, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []valueRow
	err = s.db.WithContext(ctx).Where("env = ? AND app = ? AND org = ? AND user_id = ? AND config <> ''", env, app, org, user).Find(&rows).Error
	if err != nil {
		return nil, fail(err, "reading the values of user %q of org %q in app %q", user, org, app)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		if out[r.Name], err = s.openValue(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// valueAD lists the parts a setting value is bound to.
func valueAD(env latchkey.Environment, app, org, user, name string) []string {
	return envAD(env, "value", app, org, user, name)
}

func (s *Store) openValue(v valueRow) (string, error) {
	what := fmt.Sprintf("setting %q of org %q in app %q", v.Name, v.Org, v.App)
	if v.UserID != "" {
		what = fmt.Sprintf("setting %q of user %q of org %q in app %q", v.Name, v.UserID, v.Org, v.App)
	}
	return s.open(v.Value, what, valueAD(latchkey.Environment(v.Env), v.App, v.Org, v.UserID, v.Name)...)
}
