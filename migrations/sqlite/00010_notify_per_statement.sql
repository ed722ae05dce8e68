-- Nothing to do on SQLite. On PostgreSQL, 00010 replaces 00008's per-row
-- cache notifications with per-statement ones. This file keeps the
-- numbering of both dialects the same.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
