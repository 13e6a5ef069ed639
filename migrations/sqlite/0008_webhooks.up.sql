-- Inbound webhooks.
--
-- `queue_dedupe`: deduplication keys of seam-queue-sql's `publish_unique`, inserted in the
-- same transaction as the queue rows, so an event id is enqueued at most once while its
-- key lives. Expired keys are reused on conflict and swept by later publishes.
-- Timestamps are fixed-width RFC 3339 UTC text (they compare as text).
CREATE TABLE queue_dedupe (
    key         TEXT NOT NULL PRIMARY KEY,
    expires_at  TEXT NOT NULL
) STRICT;

CREATE INDEX queue_dedupe_expires_idx ON queue_dedupe (expires_at);

-- `webhook_events`: the worker's log of every webhook event it processed, one row per
-- (provider, event id), upserted at each attempt. `payload` is the verified raw body, so
-- `seam webhooks replay` can enqueue the event again.
CREATE TABLE webhook_events (
    provider       TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    status         TEXT    NOT NULL CONSTRAINT webhook_events_status_known
                           CHECK (status IN ('received', 'processed', 'failed', 'ignored', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0 CONSTRAINT webhook_events_attempts_not_negative CHECK (attempts >= 0),
    received_at    TEXT    NOT NULL,
    processed_at   TEXT,
    last_error     TEXT,
    processing_ms  INTEGER,
    payload        TEXT    NOT NULL,
    PRIMARY KEY (provider, event_id)
) STRICT;

-- `GET /v1/webhook-events?status=failed`: newest first within a status.
CREATE INDEX webhook_events_status_idx ON webhook_events (status, received_at DESC);
