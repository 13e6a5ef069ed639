//! The cache port's own adapters against the conformance suite.

use seam_cache::conformance::{self, Expiry};
use seam_cache::{BypassOnError, InMemoryCache};
use seam_core::ManualClock;

#[tokio::test]
async fn in_memory_cache_passes_the_conformance_suite() {
    let clock = ManualClock::new();
    let cache = InMemoryCache::with_clock(clock.shared()).with_prefix("a:");
    let isolated = cache.with_prefix("b:");
    conformance::run_all(&cache, &isolated, &Expiry::Manual(clock)).await;
    assert!(cache.is_empty(), "the suite cleans up after itself");
}

#[tokio::test]
async fn bounded_in_memory_cache_passes_the_conformance_suite() {
    let clock = ManualClock::new();
    let cache = InMemoryCache::bounded(clock.shared(), 16);
    let isolated = cache.with_prefix("other:");
    conformance::run_all(&cache, &isolated, &Expiry::Manual(clock)).await;
}

#[tokio::test]
async fn bypass_decorator_keeps_the_contract() {
    let clock = ManualClock::new();
    let memory = InMemoryCache::with_clock(clock.shared());
    let cache = BypassOnError::new(memory.clone());
    let isolated = BypassOnError::new(memory.with_prefix("other:"));
    conformance::run_all(&cache, &isolated, &Expiry::Manual(clock)).await;
}
