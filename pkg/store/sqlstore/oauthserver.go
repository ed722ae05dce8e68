package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

type oauthServerRow struct {
	Env             string    `gorm:"column:env;primaryKey"`
	Enabled         bool      `gorm:"column:enabled"`
	AccessTokenTTL  int64     `gorm:"column:access_token_ttl"`
	RefreshTokenTTL int64     `gorm:"column:refresh_token_ttl"`
	UpdatedAt       time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (oauthServerRow) TableName() string { return "oauth_servers" }

type oauthGroupRow struct {
	Env         string    `gorm:"column:env;primaryKey"`
	Name        string    `gorm:"column:name;primaryKey"`
	Description string    `gorm:"column:description"`
	Permissions string    `gorm:"column:permissions"`
	Apps        string    `gorm:"column:apps"`
	UpdatedAt   time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (oauthGroupRow) TableName() string { return "oauth_groups" }

type oauthScopeRow struct {
	Env         string    `gorm:"column:env;primaryKey"`
	Name        string    `gorm:"column:name;primaryKey"`
	Description string    `gorm:"column:description"`
	Groups      string    `gorm:"column:groups_list"`
	UpdatedAt   time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (oauthScopeRow) TableName() string { return "oauth_scopes" }

type oauthClientRow struct {
	Env         string    `gorm:"column:env;primaryKey"`
	Name        string    `gorm:"column:name;primaryKey"`
	ClientID    string    `gorm:"column:client_id"`
	Label       string    `gorm:"column:label"`
	Description string    `gorm:"column:description"`
	RedirectURI string    `gorm:"column:redirect_uri"`
	Scopes      string    `gorm:"column:scopes"`
	Public      bool      `gorm:"column:public"`
	SecretHash  []byte    `gorm:"column:secret_hash"`
	HasIcon     bool      `gorm:"column:has_icon;->"` // read only: (icon IS NOT NULL)
	CreatedAt   time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (oauthClientRow) TableName() string { return "oauth_clients" }

// clientColumns are the columns an OAuth app is read with: all but its
// icon, of which only the presence.
const clientColumns = "env, name, client_id, label, description, redirect_uri, scopes, public, secret_hash, created_at, updated_at, (icon IS NOT NULL) AS has_icon"

type oauthAuthorizationRow struct {
	ID         string     `gorm:"column:id;primaryKey"`
	Env        string     `gorm:"column:env"`
	ClientID   string     `gorm:"column:client_id"`
	Subject    string     `gorm:"column:subject"`
	Scopes     string     `gorm:"column:scopes"`
	CreatedAt  time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
}

func (oauthAuthorizationRow) TableName() string { return "oauth_authorizations" }

type oauthTokenRow struct {
	Kind            string    `gorm:"column:kind;primaryKey"`
	Signature       string    `gorm:"column:signature;primaryKey"`
	Env             string    `gorm:"column:env"`
	RequestID       string    `gorm:"column:request_id"`
	ClientID        string    `gorm:"column:client_id"`
	AuthorizationID string    `gorm:"column:authorization_id"`
	Subject         string    `gorm:"column:subject"`
	Scopes          string    `gorm:"column:scopes"`
	GrantedScopes   string    `gorm:"column:granted_scopes"`
	Form            string    `gorm:"column:form"`
	Session         string    `gorm:"column:session"`
	RequestedAt     time.Time `gorm:"column:requested_at"`
	ExpiresAt       time.Time `gorm:"column:expires_at"`
	Active          bool      `gorm:"column:active"`
}

func (oauthTokenRow) TableName() string { return "oauth_tokens" }

func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func fromJSONList[T any](s string) []T {
	var v []T
	if s != "" {
		_ = json.Unmarshal([]byte(s), &v) // written by jsonList only
	}
	if v == nil {
		v = []T{}
	}
	return v
}

// GetOAuthServer returns the environment's OAuth server settings (off when
// never set).
func (s *Store) GetOAuthServer(ctx context.Context) (latchkey.OAuthServer, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthServer{}, err
	}
	var row oauthServerRow
	ok, err := find(s.db.WithContext(ctx).Where("env = ?", env), &row)
	if err != nil || !ok {
		return latchkey.OAuthServer{}, fail(err, "read the OAuth server settings")
	}
	return latchkey.OAuthServer{Enabled: row.Enabled, AccessTokenTTL: latchkey.Duration(time.Duration(row.AccessTokenTTL) * time.Second),
		RefreshTokenTTL: latchkey.Duration(time.Duration(row.RefreshTokenTTL) * time.Second), UpdatedAt: row.UpdatedAt.UTC()}, nil
}

// PutOAuthServer replaces the environment's OAuth server settings.
func (s *Store) PutOAuthServer(ctx context.Context, o latchkey.OAuthServer) (latchkey.OAuthServer, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return o, err
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	o.UpdatedAt = utc(time.Now())
	row := oauthServerRow{Env: string(env), Enabled: o.Enabled, AccessTokenTTL: int64(time.Duration(o.AccessTokenTTL) / time.Second),
		RefreshTokenTTL: int64(time.Duration(o.RefreshTokenTTL) / time.Second), UpdatedAt: o.UpdatedAt}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	return o, fail(err, "save the OAuth server settings")
}

// PutOAuthGroup creates or replaces a group.
func (s *Store) PutOAuthGroup(ctx context.Context, g latchkey.OAuthGroup) (latchkey.OAuthGroup, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return g, err
	}
	if err := g.Validate(); err != nil {
		return g, err
	}
	g.UpdatedAt = utc(time.Now())
	row := oauthGroupRow{Env: string(env), Name: g.Name, Description: g.Description, Permissions: jsonList(g.Permissions),
		Apps: jsonList(g.Apps), UpdatedAt: g.UpdatedAt}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	return g, fail(err, "save group %q", g.Name)
}

// ListOAuthGroups returns every group, by name.
func (s *Store) ListOAuthGroups(ctx context.Context) ([]latchkey.OAuthGroup, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []oauthGroupRow
	if err := s.db.WithContext(ctx).Where("env = ?", env).Order("name").Find(&rows).Error; err != nil {
		return nil, fail(err, "list groups")
	}
	out := make([]latchkey.OAuthGroup, len(rows))
	for i, r := range rows {
		out[i] = latchkey.OAuthGroup{Name: r.Name, Description: r.Description, Permissions: fromJSONList[latchkey.Permission](r.Permissions),
			Apps: fromJSONList[string](r.Apps), UpdatedAt: r.UpdatedAt.UTC()}
		if len(out[i].Apps) == 0 {
			out[i].Apps = nil
		}
	}
	return out, nil
}

// DeleteOAuthGroup deletes a group no scope names.
func (s *Store) DeleteOAuthGroup(ctx context.Context, name string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var scopes []oauthScopeRow
		if err := tx.Where("env = ?", env).Order("name").Find(&scopes).Error; err != nil {
			return err
		}
		var users []string
		for _, sc := range scopes {
			if slices.Contains(fromJSONList[string](sc.Groups), name) {
				users = append(users, sc.Name)
			}
		}
		if len(users) > 0 {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("group %q is used by scopes %s: remove it from them first", name, strings.Join(users, ", ")),
				Fields: []latchkey.FieldError{{Field: "name", Message: "is used by scopes " + strings.Join(users, ", ")}}}
		}
		res := tx.Where("env = ? AND name = ?", env, name).Delete(&oauthGroupRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return notFound("group %q not found", name)
		}
		return res.Error
	})
	return fail(err, "delete group %q", name)
}

// PutOAuthScope creates or replaces a scope whose groups exist.
func (s *Store) PutOAuthScope(ctx context.Context, sc latchkey.OAuthScope) (latchkey.OAuthScope, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return sc, err
	}
	if err := sc.Validate(); err != nil {
		return sc, err
	}
	sc.UpdatedAt = utc(time.Now())
	row := oauthScopeRow{Env: string(env), Name: sc.Name, Description: sc.Description, Groups: jsonList(sc.Groups), UpdatedAt: sc.UpdatedAt}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var known []string
		if err := tx.Model(&oauthGroupRow{}).Where("env = ? AND name IN ?", env, sc.Groups).Pluck("name", &known).Error; err != nil {
			return err
		}
		var fe latchkey.FieldErrors
		for i, g := range sc.Groups {
			if !slices.Contains(known, g) {
				fe.Add(fmt.Sprintf("groups[%d]", i), "group %q does not exist", g)
			}
		}
		if err := fe.Err(fmt.Sprintf("scope %q names groups that do not exist", sc.Name)); err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	return sc, fail(err, "save scope %q", sc.Name)
}

// ListOAuthScopes returns every scope, by name.
func (s *Store) ListOAuthScopes(ctx context.Context) ([]latchkey.OAuthScope, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []oauthScopeRow
	if err := s.db.WithContext(ctx).Where("env = ?", env).Order("name").Find(&rows).Error; err != nil {
		return nil, fail(err, "list scopes")
	}
	out := make([]latchkey.OAuthScope, len(rows))
	for i, r := range rows {
		out[i] = latchkey.OAuthScope{Name: r.Name, Description: r.Description, Groups: fromJSONList[string](r.Groups), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

// DeleteOAuthScope deletes a scope no OAuth app uses.
func (s *Store) DeleteOAuthScope(ctx context.Context, name string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var clients []oauthClientRow
		if err := tx.Select(clientColumns).Where("env = ?", env).Order("name").Find(&clients).Error; err != nil {
			return err
		}
		var users []string
		for _, c := range clients {
			if slices.Contains(fromJSONList[string](c.Scopes), name) {
				users = append(users, c.Name)
			}
		}
		if len(users) > 0 {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("scope %q is used by OAuth apps %s: remove it from them first", name, strings.Join(users, ", ")),
				Fields: []latchkey.FieldError{{Field: "name", Message: "is used by OAuth apps " + strings.Join(users, ", ")}}}
		}
		res := tx.Where("env = ? AND name = ?", env, name).Delete(&oauthScopeRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return notFound("scope %q not found", name)
		}
		return res.Error
	})
	return fail(err, "delete scope %q", name)
}

func (s *Store) checkClientScopes(tx *gorm.DB, env latchkey.Environment, c latchkey.OAuthClient) error {
	var known []string
	if err := tx.Model(&oauthScopeRow{}).Where("env = ? AND name IN ?", env, c.Scopes).Pluck("name", &known).Error; err != nil {
		return err
	}
	var fe latchkey.FieldErrors
	for i, sc := range c.Scopes {
		if !slices.Contains(known, sc) {
			fe.Add(fmt.Sprintf("scopes[%d]", i), "scope %q does not exist", sc)
		}
	}
	return fe.Err(fmt.Sprintf("OAuth app %q names scopes that do not exist", c.Name))
}

// CreateOAuthClient stores a new OAuth app.
func (s *Store) CreateOAuthClient(ctx context.Context, c latchkey.OAuthClient) (latchkey.OAuthClient, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if !latchkey.ValidToken(c.ClientID) {
		return c, latchkey.Errorf(latchkey.EINVALID, "OAuth app %q needs a random client id", c.Name)
	}
	if !c.Public && len(c.SecretHash) == 0 {
		return c, latchkey.Errorf(latchkey.EINVALID, "the confidential OAuth app %q needs a secret", c.Name)
	}
	now := utc(time.Now())
	c.CreatedAt, c.UpdatedAt, c.HasIcon = now, now, false
	row := oauthClientRow{Env: string(env), Name: c.Name, ClientID: c.ClientID, Label: c.Label, Description: c.Description,
		RedirectURI: c.RedirectURI, Scopes: jsonList(c.Scopes), Public: c.Public, SecretHash: c.SecretHash, CreatedAt: now, UpdatedAt: now}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.checkClientScopes(tx, env, c); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&oauthClientRow{}).Where("env = ? AND name = ?", env, c.Name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("OAuth app %q exists already", c.Name),
				Fields: []latchkey.FieldError{{Field: "name", Message: "is taken by another OAuth app"}}}
		}
		return tx.Omit("has_icon").Create(&row).Error
	})
	return c, fail(err, "create OAuth app %q", c.Name)
}

// UpdateOAuthClient replaces an OAuth app's label, description, redirect URI
// and scopes.
func (s *Store) UpdateOAuthClient(ctx context.Context, c latchkey.OAuthClient) (latchkey.OAuthClient, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return c, err
	}
	var out latchkey.OAuthClient
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var row oauthClientRow
		ok, err := find(tx.Select(clientColumns).Where("env = ? AND name = ?", env, c.Name), &row)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("OAuth app %q not found", c.Name)
		}
		c.ClientID, c.Public, c.SecretHash = row.ClientID, row.Public, row.SecretHash
		if err := c.Validate(); err != nil {
			return err
		}
		if err := s.checkClientScopes(tx, env, c); err != nil {
			return err
		}
		row.Label, row.Description, row.RedirectURI, row.Scopes, row.UpdatedAt = c.Label, c.Description, c.RedirectURI, jsonList(c.Scopes), utc(time.Now())
		if err := tx.Model(&oauthClientRow{}).Where("env = ? AND name = ?", env, c.Name).Updates(map[string]any{
			"label": row.Label, "description": row.Description, "redirect_uri": row.RedirectURI, "scopes": row.Scopes, "updated_at": row.UpdatedAt,
		}).Error; err != nil {
			return err
		}
		out = clientFromRow(row)
		return nil
	})
	return out, fail(err, "update OAuth app %q", c.Name)
}

func clientFromRow(r oauthClientRow) latchkey.OAuthClient {
	return latchkey.OAuthClient{Name: r.Name, ClientID: r.ClientID, Label: r.Label, Description: r.Description, RedirectURI: r.RedirectURI,
		Scopes: fromJSONList[string](r.Scopes), Public: r.Public, SecretHash: r.SecretHash, HasIcon: r.HasIcon,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// GetOAuthClient returns the OAuth app called name.
func (s *Store) GetOAuthClient(ctx context.Context, name string) (latchkey.OAuthClient, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthClient{}, err
	}
	return s.getClient(ctx, "env = ? AND name = ?", env, name)
}

// GetOAuthClientByID returns the OAuth app whose client id is id.
func (s *Store) GetOAuthClientByID(ctx context.Context, id string) (latchkey.OAuthClient, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthClient{}, err
	}
	return s.getClient(ctx, "env = ? AND client_id = ?", env, id)
}

func (s *Store) getClient(ctx context.Context, where string, env latchkey.Environment, v string) (latchkey.OAuthClient, error) {
	var row oauthClientRow
	ok, err := find(s.db.WithContext(ctx).Select(clientColumns).Where(where, env, v), &row)
	if err != nil {
		return latchkey.OAuthClient{}, fail(err, "read an OAuth app")
	}
	if !ok {
		return latchkey.OAuthClient{}, notFound("OAuth app %q not found", v)
	}
	return clientFromRow(row), nil
}

// ListOAuthClients returns every OAuth app, by name.
func (s *Store) ListOAuthClients(ctx context.Context) ([]latchkey.OAuthClient, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []oauthClientRow
	if err := s.db.WithContext(ctx).Select(clientColumns).Where("env = ?", env).Order("name").Find(&rows).Error; err != nil {
		return nil, fail(err, "list OAuth apps")
	}
	out := make([]latchkey.OAuthClient, len(rows))
	for i, r := range rows {
		out[i] = clientFromRow(r)
	}
	return out, nil
}

// DeleteOAuthClient deletes an OAuth app with its authorizations and tokens.
func (s *Store) DeleteOAuthClient(ctx context.Context, name string) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var row oauthClientRow
		ok, err := find(tx.Select(clientColumns).Where("env = ? AND name = ?", env, name), &row)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("OAuth app %q not found", name)
		}
		if err := tx.Where("env = ? AND client_id = ?", env, row.ClientID).Delete(&oauthTokenRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("env = ? AND client_id = ?", env, row.ClientID).Delete(&oauthAuthorizationRow{}).Error; err != nil {
			return err
		}
		return tx.Where("env = ? AND name = ?", env, name).Delete(&oauthClientRow{}).Error
	})
	return fail(err, "delete OAuth app %q", name)
}

// SetOAuthClientIcon stores or removes an OAuth app's icon.
func (s *Store) SetOAuthClientIcon(ctx context.Context, name string, png []byte) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	var v any = png
	if png == nil {
		v = gorm.Expr("NULL")
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&oauthClientRow{}).Where("env = ? AND name = ?", env, name).Updates(map[string]any{"icon": v, "updated_at": utc(time.Now())})
		if res.Error == nil && res.RowsAffected == 0 {
			return notFound("OAuth app %q not found", name)
		}
		return res.Error
	})
	return fail(err, "set the icon of OAuth app %q", name)
}

// GetOAuthClientIcon returns the icon of the OAuth app whose client id is id.
func (s *Store) GetOAuthClientIcon(ctx context.Context, id string) ([]byte, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var icons [][]byte
	if err := s.db.WithContext(ctx).Model(&oauthClientRow{}).Where("env = ? AND client_id = ? AND icon IS NOT NULL", env, id).
		Limit(1).Pluck("icon", &icons).Error; err != nil {
		return nil, fail(err, "read an OAuth app's icon")
	}
	if len(icons) == 0 {
		return nil, notFound("OAuth app %q has no icon", id)
	}
	return icons[0], nil
}

func authorizationFromRow(r oauthAuthorizationRow) latchkey.OAuthAuthorization {
	a := latchkey.OAuthAuthorization{ID: r.ID, ClientID: r.ClientID, Subject: r.Subject, Scopes: fromJSONList[string](r.Scopes), CreatedAt: r.CreatedAt.UTC()}
	if r.LastUsedAt != nil {
		t := r.LastUsedAt.UTC()
		a.LastUsedAt = &t
	}
	if r.RevokedAt != nil {
		t := r.RevokedAt.UTC()
		a.RevokedAt = &t
	}
	return a
}

// GrantOAuthAuthorization adds scopes to the live authorization of the
// pair, or makes a new one.
func (s *Store) GrantOAuthAuthorization(ctx context.Context, clientID, subject string, scopes []string, at time.Time) (latchkey.OAuthAuthorization, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthAuthorization{}, err
	}
	var out latchkey.OAuthAuthorization
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var row oauthAuthorizationRow
		q := tx
		if s.postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		ok, err := find(q.Where("env = ? AND client_id = ? AND subject = ? AND revoked_at IS NULL", env, clientID, subject), &row)
		if err != nil {
			return err
		}
		if !ok {
			id, err := newOAuthID()
			if err != nil {
				return err
			}
			row = oauthAuthorizationRow{ID: id, Env: string(env), ClientID: clientID, Subject: subject, Scopes: jsonList(scopes), CreatedAt: utc(at)}
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			out = authorizationFromRow(row)
			return nil
		}
		have := fromJSONList[string](row.Scopes)
		for _, sc := range scopes {
			if !slices.Contains(have, sc) {
				have = append(have, sc)
			}
		}
		row.Scopes = jsonList(have)
		if err := tx.Model(&oauthAuthorizationRow{}).Where("id = ?", row.ID).Update("scopes", row.Scopes).Error; err != nil {
			return err
		}
		out = authorizationFromRow(row)
		return nil
	})
	return out, fail(err, "record an authorization")
}

// FindOAuthAuthorization returns the live authorization of a client by
// subject.
func (s *Store) FindOAuthAuthorization(ctx context.Context, clientID, subject string) (latchkey.OAuthAuthorization, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthAuthorization{}, err
	}
	var row oauthAuthorizationRow
	ok, err := find(s.db.WithContext(ctx).Where("env = ? AND client_id = ? AND subject = ? AND revoked_at IS NULL", env, clientID, subject), &row)
	if err != nil {
		return latchkey.OAuthAuthorization{}, fail(err, "read an authorization")
	}
	if !ok {
		return latchkey.OAuthAuthorization{}, notFound("no live authorization")
	}
	return authorizationFromRow(row), nil
}

// GetOAuthAuthorization returns an authorization, revoked or not.
func (s *Store) GetOAuthAuthorization(ctx context.Context, id string) (latchkey.OAuthAuthorization, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return latchkey.OAuthAuthorization{}, err
	}
	var row oauthAuthorizationRow
	ok, err := find(s.db.WithContext(ctx).Where("env = ? AND id = ?", env, id), &row)
	if err != nil {
		return latchkey.OAuthAuthorization{}, fail(err, "read an authorization")
	}
	if !ok {
		return latchkey.OAuthAuthorization{}, notFound("authorization %q not found", id)
	}
	return authorizationFromRow(row), nil
}

// ListOAuthAuthorizations returns every authorization, newest first.
func (s *Store) ListOAuthAuthorizations(ctx context.Context) ([]latchkey.OAuthAuthorization, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []oauthAuthorizationRow
	if err := s.db.WithContext(ctx).Where("env = ?", env).Order("created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fail(err, "list authorizations")
	}
	var clients []oauthClientRow
	if err := s.db.WithContext(ctx).Select("client_id, name").Where("env = ?", env).Find(&clients).Error; err != nil {
		return nil, fail(err, "list authorizations")
	}
	names := map[string]string{}
	for _, c := range clients {
		names[c.ClientID] = c.Name
	}
	out := make([]latchkey.OAuthAuthorization, len(rows))
	for i, r := range rows {
		out[i] = authorizationFromRow(r)
		out[i].ClientName = names[r.ClientID]
	}
	return out, nil
}

// RevokeOAuthAuthorization revokes an authorization and deactivates its
// tokens.
func (s *Store) RevokeOAuthAuthorization(ctx context.Context, id string, at time.Time) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&oauthAuthorizationRow{}).Where("env = ? AND id = ?", env, id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return notFound("authorization %q not found", id)
		}
		if err := tx.Model(&oauthAuthorizationRow{}).Where("env = ? AND id = ? AND revoked_at IS NULL", env, id).Update("revoked_at", utc(at)).Error; err != nil {
			return err
		}
		return tx.Model(&oauthTokenRow{}).Where("env = ? AND authorization_id = ?", env, id).Update("active", false).Error
	})
	return fail(err, "revoke authorization %q", id)
}

// TouchOAuthAuthorization records a use of an authorization.
func (s *Store) TouchOAuthAuthorization(ctx context.Context, id string, at time.Time) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&oauthAuthorizationRow{}).Where("env = ? AND id = ?", env, id).Update("last_used_at", utc(at)).Error
	})
	return fail(err, "record the use of authorization %q", id)
}

// GetOAuthToken returns the record of kind under signature.
func (s *Store) GetOAuthToken(ctx context.Context, kind store.OAuthTokenKind, signature string) (store.OAuthToken, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return store.OAuthToken{}, err
	}
	var row oauthTokenRow
	ok, err := find(inEnv(s.db.WithContext(ctx), env).Where("kind = ? AND signature = ?", string(kind), signature), &row)
	if err != nil {
		return store.OAuthToken{}, fail(err, "read an OAuth %s", kind)
	}
	if !ok {
		return store.OAuthToken{}, notFound("no such OAuth %s", kind)
	}
	return store.OAuthToken{Kind: store.OAuthTokenKind(row.Kind), Signature: row.Signature, Env: latchkey.Environment(row.Env),
		RequestID: row.RequestID, ClientID: row.ClientID, AuthorizationID: row.AuthorizationID, Subject: row.Subject,
		Scopes: fromJSONList[string](row.Scopes), GrantedScopes: fromJSONList[string](row.GrantedScopes), Form: row.Form,
		Session: []byte(row.Session), RequestedAt: row.RequestedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), Active: row.Active}, nil
}

// ChangeOAuthTokens makes the changes in order in one transaction.
func (s *Store) ChangeOAuthTokens(ctx context.Context, changes ...store.OAuthTokenChange) error {
	if len(changes) == 0 {
		return nil
	}
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.Op == store.OAuthTokenCreate && ch.Token.Env != "" && ch.Token.Env != env {
			return latchkey.Errorf(latchkey.EINVALID, "an OAuth token of environment %q cannot be stored in %q", ch.Token.Env, env)
		}
	}
	var failed store.OAuthTokenChange
	err = s.tx(ctx, func(tx *gorm.DB) error {
		for _, ch := range changes {
			if err := changeOAuthToken(tx, env, ch); err != nil {
				failed = ch
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail(err, "%s an OAuth %s", failed.Op, failed.Kind)
	}
	return nil
}

// changeOAuthToken makes one change inside a transaction.
func changeOAuthToken(tx *gorm.DB, env latchkey.Environment, ch store.OAuthTokenChange) error {
	match := tx.Model(&oauthTokenRow{}).Where("env = ? AND kind = ?", env, string(ch.Kind))
	switch ch.Op {
	case store.OAuthTokenCreate:
		t := ch.Token
		row := oauthTokenRow{Kind: string(t.Kind), Signature: t.Signature, Env: string(env), RequestID: t.RequestID, ClientID: t.ClientID,
			AuthorizationID: t.AuthorizationID, Subject: t.Subject, Scopes: jsonList(t.Scopes), GrantedScopes: jsonList(t.GrantedScopes),
			Form: t.Form, Session: string(t.Session), RequestedAt: utc(t.RequestedAt), ExpiresAt: utc(t.ExpiresAt), Active: true}
		return tx.Create(&row).Error
	case store.OAuthTokenUse:
		res := match.Where("signature = ? AND active", ch.Signature).Update("active", false)
		if res.Error == nil && res.RowsAffected == 0 {
			return notFound("no active OAuth %s", ch.Kind)
		}
		return res.Error
	case store.OAuthTokenDelete:
		return match.Where("signature = ?", ch.Signature).Delete(&oauthTokenRow{}).Error
	case store.OAuthTokenRevoke:
		return match.Where("request_id = ?", ch.RequestID).Update("active", false).Error
	}
	return latchkey.Errorf(latchkey.EINTERNAL, "no such change of an OAuth token: %q", ch.Op)
}

// newOAuthID returns a random id for an authorization.
func newOAuthID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "oa_" + base64.RawURLEncoding.EncodeToString(b), nil
}
