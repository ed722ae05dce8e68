-- Flow traces: each authorization, refresh, declared API call and proxied
-- call of a connection, as the steps Latchkey sent and the answers it got.
-- Secrets are masked before a trace is written, and the steps are sealed
-- all the same (answers hold the provider's data). A connection keeps its
-- newest 50; seq orders them. An app's traces are listed too (its failed
-- authorizations belong to users who never connected).

-- +goose Up
CREATE TABLE traces (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    env         TEXT NOT NULL,
    app         TEXT NOT NULL,
    org         TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    config      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    started_at  TIMESTAMP NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    ok          BOOLEAN NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    status      INTEGER NOT NULL DEFAULT 0,
    step_count  INTEGER NOT NULL,
    steps       TEXT NOT NULL
);
CREATE INDEX traces_connection ON traces (env, app, org, user_id, config, seq);
CREATE INDEX traces_app ON traces (env, app, seq);

-- +goose Down
DROP TABLE traces;
