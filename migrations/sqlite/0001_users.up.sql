-- Customers and staff. `version` is bumped by every update, for optimistic concurrency:
-- UPDATE users SET ..., version = version + 1 WHERE id = ?1 AND version = ?2.
--
-- STRICT tables: SQLite checks column types instead of coercing. Ids are hyphenated
-- UUID text (bind `Uuid::hyphenated()` / `to_string()`, not `Uuid`, which sqlx stores
-- as a 16-byte blob); timestamps are RFC 3339 text in UTC, as sqlx encodes DateTime<Utc>.
CREATE TABLE users (
    id          TEXT    NOT NULL PRIMARY KEY CONSTRAINT users_id_uuid CHECK (length(id) = 36),
    email       TEXT    NOT NULL CONSTRAINT users_email_not_blank CHECK (trim(email) <> ''),
    name        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    version     INTEGER NOT NULL DEFAULT 1 CONSTRAINT users_version_positive CHECK (version >= 1)
) STRICT;

-- E-mail addresses are unique whatever their case (SQLite's lower() folds ASCII only);
-- look users up with lower(email) = lower(?1) so that this index serves the query.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
