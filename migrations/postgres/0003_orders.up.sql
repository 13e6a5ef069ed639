-- Orders with their lines, and the tables that make messaging safe: the transactional
-- outbox (events written in the same transaction as the change they describe), the
-- inbox (message ids a consumer has processed) and stored idempotent responses.

-- `version` is bumped by every update, for optimistic concurrency, as for users.
CREATE TABLE orders (
    id                uuid        PRIMARY KEY,
    customer_id       uuid        NOT NULL REFERENCES users (id),
    status            text        NOT NULL CONSTRAINT orders_status_known
                                  CHECK (status IN ('pending', 'confirmed', 'rejected')),
    currency          char(3)     NOT NULL CONSTRAINT orders_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
    total_minor       bigint      NOT NULL CONSTRAINT orders_total_not_negative CHECK (total_minor >= 0),
    rejection_reason  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer     NOT NULL DEFAULT 1 CONSTRAINT orders_version_positive CHECK (version >= 1)
);

-- A customer's orders, newest first.
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC);

-- Lines keep the price and currency of the product when the order was placed.
CREATE TABLE order_lines (
    order_id          uuid    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no           integer NOT NULL CONSTRAINT order_lines_line_no_positive CHECK (line_no >= 1),
    sku               text    NOT NULL REFERENCES products (sku),
    quantity          integer NOT NULL CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0),
    unit_price_minor  bigint  NOT NULL CONSTRAINT order_lines_price_not_negative CHECK (unit_price_minor >= 0),
    currency          char(3) NOT NULL CONSTRAINT order_lines_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (order_id, line_no)
);

-- Messages to publish, written in the transaction of the change they announce. A relay
-- claims unpublished rows (leasing them until `locked_until`), publishes them and sets
-- `published_at`; a failed attempt increments `attempts` and records `last_error`.
CREATE TABLE outbox (
    id              uuid        PRIMARY KEY,
    routing_key     text        NOT NULL CONSTRAINT outbox_routing_key_not_blank CHECK (btrim(routing_key) <> ''),
    message_type    text        NOT NULL CONSTRAINT outbox_message_type_not_blank CHECK (btrim(message_type) <> ''),
    schema_version  integer     NOT NULL DEFAULT 1 CONSTRAINT outbox_schema_version_positive CHECK (schema_version >= 1),
    payload         jsonb       NOT NULL,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    traceparent     text,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer     NOT NULL DEFAULT 0 CONSTRAINT outbox_attempts_not_negative CHECK (attempts >= 0),
    last_error      text,
    locked_until    timestamptz
);

-- What the relay scans: unpublished rows, oldest first. Published rows stay out of it.
CREATE INDEX outbox_unpublished_idx ON outbox (created_at, id) WHERE published_at IS NULL;

-- Message ids each consumer has processed, recorded in the transaction of its side effects.
CREATE TABLE inbox (
    consumer      text        NOT NULL CONSTRAINT inbox_consumer_not_blank CHECK (btrim(consumer) <> ''),
    message_id    uuid        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- The first response to a request carrying an `Idempotency-Key`, replayed for retries.
CREATE TABLE idempotency_keys (
    key           text        NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    scope         text        NOT NULL CONSTRAINT idempotency_keys_scope_not_blank CHECK (btrim(scope) <> ''),
    request_hash  text        NOT NULL,
    response      jsonb       NOT NULL,
    status_code   integer     NOT NULL CONSTRAINT idempotency_keys_status_code_http CHECK (status_code BETWEEN 100 AND 599),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
