//! The cached user repository: the repository contract through the decorator, and what
//! the cache adds (hits, invalidation, expiry, bypass when the cache is down).

mod behaviour;
mod contract;
mod support;
