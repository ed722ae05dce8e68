package flow

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Value sources of a resolved setting.
const (
	SourceUser    = "user"
	SourceOrg     = "org"
	SourceConfig  = "config"
	SourceDefault = "default"
)

// SettingValue is a setting resolved for a user of an org.
type SettingValue struct {
	Name  string         `json:"name"`
	Value string         `json:"value"`
	Level latchkey.Level `json:"level"`
	// Source says where the value came from: user, org, config or default.
	Source string `json:"source"`
}

// Setting resolves a setting for a user of an org: the user's value over the
// org's over a value fixed in an OAuth config over the default. A setting
// that receives an OAuth config's access token is read through Token, so an
// expired token is refreshed first.
func (e *Engine) Setting(ctx context.Context, app, org, user, name string) (SettingValue, error) {
	c, err := e.App(ctx, app)
	if err != nil {
		return SettingValue{}, err
	}
	s, declared := c.App.Setting(name)
	for _, cfg := range c.App.OAuthConfigs {
		if cfg.AccessTokenVariableName != name || cfg.Grant() != latchkey.GrantAuthorizationCode {
			continue
		}
		conn, err := e.Token(ctx, latchkey.ConnectionKey{App: app, Org: org, User: user, Config: cfg.Name})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return SettingValue{}, err
		}
		return SettingValue{Name: name, Value: conn.Values[name], Level: latchkey.LevelUser, Source: SourceUser}, nil
	}
	if declared && s.Level == latchkey.LevelUser {
		uv, err := e.cfg.Store.UserValues(ctx, app, org, user)
		if err != nil {
			return SettingValue{}, err
		}
		if v, ok := uv[name]; ok {
			return SettingValue{Name: name, Value: v, Level: s.Level, Source: SourceUser}, nil
		}
	}
	inst, err := e.cfg.Store.GetInstallation(ctx, app, org)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return SettingValue{}, err
	}
	if v := inst.Values[name]; v != "" {
		return SettingValue{Name: name, Value: v, Level: latchkey.LevelOrg, Source: SourceOrg}, nil
	}
	for _, cfg := range c.App.OAuthConfigs {
		if v := cfg.Values[name]; v != "" {
			return SettingValue{Name: name, Value: v, Level: latchkey.LevelOrg, Source: SourceConfig}, nil
		}
	}
	if declared && s.Default != "" {
		return SettingValue{Name: name, Value: s.Default, Level: s.Level, Source: SourceDefault}, nil
	}
	if !declared {
		return SettingValue{}, latchkey.Errorf(latchkey.ENOTFOUND, "app %q has no setting %q", app, name)
	}
	return SettingValue{}, latchkey.Errorf(latchkey.ENOTFOUND, "setting %q has no value for user %q of org %q", name, user, org)
}
