//! The payments port: payments and refunds with required idempotency keys, typed statuses, an in-memory adapter and the conformance suite.
