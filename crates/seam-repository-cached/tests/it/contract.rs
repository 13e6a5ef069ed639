//! The repository conformance suite through the decorator: caching must not change the
//! contract, whether the cache works or is down.

/// Over the memory repository with a working in-memory cache.
mod working_cache {
    use std::sync::Arc;
    use std::time::Duration;

    use seam_cache::InMemoryCache;
    use seam_repository::RepositoryPorts;

    use crate::support;

    async fn setup() -> (RepositoryPorts, ()) {
        let cache = Arc::new(InMemoryCache::new());
        (support::cached_ports(cache, Duration::from_secs(60)), ())
    }

    async fn teardown((): ()) {}

    seam_repository::conformance_tests!(setup, teardown);
}

/// Over the memory repository with a cache whose every call fails.
mod broken_cache {
    use std::sync::Arc;
    use std::time::Duration;

    use seam_repository::RepositoryPorts;

    use crate::support::{self, DownCache};

    async fn setup() -> (RepositoryPorts, ()) {
        (
            support::cached_ports(Arc::new(DownCache), Duration::from_secs(60)),
            (),
        )
    }

    async fn teardown((): ()) {}

    seam_repository::conformance_tests!(setup, teardown);
}
