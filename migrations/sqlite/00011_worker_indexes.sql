-- connections_keep_alive_at listed every active connection, with a NULL
-- for those of configs without keep_alive_interval, and so gained an entry
-- at each of the worker's rewrites of them: now it lists only connections
-- kept alive. (On PostgreSQL, 00011 also leaves room in setting_values'
-- pages; SQLite has no such setting.)

-- +goose Up
DROP INDEX connections_keep_alive_at;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active' AND keep_alive_at IS NOT NULL;

-- +goose Down
DROP INDEX connections_keep_alive_at;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active';
