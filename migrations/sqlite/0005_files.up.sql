-- Uploaded files and their attachment to orders. The bytes live in object storage
-- (the storage port); a row here records where (`key`), how big, what type and which
-- SHA-256 they had when uploaded, and who owns them.
--
-- As in 0001: STRICT tables, ids as hyphenated UUID text, timestamps as RFC 3339 text
-- in UTC with a fixed number of fractional digits, booleans as 0/1.

-- `key` is the object's key within its owner's part of the storage, unique overall.
-- `checksum_sha256` is 64 lower-case hex digits. A user with files cannot be deleted
-- (no cascade): their objects must be removed first.
CREATE TABLE files (
    id               TEXT    NOT NULL PRIMARY KEY CONSTRAINT files_id_uuid CHECK (length(id) = 36),
    owner_id         TEXT    NOT NULL REFERENCES users (id),
    key              TEXT    NOT NULL CONSTRAINT files_key_not_blank CHECK (trim(key) <> '')
                             CONSTRAINT files_key_length CHECK (length(key) <= 1024),
    size             INTEGER NOT NULL CONSTRAINT files_size_not_negative CHECK (size >= 0),
    content_type     TEXT    NOT NULL CONSTRAINT files_content_type_not_blank CHECK (trim(content_type) <> ''),
    checksum_sha256  TEXT    NOT NULL CONSTRAINT files_checksum_sha256_hex
                             CHECK (length(checksum_sha256) = 64 AND checksum_sha256 NOT GLOB '*[^0-9a-f]*'),
    public           INTEGER NOT NULL DEFAULT 0 CONSTRAINT files_public_bool CHECK (public IN (0, 1)),
    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    CONSTRAINT files_key_key UNIQUE (key)
) STRICT;

-- An owner's files, newest first.
CREATE INDEX files_owner_created_idx ON files (owner_id, created_at DESC, id DESC);

-- Files attached to an order, with what they are to it (`invoice`, `receipt`, ...).
-- Deleting the file or the order removes the attachment.
CREATE TABLE order_attachments (
    order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    file_id     TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CONSTRAINT order_attachments_role_not_blank CHECK (trim(role) <> '')
                     CONSTRAINT order_attachments_role_length CHECK (length(role) <= 64),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (order_id, file_id)
) STRICT;

-- The orders a file is attached to (the primary key serves the other direction).
CREATE INDEX order_attachments_file_idx ON order_attachments (file_id);
