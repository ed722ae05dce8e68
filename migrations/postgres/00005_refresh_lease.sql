-- A refresh worker's claim on a connection, so that replicas split the
-- connections due for a refresh instead of all taking the same ones.

-- +goose Up
ALTER TABLE connections ADD COLUMN lease_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE connections DROP COLUMN lease_until;
