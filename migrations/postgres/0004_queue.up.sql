-- The table queue of seam-queue-sql: one row per message per queue it was routed to.
--
-- `available_at` is when the row can next be claimed: when published, after its delay
-- when retried, and at the end of its lease while a consumer holds it, so the claim is a
-- single index range (queue, available_at <= now) whatever the state. `lease_id` names the
-- delivery holding it; settling checks it, so a delivery whose lease expired and was
-- redelivered can no longer ack. `leased_until` shows in-flight rows to operators.
-- `attempt` (retries) is the source of truth over the copy inside `envelope`.
CREATE TABLE queue_messages (
    id               uuid        PRIMARY KEY,
    queue            text        NOT NULL CONSTRAINT queue_messages_queue_not_blank CHECK (btrim(queue) <> ''),
    message_id       uuid        NOT NULL,
    message_type     text        NOT NULL,
    routing_key      text        NOT NULL,
    envelope         jsonb       NOT NULL,
    attempt          integer     NOT NULL DEFAULT 0 CONSTRAINT queue_messages_attempt_not_negative CHECK (attempt >= 0),
    deliveries       integer     NOT NULL DEFAULT 0 CONSTRAINT queue_messages_deliveries_not_negative CHECK (deliveries >= 0),
    enqueued_at      timestamptz NOT NULL,
    available_at     timestamptz NOT NULL,
    lease_id         uuid,
    leased_until     timestamptz,
    last_error       text,
    first_failed_at  timestamptz,
    last_failed_at   timestamptz
);

-- The claim: the next available row of a queue.
CREATE INDEX queue_messages_claim_idx ON queue_messages (queue, available_at);

-- Messages given up on, with why and when, until replayed or purged.
CREATE TABLE queue_dead_letters (
    id                uuid        PRIMARY KEY,
    queue             text        NOT NULL,
    message_id        uuid        NOT NULL,
    message_type      text        NOT NULL,
    routing_key       text        NOT NULL,
    envelope          jsonb       NOT NULL,
    reason            text        NOT NULL,
    attempts          integer     NOT NULL CONSTRAINT queue_dead_letters_attempts_not_negative CHECK (attempts >= 0),
    first_failed_at   timestamptz NOT NULL,
    last_failed_at    timestamptz NOT NULL,
    dead_lettered_at  timestamptz NOT NULL
);

-- `seam dlq list <queue>`: a queue's dead letters, oldest first.
CREATE INDEX queue_dead_letters_queue_idx ON queue_dead_letters (queue, dead_lettered_at, id);
