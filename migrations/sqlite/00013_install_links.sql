-- Install links, stored so that they can be listed and revoked: only the
-- SHA-256 of a link's token is kept, never the token. A link is used up by
-- the save that installs the app through it.

-- +goose Up
CREATE TABLE install_links (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    app        TEXT NOT NULL,
    org        TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX install_links_app ON install_links (app, org, created_at);

-- +goose Down
DROP TABLE install_links;
