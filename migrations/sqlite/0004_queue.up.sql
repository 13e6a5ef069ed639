-- The table queue of seam-queue-sql: one row per message per queue it was routed to.
--
-- `available_at` is when the row can next be claimed: when published, after its delay
-- when retried, and at the end of its lease while a consumer holds it, so the claim is a
-- single index range (queue, available_at <= now) whatever the state. `lease_id` names the
-- delivery holding it; settling checks it, so a delivery whose lease expired and was
-- redelivered can no longer ack. `leased_until` shows in-flight rows to operators.
-- `attempt` (retries) is the source of truth over the copy inside `envelope`.
--
-- Ids are hyphenated UUID text. Timestamps are RFC 3339 UTC text written by the adapter
-- with a fixed width (`2026-01-02T03:04:05.123456+00:00`), so they compare as text.
CREATE TABLE queue_messages (
    id               TEXT    NOT NULL PRIMARY KEY CONSTRAINT queue_messages_id_uuid CHECK (length(id) = 36),
    queue            TEXT    NOT NULL CONSTRAINT queue_messages_queue_not_blank CHECK (trim(queue) <> ''),
    message_id       TEXT    NOT NULL CONSTRAINT queue_messages_message_id_uuid CHECK (length(message_id) = 36),
    message_type     TEXT    NOT NULL,
    routing_key      TEXT    NOT NULL,
    envelope         TEXT    NOT NULL CONSTRAINT queue_messages_envelope_json CHECK (json_valid(envelope)),
    attempt          INTEGER NOT NULL DEFAULT 0 CONSTRAINT queue_messages_attempt_not_negative CHECK (attempt >= 0),
    deliveries       INTEGER NOT NULL DEFAULT 0 CONSTRAINT queue_messages_deliveries_not_negative CHECK (deliveries >= 0),
    enqueued_at      TEXT    NOT NULL,
    available_at     TEXT    NOT NULL,
    lease_id         TEXT,
    leased_until     TEXT,
    last_error       TEXT,
    first_failed_at  TEXT,
    last_failed_at   TEXT
) STRICT;

-- The claim: the next available row of a queue.
CREATE INDEX queue_messages_claim_idx ON queue_messages (queue, available_at);

-- Messages given up on, with why and when, until replayed or purged.
CREATE TABLE queue_dead_letters (
    id                TEXT    NOT NULL PRIMARY KEY CONSTRAINT queue_dead_letters_id_uuid CHECK (length(id) = 36),
    queue             TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    message_type      TEXT    NOT NULL,
    routing_key       TEXT    NOT NULL,
    envelope          TEXT    NOT NULL CONSTRAINT queue_dead_letters_envelope_json CHECK (json_valid(envelope)),
    reason            TEXT    NOT NULL,
    attempts          INTEGER NOT NULL CONSTRAINT queue_dead_letters_attempts_not_negative CHECK (attempts >= 0),
    first_failed_at   TEXT    NOT NULL,
    last_failed_at    TEXT    NOT NULL,
    dead_lettered_at  TEXT    NOT NULL
) STRICT;

-- `seam dlq list <queue>`: a queue's dead letters, oldest first.
CREATE INDEX queue_dead_letters_queue_idx ON queue_dead_letters (queue, dead_lettered_at, id);
