//! Installing the global subscriber, exporter and recorder.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("telemetry.log.filter {filter:?} is not a valid filter directive: {source}")]
    InvalidFilter {
        /// The filter as configured.
        filter: String,
        /// Why it does not parse.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP exporter could not be built (for example a malformed endpoint).
    #[error("telemetry.otlp: cannot build the OTLP exporter for {endpoint:?}: {source}")]
    Otlp {
        /// The endpoint as configured.
        endpoint: String,
        /// Why it failed.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// A global subscriber was installed already (by another `init` or a test harness).
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised,
}

/// Keeps telemetry running; call [`TelemetryGuard::shutdown`] before exit to flush spans.
#[derive(Debug)]
#[must_use = "dropping the guard does not flush buffered spans; call shutdown()"]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes and stops the trace exporter, if one was configured.
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(error.message = %error, "trace exporter did not shut down cleanly");
        }
    }
}

/// Installs the global tracing subscriber (logs, and traces when OTLP is enabled) and the
/// Prometheus metrics recorder.
///
/// Call once, early in `main`. `RUST_LOG`, when set, overrides `log.filter`.
///
/// # Errors
///
/// [`TelemetryError::InvalidFilter`] for a bad filter, [`TelemetryError::Otlp`] when the
/// exporter cannot be built, [`TelemetryError::AlreadyInitialised`] when called twice.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter = build_filter(
        &config.log.filter,
        std::env::var(EnvFilter::DEFAULT_ENV).ok(),
    )?;
    let json = match config.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let fmt_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };

    let (otel_layer, tracer_provider) = if config.otlp.enabled {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(config.otlp.endpoint.clone())
            .with_timeout(config.otlp.timeout)
            .build()
            .map_err(|source| TelemetryError::Otlp {
                endpoint: config.otlp.endpoint.clone(),
                source,
            })?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer(config.service_name.clone());
        (
            Some(tracing_opentelemetry::layer().with_tracer(tracer)),
            Some(provider),
        )
    } else {
        (None, None)
    };
    // Even without export, propagation helpers need a W3C propagator to read and
    // write `traceparent`.
    crate::propagation::install_propagator();

    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialised)?;

    // Installs the recorder now so that metrics recorded before the first scrape count.
    crate::prometheus::handle();

    Ok(TelemetryGuard { tracer_provider })
}

fn build_filter(directive: &str, from_env: Option<String>) -> Result<EnvFilter, TelemetryError> {
    if let Some(from_env) = from_env
        && !from_env.trim().is_empty()
    {
        return EnvFilter::try_new(&from_env).map_err(|source| TelemetryError::InvalidFilter {
            filter: from_env,
            source,
        });
    }
    EnvFilter::try_new(directive).map_err(|source| TelemetryError::InvalidFilter {
        filter: directive.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_filter_names_the_key() {
        let error = build_filter("seam=loud", None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("telemetry.log.filter \"seam=loud\""),
            "{error}"
        );
    }

    #[test]
    fn rust_log_overrides_the_configured_filter() {
        let filter = build_filter("seam=loud", Some("debug".to_owned())).unwrap();
        assert_eq!(filter.to_string(), "debug");
        // An empty RUST_LOG is treated as unset.
        assert!(build_filter("info", Some(" ".to_owned())).is_ok());
    }
}
