-- Admin accounts of the builder UI, their browser sessions, and secrets the
-- server keeps for itself (the install links' signing key). Passwords are
-- bcrypt hashes, session ids SHA-256 hashes, server secrets sealed.

-- +goose Up
CREATE TABLE admins (
    email         TEXT PRIMARY KEY,
    password_hash BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE admin_sessions (
    id_hash    TEXT PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES admins (email) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE admin_sessions;
DROP TABLE admins;
