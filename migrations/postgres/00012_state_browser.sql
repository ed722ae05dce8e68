-- The hash of the nonce in a cookie of the browser that pressed Allow: the
-- callback must come from that browser (RFC 6749 §10.12). States made
-- before it have none and are refused at the callback.

-- +goose Up
ALTER TABLE auth_states ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_states DROP COLUMN browser_hash;
