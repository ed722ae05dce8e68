-- Environments: every app, installation, value, connection, link, state,
-- API key, webhook, delivery, attempt, install link and audit event belongs
-- to one environment (a namespace). A fresh database starts with dev and
-- prod; the rows of a database from before environments are placed in dev.
-- Tables keyed by an app's name are rebuilt with env in their keys (SQLite
-- cannot alter a primary key); children are dropped before apps so that no
-- ON DELETE CASCADE runs. Sealed values keep their associated data: dev's
-- values name no environment (see latchkey.LegacyEnvironment).

-- +goose Up
CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    public_url TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
INSERT INTO environments (name, created_at) VALUES ('dev', CURRENT_TIMESTAMP), ('prod', CURRENT_TIMESTAMP);

CREATE TABLE apps_env (
    env        TEXT NOT NULL,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (env, name)
);
INSERT INTO apps_env SELECT 'dev', name, document, revision, created_at, updated_at FROM apps;

CREATE TABLE installations_env (
    env        TEXT NOT NULL,
    app        TEXT NOT NULL,
    org        TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (env, app, org),
    FOREIGN KEY (env, app) REFERENCES apps_env (env, name) ON DELETE CASCADE
);
INSERT INTO installations_env SELECT 'dev', app, org, updated_at FROM installations;

CREATE TABLE connections_env (
    env              TEXT NOT NULL,
    app              TEXT NOT NULL,
    org              TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    config           TEXT NOT NULL,
    status           TEXT NOT NULL,
    token_type       TEXT NOT NULL DEFAULT '',
    scope            TEXT NOT NULL DEFAULT '',
    expires_at       TIMESTAMP,
    version          INTEGER NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    refreshed_at     TIMESTAMP,
    last_error       TEXT NOT NULL DEFAULT '',
    failures         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP,
    lease_until      TIMESTAMP,
    refreshing_until TIMESTAMP,
    keep_alive_at    TIMESTAMP,
    worker_lease     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (env, app, org, user_id, config),
    FOREIGN KEY (env, app) REFERENCES apps_env (env, name) ON DELETE CASCADE
);
INSERT INTO connections_env SELECT 'dev', app, org, user_id, config, status, token_type, scope, expires_at, version,
    created_at, updated_at, refreshed_at, last_error, failures, next_attempt_at, lease_until, refreshing_until, keep_alive_at, worker_lease
    FROM connections;

CREATE TABLE setting_values_env (
    env        TEXT NOT NULL,
    app        TEXT NOT NULL,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    config     TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (env, app, org, user_id, name),
    FOREIGN KEY (env, app) REFERENCES apps_env (env, name) ON DELETE CASCADE
);
INSERT INTO setting_values_env SELECT 'dev', app, org, user_id, name, value, config, updated_at FROM setting_values;

CREATE TABLE links_env (
    token_hash TEXT PRIMARY KEY,
    env        TEXT NOT NULL,
    app        TEXT NOT NULL,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    config     TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    popup      BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    FOREIGN KEY (env, app) REFERENCES apps_env (env, name) ON DELETE CASCADE
);
INSERT INTO links_env SELECT token_hash, 'dev', app, org, user_id, config, return_to, popup, expires_at, used_at FROM links;

CREATE TABLE auth_states_env (
    state_hash    TEXT PRIMARY KEY,
    env           TEXT NOT NULL,
    app           TEXT NOT NULL,
    org           TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    config        TEXT NOT NULL,
    return_to     TEXT NOT NULL DEFAULT '',
    popup         BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uri  TEXT NOT NULL DEFAULT '',
    code_verifier TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMP NOT NULL,
    browser_hash  TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (env, app) REFERENCES apps_env (env, name) ON DELETE CASCADE
);
INSERT INTO auth_states_env SELECT state_hash, 'dev', app, org, user_id, config, return_to, popup, redirect_uri,
    code_verifier, expires_at, browser_hash FROM auth_states;

DROP TABLE auth_states;
DROP TABLE links;
DROP TABLE setting_values;
DROP TABLE connections;
DROP TABLE installations;
DROP TABLE apps;
ALTER TABLE apps_env RENAME TO apps;
ALTER TABLE installations_env RENAME TO installations;
ALTER TABLE connections_env RENAME TO connections;
ALTER TABLE setting_values_env RENAME TO setting_values;
ALTER TABLE links_env RENAME TO links;
ALTER TABLE auth_states_env RENAME TO auth_states;

CREATE INDEX setting_values_owner ON setting_values (env, app, org, user_id, config);
CREATE INDEX links_expires_at ON links (expires_at);
CREATE INDEX links_org ON links (env, app, org);
CREATE INDEX auth_states_expires_at ON auth_states (expires_at);
CREATE INDEX auth_states_org ON auth_states (env, app, org);
CREATE INDEX connections_refresh_due ON connections (env, expires_at) WHERE status = 'active';
CREATE INDEX connections_refreshing_until ON connections (refreshing_until) WHERE refreshing_until IS NOT NULL;
CREATE INDEX connections_keep_alive_at ON connections (env, keep_alive_at) WHERE status = 'active' AND keep_alive_at IS NOT NULL;

ALTER TABLE api_keys ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE audit_events ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhooks ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhook_deliveries ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhook_attempts ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE install_links ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
DROP INDEX audit_events_app;
CREATE INDEX audit_events_app ON audit_events (env, app, id);
DROP INDEX webhooks_app;
CREATE INDEX webhooks_app ON webhooks (env, app);
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (env, state, next_attempt_at);
DROP INDEX install_links_app;
CREATE INDEX install_links_app ON install_links (env, app, org, created_at);

-- +goose Down
-- Only dev's rows survive: a schema without environments has room for one.
DELETE FROM install_links WHERE env <> 'dev';
DELETE FROM webhook_attempts WHERE env <> 'dev';
DELETE FROM webhook_deliveries WHERE env <> 'dev';
DELETE FROM webhooks WHERE env <> 'dev';
DELETE FROM audit_events WHERE env <> 'dev';
DELETE FROM api_keys WHERE env <> 'dev';
DROP INDEX install_links_app;
CREATE INDEX install_links_app ON install_links (app, org, created_at);
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
DROP INDEX webhooks_app;
CREATE INDEX webhooks_app ON webhooks (app);
DROP INDEX audit_events_app;
CREATE INDEX audit_events_app ON audit_events (app, id);
ALTER TABLE install_links DROP COLUMN env;
ALTER TABLE webhook_attempts DROP COLUMN env;
ALTER TABLE webhook_deliveries DROP COLUMN env;
ALTER TABLE webhooks DROP COLUMN env;
ALTER TABLE audit_events DROP COLUMN env;
ALTER TABLE api_keys DROP COLUMN env;

CREATE TABLE apps_flat (
    name       TEXT PRIMARY KEY,
    document   TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO apps_flat SELECT name, document, revision, created_at, updated_at FROM apps WHERE env = 'dev';
CREATE TABLE installations_flat (
    app        TEXT NOT NULL REFERENCES apps_flat (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app, org)
);
INSERT INTO installations_flat SELECT app, org, updated_at FROM installations WHERE env = 'dev';
CREATE TABLE connections_flat (
    app              TEXT NOT NULL REFERENCES apps_flat (name) ON DELETE CASCADE,
    org              TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    config           TEXT NOT NULL,
    status           TEXT NOT NULL,
    token_type       TEXT NOT NULL DEFAULT '',
    scope            TEXT NOT NULL DEFAULT '',
    expires_at       TIMESTAMP,
    version          INTEGER NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    refreshed_at     TIMESTAMP,
    last_error       TEXT NOT NULL DEFAULT '',
    failures         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP,
    lease_until      TIMESTAMP,
    refreshing_until TIMESTAMP,
    keep_alive_at    TIMESTAMP,
    worker_lease     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (app, org, user_id, config)
);
INSERT INTO connections_flat SELECT app, org, user_id, config, status, token_type, scope, expires_at, version,
    created_at, updated_at, refreshed_at, last_error, failures, next_attempt_at, lease_until, refreshing_until, keep_alive_at, worker_lease
    FROM connections WHERE env = 'dev';
CREATE TABLE setting_values_flat (
    app        TEXT NOT NULL REFERENCES apps_flat (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    config     TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app, org, user_id, name)
);
INSERT INTO setting_values_flat SELECT app, org, user_id, name, value, config, updated_at FROM setting_values WHERE env = 'dev';
CREATE TABLE links_flat (
    token_hash TEXT PRIMARY KEY,
    app        TEXT NOT NULL REFERENCES apps_flat (name) ON DELETE CASCADE,
    org        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    config     TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    popup      BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
INSERT INTO links_flat SELECT token_hash, app, org, user_id, config, return_to, popup, expires_at, used_at FROM links WHERE env = 'dev';
CREATE TABLE auth_states_flat (
    state_hash    TEXT PRIMARY KEY,
    app           TEXT NOT NULL REFERENCES apps_flat (name) ON DELETE CASCADE,
    org           TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    config        TEXT NOT NULL,
    return_to     TEXT NOT NULL DEFAULT '',
    popup         BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uri  TEXT NOT NULL DEFAULT '',
    code_verifier TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMP NOT NULL,
    browser_hash  TEXT NOT NULL DEFAULT ''
);
INSERT INTO auth_states_flat SELECT state_hash, app, org, user_id, config, return_to, popup, redirect_uri,
    code_verifier, expires_at, browser_hash FROM auth_states WHERE env = 'dev';
DROP TABLE auth_states;
DROP TABLE links;
DROP TABLE setting_values;
DROP TABLE connections;
DROP TABLE installations;
DROP TABLE apps;
ALTER TABLE apps_flat RENAME TO apps;
ALTER TABLE installations_flat RENAME TO installations;
ALTER TABLE connections_flat RENAME TO connections;
ALTER TABLE setting_values_flat RENAME TO setting_values;
ALTER TABLE links_flat RENAME TO links;
ALTER TABLE auth_states_flat RENAME TO auth_states;
CREATE INDEX setting_values_owner ON setting_values (app, org, user_id, config);
CREATE INDEX links_expires_at ON links (expires_at);
CREATE INDEX links_org ON links (app, org);
CREATE INDEX auth_states_expires_at ON auth_states (expires_at);
CREATE INDEX auth_states_org ON auth_states (app, org);
CREATE INDEX connections_refresh_due ON connections (expires_at) WHERE status = 'active';
CREATE INDEX connections_refreshing_until ON connections (refreshing_until) WHERE refreshing_until IS NOT NULL;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active' AND keep_alive_at IS NOT NULL;
DROP TABLE environments;
