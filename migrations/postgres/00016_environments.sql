-- Environments: every app, installation, value, connection, link, state,
-- API key, webhook, delivery, attempt, install link and audit event belongs
-- to one environment (a namespace). A fresh database starts with dev and
-- prod; the rows of a database from before environments are placed in dev.
-- Sealed values keep their associated data: dev's values name no
-- environment (see latchkey.LegacyEnvironment).

-- +goose Up
CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    public_url TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO environments (name, created_at) VALUES ('dev', now()), ('prod', now());

ALTER TABLE installations DROP CONSTRAINT installations_app_fkey;
ALTER TABLE connections DROP CONSTRAINT connections_app_fkey;
ALTER TABLE setting_values DROP CONSTRAINT setting_values_app_fkey;
ALTER TABLE links DROP CONSTRAINT links_app_fkey;
ALTER TABLE auth_states DROP CONSTRAINT auth_states_app_fkey;

ALTER TABLE apps ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE installations ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE connections ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE setting_values ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE links ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE auth_states ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE api_keys ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE audit_events ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhooks ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhook_deliveries ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE webhook_attempts ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';
ALTER TABLE install_links ADD COLUMN env TEXT NOT NULL DEFAULT 'dev';

ALTER TABLE apps DROP CONSTRAINT apps_pkey, ADD PRIMARY KEY (env, name);
ALTER TABLE installations DROP CONSTRAINT installations_pkey, ADD PRIMARY KEY (env, app, org);
ALTER TABLE connections DROP CONSTRAINT connections_pkey, ADD PRIMARY KEY (env, app, org, user_id, config);
ALTER TABLE setting_values DROP CONSTRAINT setting_values_pkey, ADD PRIMARY KEY (env, app, org, user_id, name);

ALTER TABLE installations ADD FOREIGN KEY (env, app) REFERENCES apps (env, name) ON DELETE CASCADE;
ALTER TABLE connections ADD FOREIGN KEY (env, app) REFERENCES apps (env, name) ON DELETE CASCADE;
ALTER TABLE setting_values ADD FOREIGN KEY (env, app) REFERENCES apps (env, name) ON DELETE CASCADE;
ALTER TABLE links ADD FOREIGN KEY (env, app) REFERENCES apps (env, name) ON DELETE CASCADE;
ALTER TABLE auth_states ADD FOREIGN KEY (env, app) REFERENCES apps (env, name) ON DELETE CASCADE;

DROP INDEX setting_values_owner;
CREATE INDEX setting_values_owner ON setting_values (env, app, org, user_id, config);
DROP INDEX links_org;
CREATE INDEX links_org ON links (env, app, org);
DROP INDEX auth_states_org;
CREATE INDEX auth_states_org ON auth_states (env, app, org);
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
DELETE FROM apps WHERE env <> 'dev';
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
DROP INDEX auth_states_org;
CREATE INDEX auth_states_org ON auth_states (app, org);
DROP INDEX links_org;
CREATE INDEX links_org ON links (app, org);
DROP INDEX setting_values_owner;
CREATE INDEX setting_values_owner ON setting_values (app, org, user_id, config);

ALTER TABLE installations DROP CONSTRAINT installations_env_app_fkey;
ALTER TABLE connections DROP CONSTRAINT connections_env_app_fkey;
ALTER TABLE setting_values DROP CONSTRAINT setting_values_env_app_fkey;
ALTER TABLE links DROP CONSTRAINT links_env_app_fkey;
ALTER TABLE auth_states DROP CONSTRAINT auth_states_env_app_fkey;

ALTER TABLE apps DROP CONSTRAINT apps_pkey, ADD PRIMARY KEY (name);
ALTER TABLE installations DROP CONSTRAINT installations_pkey, ADD PRIMARY KEY (app, org);
ALTER TABLE connections DROP CONSTRAINT connections_pkey, ADD PRIMARY KEY (app, org, user_id, config);
ALTER TABLE setting_values DROP CONSTRAINT setting_values_pkey, ADD PRIMARY KEY (app, org, user_id, name);

ALTER TABLE install_links DROP COLUMN env;
ALTER TABLE webhook_attempts DROP COLUMN env;
ALTER TABLE webhook_deliveries DROP COLUMN env;
ALTER TABLE webhooks DROP COLUMN env;
ALTER TABLE audit_events DROP COLUMN env;
ALTER TABLE api_keys DROP COLUMN env;
ALTER TABLE auth_states DROP COLUMN env;
ALTER TABLE links DROP COLUMN env;
ALTER TABLE setting_values DROP COLUMN env;
ALTER TABLE connections DROP COLUMN env;
ALTER TABLE installations DROP COLUMN env;
ALTER TABLE apps DROP COLUMN env;

ALTER TABLE installations ADD CONSTRAINT installations_app_fkey FOREIGN KEY (app) REFERENCES apps (name) ON DELETE CASCADE;
ALTER TABLE connections ADD CONSTRAINT connections_app_fkey FOREIGN KEY (app) REFERENCES apps (name) ON DELETE CASCADE;
ALTER TABLE setting_values ADD CONSTRAINT setting_values_app_fkey FOREIGN KEY (app) REFERENCES apps (name) ON DELETE CASCADE;
ALTER TABLE links ADD CONSTRAINT links_app_fkey FOREIGN KEY (app) REFERENCES apps (name) ON DELETE CASCADE;
ALTER TABLE auth_states ADD CONSTRAINT auth_states_app_fkey FOREIGN KEY (app) REFERENCES apps (name) ON DELETE CASCADE;
DROP TABLE environments;
