//! The Redis adapter of the [cache port](seam_cache).
//!
//! [`RedisCache`] stores each entry as a Redis string under `<prefix><key>`
//! (`SET key value PX ttl`, `GET`, `DEL`) through a
//! [`ConnectionManager`](redis::aio::ConnectionManager) that reconnects by itself.
//! Every call has a deadline; a server that cannot be reached fails with
//! `Unavailable`, a slow one with `Timeout`. It is also a [`HealthCheck`](seam_core::HealthCheck) (`PING`).
//!
//! ```no_run
//! # async fn example() -> seam_cache::Result<()> {
//! use std::sync::Arc;
//! use seam_cache::{BypassOnError, DynCache};
//! use seam_cache_redis::RedisCacheConfig;
//!
//! let redis = RedisCacheConfig::new("redis://127.0.0.1:6379", "shop:").build()?;
//! // A Redis that is down slows nothing and fails nothing: it is bypassed.
//! let cache: Arc<DynCache> = Arc::new(BypassOnError::new(redis));
//! # Ok(()) }
//! ```

mod cache;
mod config;
mod error;

pub use cache::RedisCache;
pub use config::{MAX_PREFIX_LEN, RedisCacheConfig};
