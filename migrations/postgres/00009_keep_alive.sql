-- When the refresh worker refreshes a connection whose access token is still
-- valid, so that a refresh token that expires when unused stays alive
-- (the config's keep_alive_interval).

-- +goose Up
ALTER TABLE connections ADD COLUMN keep_alive_at TIMESTAMPTZ;
-- The worker's claims walk these in order and stop after a batch: only
-- active connections, so that dead ones never slow a claim down.
CREATE INDEX connections_refresh_due ON connections (expires_at) WHERE status = 'active';
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active';
-- Refreshes in flight, where a claim looks for lost ones: a small index.
CREATE INDEX connections_refreshing_until ON connections (refreshing_until) WHERE refreshing_until IS NOT NULL;
-- Room in each page for a row's next version: a refresh rewrites its
-- values (never an indexed column), so the update stays on the page (HOT)
-- and no index is touched.
ALTER TABLE setting_values SET (fillfactor = 70);
-- connections_refresh_due replaces the index of every expiry, which no query walks any more.
DROP INDEX connections_expires_at;
-- Whether the refresh lease was taken by the worker's batch claim, whose
-- holder may have died before asking the provider: a lost lease of the
-- worker is refreshed again, not taken for a lost answer.
ALTER TABLE connections ADD COLUMN worker_lease BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE setting_values RESET (fillfactor);
DROP INDEX connections_keep_alive_at;
DROP INDEX connections_refresh_due;
DROP INDEX connections_refreshing_until;
CREATE INDEX connections_expires_at ON connections (expires_at) WHERE expires_at IS NOT NULL;
ALTER TABLE connections DROP COLUMN worker_lease;
ALTER TABLE connections DROP COLUMN keep_alive_at;
