-- Uploaded files and their attachment to orders. The bytes live in object storage
-- (the storage port); a row here records where (`key`), how big, what type and which
-- SHA-256 they had when uploaded, and who owns them.

-- `key` is the object's key within its owner's part of the storage, unique overall.
-- `checksum_sha256` is 64 lower-case hex digits. A user with files cannot be deleted
-- (no cascade): their objects must be removed first.
CREATE TABLE files (
    id               uuid        PRIMARY KEY,
    owner_id         uuid        NOT NULL REFERENCES users (id),
    key              text        NOT NULL CONSTRAINT files_key_not_blank CHECK (btrim(key) <> '')
                                 CONSTRAINT files_key_length CHECK (length(key) <= 1024),
    size             bigint      NOT NULL CONSTRAINT files_size_not_negative CHECK (size >= 0),
    content_type     text        NOT NULL CONSTRAINT files_content_type_not_blank CHECK (btrim(content_type) <> ''),
    checksum_sha256  text        NOT NULL CONSTRAINT files_checksum_sha256_hex CHECK (checksum_sha256 ~ '^[0-9a-f]{64}$'),
    public           boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT files_key_key UNIQUE (key)
);

-- An owner's files, newest first.
CREATE INDEX files_owner_created_idx ON files (owner_id, created_at DESC, id DESC);

-- Files attached to an order, with what they are to it (`invoice`, `receipt`, ...).
-- Deleting the file or the order removes the attachment.
CREATE TABLE order_attachments (
    order_id    uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    file_id     uuid        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    role        text        NOT NULL CONSTRAINT order_attachments_role_not_blank CHECK (btrim(role) <> '')
                            CONSTRAINT order_attachments_role_length CHECK (length(role) <= 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, file_id)
);

-- The orders a file is attached to (the primary key serves the other direction).
CREATE INDEX order_attachments_file_idx ON order_attachments (file_id);
