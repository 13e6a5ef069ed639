//! SMTP adapter of the e-mail port, over `lettre`'s pooled async transport (Tokio, rustls).
//!
//! Three [`SmtpMode`]s: `starttls` (upgrade, usually port 587), `tls` (TLS from the first
//! byte, usually 465) and `plain` (no TLS at all: for local sinks and test servers only).
//! AUTH is used when a username and password are configured.
//!
//! Reply codes are classified by the SMTP standard: 4xx and connection failures are
//! [`Error::Transient`], 5xx [`Error::Permanent`] (535/530, rejected or missing
//! credentials, [`Error::Unauthorized`]), no answer in time [`Error::Timeout`]. A server
//! that lacks what the configuration demands (STARTTLS, an AUTH mechanism) is
//! [`Error::Permanent`]; a failed TLS handshake is [`Error::Transient`] (it may be a
//! reset connection; a wrong certificate fails every retry and ends in the dead letters).
//!
//! SMTP does not deduplicate: every send is delivered, even a second send of a message
//! with the same caller-chosen id ([`EmailMessage::message_id`]). That id (or a
//! generated one) is the `Message-ID` header (`<id@sender-domain>`), so receivers can
//! recognise the duplicate, and it is the receipt's id.
//!
//! SMTP has no way to ask about a message after it was accepted, so
//! [`status`](EmailService::status) answers [`DeliveryStatus::Accepted`] for the ids this
//! process sent (the most recent [`STATUS_MEMORY`]) and [`Error::NotFound`] otherwise.
//!
//! ```no_run
//! # fn example() -> Result<(), seam_email::Error> {
//! use seam_email_smtp::{SmtpConfig, SmtpMode};
//!
//! let email = SmtpConfig {
//!     host: "smtp.example.com".into(),
//!     port: 587,
//!     mode: SmtpMode::Starttls,
//!     username: Some("shop".into()),
//!     password: Some("app-password".parse().unwrap()),
//!     ..SmtpConfig::default()
//! }
//! .build()?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use seam_core::{ExposeSecret, Health, HealthCheck, SecretString};
use seam_email::{
    DeliveryStatus, EmailMessage, EmailService, Error, MessageId, SendReceipt, SentLog,
};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};

const METRICS: PortMetrics = PortMetrics::new("email", "smtp");

/// How many sent ids [`SmtpEmail`] remembers for `status`.
pub const STATUS_MEMORY: usize = SentLog::DEFAULT_CAPACITY;

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpMode {
    /// Connect in clear, then upgrade with STARTTLS (required, not opportunistic).
    Starttls,
    /// TLS from the first byte ("SMTPS", implicit TLS).
    Tls,
    /// No TLS: only for local sinks and test servers.
    Plain,
}

/// The SMTP server to send through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub mode: SmtpMode,
    /// User for AUTH, if the server wants one.
    pub username: Option<String>,
    /// Password for AUTH.
    pub password: Option<SecretString>,
    /// Longest wait for one send (connection, TLS, AUTH and the whole SMTP exchange).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Most connections kept open to the server.
    pub pool_max: u32,
    /// A PEM file of extra certificate authorities to trust, besides the system's (a
    /// private relay's CA). Only used by the TLS modes.
    pub ca_cert: Option<PathBuf>,
}

impl Default for SmtpConfig {
    /// A local sink: `127.0.0.1:2525`, plain, no AUTH, 10 s, 4 connections.
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 2525,
            mode: SmtpMode::Plain,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            pool_max: 4,
            ca_cert: None,
        }
    }
}

impl SmtpConfig {
    /// Checks the configuration, naming every problem.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing the problems: empty host, port 0, a username without
    /// a password (or the reverse), a zero timeout, a pool of 0, or credentials sent
    /// without TLS to a server that is not on this machine.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.host.trim().is_empty() {
            problems.push("`host` must not be empty".to_owned());
        }
        if self.port == 0 {
            problems.push("`port` must not be 0".to_owned());
        }
        if self.username.is_some() != self.password.is_some() {
            problems.push("`username` and `password`: set both or neither".to_owned());
        }
        if self.timeout.is_zero() {
            problems.push("`timeout` must be more than 0".to_owned());
        }
        if self.pool_max == 0 {
            problems.push("`pool_max` must be at least 1".to_owned());
        }
        let loopback = matches!(self.host.as_str(), "localhost" | "::1" | "[::1]")
            || self.host.starts_with("127.");
        if self.mode == SmtpMode::Plain && self.username.is_some() && !loopback {
            problems.push(format!(
                "`mode` plain would send the password in clear to {}: use starttls or tls",
                self.host
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "SMTP configuration: {}",
                problems.join("; ")
            )))
        }
    }

    /// Validates the configuration and builds the adapter. No connection is made yet.
    ///
    /// Call it inside a Tokio runtime: the connection pool runs a task there.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] as [`validate`](Self::validate), when TLS cannot be set up
    /// for `host`, or when called outside a Tokio runtime.
    pub fn build(self) -> Result<SmtpEmail, Error> {
        self.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::invalid(
                "SMTP adapter: build it inside a Tokio runtime (its connection pool runs there)",
            ));
        }
        let tls = |host: &str| -> Result<TlsParameters, Error> {
            let mut params = TlsParameters::builder(host.to_owned());
            if let Some(path) = &self.ca_cert {
                let pem = std::fs::read(path).map_err(|error| {
                    Error::invalid(format!("SMTP `ca_cert` {}: {error}", path.display()))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|error| {
                    Error::invalid(format!("SMTP `ca_cert` {}: {error}", path.display()))
                })?;
                params = params.add_root_certificate(cert);
            }
            params
                .build()
                .map_err(|error| Error::invalid(format!("SMTP TLS setup for {host}: {error}")))
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host);
        let builder = match self.mode {
            // Required, not opportunistic: a server that cannot upgrade is refused.
            SmtpMode::Starttls => builder.tls(Tls::Required(tls(&self.host)?)),
            SmtpMode::Tls => builder.tls(Tls::Wrapper(tls(&self.host)?)),
            SmtpMode::Plain => builder.tls(Tls::None),
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(self.timeout))
            .pool_config(PoolConfig::new().max_size(self.pool_max));
        if let (Some(username), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose_secret().clone(),
            ));
        }
        Ok(SmtpEmail {
            transport: builder.build(),
            endpoint: format!("{}:{}", self.host, self.port),
            timeout: self.timeout,
            sent: SentLog::new(STATUS_MEMORY),
        })
    }
}

/// An [`EmailService`] sending through an SMTP server; see the crate documentation.
pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: String,
    timeout: Duration,
    sent: SentLog,
}

impl std::fmt::Debug for SmtpEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmail")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What went wrong talking SMTP, before it becomes the port's error.
#[derive(Debug, thiserror::Error)]
enum SmtpError {
    #[error("SMTP server {endpoint}: {source}")]
    Smtp {
        endpoint: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("SMTP server {endpoint} did not finish within {timeout:?}")]
    Deadline { endpoint: String, timeout: Duration },
}

impl From<SmtpError> for Error {
    fn from(error: SmtpError) -> Self {
        match &error {
            SmtpError::Deadline { timeout, .. } => Error::Timeout(*timeout),
            SmtpError::Smtp { source, .. } => {
                let code = source.status().map(|code| code.to_string());
                if source.is_timeout() {
                    Error::Timeout(Duration::ZERO)
                } else if matches!(code.as_deref(), Some("535" | "530" | "534" | "538")) {
                    Error::Unauthorized(error.to_string())
                } else if source.is_permanent() || source.is_client() {
                    // Client errors are lettre refusing this server for this message
                    // (no STARTTLS, no common AUTH mechanism, no SMTPUTF8): retrying
                    // the same server cannot help.
                    Error::permanent_from(error.to_string(), error)
                } else {
                    // 4xx, connection refused or reset, TLS or parse trouble: may pass.
                    Error::transient_from(error.to_string(), error)
                }
            }
        }
    }
}

impl SmtpEmail {
    async fn deliver(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        let id = message
            .message_id()
            .cloned()
            .unwrap_or_else(MessageId::generate);
        let mime = seam_email::mime::to_lettre(message, &id)?;
        let sent = tokio::time::timeout(self.timeout, self.transport.send(mime)).await;
        match sent {
            Err(_) => Err(SmtpError::Deadline {
                endpoint: self.endpoint.clone(),
                timeout: self.timeout,
            }
            .into()),
            Ok(Err(source)) => {
                let mut error: Error = SmtpError::Smtp {
                    endpoint: self.endpoint.clone(),
                    source,
                }
                .into();
                if let Error::Timeout(wait) = &mut error {
                    *wait = self.timeout;
                }
                Err(error)
            }
            Ok(Ok(response)) => {
                tracing::debug!(
                    message_id = %id,
                    code = %response.code(),
                    "SMTP server accepted the message"
                );
                self.sent.accepted(id.clone());
                Ok(SendReceipt {
                    message_id: id,
                    accepted_at: Utc::now(),
                })
            }
        }
    }
}

#[async_trait]
impl EmailService for SmtpEmail {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        METRICS.call("send", self.deliver(message)).await
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus, Error> {
        METRICS.call("status", async { self.sent.status(id) }).await
    }
}

#[async_trait]
impl HealthCheck for SmtpEmail {
    fn name(&self) -> &str {
        "email-smtp"
    }

    /// Connects, greets (and upgrades to TLS / authenticates as configured) and quits.
    async fn check(&self) -> Health {
        match tokio::time::timeout(self.timeout, self.transport.test_connection()).await {
            Ok(Ok(true)) => Health::up(),
            Ok(Ok(false)) => Health::down(format!("{} did not answer NOOP", self.endpoint)),
            Ok(Err(error)) => Health::down(format!("{}: {error}", self.endpoint)),
            Err(_) => Health::down(format!(
                "{} did not answer within {:?}",
                self.endpoint, self.timeout
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_local_sink_and_valid() {
        let config = SmtpConfig::default();
        assert_eq!(config.mode, SmtpMode::Plain);
        config.validate().unwrap();
    }

    #[test]
    fn every_problem_is_named() {
        let config = SmtpConfig {
            host: " ".into(),
            port: 0,
            username: Some("u".into()),
            password: None,
            timeout: Duration::ZERO,
            pool_max: 0,
            ..SmtpConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        for part in [
            "`host` must not be empty",
            "`port` must not be 0",
            "set both or neither",
            "`timeout` must be more than 0",
            "`pool_max` must be at least 1",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    #[test]
    fn passwords_never_travel_in_clear_to_another_machine() {
        let config = SmtpConfig {
            host: "smtp.example.com".into(),
            username: Some("u".into()),
            password: Some("p".parse().unwrap()),
            ..SmtpConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("password in clear"), "{message}");
        SmtpConfig {
            mode: SmtpMode::Starttls,
            port: 587,
            ..config.clone()
        }
        .validate()
        .unwrap();
        SmtpConfig {
            host: "127.0.0.1".into(),
            ..config
        }
        .validate()
        .unwrap();
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_refused_at_start() {
        let error = SmtpConfig {
            mode: SmtpMode::Tls,
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..SmtpConfig::default()
        }
        .build()
        .unwrap_err();
        assert!(
            error.to_string().contains("`ca_cert` /nonexistent/ca.pem"),
            "{error}"
        );
    }

    #[test]
    fn building_outside_a_runtime_is_refused_not_a_panic() {
        let error = SmtpConfig::default().build().unwrap_err();
        assert!(error.to_string().contains("Tokio runtime"), "{error}");
    }

    #[tokio::test]
    async fn config_reads_from_settings_and_hides_the_password() {
        let config: SmtpConfig = serde_json::from_str(
            r#"{"host":"smtp.example.com","port":465,"mode":"tls","username":"shop","password":"hunter2","timeout":"5s","pool_max":2}"#,
        )
        .unwrap();
        assert_eq!(config.mode, SmtpMode::Tls);
        assert_eq!(config.timeout, Duration::from_secs(5));
        let shown = format!("{config:?} {}", serde_json::to_string(&config).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        let email = config.build().unwrap();
        assert!(!format!("{email:?}").contains("hunter2"));
    }
}
