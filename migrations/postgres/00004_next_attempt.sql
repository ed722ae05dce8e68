-- When a refresh that failed for a passing reason may be tried again.

-- +goose Up
ALTER TABLE connections ADD COLUMN next_attempt_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE connections DROP COLUMN next_attempt_at;
