-- Nothing to do on SQLite. On PostgreSQL, 00008 adds the triggers that
-- notify every replica's connection cache of a changed connection. SQLite
-- is one process: the store forgets its own writes, and there is no other
-- replica to tell. This file keeps the numbering of both dialects the same.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
