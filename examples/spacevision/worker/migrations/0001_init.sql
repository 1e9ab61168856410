-- Migration number: 0001 	 2026-09-01T00:00:00.000Z
-- Users and their observations.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    phone       TEXT,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target      TEXT    NOT NULL,
    observed_at TEXT    NOT NULL,
    seeing      INTEGER NOT NULL CHECK (seeing BETWEEN 1 AND 5),
    notes       TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX observations_user_id ON observations (user_id);
CREATE INDEX observations_target ON observations (target);
