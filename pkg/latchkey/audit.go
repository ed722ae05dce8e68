package latchkey

import "time"

// Audit actions. Admin changes are recorded as they happen; reads of tokens
// and settings are recorded too, so that an admin can see which key read
// which connection.
const (
	AuditAppPut             = "app.put"
	AuditAppDelete          = "app.delete"
	AuditAppPromote         = "app.promote" // recorded in both environments of a promotion
	AuditEnvironmentPut     = "environment.put"
	AuditEnvironmentDelete  = "environment.delete"
	AuditInstallationPut    = "installation.put"
	AuditInstallationDelete = "installation.delete"
	AuditAPIKeyCreate       = "apikey.create"
	AuditAPIKeyRevoke       = "apikey.revoke"
	AuditAdminCreate        = "admin.create"   // an admin account of the builder UI added
	AuditAdminDelete        = "admin.delete"   // an admin account deleted, with its sessions
	AuditAdminPassword      = "admin.password" // an admin's password changed, its sessions ended
	AuditLinkCreate         = "link.create"
	AuditConnectionDelete   = "connection.delete"
	AuditConnectionRefresh  = "connection.refresh" // an admin's forced refresh (Refresh now)
	AuditTokenRead          = "token.read"
	AuditSettingRead        = "setting.read"
	// AuditCallbackRefused is a callback refused because it came from
	// another browser than the one that pressed Allow.
	AuditCallbackRefused = "callback.refused"
	AuditProxyCall       = "proxy.call" // a call through the passthrough proxy: method, path, status
	AuditAPICall         = "api.call"   // a call of a declared API: its name, status
	// Latchkey's own OAuth server (issue 14).
	AuditOAuthServerPut    = "oauth.server.put"
	AuditOAuthGroupPut     = "oauth.group.put"
	AuditOAuthGroupDelete  = "oauth.group.delete"
	AuditOAuthScopePut     = "oauth.scope.put"
	AuditOAuthScopeDelete  = "oauth.scope.delete"
	AuditOAuthClientCreate = "oauth.app.create"
	AuditOAuthClientUpdate = "oauth.app.update"
	AuditOAuthClientDelete = "oauth.app.delete"
	AuditOAuthAuthorize    = "oauth.authorize" // a person authorized an OAuth app for scopes
	AuditOAuthDeny         = "oauth.deny"      // a person denied an OAuth app
	AuditOAuthRevoke       = "oauth.revoke"    // an authorization revoked, with its tokens
	AuditOAuthTokenIssue   = "oauth.token"     // an access token issued (code exchanged or refreshed)
	AuditOAuthRefreshReuse = "oauth.refresh_reuse"
)

// AuditEvent is one entry of the audit log: who did what to which resource,
// and when. It never holds a value: Detail names things (a revision, the
// names of the settings changed, a setting read), never what they hold.
type AuditEvent struct {
	ID int64 `json:"id"`
	// Env is the environment the event happened in (filled in by the store).
	Env    Environment `json:"environment,omitempty"`
	Time   time.Time   `json:"time"`
	Actor  string      `json:"actor"` // the API key's id, or "cli"
	Action string      `json:"action"`
	App    string      `json:"app,omitempty"`
	Org    string      `json:"org,omitempty"`
	User   string      `json:"user,omitempty"`
	Config string      `json:"config,omitempty"`
	Detail string      `json:"detail,omitempty"`
}

// AuditFilter selects audit events: those of one app, one action, one
// actor and one org when set, with an id below Before when set, newest
// first, at most Limit.
type AuditFilter struct {
	App    string
	Action string
	// Actor is the exact actor (an API key's id, "admin:<email>",
	// AuditActor…); Org the exact org id.
	Actor  string
	Org    string
	Before int64
	Limit  int
	// Connection, when set, selects the events of that one connection (its
	// app, org, user, "" for an org's, and config).
	Connection *ConnectionKey
}

// AuditActor is the actor of what Latchkey does on its own: a connection
// created, refreshed or failing (the events webhooks announce, kept in the
// audit log as the connection's history).
const AuditActor = "latchkey"
