-- Orders with their lines, and the tables that make messaging safe: the transactional
-- outbox (events written in the same transaction as the change they describe), the
-- inbox (message ids a consumer has processed) and stored idempotent responses.
--
-- As in 0001: STRICT tables, ids as hyphenated UUID text, timestamps as RFC 3339 text
-- in UTC. The adapter writes timestamps with a fixed number of fractional digits, so
-- that they also sort correctly as text.

-- `version` is bumped by every update, for optimistic concurrency, as for users.
CREATE TABLE orders (
    id                TEXT    NOT NULL PRIMARY KEY CONSTRAINT orders_id_uuid CHECK (length(id) = 36),
    customer_id       TEXT    NOT NULL REFERENCES users (id),
    status            TEXT    NOT NULL CONSTRAINT orders_status_known
                              CHECK (status IN ('pending', 'confirmed', 'rejected')),
    currency          TEXT    NOT NULL CONSTRAINT orders_currency_iso
                              CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    total_minor       INTEGER NOT NULL CONSTRAINT orders_total_not_negative CHECK (total_minor >= 0),
    rejection_reason  TEXT,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    version           INTEGER NOT NULL DEFAULT 1 CONSTRAINT orders_version_positive CHECK (version >= 1)
) STRICT;

-- A customer's orders, newest first.
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC);

-- Lines keep the price and currency of the product when the order was placed.
CREATE TABLE order_lines (
    order_id          TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no           INTEGER NOT NULL CONSTRAINT order_lines_line_no_positive CHECK (line_no >= 1),
    sku               TEXT    NOT NULL REFERENCES products (sku),
    quantity          INTEGER NOT NULL CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0),
    unit_price_minor  INTEGER NOT NULL CONSTRAINT order_lines_price_not_negative CHECK (unit_price_minor >= 0),
    currency          TEXT    NOT NULL CONSTRAINT order_lines_currency_iso
                              CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    PRIMARY KEY (order_id, line_no)
) STRICT;

-- Messages to publish, written in the transaction of the change they announce. A relay
-- claims unpublished rows (leasing them until `locked_until`), publishes them and sets
-- `published_at`; a failed attempt increments `attempts` and records `last_error`.
-- `payload` is JSON text.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY CONSTRAINT outbox_id_uuid CHECK (length(id) = 36),
    routing_key     TEXT    NOT NULL CONSTRAINT outbox_routing_key_not_blank CHECK (trim(routing_key) <> ''),
    message_type    TEXT    NOT NULL CONSTRAINT outbox_message_type_not_blank CHECK (trim(message_type) <> ''),
    schema_version  INTEGER NOT NULL DEFAULT 1 CONSTRAINT outbox_schema_version_positive CHECK (schema_version >= 1),
    payload         TEXT    NOT NULL CONSTRAINT outbox_payload_json CHECK (json_valid(payload)),
    correlation_id  TEXT    NOT NULL CONSTRAINT outbox_correlation_id_uuid CHECK (length(correlation_id) = 36),
    causation_id    TEXT    CONSTRAINT outbox_causation_id_uuid CHECK (causation_id IS NULL OR length(causation_id) = 36),
    traceparent     TEXT,
    occurred_at     TEXT    NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    published_at    TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0 CONSTRAINT outbox_attempts_not_negative CHECK (attempts >= 0),
    last_error      TEXT,
    locked_until    TEXT
) STRICT;

-- What the relay scans: unpublished rows, oldest first. Published rows stay out of it.
CREATE INDEX outbox_unpublished_idx ON outbox (created_at, id) WHERE published_at IS NULL;

-- Message ids each consumer has processed, recorded in the transaction of its side effects.
CREATE TABLE inbox (
    consumer      TEXT NOT NULL CONSTRAINT inbox_consumer_not_blank CHECK (trim(consumer) <> ''),
    message_id    TEXT NOT NULL CONSTRAINT inbox_message_id_uuid CHECK (length(message_id) = 36),
    processed_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (consumer, message_id)
) STRICT;

-- The first response to a request carrying an `Idempotency-Key`, replayed for retries.
-- `response` is JSON text.
CREATE TABLE idempotency_keys (
    key           TEXT    NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    scope         TEXT    NOT NULL CONSTRAINT idempotency_keys_scope_not_blank CHECK (trim(scope) <> ''),
    request_hash  TEXT    NOT NULL,
    response      TEXT    NOT NULL CONSTRAINT idempotency_keys_response_json CHECK (json_valid(response)),
    status_code   INTEGER NOT NULL CONSTRAINT idempotency_keys_status_code_http CHECK (status_code BETWEEN 100 AND 599),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (scope, key)
) STRICT;
