//! Seam's shared vocabulary, used by every port, adapter and policy.
//!
//! This crate does no I/O. It defines:
//!
//! - [`ErrorKind`] and the [`Classify`] trait: every port error says what kind of
//!   failure it is, so retry, circuit breaking and HTTP mapping are decided in one
//!   place instead of once per vendor.
//! - [`Secret`]: a value whose `Debug`, `Display` and serde output never show it.
//! - [`Clock`]: time as a dependency, with [`SystemClock`] for production and
//!   [`ManualClock`] for deterministic tests that never sleep for real.
//! - [`Id`]: typed, time-ordered (UUIDv7) identifiers.
//! - [`HealthCheck`]: how a dependency reports whether it is usable.

pub mod clock;
pub mod error;
pub mod health;
pub mod id;
pub mod secret;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Classify, ErrorKind};
pub use health::{Health, HealthCheck, HealthStatus};
pub use id::{Id, ParseIdError};
pub use secret::{ExposeSecret, Secret, SecretString};
