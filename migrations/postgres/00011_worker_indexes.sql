-- The refresh worker rewrites a connection twice per refresh (its claim
-- takes the lease, its answer the new expiry) and each value it owns once;
-- every index entry those rewrites add is work on the database's hot path.
-- connections_keep_alive_at listed every active connection, with a NULL
-- for those of configs without keep_alive_interval, and so gained an entry
-- at each of their rewrites: now it lists only connections kept alive.

-- +goose Up
DROP INDEX connections_keep_alive_at;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active' AND keep_alive_at IS NOT NULL;

-- +goose Down
DROP INDEX connections_keep_alive_at;
CREATE INDEX connections_keep_alive_at ON connections (keep_alive_at) WHERE status = 'active';
