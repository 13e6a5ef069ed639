-- Payments beside orders.
--
-- The payment's state lives here, not in `orders.status`: the order's life cycle is about
-- stock, the payment's about money, moved forward-only by webhook events that arrive out
-- of order. `status` is `pending` until the provider answered, then a payment status name.
-- `version` is bumped by every update, for optimistic concurrency. Timestamps are
-- fixed-width RFC 3339 UTC text (they compare as text).
CREATE TABLE order_payments (
    order_id               TEXT    NOT NULL PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    provider               TEXT    NOT NULL CONSTRAINT order_payments_provider_not_blank CHECK (trim(provider) <> ''),
    payment_id             TEXT    CONSTRAINT order_payments_payment_id_key UNIQUE,
    amount_minor           INTEGER NOT NULL CONSTRAINT order_payments_amount_not_negative CHECK (amount_minor >= 0),
    currency               TEXT    NOT NULL CONSTRAINT order_payments_currency_iso
                                   CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    status                 TEXT    NOT NULL CONSTRAINT order_payments_status_known
                                   CHECK (status IN ('pending', 'requires_confirmation', 'requires_action',
                                                     'processing', 'requires_capture', 'succeeded', 'failed',
                                                     'canceled', 'partially_refunded', 'refunded', 'disputed')),
    amount_refunded_minor  INTEGER NOT NULL DEFAULT 0
                                   CONSTRAINT order_payments_refunded_in_range
                                   CHECK (amount_refunded_minor >= 0 AND amount_refunded_minor <= amount_minor),
    failure_code           TEXT,
    attempts               INTEGER NOT NULL DEFAULT 1 CONSTRAINT order_payments_attempts_not_negative CHECK (attempts >= 0),
    version                INTEGER NOT NULL DEFAULT 1 CONSTRAINT order_payments_version_positive CHECK (version >= 1),
    updated_at             TEXT    NOT NULL
) STRICT;

-- Refunds of an order's payment, oldest first.
CREATE TABLE payment_refunds (
    refund_id     TEXT    NOT NULL PRIMARY KEY,
    order_id      TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount_minor  INTEGER NOT NULL CONSTRAINT payment_refunds_amount_positive CHECK (amount_minor > 0),
    status        TEXT    NOT NULL CONSTRAINT payment_refunds_status_not_blank CHECK (trim(status) <> ''),
    created_at    TEXT    NOT NULL
) STRICT;

CREATE INDEX payment_refunds_order_idx ON payment_refunds (order_id, created_at, refund_id);
