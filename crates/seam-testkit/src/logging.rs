//! Logs in test output, on demand.

use std::sync::Once;

use tracing_subscriber::EnvFilter;

/// The environment variable that turns test logs on: `TEST_LOG=1 cargo test`.
pub const TEST_LOG_ENV: &str = "TEST_LOG";

static INIT: Once = Once::new();

/// Installs a tracing subscriber that writes to the test's captured output, when
/// `TEST_LOG=1` (or `true`); does nothing otherwise, so passing tests stay quiet.
///
/// Safe to call from every test: only the first call in a process does anything, and an
/// already installed global subscriber is left in place. The filter comes from `RUST_LOG`,
/// `debug` by default.
pub fn init_test_logging() {
    INIT.call_once(|| {
        if !enabled(std::env::var(TEST_LOG_ENV).ok().as_deref()) {
            return;
        }
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
        // Fails only when another subscriber is installed already, which is fine.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

fn enabled(value: Option<&str>) -> bool {
    matches!(
        value.map(str::trim),
        Some("1") | Some("true") | Some("TRUE") | Some("yes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_yes_turns_logs_on() {
        assert!(enabled(Some("1")));
        assert!(enabled(Some("true")));
        assert!(!enabled(Some("0")));
        assert!(!enabled(Some("")));
        assert!(!enabled(None));
    }

    #[test]
    fn can_be_called_repeatedly() {
        init_test_logging();
        init_test_logging();
        tracing::info!("not shown unless TEST_LOG=1");
    }
}
