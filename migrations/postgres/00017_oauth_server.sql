-- Latchkey's own OAuth authorization server (issue 14, seed 000), per
-- environment: its settings, permission groups, scopes, OAuth apps
-- (clients), people's authorizations of them, and the records of the codes
-- and tokens it issued, keyed by the token's HMAC signature (a token itself
-- is never stored). JSON lists are kept as TEXT.

-- +goose Up
CREATE TABLE oauth_servers (
    env               TEXT PRIMARY KEY,
    enabled           BOOLEAN NOT NULL DEFAULT FALSE,
    access_token_ttl  BIGINT NOT NULL DEFAULT 0,
    refresh_token_ttl BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE oauth_groups (
    env         TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL,
    apps        TEXT NOT NULL DEFAULT '[]',
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (env, name)
);

CREATE TABLE oauth_scopes (
    env         TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    groups_list TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (env, name)
);

CREATE TABLE oauth_clients (
    env          TEXT NOT NULL,
    name         TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    redirect_uri TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    public       BOOLEAN NOT NULL,
    secret_hash  BYTEA,
    icon         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (env, name)
);
-- A client id is unique in its environment: Latchkey's CLI is the OAuth
-- app latchkey-cli in every one.
CREATE UNIQUE INDEX oauth_clients_client_id ON oauth_clients (env, client_id);

CREATE TABLE oauth_authorizations (
    id           TEXT PRIMARY KEY,
    env          TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX oauth_authorizations_client ON oauth_authorizations (env, client_id, subject);
-- One live authorization per OAuth app and person.
CREATE UNIQUE INDEX oauth_authorizations_live ON oauth_authorizations (env, client_id, subject) WHERE revoked_at IS NULL;

CREATE TABLE oauth_tokens (
    kind             TEXT NOT NULL,
    signature        TEXT NOT NULL,
    env              TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    authorization_id TEXT NOT NULL DEFAULT '',
    subject          TEXT NOT NULL DEFAULT '',
    scopes           TEXT NOT NULL,
    granted_scopes   TEXT NOT NULL,
    form             TEXT NOT NULL DEFAULT '',
    session          TEXT NOT NULL DEFAULT '',
    requested_at     TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (kind, signature)
);
CREATE INDEX oauth_tokens_request ON oauth_tokens (request_id);
CREATE INDEX oauth_tokens_authorization ON oauth_tokens (authorization_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (env, client_id);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);

-- +goose Down
DROP TABLE oauth_tokens;
DROP TABLE oauth_authorizations;
DROP TABLE oauth_clients;
DROP TABLE oauth_scopes;
DROP TABLE oauth_groups;
DROP TABLE oauth_servers;
