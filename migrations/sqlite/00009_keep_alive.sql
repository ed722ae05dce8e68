-- When the refresh worker refreshes a connection whose access token is still
-- valid, so that a refresh token that expires when unused stays alive
-- (the config's keep_alive_interval).

-- +goose Up
ALTER TABLE connections ADD COLUMN keep_alive_at TIMESTAMP;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE keep_alive_at IS NOT NULL;

-- +goose Down
DROP INDEX connections_keep_alive_at;
ALTER TABLE connections DROP COLUMN keep_alive_at;
