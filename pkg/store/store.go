// Package store defines the one interface through which Latchkey keeps its
// data, and the sentinel errors its backends return. Backends live in
// sibling packages (sqlstore: SQLite and PostgreSQL through gorm); every
// backend passes the conformance suite in storetest.
//
// Values a store keeps for settings, tokens, PKCE verifiers and app documents
// are encrypted by the backend before they are written, each bound to its row,
// so callers deal in plain text and never see ciphertext.
package store

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Sentinel errors. Backends return errors that match these with errors.Is
// and carry a safe message naming the resource.
var (
	ErrNotFound = latchkey.ErrNotFound // no such row, or a link or state already used
	ErrConflict = latchkey.ErrConflict // a version check failed, or the row exists already
	ErrExpired  = latchkey.ErrExpired  // a link or state exists but has expired
)

// Store keeps apps, org installations, connections with their tokens, pending
// links and states, and API keys. Every method is safe for concurrent use,
// and every write is one transaction: on error nothing of it is kept.
//
// Every app, installation, value, connection, link, state, API key,
// webhook, delivery, install link and audit event belongs to one
// environment (latchkey.Environment). A method works in the environment of
// the view it is called on (In), or else the one its context says
// (latchkey.WithEnvironment); a call that says none is refused, except the
// lookups by an unguessable token or id (GetLink, TakeLink, TakeState,
// GetInstallLink, InstallThroughLink, GetAPIKey, TouchAPIKey), whose answer says the
// environment it found, and the pruning sweeps (DeleteExpired,
// PruneDeliveries), which then cover every environment. Admins, sessions,
// server secrets and the environments themselves belong to none.
type Store interface {
	// In returns a view of the store bound to env: every call on it works
	// in env, and one whose context names another is refused.
	In(env latchkey.Environment) Store
	// Environment returns the environment of a view made by In, "" for the
	// root store.
	Environment() latchkey.Environment
	// PutEnvironment creates an environment, or replaces its public URL.
	PutEnvironment(ctx context.Context, info latchkey.EnvironmentInfo) (latchkey.EnvironmentInfo, error)
	// GetEnvironment returns the environment called name.
	GetEnvironment(ctx context.Context, name latchkey.Environment) (latchkey.EnvironmentInfo, error)
	// ListEnvironments returns every environment, by name.
	ListEnvironments(ctx context.Context) ([]latchkey.EnvironmentInfo, error)
	// DeleteEnvironment deletes an environment with everything in it; one
	// that still has apps or connections is refused with ErrConflict unless
	// force is set.
	DeleteEnvironment(ctx context.Context, name latchkey.Environment, force bool) error

	// PutApp creates or replaces the app document whole, and returns it with
	// its new Revision and timestamps. Replacing a document leaves the app's
	// installations and connections in place. A document that drops an
	// OAuth config which still has connections is refused with a
	// *latchkey.Error matching ErrConflict that names each such config and
	// how many connections it has (see PutAppWith).
	PutApp(ctx context.Context, app latchkey.App) (latchkey.App, error)
	// PutAppWith is PutApp with options. With DeleteConnections, the
	// connections of the OAuth configs the document drops are deleted with
	// the values they own in the same transaction, and their keys returned.
	// Either way the pending links and states of dropped configs are
	// deleted. The check and the replacement are one transaction that
	// excludes PutConnection of the same app, so that no connection of a
	// dropped config is created meanwhile.
	PutAppWith(ctx context.Context, app latchkey.App, opts PutAppOptions) (latchkey.App, []latchkey.ConnectionKey, error)
	// GetApp returns the app called name.
	GetApp(ctx context.Context, name string) (latchkey.App, error)
	// ListApps returns every app, by name.
	ListApps(ctx context.Context) ([]latchkey.App, error)
	// DeleteApp deletes the app and everything that belongs to it:
	// installations, connections, setting values, links and states.
	DeleteApp(ctx context.Context, name string) error

	// PutInstallation replaces the org-level values of an org's installation
	// of an app, creating the installation if needed.
	PutInstallation(ctx context.Context, inst latchkey.Installation) (latchkey.Installation, error)
	// GetInstallation returns an org's installation of an app.
	GetInstallation(ctx context.Context, app, org string) (latchkey.Installation, error)
	// ListInstallations returns the installations of an app, by org.
	ListInstallations(ctx context.Context, app string) ([]latchkey.Installation, error)
	// DeleteInstallation deletes an org's installation, with its org-level
	// values and the connections of the org's users.
	DeleteInstallation(ctx context.Context, app, org string) error

	// UserValues returns the user-level setting values of a user of an org,
	// across all the user's connections, by setting name.
	UserValues(ctx context.Context, app, org, user string) (map[string]string, error)

	// PutConnection creates or replaces a connection with its Values, in one
	// transaction, and returns it with its new Version. A new connection
	// must name an OAuth config of the app's stored document, else
	// ErrNotFound. When the connection
	// exists and conn.Version is not 0, the stored version must equal it,
	// else ErrConflict. Values the replaced connection owned and conn does
	// not are deleted.
	PutConnection(ctx context.Context, conn latchkey.Connection) (latchkey.Connection, error)
	// GetConnection returns a connection with its Values.
	GetConnection(ctx context.Context, key latchkey.ConnectionKey) (latchkey.Connection, error)
	// UpdateConnection reads the connection under a lock that keeps every
	// other writer of the same connection, in this process or another one on
	// the same database, waiting until it returns; calls update with it; and
	// writes what update returns, with Version increased. If update returns
	// an error, nothing is written and that error is returned.
	UpdateConnection(ctx context.Context, key latchkey.ConnectionKey, update func(latchkey.Connection) (latchkey.Connection, error)) (latchkey.Connection, error)
	// ListConnections returns the connections of an app (all orgs when org is
	// empty), without their Values.
	ListConnections(ctx context.Context, app, org string) ([]latchkey.Connection, error)
	// SearchConnections returns a page of the environment's connections
	// across apps, without their Values, in key order (app, org, user,
	// config), with how many match in all.
	SearchConnections(ctx context.Context, q ConnectionQuery) (ConnectionPage, error)
	// ClaimRefreshes claims, for the refresh worker, up to limit active
	// connections due for a refresh at now: an access token that expires
	// before due, or a keep-alive time (KeepAliveAt) that has come; that
	// wait for no retry at now; and that no caller is refreshing. It takes
	// their refresh lease (RefreshingUntil = now+lease, WorkerLease set,
	// Version increased) in one transaction and returns them with their
	// Values and their user's values, soonest expiry first. Connections whose refresh lease expired
	// without an answer (its holder died) are returned in lost, claimed for
	// lease but not leased: what a lost refresh means is the caller's to
	// decide. A claimed connection is not returned again until its lease
	// ends, so that several workers on one database split the work.
	ClaimRefreshes(ctx context.Context, now, due time.Time, limit int, lease time.Duration) (claimed []Claimed, lost []latchkey.ConnectionKey, err error)
	// WriteRefreshes stores the outcomes of claimed refreshes in one
	// transaction. Each connection replaces the stored one only if the
	// stored Version is still conn.Version (the one its claim returned); it
	// is written with Version increased. Its Values are written over the
	// stored values of the same names (taking over, as PutConnection, a
	// value of that name another connection of the user owned); values it
	// owns and Values lacks are kept, and nil Values (a failure, a released
	// lease) write none.
	// The answer has one error per connection: nil when written, ErrConflict
	// when the connection changed meanwhile (nothing written for it),
	// ErrNotFound when it was deleted. The second result fails the whole
	// batch (nothing written).
	WriteRefreshes(ctx context.Context, conns []latchkey.Connection) ([]error, error)
	// CountDue counts, up to limit, the connections ClaimRefreshes would
	// claim at now, without claiming them: the refresh worker shares a
	// batch among the environments by it.
	CountDue(ctx context.Context, now, due time.Time, limit int) (int, error)
	// DeleteConnection deletes a connection, the values it owns and its traces.
	DeleteConnection(ctx context.Context, key latchkey.ConnectionKey) error

	// CreateLink stores a pending link under token (the store keeps only a
	// hash of it).
	CreateLink(ctx context.Context, token string, link latchkey.Link) error
	// GetLink returns the pending link of token without using it: ErrNotFound
	// when there is none or it was used, ErrExpired when it expired before now.
	GetLink(ctx context.Context, token string, now time.Time) (latchkey.Link, error)
	// TakeLink returns the pending link of token and marks it used, so that a
	// second take fails with ErrNotFound; ErrExpired as for GetLink.
	TakeLink(ctx context.Context, token string, now time.Time) (latchkey.Link, error)
	// CreateState stores an authorization state (only a hash of state is
	// kept; the code verifier is encrypted).
	CreateState(ctx context.Context, state string, s latchkey.AuthState) error
	// TakeState returns the authorization state and deletes it, so that it
	// can be used once: ErrNotFound when there is none, ErrExpired when it
	// expired before now.
	TakeState(ctx context.Context, state string, now time.Time) (latchkey.AuthState, error)
	// DeleteExpired deletes links, states and the records of OAuth codes
	// and tokens that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) error

	// CreateAPIKey stores an API key (its hash, never the key).
	CreateAPIKey(ctx context.Context, key latchkey.APIKey) error
	// GetAPIKey returns the API key with the given id, revoked or not.
	GetAPIKey(ctx context.Context, id string) (latchkey.APIKey, error)
	// ListAPIKeys returns every API key, newest first.
	ListAPIKeys(ctx context.Context) ([]latchkey.APIKey, error)
	// RevokeAPIKey marks an API key revoked at the given time.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records that the API key with the given id authenticated
	// a request at the given time, unless the use it has stored is less
	// than latchkey.APIKeyUseResolution older: one conditional write, so
	// that the replicas of a busy key write about once a minute between
	// them. An unknown id is no error (the key may have been deleted).
	TouchAPIKey(ctx context.Context, id string, at time.Time) error

	// AppendTraces stores flow traces, already masked, each in its Env (the
	// context's when empty), their steps sealed, in one transaction, and
	// deletes the traces of their connections beyond the newest
	// latchkey.KeepTraces.
	AppendTraces(ctx context.Context, traces ...latchkey.Trace) error
	// ListTraces returns a connection's traces, newest first, without
	// their steps: at most limit, latchkey.KeepTraces when limit is 0.
	ListTraces(ctx context.Context, key latchkey.ConnectionKey, limit int) ([]latchkey.Trace, error)
	// ListAppTraces returns the traces of an app's connections, newest
	// first, without their steps, as the filter selects; a Before that is
	// no trace of the app is EINVALID naming the field before.
	ListAppTraces(ctx context.Context, app string, filter latchkey.TraceFilter) ([]latchkey.Trace, error)
	// GetTrace returns a trace of app with its steps; ErrNotFound when app
	// has none of that id.
	GetTrace(ctx context.Context, app, id string) (latchkey.Trace, error)
	// PruneTraces deletes the traces that started before before, in the
	// context's environment or, when it says none, in every one (the
	// sweep), and says how many.
	PruneTraces(ctx context.Context, before time.Time) (int64, error)
	// AppendAudit records audit events, in one transaction.
	AppendAudit(ctx context.Context, events ...latchkey.AuditEvent) error
	// ListAudit returns audit events matching the filter, newest first.
	ListAudit(ctx context.Context, filter latchkey.AuditFilter) ([]latchkey.AuditEvent, error)

	// CreateAdmin stores an admin account of the builder UI; an email in
	// use is refused with ErrConflict.
	CreateAdmin(ctx context.Context, admin Admin) error
	// GetAdmin returns the admin account of email.
	GetAdmin(ctx context.Context, email string) (Admin, error)
	// ListAdmins returns every admin account, by email.
	ListAdmins(ctx context.Context) ([]Admin, error)
	// SetAdminPassword replaces an admin's password hash, ends the admin's
	// sessions and revokes, in every environment, the authorizations the
	// admin gave OAuth apps of Latchkey's own server, with their tokens.
	SetAdminPassword(ctx context.Context, email string, hash []byte) error
	// DeleteAdmin deletes an admin account and all its sessions, and
	// revokes its OAuth authorizations as SetAdminPassword does, in one
	// transaction: ErrNotFound when there is none, and ErrConflict naming
	// the field email when it is the last admin. The count and the delete
	// are in that transaction, with the admins' rows locked, so that two
	// deletes at once cannot leave no admin.
	DeleteAdmin(ctx context.Context, email string) error
	// CreateSession stores a signed-in admin's session under id (the store
	// keeps only a hash of it).
	CreateSession(ctx context.Context, id string, s Session) error
	// GetSession returns the session of id: ErrNotFound when there is none,
	// ErrExpired when it expired before now.
	GetSession(ctx context.Context, id string, now time.Time) (Session, error)
	// DeleteSession ends the session of id; ending an unknown one is no
	// error.
	DeleteSession(ctx context.Context, id string) error
	// ServerSecret returns the server's random secret called name, creating
	// it (32 random bytes, sealed at rest) on first use, so that every
	// replica on the same database shares it.
	ServerSecret(ctx context.Context, name string) ([]byte, error)

	// CreateWebhook stores a webhook of an existing app, its Secret sealed;
	// an id in use is refused with ErrConflict.
	CreateWebhook(ctx context.Context, w Webhook) error
	// GetWebhook returns a webhook of app with its Secret.
	GetWebhook(ctx context.Context, app, id string) (Webhook, error)
	// ListWebhooks returns the webhooks of an app (of every app when app is
	// empty), oldest first, with their Secrets.
	ListWebhooks(ctx context.Context, app string) ([]Webhook, error)
	// DeleteWebhook deletes a webhook of app with its deliveries.
	DeleteWebhook(ctx context.Context, app, id string) error
	// CreateDeliveries stores pending deliveries, in one transaction.
	CreateDeliveries(ctx context.Context, ds ...WebhookDelivery) error
	// ClaimDeliveries claims, for lease, up to limit pending deliveries due
	// at now, oldest first, and returns them with their Payloads; a claimed
	// delivery is not returned again until its lease ends, so that several
	// dispatchers on one database split the work.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]WebhookDelivery, error)
	// RecordAttempt logs an attempt at delivery id, sets its state and its
	// next attempt (zero for none), and counts the attempt.
	RecordAttempt(ctx context.Context, id int64, a WebhookAttempt, state string, next time.Time) error
	// ListDeliveries returns the deliveries of a webhook of app, newest
	// first, at most limit (all when limit is 0), each with its attempts.
	ListDeliveries(ctx context.Context, app, webhookID string, limit int) ([]WebhookDelivery, error)
	// PruneDeliveries deletes the deliveries created before before that are
	// no longer pending (delivered or failed), with their attempts, and
	// returns how many it deleted.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)

	// CreateInstallLink stores an install link of an existing app under
	// token (the store keeps only a hash of it); an id in use is refused
	// with ErrConflict.
	CreateInstallLink(ctx context.Context, token string, l InstallLink) error
	// GetInstallLink returns the install link of app for token without
	// using it: ErrNotFound when there is none, or it was used or revoked;
	// ErrExpired when it expired before now.
	GetInstallLink(ctx context.Context, app, token string, now time.Time) (InstallLink, error)
	// InstallThroughLink checks the install link of token as GetInstallLink
	// does, marks it used at now and saves inst, which must be of the link's
	// app and org, as PutInstallation does: all in one transaction, so that
	// of concurrent callers exactly one installs and the others get
	// ErrNotFound.
	InstallThroughLink(ctx context.Context, token string, now time.Time, inst latchkey.Installation) (InstallLink, latchkey.Installation, error)
	// ListInstallLinks returns the install links of an app (of one org when
	// org is not empty), newest first.
	ListInstallLinks(ctx context.Context, app, org string) ([]InstallLink, error)
	// RevokeInstallLink marks the install link id of app revoked at at and
	// returns it: ErrNotFound when app has no such link. Revoking a link
	// again keeps its first revocation; revoking a used one is ErrConflict.
	RevokeInstallLink(ctx context.Context, app, id string, at time.Time) (InstallLink, error)

	// OAuthServerStore keeps Latchkey's own OAuth server's data.
	OAuthServerStore

	// Close releases the store's resources.
	Close() error
}

// ConnectionQuery selects connections for Store.SearchConnections. Empty
// fields match everything.
type ConnectionQuery struct {
	App, Org, User, Config string
	Status                 latchkey.ConnectionStatus
	// Search matches connections whose org or user contains it, in any
	// case.
	Search string
	// After, when set, starts the page after this key (the Next of the
	// page before).
	After *latchkey.ConnectionKey
	// Limit is the page's size: 1 to MaxConnectionPage, 50 when 0.
	Limit int
}

// MaxConnectionPage is the largest page SearchConnections answers.
const MaxConnectionPage = 500

// ConnectionPage is a page of SearchConnections.
type ConnectionPage struct {
	Connections []latchkey.Connection
	// Total counts every match, on every page.
	Total int
	// Next is the key to pass as After for the next page; nil on the last.
	Next *latchkey.ConnectionKey
}

// PutAppOptions tune Store.PutAppWith.
type PutAppOptions struct {
	// DeleteConnections lets the document drop OAuth configs that still
	// have connections: those connections are deleted with it.
	DeleteConnections bool
	// Create only creates: an app of the same name that exists already is
	// left as it is and the put refused with a *latchkey.Error matching
	// ErrConflict that names the field name. The check and the insert are
	// one statement, so two creates of one name cannot both succeed.
	Create bool
}

// Admin is a person who signs in to the builder UI with an email and a
// password; only a bcrypt hash of the password is kept.
type Admin struct {
	Email        string    `json:"email"`
	PasswordHash []byte    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a signed-in admin's browser session.
type Session struct {
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Claimed is a connection claimed for a refresh, with the values its
// user's connections own (UserValues' answer), for the refresh's templates.
type Claimed struct {
	// Env is the environment the connection belongs to.
	Env        latchkey.Environment
	Conn       latchkey.Connection
	UserValues map[string]string
}

// Environments returns the environments the background work covers: st's
// own when it is a view (In), else every environment of the store, by
// name. A background worker claims in each in turn, so that a flood of due
// work in one does not starve another.
func Environments(ctx context.Context, st Store) ([]latchkey.Environment, error) {
	if env := st.Environment(); env != "" {
		return []latchkey.Environment{env}, nil
	}
	infos, err := st.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	envs := make([]latchkey.Environment, len(infos))
	for i, e := range infos {
		envs[i] = e.Name
	}
	return envs, nil
}
