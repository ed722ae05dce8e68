-- Latchkey's first schema for SQLite. Times are UTC, written by the store in
-- one fixed text format so that they compare in order. Columns that hold
-- secrets (apps.document, setting_values.value, auth_states.code_verifier)
-- hold secretbox ciphertexts bound to their row, never plain text.

-- +goose Up
CREATE TABLE apps (
    name       TEXT PRIMARY KEY,
    document   TEXT NOT NULL,            -- the whole app JSON, encrypted
    revision   INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE installations (
    app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app, org)
);

CREATE TABLE connections (
    app          TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    org          TEXT NOT NULL,
    user_id      TEXT NOT NULL,           -- '' for an org-level connection
    config       TEXT NOT NULL,
    status       TEXT NOT NULL,
    token_type   TEXT NOT NULL DEFAULT '',
    scope        TEXT NOT NULL DEFAULT '',
    expires_at   TIMESTAMP,               -- NULL when the provider said nothing
    version      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    refreshed_at TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    failures     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app, org, user_id, config)
);
-- For a refresh worker: connections whose access token expires before T.
CREATE INDEX connections_expires_at ON connections (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE setting_values (
    app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,             -- '' for an org-level value
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,             -- encrypted, bound to app/org/user/name
    config     TEXT NOT NULL DEFAULT '',  -- the connection config owning it, '' for none
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app, org, user_id, name)
);
CREATE INDEX setting_values_owner ON setting_values (app, org, user_id, config);

CREATE TABLE links (
    token_hash TEXT PRIMARY KEY,          -- sha256 hex of the link token
    app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    config     TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    popup      BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX links_expires_at ON links (expires_at);
CREATE INDEX links_org ON links (app, org);

CREATE TABLE auth_states (
    state_hash    TEXT PRIMARY KEY,       -- sha256 hex of the state
    app           TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    org           TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    config        TEXT NOT NULL,
    return_to     TEXT NOT NULL DEFAULT '',
    popup         BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uri  TEXT NOT NULL DEFAULT '',
    code_verifier TEXT NOT NULL DEFAULT '', -- encrypted, bound to state_hash; '' when no PKCE
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX auth_states_expires_at ON auth_states (expires_at);
CREATE INDEX auth_states_org ON auth_states (app, org);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    scope      TEXT NOT NULL,
    app        TEXT NOT NULL DEFAULT '',
    hash       BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX api_keys_created_at ON api_keys (created_at);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE auth_states;
DROP TABLE links;
DROP TABLE setting_values;
DROP TABLE connections;
DROP TABLE installations;
DROP TABLE apps;
