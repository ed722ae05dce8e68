-- When each API key last authenticated a request (issue 17), to within a
-- minute: the server writes a use only when the one stored is older.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_used_at;
