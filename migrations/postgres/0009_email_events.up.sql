-- E-mail delivery events and the suppression list.
--
-- `email_suppressions`: addresses that must not be mailed (a hard bounce, a spam report,
-- a drop for either), keyed by the whole address in lower case (lowered by the adapter
-- with Rust's `str::to_lowercase`, not by the database). The first entry is kept;
-- lifting an address deletes its row.
CREATE TABLE email_suppressions (
    address     text        PRIMARY KEY,
    reason      text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX email_suppressions_created_idx ON email_suppressions (created_at DESC);

-- `email_delivery_events`: every provider delivery event, once (by the provider's event
-- id, as providers deliver events more than once). `EmailService::status` answers from
-- the events of a message. `detail` is the reason of a bounce or drop, or the provider's
-- name of an event the port does not model.
CREATE TABLE email_delivery_events (
    provider_event_id  text        PRIMARY KEY,
    message_id         text,
    recipient          text        NOT NULL,
    kind               text        NOT NULL,
    detail             text,
    occurred_at        timestamptz NOT NULL
);

CREATE INDEX email_delivery_events_message_idx
    ON email_delivery_events (message_id, occurred_at DESC)
    WHERE message_id IS NOT NULL;
