-- External identities: which account at which identity provider (an OpenID Connect
-- issuer and its `sub`) signs in as which user. One account links to one user; a user
-- may have several accounts. Deleting the user removes its links.
--
-- As in 0001: STRICT tables, ids as hyphenated UUID text, timestamps as RFC 3339 text
-- in UTC with a fixed number of fractional digits.
CREATE TABLE identities (
    provider    TEXT NOT NULL CONSTRAINT identities_provider_not_blank CHECK (trim(provider) <> '')
                     CONSTRAINT identities_provider_length CHECK (length(provider) <= 512),
    subject     TEXT NOT NULL CONSTRAINT identities_subject_not_blank CHECK (trim(subject) <> '')
                     CONSTRAINT identities_subject_length CHECK (length(subject) <= 255),
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (provider, subject)
) STRICT;

-- A user's identities, oldest first.
CREATE INDEX identities_user_idx ON identities (user_id, created_at);
