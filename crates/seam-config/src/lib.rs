//! Layered, typed configuration.
//!
//! A [`ConfigLoader`] merges, later layers winning:
//!
//! 1. compiled-in defaults (the type's [`Default`]), so a service runs with no files;
//! 2. `config/default.toml`, if present;
//! 3. `config/<SEAM_ENV>.toml` when `SEAM_ENV` is set (then the file must exist);
//! 4. `SEAM_*` environment variables, with `__` between levels:
//!    `SEAM_SERVER__PORT=9000` sets `server.port`.
//!
//! The folder is `config` under the working directory unless `SEAM_CONFIG_DIR` says
//! otherwise. A wrong or missing value fails at start-up with a [`ConfigError`] that
//! names the key, what was expected and where the value came from.
//!
//! [`Settings`] is the configuration of the Seam services. Backend choices are enums
//! (for example [`DatabaseBackend`]); the one place that matches them to adapters is
//! the services' composition module, not this crate.

mod auth;
mod error;
mod integrations;
mod loader;
mod oidc;
mod payments;
mod settings;
mod storage;
mod webhooks;

pub use auth::{
    AuthSettings, AuthStore, IssuerSettings, JwksSettings, SigningKeySettings,
    TrustedIssuerSettings,
};
pub use error::ConfigError;
pub use integrations::{
    AmqpQueueType, AmqpSettings, CacheBackend, CacheSettings, EmailBackend, EmailSettings,
    QueueBackend, QueueSettings, RedisQueueSettings, SendgridSettings, SmtpSecurity, SmtpSettings,
};
pub use loader::{CONFIG_DIR_VAR, ConfigLoader, ENV_PREFIX, ENVIRONMENT_VAR, Validate};
pub use oidc::{OidcClaimNames, OidcEndpoints, OidcSettings, OidcTokenKey};
pub use payments::{
    AlertsBackend, AlertsSettings, PagerDutySettings, PaymentsBackend, PaymentsBreakerSettings,
    PaymentsSettings, SandboxPaymentsSettings, StripePaymentsSettings,
};
pub use settings::{DatabaseBackend, DatabaseSettings, ServerSettings, Settings, WorkerSettings};
pub use storage::{
    DEFAULT_MAX_UPLOAD_BYTES, MAX_UPLOAD_BYTES_LIMIT, MirrorMode, MirrorSettings, StorageBackend,
    StorageCredentials, StorageLocation, StorageSettings,
};
pub use webhooks::{WebhookEndpointSettings, WebhookQueue, WebhookSettings};
