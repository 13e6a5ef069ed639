//! The servers integration tests talk to: where they are, and failing loudly when they are not.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long [`require_service`] waits for a TCP connection before declaring a server down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Environment variable overriding [`DEFAULT_POSTGRES_URL`].
pub const POSTGRES_URL_ENV: &str = "SEAM_TEST_POSTGRES_URL";
/// Environment variable overriding [`DEFAULT_REDIS_URL`].
pub const REDIS_URL_ENV: &str = "SEAM_TEST_REDIS_URL";
/// Environment variable overriding [`DEFAULT_AMQP_URL`].
pub const AMQP_URL_ENV: &str = "SEAM_TEST_AMQP_URL";

/// The Postgres server tests use, as an admin (a superuser, or a role allowed to create
/// databases) on its maintenance database.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The Redis server tests use.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The RabbitMQ server tests use (`%2f` is the default vhost `/`).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The Postgres admin URL for tests: `$SEAM_TEST_POSTGRES_URL`, or [`DEFAULT_POSTGRES_URL`].
pub fn postgres_url() -> String {
    env_or(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
}

/// The Redis URL for tests: `$SEAM_TEST_REDIS_URL`, or [`DEFAULT_REDIS_URL`].
pub fn redis_url() -> String {
    env_or(REDIS_URL_ENV, DEFAULT_REDIS_URL)
}

/// The AMQP URL for tests: `$SEAM_TEST_AMQP_URL`, or [`DEFAULT_AMQP_URL`].
pub fn amqp_url() -> String {
    env_or(AMQP_URL_ENV, DEFAULT_AMQP_URL)
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Checks that Postgres answers at [`postgres_url`] and returns that URL; panics otherwise.
pub fn require_postgres() -> String {
    let url = postgres_url();
    require_service("postgres", &url_address(&url));
    url
}

/// Checks that Redis answers at [`redis_url`] and returns that URL; panics otherwise.
pub fn require_redis() -> String {
    let url = redis_url();
    require_service("redis", &url_address(&url));
    url
}

/// Checks that RabbitMQ answers at [`amqp_url`] and returns that URL; panics otherwise.
pub fn require_rabbitmq() -> String {
    let url = amqp_url();
    require_service("rabbitmq", &url_address(&url));
    url
}

/// The `host:port` of a URL such as `postgres://user:pw@host:5432/db`, with the scheme's
/// default port when the URL has none (postgres 5432, redis 6379, rediss 6380, amqp 5672,
/// amqps 5671, http 80, https 443).
///
/// ```
/// use seam_testkit::url_address;
///
/// assert_eq!(url_address("postgres://u:p@db:6543/x?sslmode=disable"), "db:6543");
/// assert_eq!(url_address("amqp://guest:guest@127.0.0.1/%2f"), "127.0.0.1:5672");
/// assert_eq!(url_address("redis://[::1]"), "[::1]:6379");
/// ```
pub fn url_address(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let has_port = match host_port.rfind(']') {
        Some(bracket) => host_port[bracket..].contains(':'),
        None => host_port.contains(':'),
    };
    if has_port {
        return host_port.to_owned();
    }
    let port = match scheme {
        "postgres" | "postgresql" => 5432,
        "redis" => 6379,
        "rediss" => 6380,
        "amqp" => 5672,
        "amqps" => 5671,
        "https" => 443,
        _ => 80,
    };
    format!("{host_port}:{port}")
}

/// The command that starts a known server on this machine.
fn start_command(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" => {
            "`pg_ctlcluster --skip-systemctl-redirect 15 main start` (or `make services`)"
        }
        "redis" => {
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
             (or `make services`)"
        }
        "rabbitmq" | "amqp" => "`rabbitmq-server -detached` (or `make services`)",
        _ => "`make services`",
    }
}

fn unreachable_message(name: &str, addr: &str, why: &str) -> String {
    format!(
        "{name} is not reachable at {addr} ({why}). This test needs a real {name} server and \
         never skips. Start it with {}, then run the tests again.",
        start_command(name)
    )
}

/// Checks that a server accepts TCP connections at `addr` (`host:port`), waiting at most
/// [`CONNECT_TIMEOUT`].
///
/// # Panics
///
/// When it does not: tests that need a server fail, they never skip. The message names
/// the server, the address and the command that starts it on this machine, for the known
/// names `"postgres"`, `"redis"` and `"rabbitmq"` (`make services` for anything else).
///
/// ```should_panic
/// // Port 1 is closed on any sane machine.
/// seam_testkit::require_service("postgres", "127.0.0.1:1");
/// ```
pub fn require_service(name: &str, addr: &str) {
    if let Err(why) = try_connect(addr) {
        panic!("{}", unreachable_message(name, addr, &why));
    }
}

/// [`require_service`] without blocking the async runtime.
///
/// # Panics
///
/// As [`require_service`].
pub async fn require_service_async(name: &str, addr: &str) {
    let result =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        };
    if let Err(why) = result {
        panic!("{}", unreachable_message(name, addr, &why));
    }
}

fn try_connect(addr: &str) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve the address: {error}"))?
        .collect();
    let mut last = format!("{addr} resolves to no address");
    for socket in addrs {
        match TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                last = format!("no answer within {CONNECT_TIMEOUT:?}");
            }
            Err(error) => last = error.to_string(),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// An address where nothing listens: a port we bound, then released.
    fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        addr.to_string()
    }

    /// Runs `f`, which must panic, and returns its panic message.
    fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(f).expect_err("expected a panic");
        match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => (*payload.downcast::<&str>().unwrap()).to_owned(),
        }
    }

    #[test]
    #[should_panic(
        expected = "This test needs a real postgres server and never skips. Start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start` (or `make services`)"
    )]
    fn postgres_down_names_the_start_command() {
        require_service("postgres", &closed_port());
    }

    #[test]
    fn message_names_the_server_and_the_address() {
        let addr = closed_port();
        let message = panic_message(|| require_service("postgres", &addr));
        assert!(
            message.starts_with(&format!("postgres is not reachable at {addr} (")),
            "{message}"
        );
    }

    #[test]
    #[should_panic(expected = "Start it with `redis-server --daemonize yes")]
    fn redis_down_names_the_start_command() {
        require_service("redis", &closed_port());
    }

    #[test]
    #[should_panic(expected = "Start it with `rabbitmq-server -detached`")]
    fn rabbitmq_down_names_the_start_command() {
        require_service("rabbitmq", &closed_port());
    }

    #[test]
    fn unknown_server_falls_back_to_make_services() {
        let addr = closed_port();
        let message = panic_message(|| require_service("smtp", &addr));
        assert!(
            message.starts_with(&format!("smtp is not reachable at {addr}")),
            "{message}"
        );
        assert!(
            message.ends_with("Start it with `make services`, then run the tests again."),
            "{message}"
        );
    }

    #[test]
    fn unresolvable_address_is_reported() {
        let message = panic_message(|| require_service("redis", "no-port-given"));
        assert!(message.contains("cannot resolve the address"), "{message}");
    }

    #[tokio::test]
    #[should_panic(expected = "needs a real postgres server and never skips")]
    async fn async_variant_panics_too() {
        require_service_async("postgres", &closed_port()).await;
    }

    #[test]
    fn open_port_passes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        require_service("anything", &addr);
    }

    #[tokio::test]
    async fn open_port_passes_async() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        require_service_async("anything", &addr).await;
    }

    #[test]
    fn addresses_from_urls() {
        assert_eq!(url_address(DEFAULT_POSTGRES_URL), "127.0.0.1:5432");
        assert_eq!(url_address(DEFAULT_REDIS_URL), "127.0.0.1:6379");
        assert_eq!(url_address(DEFAULT_AMQP_URL), "127.0.0.1:5672");
        assert_eq!(url_address("postgres://u:p%40ss@db/x"), "db:5432");
        assert_eq!(url_address("postgresql://[::1]:6000/x"), "[::1]:6000");
        assert_eq!(
            url_address("rediss://cache.internal"),
            "cache.internal:6380"
        );
    }

    #[test]
    fn default_urls_without_overrides() {
        // The variables are only read here, never set: tests run in parallel threads.
        if std::env::var_os(POSTGRES_URL_ENV).is_none() {
            assert_eq!(postgres_url(), DEFAULT_POSTGRES_URL);
        }
        if std::env::var_os(AMQP_URL_ENV).is_none() {
            assert_eq!(amqp_url(), DEFAULT_AMQP_URL);
        }
    }
}
