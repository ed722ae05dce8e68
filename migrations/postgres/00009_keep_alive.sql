-- When the refresh worker refreshes a connection whose access token is still
-- valid, so that a refresh token that expires when unused stays alive
-- (the config's keep_alive_interval).

-- +goose Up
ALTER TABLE connections ADD COLUMN keep_alive_at TIMESTAMPTZ;
-- The worker's claims walk these in order and stop after a batch: only
-- active connections, so that dead ones never slow a claim down.
CREATE INDEX connections_refresh_due ON connections (expires_at) WHERE status = 'active';
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active';

-- +goose Down
DROP INDEX connections_keep_alive_at;
DROP INDEX connections_refresh_due;
ALTER TABLE connections DROP COLUMN keep_alive_at;
