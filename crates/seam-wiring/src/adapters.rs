//! Settings -> adapters: the one place that matches the backend enums.

use std::sync::Arc;

use seam_cache::{DynCache, InMemoryCache};
use seam_config::{CacheBackend, EmailBackend, QueueBackend, Settings};
use seam_core::{ExposeSecret, HealthCheck, SystemClock};
use seam_email::{EmailService, Templates};
use seam_health::{CheckOptions, HealthRegistry};
use seam_orders::{EmailSender, OrderService, bindings, parse_mailbox};
use seam_queue::{Consumer, DeadLetters, Publisher};
use seam_repository::{RepositoryPorts, UserRepository};
use seam_repository_cached::CachedUserRepository;
use seam_sql::Database;

use crate::StartupError;

/// The queue, as the three roles the services use.
#[derive(Debug, Clone)]
pub struct QueuePorts {
    /// Publishes (the outbox relay).
    pub publisher: Arc<dyn Publisher>,
    /// Consumes (the worker).
    pub consumer: Arc<dyn Consumer>,
    /// Inspects and replays dead letters (`seam dlq`).
    pub dead_letters: Arc<dyn DeadLetters>,
}

impl QueuePorts {
    fn from_shared<Q: Publisher + Consumer + DeadLetters>(queue: Arc<Q>) -> Self {
        Self {
            publisher: queue.clone(),
            consumer: queue.clone(),
            dead_letters: queue,
        }
    }
}

/// Every adapter the order flow needs, chosen by the settings.
#[derive(Debug, Clone)]
pub struct Adapters {
    /// The repositories over the configured database.
    pub repositories: RepositoryPorts,
    /// The configured queue.
    pub queue: QueuePorts,
    /// The configured e-mail service.
    pub email: Arc<dyn EmailService>,
    /// What `/health` should watch besides the database: the queue when it is not the
    /// database's own, and a shared cache.
    health: AdapterHealth,
}

/// The health check of an adapter, when it has a server of its own to watch.
type MaybeCheck = Option<Arc<dyn HealthCheck>>;

/// The health checks of the adapters that talk to a server of their own.
#[derive(Clone, Default)]
struct AdapterHealth {
    queue: Option<Arc<dyn HealthCheck>>,
    cache: Option<Arc<dyn HealthCheck>>,
}

impl std::fmt::Debug for AdapterHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterHealth")
            .field(
                "queue",
                &self.queue.as_ref().map(|check| check.name().to_owned()),
            )
            .field(
                "cache",
                &self.cache.as_ref().map(|check| check.name().to_owned()),
            )
            .finish()
    }
}

fn adapter_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

impl Adapters {
    /// Builds the repositories, queue and e-mail service the settings name.
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] naming the adapter that could not be built.
    pub async fn build(settings: &Settings, database: &Database) -> Result<Self, StartupError> {
        let mut repositories = repositories(database)?;
        let (users, cache_health) = cache_users(settings, repositories.users)?;
        repositories.users = users;
        let (queue, queue_health) = queue(settings, database).await?;
        // Every service refuses suppressed recipients and answers `status` from the
        // delivery events the webhook consumer records in the same database.
        let email = crate::email_events::EmailEventStores::sql(database).wrap(email(settings)?);
        Ok(Self {
            repositories,
            queue,
            email,
            health: AdapterHealth {
                queue: queue_health,
                cache: cache_health,
            },
        })
    }

    /// Registers the health checks of the queue (RabbitMQ or Redis; a SQL queue is the
    /// database, already checked) and of a Redis cache. The queue is `queue_critical` (the
    /// worker cannot work without it; the API only writes the outbox, so for it a broker
    /// outage is degraded, not unready). The cache is never critical: reads bypass it.
    pub fn register_health(&self, registry: &HealthRegistry, queue_critical: bool) {
        if let Some(queue) = &self.health.queue {
            let options = if queue_critical {
                CheckOptions::default()
            } else {
                CheckOptions::non_critical()
            };
            registry.register_with(queue.clone(), options);
        }
        if let Some(cache) = &self.health.cache {
            registry.register_with(cache.clone(), CheckOptions::non_critical());
        }
    }

    /// The order use cases over these adapters.
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] when `email.from` is not a valid address.
    pub fn order_service(&self, settings: &Settings) -> Result<OrderService, StartupError> {
        let from = parse_mailbox(&settings.email.from)
            .map_err(|error| adapter_error("email.from", error))?;
        Ok(OrderService::new(
            self.repositories.clone(),
            EmailSender {
                service: self.email.clone(),
                from,
                templates: Arc::new(Templates::new()),
            },
            SystemClock::shared(),
        ))
    }
}

fn repositories(database: &Database) -> Result<RepositoryPorts, StartupError> {
    let repositories = seam_repository_sql::SqlRepositories::new(database)
        .map_err(|error| adapter_error("repository (sql)", error))?;
    Ok(repositories.ports())
}

/// How many users the in-process cache (`cache.backend = "memory"`) holds at most; past
/// it the least recently used entry is evicted, so expired entries never pile up.
const MEMORY_CACHE_MAX_USERS: usize = 10_000;

/// Puts the read-through cache `cache.backend` names in front of `users`, entries living
/// `cache.ttl`: `memory` (in this process), `redis` (shared, under `cache.key_prefix`;
/// lazy: nothing connects before the first read, and a Redis that is down is bypassed,
/// never fatal), or `none`.
///
/// Each process wraps its own repository, and a cache only drops the entries of writes
/// made through it. With `memory`, the API and the order worker are separate processes
/// with separate caches: a user changed through the API stays as it was in the worker's
/// cache (and in other API replicas' caches) for up to `cache.ttl`. That is acceptable
/// today because users are only written through the API and the worker only reads a
/// customer's name and address for an e-mail; if the worker (or several API replicas)
/// must see user changes at once, use `redis`, whose entries every process shares and
/// invalidates, or `none`.
fn cache_users(
    settings: &Settings,
    users: Arc<dyn UserRepository>,
) -> Result<(Arc<dyn UserRepository>, MaybeCheck), StartupError> {
    let cache_settings = &settings.cache;
    let mut health: Option<Arc<dyn HealthCheck>> = None;
    let cache: Arc<DynCache> = match cache_settings.backend {
        CacheBackend::None => return Ok((users, None)),
        CacheBackend::Memory => Arc::new(InMemoryCache::bounded(
            SystemClock::shared(),
            MEMORY_CACHE_MAX_USERS,
        )),
        CacheBackend::Redis => {
            let config = seam_cache_redis::RedisCacheConfig::new(
                cache_settings.redis_url.expose_secret().clone(),
                cache_settings.key_prefix.clone(),
            );
            let redis = Arc::new(
                config
                    .build()
                    .map_err(|error| adapter_error("cache (redis)", error))?,
            );
            health = Some(redis.clone());
            redis
        }
    };
    let cached = CachedUserRepository::new(users, cache, cache_settings.ttl)
        .map_err(|error| adapter_error("cache.ttl", error))?;
    Ok((Arc::new(cached), health))
}

async fn queue(
    settings: &Settings,
    database: &Database,
) -> Result<(QueuePorts, MaybeCheck), StartupError> {
    let queue_settings = &settings.queue;
    match queue_settings.backend {
        QueueBackend::Sql => {
            let mut config = seam_queue_sql::SqlQueueConfig::new(bindings());
            config.visibility_timeout = queue_settings.visibility_timeout;
            config.poll_interval = queue_settings.poll_interval;
            let queue = seam_queue_sql::SqlQueue::new(database.clone(), config)
                .map_err(|error| adapter_error("queue (sql)", error))?;
            // The database's own health check covers it.
            Ok((QueuePorts::from_shared(Arc::new(queue)), None))
        }
        QueueBackend::Memory => {
            let mut config = seam_queue::MemoryQueueConfig::new(bindings());
            config.visibility_timeout = queue_settings.visibility_timeout;
            let queue = seam_queue::MemoryQueue::new(config)
                .map_err(|error| adapter_error("queue (memory)", error))?;
            Ok((QueuePorts::from_shared(Arc::new(queue)), None))
        }
        QueueBackend::Redis => {
            let redis = &queue_settings.redis;
            let config = seam_queue_redis::RedisQueueConfig {
                url: redis.url.clone(),
                key_prefix: redis.key_prefix.clone(),
                group: redis.group.clone(),
                bindings: bindings(),
                visibility_timeout: queue_settings.visibility_timeout,
                max_len: redis.max_len,
                ..seam_queue_redis::RedisQueueConfig::default()
            };
            let queue = config
                .connect()
                .await
                .map_err(|error| adapter_error("queue (redis)", error))?;
            let queue = Arc::new(queue);
            Ok((QueuePorts::from_shared(queue.clone()), Some(queue)))
        }
        QueueBackend::Amqp => {
            let amqp = &queue_settings.amqp;
            let mut config =
                seam_queue_amqp::AmqpQueueConfig::new(amqp.url.expose_secret().clone())
                    .with_bindings(bindings());
            config.exchange = amqp.exchange.clone();
            config.queue_prefix = amqp.queue_prefix.clone();
            config.prefetch = amqp.prefetch;
            config.visibility_timeout = queue_settings.visibility_timeout;
            config.queue_type = match amqp.queue_type {
                seam_config::AmqpQueueType::Classic => seam_queue_amqp::QueueType::Classic,
                seam_config::AmqpQueueType::Quorum => seam_queue_amqp::QueueType::Quorum,
            };
            let queue = config
                .build()
                .map_err(|error| adapter_error("queue (amqp)", error))?;
            queue
                .connect()
                .await
                .map_err(|error| adapter_error("queue (amqp)", error))?;
            let queue = Arc::new(queue);
            Ok((QueuePorts::from_shared(queue.clone()), Some(queue)))
        }
    }
}

fn email(settings: &Settings) -> Result<Arc<dyn EmailService>, StartupError> {
    let email = &settings.email;
    match email.backend {
        EmailBackend::File => {
            let adapter = seam_email_file::FileEmailConfig::new(settings.email_dir())
                .build()
                .map_err(|error| adapter_error("email (file)", error))?;
            Ok(Arc::new(adapter))
        }
        EmailBackend::Smtp => {
            let smtp = &email.smtp;
            let config = seam_email_smtp::SmtpConfig {
                host: smtp.host.clone(),
                port: smtp.port,
                mode: match smtp.security {
                    seam_config::SmtpSecurity::Starttls => seam_email_smtp::SmtpMode::Starttls,
                    seam_config::SmtpSecurity::Tls => seam_email_smtp::SmtpMode::Tls,
                    seam_config::SmtpSecurity::Plain => seam_email_smtp::SmtpMode::Plain,
                },
                username: smtp.username.clone(),
                password: smtp.password.clone(),
                timeout: smtp.timeout,
                ..seam_email_smtp::SmtpConfig::default()
            };
            let adapter = config
                .build()
                .map_err(|error| adapter_error("email (smtp)", error))?;
            Ok(Arc::new(adapter))
        }
        EmailBackend::Sendgrid => {
            let sendgrid = &email.sendgrid;
            let Some(api_key) = sendgrid.api_key.clone() else {
                return Err(adapter_error(
                    "email (sendgrid)",
                    "email.sendgrid.api_key is required",
                ));
            };
            let mut config = seam_email_sendgrid::SendgridConfig::new(api_key);
            config.base_url = sendgrid.base_url.clone();
            config.timeout = sendgrid.timeout;
            let adapter = config
                .build()
                .map_err(|error| adapter_error("email (sendgrid)", error))?;
            Ok(Arc::new(adapter))
        }
        EmailBackend::Memory => Ok(Arc::new(seam_email::InMemoryEmail::new())),
    }
}
