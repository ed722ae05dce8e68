-- The audit log: who did what, when; never a value.

-- +goose Up
CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TIMESTAMP NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    app     TEXT NOT NULL DEFAULT '',
    org     TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    config  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_app ON audit_events (app, id);

-- +goose Down
DROP TABLE audit_events;
