//! How to reach the database: URL, pool sizes and timeouts, validated before connecting.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::Error;

/// The URL used when none is configured: a SQLite file under `data/`, created on first use.
///
/// It matches the default of `seam-config` (`data_dir = "data"`), so `make run` works with
/// nothing installed.
pub const DEFAULT_URL: &str = "sqlite://data/seam.db?mode=rwc";

/// The URL forms accepted, quoted in configuration errors.
const EXPECTED_FORMS: &str = "postgres://user:password@host:5432/database \
     (or postgresql://…) or sqlite://path/to/file.db (or sqlite::memory:)";

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A PostgreSQL server (`postgres://…` or `postgresql://…`).
    Postgres,
    /// An embedded SQLite file (`sqlite:…`).
    Sqlite,
}

impl Backend {
    /// Picks the backend from the scheme of a database URL.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `database.url` and the accepted forms when the scheme is
    /// neither `postgres`/`postgresql` nor `sqlite`. Only the scheme is echoed, never
    /// the rest of the URL, which may hold a password.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.is_empty() {
            Err(Error::config(format!(
                "`database.url` is empty; expected {EXPECTED_FORMS}"
            )))
        } else {
            let scheme = url
                .split_once(':')
                .map_or("(none)", |(scheme, _)| scheme)
                .chars()
                .take(20)
                .collect::<String>();
            Err(Error::config(format!(
                "`database.url` has the unsupported scheme {scheme:?}; expected {EXPECTED_FORMS}"
            )))
        }
    }

    /// The lower-case name: `"postgres"` or `"sqlite"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to connect to the relational database.
///
/// The backend is picked from the scheme of [`url`](Self::url). Deserialises from the
/// `[database]` section of the configuration (durations as `"5s"`, `"250ms"`); serialising
/// it shows the URL as `[REDACTED]`, and [`SqlConfig::redacted_url`] gives a loggable form.
///
/// The default is a SQLite file, [`DEFAULT_URL`], with 10 connections at most, none kept
/// idle, a 5 s acquire timeout and a 5 s SQLite busy timeout.
///
/// ```
/// use seam_sql::{Backend, SqlConfig};
///
/// let config = SqlConfig::new("postgres://seam:hunter2@db.internal:5432/seam");
/// assert_eq!(config.backend().unwrap(), Backend::Postgres);
/// assert_eq!(config.redacted_url(), "postgres://db.internal:5432/seam");
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqlConfig {
    /// `postgres://user:password@host:port/database` or `sqlite://path/to/file.db`
    /// (`sqlite::memory:` for a throw-away in-memory database). A secret: it may hold a password.
    pub url: SecretString,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// Connections the pool keeps open even when idle.
    pub min_connections: u32,
    /// How long to wait for a connection (from the pool, or while first connecting) before
    /// failing with an `Unavailable` error.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// SQLite only: how long a statement waits for another connection's write lock before
    /// failing with `SQLITE_BUSY` (classified `Transient`). Ignored for Postgres.
    #[serde(with = "humantime_serde")]
    pub sqlite_busy_timeout: Duration,
}

impl Default for SqlConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(DEFAULT_URL),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlConfig {
    /// The default settings with another URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Self::default()
        }
    }

    /// The backend the URL selects.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the scheme is not a supported one; see [`Backend::from_url`].
    pub fn backend(&self) -> Result<Backend, Error> {
        Backend::from_url(self.url.expose_secret())
    }

    /// Checks every setting and reports all problems at once, each naming its key
    /// (`database.url`, `database.max_connections`, ...).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] (classified `Invalid`) listing the problems found.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        match self.backend() {
            Ok(Backend::Postgres) => {
                if let Err(error) = self.postgres_options() {
                    problems.push(error);
                }
            }
            Ok(Backend::Sqlite) => {
                if let Err(error) = self.sqlite_options() {
                    problems.push(error);
                }
            }
            Err(Error::Config { message }) => problems.push(message),
            Err(other) => problems.push(other.to_string()),
        }
        if self.max_connections == 0 {
            problems.push("`database.max_connections` must be at least 1".to_owned());
        }
        if self.min_connections > self.max_connections {
            problems.push(format!(
                "`database.min_connections` ({}) must not exceed `database.max_connections` ({})",
                self.min_connections, self.max_connections
            ));
        }
        if self.acquire_timeout.is_zero() {
            problems.push("`database.acquire_timeout` must be greater than zero".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::config(problems.join("; ")))
        }
    }

    /// The URL without credentials or query parameters, for logs: for example
    /// `postgres://db.internal:5432/seam` or `sqlite://data/seam.db`.
    ///
    /// Never fails: a URL that cannot be parsed shows as its scheme and `<unparsable>`.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }

    /// The Postgres connection options the URL describes.
    pub(crate) fn postgres_options(&self) -> Result<PgConnectOptions, String> {
        PgConnectOptions::from_str(self.url.expose_secret().trim())
            // url's parse errors describe the problem, never echo the input.
            .map_err(|error| format!("`database.url` is not a valid PostgreSQL URL: {error}"))
    }

    /// The SQLite connection options the URL describes, before Seam's own settings.
    pub(crate) fn sqlite_options(&self) -> Result<SqliteConnectOptions, String> {
        SqliteConnectOptions::from_str(self.url.expose_secret().trim())
            .map_err(|error| format!("`database.url` is not a valid SQLite URL: {error}"))
    }

    /// Whether the SQLite URL asks for a read-only database (`mode=ro`), in which case
    /// the file must not be created.
    pub(crate) fn sqlite_read_only(&self) -> bool {
        query_params(self.url.expose_secret()).any(|(key, value)| key == "mode" && value == "ro")
    }

    /// Whether the SQLite URL names an in-memory database rather than a file.
    pub(crate) fn sqlite_in_memory(&self) -> bool {
        let url = self.url.expose_secret().trim();
        let rest = url.strip_prefix("sqlite:").unwrap_or(url);
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split(['?', '#']).next().unwrap_or_default();
        path == ":memory:"
            || query_params(url).any(|(key, value)| key == "mode" && value == "memory")
    }
}

fn query_params(url: &str) -> impl Iterator<Item = (&str, &str)> {
    url.split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
}

/// A database URL without its credentials and query, safe to log.
///
/// Postgres URLs keep host, port and database (`postgres://db.internal:5432/seam`); SQLite
/// URLs keep the path (`sqlite://data/seam.db`). Anything else shows as its scheme only.
///
/// ```
/// assert_eq!(
///     seam_sql::redact_url("postgres://ada:s3cret@127.0.0.1/orders?sslmode=require"),
///     "postgres://127.0.0.1:5432/orders"
/// );
/// assert_eq!(seam_sql::redact_url("sqlite://data/seam.db?mode=rwc"), "sqlite://data/seam.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    match Backend::from_url(url) {
        Ok(Backend::Postgres) => match PgConnectOptions::from_str(url) {
            Ok(options) => {
                let database = options
                    .get_database()
                    .unwrap_or_else(|| options.get_username());
                match options.get_socket() {
                    Some(socket) => format!("postgres://{}/{database}", socket.display()),
                    None => {
                        let host = options.get_host();
                        let host = if host.contains(':') && !host.starts_with('[') {
                            format!("[{host}]")
                        } else {
                            host.to_owned()
                        };
                        format!("postgres://{host}:{}/{database}", options.get_port())
                    }
                }
            }
            Err(_) => "postgres://<unparsable>".to_owned(),
        },
        Ok(Backend::Sqlite) => {
            // SQLite URLs carry no credentials; the query (mode=rwc, ...) is noise in logs.
            let without_query = url.split(['?', '#']).next().unwrap_or(url);
            without_query.to_owned()
        }
        Err(_) => {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            if scheme.is_empty()
                || !scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            {
                "<invalid database url>".to_owned()
            } else {
                format!("{scheme}://<unsupported>")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_a_sqlite_file_under_data() {
        let config = SqlConfig::default();
        assert_eq!(config.url.expose_secret(), DEFAULT_URL);
        assert_eq!(config.backend().unwrap(), Backend::Sqlite);
        assert!(!config.sqlite_in_memory());
        assert!(!config.sqlite_read_only());
        config.validate().unwrap();
    }

    #[test]
    fn backend_follows_the_scheme() {
        for (url, backend) in [
            ("postgres://u@h/db", Backend::Postgres),
            ("postgresql://u@h/db", Backend::Postgres),
            ("sqlite://x.db", Backend::Sqlite),
            ("sqlite:x.db", Backend::Sqlite),
            ("sqlite::memory:", Backend::Sqlite),
        ] {
            assert_eq!(Backend::from_url(url).unwrap(), backend, "{url}");
        }
    }

    #[test]
    fn wrong_scheme_names_the_key_and_the_forms_without_the_password() {
        let error = SqlConfig::new("mysql://root:hunter2@localhost/seam")
            .validate()
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`database.url`"), "{message}");
        assert!(message.contains("\"mysql\""), "{message}");
        assert!(message.contains("postgres://"), "{message}");
        assert!(message.contains("sqlite://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(
            seam_core::Classify::kind(&error),
            seam_core::ErrorKind::Invalid
        );
    }

    #[test]
    fn validate_reports_every_problem() {
        let config = SqlConfig {
            url: SecretString::from(""),
            max_connections: 0,
            min_connections: 3,
            acquire_timeout: Duration::ZERO,
            ..SqlConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        for key in [
            "`database.url` is empty",
            "`database.max_connections`",
            "`database.min_connections` (3)",
            "`database.acquire_timeout`",
        ] {
            assert!(message.contains(key), "{key} missing from: {message}");
        }
    }

    #[test]
    fn unparsable_urls_are_config_errors() {
        let message = SqlConfig::new("postgres://[::1")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(message.contains("not a valid PostgreSQL URL"), "{message}");
        let message = SqlConfig::new("sqlite://x.db?mode=bogus")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(message.contains("not a valid SQLite URL"), "{message}");
    }

    #[test]
    fn redacted_urls_hide_credentials() {
        assert_eq!(
            redact_url("postgres://ada:hunter2@db.example.com:6543/shop?password=x"),
            "postgres://db.example.com:6543/shop"
        );
        assert_eq!(
            redact_url("postgresql://ada@127.0.0.1/ada"),
            "postgres://127.0.0.1:5432/ada"
        );
        assert_eq!(
            redact_url("sqlite:data/seam.db?mode=rwc"),
            "sqlite:data/seam.db"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_url("mysql://root:pw@x/y"), "mysql://<unsupported>");
        assert_eq!(redact_url("not a url"), "<invalid database url>");
        let shown = redact_url("postgres://ada:hunter2@[::1");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn sqlite_url_flags() {
        assert!(SqlConfig::new("sqlite::memory:").sqlite_in_memory());
        assert!(SqlConfig::new("sqlite://x.db?mode=memory").sqlite_in_memory());
        assert!(SqlConfig::new("sqlite://x.db?mode=ro").sqlite_read_only());
        assert!(!SqlConfig::new("sqlite://x.db?mode=rwc").sqlite_read_only());
    }

    #[test]
    fn deserialises_human_durations_and_redacts_on_serialise() {
        let config: SqlConfig = serde_json::from_str(
            r#"{"url":"postgres://u:pw@h/db","max_connections":4,"acquire_timeout":"250ms","sqlite_busy_timeout":"1s"}"#,
        )
        .unwrap();
        assert_eq!(config.max_connections, 4);
        assert_eq!(config.min_connections, 0);
        assert_eq!(config.acquire_timeout, Duration::from_millis(250));
        assert_eq!(config.sqlite_busy_timeout, Duration::from_secs(1));
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("pw@"), "{json}");
        assert!(!format!("{config:?}").contains("pw@"));
        assert!(serde_json::from_str::<SqlConfig>(r#"{"uri":"x"}"#).is_err());
    }
}
