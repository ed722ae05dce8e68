package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Installation is an app installed for an org: the org-level setting
// values (secrets redacted as "********").
type Installation struct {
	App       string            `json:"app"`
	Org       string            `json:"org"`
	Values    map[string]string `json:"values"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
}

// ListInstallations returns the orgs an app is installed for.
func (c *Client) ListInstallations(ctx context.Context, app string) ([]Installation, error) {
	var out struct {
		Installations []Installation `json:"installations"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps", app, "orgs")}, &out)
	return out.Installations, err
}

// GetInstallation returns an org's installation of an app.
func (c *Client) GetInstallation(ctx context.Context, app, org string) (*Installation, error) {
	var out Installation
	if _, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps", app, "orgs", org, "settings")}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutInstallation installs an app for an org, or replaces its org-level
// values with values. A secret sent as the redaction marker keeps its
// stored value, so an installation read can be changed and sent back.
func (c *Client) PutInstallation(ctx context.Context, app, org string, values map[string]string) (*Installation, error) {
	return c.setInstallation(ctx, http.MethodPut, app, org, values)
}

// PatchInstallation changes only the org-level values it names.
func (c *Client) PatchInstallation(ctx context.Context, app, org string, values map[string]string) (*Installation, error) {
	return c.setInstallation(ctx, http.MethodPatch, app, org, values)
}

func (c *Client) setInstallation(ctx context.Context, method, app, org string, values map[string]string) (*Installation, error) {
	if values == nil {
		values = map[string]string{}
	}
	var out Installation
	if _, err := c.do(ctx, request{method: method, path: apiPath("apps", app, "orgs", org, "settings"), body: values}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteInstallation uninstalls an app from an org.
func (c *Client) DeleteInstallation(ctx context.Context, app, org string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("apps", app, "orgs", org)}, nil)
	return err
}

// InstallLink is a link to an app's install prompt for one org, as listed:
// never its token.
type InstallLink struct {
	ID        string     `json:"id"`
	App       string     `json:"app"`
	Org       string     `json:"org"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// State is pending, used, revoked or expired.
	State string `json:"state"`
}

// NewInstallLink is a created install link: its URL, which holds the
// link's token and is shown this once, and the link as listed.
type NewInstallLink struct {
	ID          string      `json:"id"`
	URL         string      `json:"url"`
	ExpiresAt   time.Time   `json:"expires_at"`
	InstallLink InstallLink `json:"install_link"`
}

// CreateInstallLink issues a single-use link with which someone of the org
// sets the org's client credentials. ttl is its lifetime (0 for the
// server's default of an hour; at most a day, at least a minute).
func (c *Client) CreateInstallLink(ctx context.Context, app, org string, ttl time.Duration) (*NewInstallLink, error) {
	body := map[string]int64{}
	if ttl != 0 {
		body["expires_in"] = int64(ttl / time.Second)
	}
	var out NewInstallLink
	if _, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("apps", app, "orgs", org, "install-link"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInstallLinks lists an app's install links, newest first; org, when
// not empty, keeps one org's.
func (c *Client) ListInstallLinks(ctx context.Context, app, org string) ([]InstallLink, error) {
	r := request{method: http.MethodGet, path: apiPath("apps", app, "install-links")}
	if org != "" {
		r.query = url.Values{"org": {org}}
	}
	var out struct {
		InstallLinks []InstallLink `json:"install_links"`
	}
	_, err := c.do(ctx, r, &out)
	return out.InstallLinks, err
}

// RevokeInstallLink revokes an install link that was not used.
func (c *Client) RevokeInstallLink(ctx context.Context, app, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("apps", app, "install-links", id)}, nil)
	return err
}
