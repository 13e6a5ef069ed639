-- Customers and staff. `version` is bumped by every update, for optimistic concurrency:
-- UPDATE users SET ..., version = version + 1 WHERE id = $1 AND version = $2.
CREATE TABLE users (
    id          uuid        PRIMARY KEY,
    email       text        NOT NULL CONSTRAINT users_email_not_blank CHECK (btrim(email) <> ''),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer     NOT NULL DEFAULT 1 CONSTRAINT users_version_positive CHECK (version >= 1)
);

-- E-mail addresses are unique whatever their case; look users up with lower(email) = lower($1)
-- so that this index serves the query.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
