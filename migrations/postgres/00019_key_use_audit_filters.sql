-- Issue 17: when each API key last authenticated a request, to within a
-- minute (the server writes a use only when the one stored is older), and
-- the indexes of the audit log's filters by actor and by org, newest first.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;
CREATE INDEX audit_events_actor ON audit_events (env, actor, id);
CREATE INDEX audit_events_org ON audit_events (env, org, id);

-- +goose Down
DROP INDEX audit_events_org;
DROP INDEX audit_events_actor;
ALTER TABLE api_keys DROP COLUMN last_used_at;
