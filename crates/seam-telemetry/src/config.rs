//! Telemetry settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything [`crate::init`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The service name put on every span and log line (`service.name` in OTLP).
    pub service_name: String,
    /// Log output.
    pub log: LogConfig,
    /// Trace export over OTLP/HTTP.
    pub otlp: OtlpConfig,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            service_name: "seam".to_owned(),
            log: LogConfig::default(),
            otlp: OtlpConfig::default(),
        }
    }
}

/// How logs are written to standard output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info,seam=debug,sqlx=warn`. `RUST_LOG`, when
    /// set, takes precedence so an operator can raise verbosity without editing config.
    pub filter: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn,tower_http=info".to_owned(),
            format: LogFormat::Auto,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty when standard output is a terminal, JSON otherwise.
    Auto,
    /// Human-readable, coloured lines.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// OTLP trace export (OTLP over HTTP with protobuf, to a collector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Whether spans are exported at all.
    pub enabled: bool,
    /// The collector's traces endpoint.
    pub endpoint: String,
    /// How long one export may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://127.0.0.1:4318/v1/traces".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}
