//! Settings of the external systems the order flow talks to: queue, e-mail, cache.
//! Each names its backend with an enum; `seam-wiring` matches it to an adapter.

use std::path::PathBuf;
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Which message queue carries events between the API and the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// A table queue in the configured database: the default, needs nothing installed.
    Sql,
    /// RabbitMQ (AMQP 0-9-1).
    Amqp,
    /// Redis Streams with consumer groups.
    Redis,
    /// In the process: for tests and demos; messages do not survive a restart.
    Memory,
}

/// The message queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// Which queue.
    pub backend: QueueBackend,
    /// How long a received message stays invisible before it is delivered again when
    /// its consumer neither acknowledged nor settled it (a crashed worker).
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// How often an idle SQL queue consumer polls.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// RabbitMQ settings, used when `backend = "amqp"`.
    pub amqp: AmqpSettings,
    /// Redis Streams settings, used when `backend = "redis"`.
    pub redis: RedisQueueSettings,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            backend: QueueBackend::Sql,
            visibility_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            max_attempts: 5,
            amqp: AmqpSettings::default(),
            redis: RedisQueueSettings::default(),
        }
    }
}

/// Redis Streams queue settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisQueueSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`).
    pub url: SecretString,
    /// Put before every key, so several deployments can share one server.
    pub key_prefix: String,
    /// The consumer group every worker joins.
    pub group: String,
    /// The most messages one queue holds; publishing to a full queue fails (and is
    /// retried by the outbox relay) instead of trimming accepted messages.
    pub max_len: u64,
}

impl Default for RedisQueueSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "seam:queue".to_owned(),
            group: "seam".to_owned(),
            max_len: 1_000_000,
        }
    }
}

/// RabbitMQ settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost`.
    pub url: SecretString,
    /// The topic exchange events are published to.
    pub exchange: String,
    /// A prefix for every queue name, so several deployments can share one vhost.
    pub queue_prefix: String,
    /// Unacknowledged messages a consumer may hold (QoS prefetch).
    pub prefetch: u16,
    /// `classic`, or `quorum` for clustered brokers.
    pub queue_type: AmqpQueueType,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            exchange: "seam.events".to_owned(),
            queue_prefix: String::new(),
            prefetch: 16,
            queue_type: AmqpQueueType::Classic,
        }
    }
}

/// RabbitMQ queue type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmqpQueueType {
    /// A classic queue (single node).
    Classic,
    /// A replicated quorum queue.
    Quorum,
}

impl QueueSettings {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.visibility_timeout < Duration::from_secs(1) {
            problems.push("`queue.visibility_timeout`: must be at least 1s".to_owned());
        }
        if self.poll_interval.is_zero() {
            problems.push("`queue.poll_interval`: must be greater than zero".to_owned());
        }
        if self.max_attempts == 0 {
            problems.push("`queue.max_attempts`: must be at least 1".to_owned());
        }
        if self.backend == QueueBackend::Redis {
            let url = self.redis.url.expose_secret();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push("`queue.redis.url`: expected a redis:// or rediss:// URL".to_owned());
            }
            if self.redis.key_prefix.trim().is_empty() {
                problems.push("`queue.redis.key_prefix`: must not be empty".to_owned());
            }
            if self.redis.group.trim().is_empty() {
                problems.push("`queue.redis.group`: must not be empty".to_owned());
            }
            if self.redis.max_len == 0 {
                problems.push("`queue.redis.max_len`: must be at least 1".to_owned());
            }
        }
        if self.backend == QueueBackend::Amqp {
            let url = self.amqp.url.expose_secret();
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                problems.push("`queue.amqp.url`: expected an amqp:// or amqps:// URL".to_owned());
            }
            if self.amqp.exchange.trim().is_empty() {
                problems.push("`queue.amqp.exchange`: must not be empty".to_owned());
            }
            if self.amqp.prefetch == 0 {
                problems.push("`queue.amqp.prefetch`: must be at least 1".to_owned());
            }
        }
        problems
    }
}

/// Which service sends e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackend {
    /// Writes each message as an `.eml` file: the default, to read what would be sent.
    File,
    /// An SMTP server.
    Smtp,
    /// SendGrid's v3 API.
    Sendgrid,
    /// In the process: for tests.
    Memory,
}

/// Outgoing e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// Which service.
    pub backend: EmailBackend,
    /// The sender of every message, e.g. `Seam Shop <shop@example.com>`.
    pub from: String,
    /// Where `.eml` files go (`backend = "file"`); default `<data_dir>/outbox-mail`.
    pub dir: Option<PathBuf>,
    /// SMTP settings (`backend = "smtp"`).
    pub smtp: SmtpSettings,
    /// SendGrid settings (`backend = "sendgrid"`).
    pub sendgrid: SendgridSettings,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            backend: EmailBackend::File,
            from: "Seam Shop <shop@example.com>".to_owned(),
            dir: None,
            smtp: SmtpSettings::default(),
            sendgrid: SendgridSettings::default(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for local sinks.
    Plain,
}

/// SMTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// User for AUTH, if the server wants one.
    pub username: Option<String>,
    /// Password for AUTH.
    pub password: Option<SecretString>,
    /// Longest wait for one SMTP exchange.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 2525,
            security: SmtpSecurity::Plain,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// SendGrid settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendgridSettings {
    /// The API key (`SG.…`).
    pub api_key: Option<SecretString>,
    /// The API base URL.
    pub base_url: String,
    /// Longest wait for one API call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SendgridSettings {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.sendgrid.com".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl EmailSettings {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.from.trim().is_empty() {
            problems.push("`email.from`: must not be empty".to_owned());
        }
        match self.backend {
            EmailBackend::Smtp => {
                if self.smtp.host.trim().is_empty() {
                    problems.push("`email.smtp.host`: must not be empty".to_owned());
                }
                if self.smtp.port == 0 {
                    problems.push("`email.smtp.port`: must not be 0".to_owned());
                }
                if self.smtp.username.is_some() != self.smtp.password.is_some() {
                    problems.push(
                        "`email.smtp.username` and `email.smtp.password`: set both or neither"
                            .to_owned(),
                    );
                }
            }
            EmailBackend::Sendgrid => {
                if self.sendgrid.api_key.is_none() {
                    problems.push(
                        "`email.sendgrid.api_key`: required when `email.backend` is \"sendgrid\" \
                         (set SEAM_EMAIL__SENDGRID__API_KEY)"
                            .to_owned(),
                    );
                }
                if !self.sendgrid.base_url.starts_with("http") {
                    problems.push("`email.sendgrid.base_url`: expected an http(s) URL".to_owned());
                }
            }
            EmailBackend::File | EmailBackend::Memory => {}
        }
        problems
    }
}

/// Which cache sits in front of the user repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In the process: the default.
    Memory,
    /// Redis.
    Redis,
    /// No cache.
    None,
}

/// The read-through cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Which cache.
    pub backend: CacheBackend,
    /// How long a cached user stays fresh.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Redis URL (`backend = "redis"`).
    pub redis_url: SecretString,
    /// Prefix of every key, so deployments sharing a Redis do not collide.
    pub key_prefix: String,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            backend: CacheBackend::Memory,
            ttl: Duration::from_secs(60),
            redis_url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "seam:".to_owned(),
        }
    }
}

impl CacheSettings {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.ttl.is_zero() {
            problems.push("`cache.ttl`: must be greater than zero".to_owned());
        }
        if self.backend == CacheBackend::Redis {
            let url = self.redis_url.expose_secret();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push("`cache.redis_url`: expected a redis:// or rediss:// URL".to_owned());
            }
        }
        problems
    }
}
