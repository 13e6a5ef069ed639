//! The alerts port: trigger, acknowledge and resolve with a dedup key; log and in-memory adapters and the conformance suite.
