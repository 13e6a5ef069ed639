-- External identities: which account at which identity provider (an OpenID Connect
-- issuer and its `sub`) signs in as which user. One account links to one user; a user
-- may have several accounts. Deleting the user removes its links.
CREATE TABLE identities (
    provider    text        NOT NULL CONSTRAINT identities_provider_not_blank CHECK (btrim(provider) <> '')
                            CONSTRAINT identities_provider_length CHECK (length(provider) <= 512),
    subject     text        NOT NULL CONSTRAINT identities_subject_not_blank CHECK (btrim(subject) <> '')
                            CONSTRAINT identities_subject_length CHECK (length(subject) <= 255),
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);

-- A user's identities, oldest first.
CREATE INDEX identities_user_idx ON identities (user_id, created_at);
