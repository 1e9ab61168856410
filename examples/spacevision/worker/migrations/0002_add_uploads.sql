-- Migration number: 0002 	 2026-10-15T00:00:00.000Z
-- Images attached to observations: objects live in R2, this table records ownership and size.

CREATE TABLE uploads (
    key          TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX uploads_user_id ON uploads (user_id);

ALTER TABLE observations ADD COLUMN image_key TEXT;
