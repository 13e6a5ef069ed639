//! Health of a service's dependencies: checked in the background, served over HTTP.
//!
//! A [`HealthRegistry`] holds named [`HealthCheck`]s (a database, a broker, a circuit
//! breaker, ...). [`HealthRegistry::spawn`] runs every check periodically, each under a
//! timeout, and keeps the latest result: status, latency, last error, since when.
//! Requests read that result and never wait on a dependency, so a slow database cannot
//! make the health endpoint slow too.
//!
//! [`router`] serves:
//! - `GET /health/live`: the process is alive (always 200 while it can answer);
//! - `GET /health/ready`: 503 while a critical dependency is down or not yet checked;
//! - `GET /health`: the JSON detail of every dependency.
//!
//! ```
//! # use std::sync::Arc;
//! # use seam_core::{Health, HealthCheck, SystemClock};
//! # use seam_health::{HealthConfig, HealthRegistry};
//! struct Database;
//!
//! #[async_trait::async_trait]
//! impl HealthCheck for Database {
//!     fn name(&self) -> &str { "database" }
//!     async fn check(&self) -> Health { Health::up() }
//! }
//!
//! # async fn example() {
//! let registry = HealthRegistry::new(HealthConfig::default(), SystemClock::shared());
//! registry.register(Arc::new(Database));
//! registry.check_all().await;
//! assert!(registry.is_ready());
//! let app: axum::Router = seam_health::router(registry.clone());
//! # }
//! ```

mod config;
mod registry;
mod routes;

pub use config::HealthConfig;
pub use registry::{CheckOptions, CheckReport, HealthRegistry, HealthReport};
pub use routes::router;
pub use seam_core::{Health, HealthCheck, HealthStatus};
