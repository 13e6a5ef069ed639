//! Integration tests of seam-resilience: one binary, one module per policy.

mod breaker;
mod breaker_model;
mod bulkhead;
mod common;
mod fallback;
mod layer;
mod pipeline;
mod rate_limit;
mod retry;
mod timeout;
