package store

import (
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Install link states, as InstallLink.State reports them.
const (
	InstallLinkPending = "pending" // usable until it expires
	InstallLinkUsed    = "used"    // an org installed the app through it
	InstallLinkRevoked = "revoked" // an admin revoked it
	InstallLinkExpired = "expired" // its lifetime ended unused
)

// InstallLink is a link to the install prompt of an app for one org, where
// whoever holds it sets the org's values (client id, client secret, redirect
// URI). Only a hash of its token is stored. A link is single-use: the save
// that installs the app uses it up; it can be revoked before that.
type InstallLink struct {
	ID string `json:"id"`
	// Env is the environment the link installs in.
	Env latchkey.Environment `json:"environment,omitempty"`
	App string               `json:"app"`
	Org string               `json:"org"`
	// CreatedBy is the audit actor that issued it (an API key's id, or
	// admin:<email>).
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// State reports whether the link is pending, used, revoked or expired at
// now.
func (l *InstallLink) State(now time.Time) string {
	switch {
	case l.UsedAt != nil:
		return InstallLinkUsed
	case l.RevokedAt != nil:
		return InstallLinkRevoked
	case !now.Before(l.ExpiresAt):
		return InstallLinkExpired
	}
	return InstallLinkPending
}
