//! Settings -> object storage: the one place that matches `storage.backend` (and the
//! mirror's) to an adapter.
//!
//! [`FileStorage`] is what the services hold: the configured store (with its mirror,
//! when one is configured), scoped per tenant on demand, with public URLs on a CDN and
//! the mirror check `seam storage verify` runs.

use std::sync::Arc;

use seam_config::{
    MirrorMode, Settings, StorageBackend, StorageCredentials, StorageLocation, StorageSettings,
};
use seam_storage::{
    InMemoryStorage, MeteredStorage, MirroredStorage, ObjectKey, ObjectStorage, PublicUrls,
    TenantId, TenantStorage, VerifyReport,
};
use seam_storage_object_store::{
    AzureConfig, BackendConfig, GcsConfig, LocalConfig, ObjectStoreConfig,
    S3Config as ObjectStoreS3Config,
};

use std::time::Duration;

use seam_core::{Classify, ErrorKind, Health, HealthCheck};
use seam_health::{CheckOptions, HealthRegistry};
use seam_queue::{Consumer, Envelope, Publisher, QueueBinding};
use seam_queue_sql::{SqlQueue, SqlQueueConfig};
use seam_sql::Database;
use seam_storage::{MirrorOp, MirrorQueue};
use tokio_util::sync::CancellationToken;

use crate::StartupError;

/// The file storage the settings name.
#[derive(Debug, Clone)]
pub struct FileStorage {
    /// What callers write to: the metered primary, mirrored when a mirror is configured.
    storage: Arc<dyn ObjectStorage>,
    /// The primary alone.
    primary: Arc<dyn ObjectStorage>,
    /// The mirror alone, when configured.
    mirror: Option<Arc<dyn ObjectStorage>>,
    /// CDN URLs of public objects.
    urls: PublicUrls,
    /// Where a queued mirror's copies wait.
    mirror_queue: Option<Arc<dyn Consumer>>,
}

/// The queue of deferred mirror copies (in the SQL queue of the database).
pub const MIRROR_QUEUE: &str = "storage-mirror";
/// The routing key of deferred mirror copies.
pub const MIRROR_ROUTING_KEY: &str = "storage.mirror";
/// The message type of a deferred mirror copy; the payload is a [`MirrorOp`].
pub const MIRROR_MESSAGE_TYPE: &str = "storage.mirror_op";
/// Deliveries of one copy before it is dead-lettered (`seam dlq`).
pub const MIRROR_MAX_DELIVERIES: u32 = 10;

/// Queues mirror copies as messages, durably (the write that caused one fails when it
/// cannot be queued).
#[derive(Debug)]
struct QueuedMirror {
    publisher: Arc<dyn Publisher>,
}

#[async_trait::async_trait]
impl MirrorQueue for QueuedMirror {
    async fn enqueue(&self, op: MirrorOp) -> seam_storage::Result<()> {
        let payload = serde_json::to_value(&op)
            .map_err(|error| seam_storage::Error::invalid(error.to_string()))?;
        self.publisher
            .publish(
                MIRROR_ROUTING_KEY,
                &Envelope::new(MIRROR_MESSAGE_TYPE, payload),
            )
            .await
            .map_err(|error| match error.kind() {
                ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::RateLimited { .. } => {
                    seam_storage::Error::transient(format!("cannot queue the mirror copy: {error}"))
                }
                _ => seam_storage::Error::unavailable(format!(
                    "cannot queue the mirror copy: {error}"
                )),
            })
    }
}

/// What one step of the [`MirrorDrainer`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// Nothing was queued.
    Idle,
    /// A change reached the mirror.
    Copied,
    /// Copying failed and will be tried again later.
    Retried,
    /// Copying kept failing (or the message was unreadable): it is a dead letter.
    DeadLettered,
}

/// Copies the changes a queued mirror deferred, one message at a time: the primary's
/// current object to the mirror (or its removal), then the message is acknowledged.
/// Failures are retried with backoff, then dead-lettered.
#[derive(Debug, Clone)]
pub struct MirrorDrainer {
    consumer: Arc<dyn Consumer>,
    primary: Arc<dyn ObjectStorage>,
    mirror: Arc<dyn ObjectStorage>,
}

impl MirrorDrainer {
    /// Processes the next queued change, waiting up to `wait` for one.
    ///
    /// # Errors
    ///
    /// The queue's errors (receiving or settling the message).
    pub async fn process_next(&self, wait: Duration) -> Result<Drained, seam_queue::Error> {
        let Some(delivery) = self.consumer.receive(MIRROR_QUEUE, wait).await? else {
            return Ok(Drained::Idle);
        };
        let op: MirrorOp = match delivery.decode() {
            Ok(op) => op,
            Err(error) => {
                delivery
                    .dead_letter(&format!("not a mirror op: {error}"))
                    .await?;
                return Ok(Drained::DeadLettered);
            }
        };
        match seam_storage::mirror::apply(self.primary.as_ref(), self.mirror.as_ref(), &op).await {
            Ok(()) => {
                delivery.ack().await?;
                Ok(Drained::Copied)
            }
            Err(error) if error.is_retryable() && delivery.deliveries() < MIRROR_MAX_DELIVERIES => {
                // 1s, 2s, 4s ... capped at 5 minutes.
                let after = Duration::from_secs(1 << delivery.deliveries().min(8))
                    .min(Duration::from_secs(300));
                tracing::warn!(key = %op.key(), error.message = %error, ?after, "mirror copy failed; will retry");
                delivery.retry(after, &error.to_string()).await?;
                Ok(Drained::Retried)
            }
            Err(error) => {
                tracing::error!(key = %op.key(), error.message = %error, "mirror copy failed for good");
                delivery.dead_letter(&error.to_string()).await?;
                Ok(Drained::DeadLettered)
            }
        }
    }

    /// Drains the queue until `cancel` fires.
    pub fn spawn(self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    result = self.process_next(Duration::from_secs(1)) => {
                        if let Err(error) = result {
                            tracing::warn!(error.message = %error, "the mirror queue failed; pausing");
                            tokio::select! {
                                () = cancel.cancelled() => break,
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                    }
                }
            }
        })
    }
}

/// Whether a store answers: a `head` of a key that does not exist, which every backend
/// answers cheaply (`NotFound` means it is reachable and the credentials work).
#[derive(Debug)]
struct StorageHealth {
    name: &'static str,
    storage: Arc<dyn ObjectStorage>,
}

/// The key probed; nothing is ever written there.
const HEALTH_PROBE_KEY: &str = "seam-health-probe";

#[async_trait::async_trait]
impl HealthCheck for StorageHealth {
    fn name(&self) -> &str {
        self.name
    }

    async fn check(&self) -> Health {
        let key = match ObjectKey::parse(HEALTH_PROBE_KEY) {
            Ok(key) => key,
            Err(error) => return Health::down(error.to_string()),
        };
        match self.storage.head(&key).await {
            Ok(_) | Err(seam_storage::Error::NotFound { .. }) => Health::up(),
            // Storage errors name keys and backends, never credentials.
            Err(error) => Health::down(format!("{}: {error}", error.kind())),
        }
    }
}

fn adapter_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

/// The object-store credentials of a location, by backend.
fn object_store_config(location: &StorageLocation) -> Option<BackendConfig> {
    let credentials: &StorageCredentials = &location.credentials;
    let bucket = location.bucket.clone().unwrap_or_default();
    let allow_http = location
        .endpoint
        .as_deref()
        .is_some_and(|endpoint| endpoint.starts_with("http://"));
    Some(match location.backend {
        StorageBackend::Local => BackendConfig::Local(LocalConfig {
            root: location.dir.clone(),
            fsync: false,
        }),
        StorageBackend::S3 => BackendConfig::S3(ObjectStoreS3Config {
            bucket,
            region: location
                .region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
            endpoint: location.endpoint.clone(),
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
            session_token: credentials.session_token.clone(),
            allow_http,
            virtual_hosted_style: !location.path_style && location.endpoint.is_none(),
        }),
        StorageBackend::Gcs => BackendConfig::Gcs(GcsConfig {
            bucket,
            service_account_path: None,
            service_account_key: credentials.service_account_key.clone(),
        }),
        StorageBackend::Azure => BackendConfig::Azure(AzureConfig {
            account: credentials.account.clone().unwrap_or_default(),
            container: bucket,
            access_key: credentials.access_key.clone(),
            endpoint: location.endpoint.clone(),
            allow_http,
        }),
        StorageBackend::Memory | StorageBackend::S3Sdk => return None,
    })
}

/// Builds the adapter of one location: the one match on the backend enum.
///
/// # Errors
///
/// [`StartupError::Adapter`] naming `what` when the adapter refuses its configuration.
pub fn build_location(
    location: &StorageLocation,
    what: &'static str,
) -> Result<Arc<dyn ObjectStorage>, StartupError> {
    match location.backend {
        StorageBackend::Memory => Ok(Arc::new(InMemoryStorage::new())),
        StorageBackend::S3Sdk => {
            let credentials = &location.credentials;
            let mut config = seam_storage_s3::S3Config::new(
                location.bucket.clone().unwrap_or_default(),
                location
                    .region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                credentials.access_key_id.clone().unwrap_or_default(),
                credentials
                    .secret_access_key
                    .clone()
                    .unwrap_or_else(|| seam_core::SecretString::from(String::new())),
            );
            config.endpoint = location.endpoint.clone();
            config.force_path_style = location.path_style;
            config.session_token = credentials.session_token.clone();
            let storage = config.build().map_err(|error| adapter_error(what, error))?;
            Ok(Arc::new(storage))
        }
        StorageBackend::Local
        | StorageBackend::S3
        | StorageBackend::Gcs
        | StorageBackend::Azure => {
            let Some(backend) = object_store_config(location) else {
                return Err(adapter_error(what, "no object_store backend"));
            };
            let storage = ObjectStoreConfig::new(backend)
                .build()
                .map_err(|error| adapter_error(what, error))?;
            Ok(Arc::new(storage))
        }
    }
}

impl FileStorage {
    /// Builds the storage `settings.storage` names, metered, with its mirror.
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] naming `storage` or `storage.mirror` when an adapter
    /// refuses its configuration, or `storage.mirror.mode` for a queued mirror, which
    /// needs the database ([`FileStorage::build_with_database`]).
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        Self::build_with_queue(settings, None)
    }

    /// Builds the storage as [`FileStorage::build`] does; a queued mirror
    /// (`storage.mirror.mode = "queue"`) queues its copies in `database` (the SQL queue,
    /// queue [`MIRROR_QUEUE`]), drained by [`FileStorage::mirror_drainer`].
    ///
    /// # Errors
    ///
    /// As [`FileStorage::build`], and `storage.mirror.mode` when the queue cannot be
    /// set up.
    pub fn build_with_database(
        settings: &Settings,
        database: &Database,
    ) -> Result<Self, StartupError> {
        let queue = match &settings.storage.mirror {
            Some(mirror) if mirror.mode == MirrorMode::Queue => {
                let mut config =
                    SqlQueueConfig::new(vec![QueueBinding::new(MIRROR_QUEUE, MIRROR_ROUTING_KEY)]);
                config.visibility_timeout = settings.queue.visibility_timeout;
                config.poll_interval = settings.queue.poll_interval;
                let queue = SqlQueue::new(database.clone(), config)
                    .map_err(|error| adapter_error("storage.mirror.mode", error))?;
                Some(Arc::new(queue))
            }
            _ => None,
        };
        Self::build_with_queue(settings, queue)
    }

    fn build_with_queue(
        settings: &Settings,
        queue: Option<Arc<SqlQueue>>,
    ) -> Result<Self, StartupError> {
        let storage: &StorageSettings = &settings.storage;
        let primary = build_location(&storage.primary(&settings.data_dir), "storage")?;
        let mut consumer: Option<Arc<dyn Consumer>> = None;
        let mirror = match &storage.mirror {
            None => None,
            Some(mirror) => {
                let mode = match (mirror.mode, &queue) {
                    (MirrorMode::Sync, _) => seam_storage::MirrorMode::Sync,
                    (MirrorMode::Queue, Some(queue)) => {
                        consumer = Some(queue.clone());
                        seam_storage::MirrorMode::Deferred(Arc::new(QueuedMirror {
                            publisher: queue.clone(),
                        }))
                    }
                    (MirrorMode::Queue, None) => {
                        return Err(adapter_error(
                            "storage.mirror.mode",
                            "\"queue\" keeps its copies in the database's queue: build the \
                             storage with the database (FileStorage::build_with_database)",
                        ));
                    }
                };
                let built = build_location(&mirror.location(&settings.data_dir), "storage.mirror")?;
                Some((built, mode))
            }
        };
        let urls = PublicUrls::new(storage.cdn_base_url.as_deref(), storage.signed_url_ttl)
            .map_err(|error| adapter_error("storage.cdn_base_url", error))?;
        let mut built = Self::from_parts(primary, mirror, urls);
        built.mirror_queue = consumer;
        Ok(built)
    }

    /// A file storage over already-built stores (tests, tools).
    pub fn from_parts(
        primary: Arc<dyn ObjectStorage>,
        mirror: Option<(Arc<dyn ObjectStorage>, seam_storage::MirrorMode)>,
        urls: PublicUrls,
    ) -> Self {
        let metered: Arc<dyn ObjectStorage> = Arc::new(MeteredStorage::new(primary.clone()));
        let storage: Arc<dyn ObjectStorage> = match &mirror {
            None => metered,
            Some((mirror, mode)) => Arc::new(MirroredStorage::new(
                metered,
                Arc::new(MeteredStorage::new(mirror.clone())),
                mode.clone(),
            )),
        };
        Self {
            storage,
            primary,
            mirror: mirror.map(|(mirror, _)| mirror),
            urls,
            mirror_queue: None,
        }
    }

    /// The whole storage (every tenant), metered and mirrored as configured.
    pub fn storage(&self) -> Arc<dyn ObjectStorage> {
        self.storage.clone()
    }

    /// One tenant's view of the storage: its keys live under `tenants/<tenant>/`, and no
    /// key, prefix or token given to it reaches another tenant's objects.
    ///
    /// # Errors
    ///
    /// [`seam_storage::Error::Invalid`] when `tenant` is not a valid tenant id.
    pub fn for_tenant(&self, tenant: &str) -> seam_storage::Result<TenantStorage> {
        Ok(TenantStorage::new(
            self.storage.clone(),
            TenantId::parse(tenant)?,
        ))
    }

    /// The CDN URL of a tenant's public object, when a CDN is configured.
    ///
    /// # Errors
    ///
    /// [`seam_storage::Error::Invalid`] or `InvalidKey` for a bad tenant or key.
    pub async fn public_url(
        &self,
        tenant: &TenantStorage,
        key: &ObjectKey,
    ) -> seam_storage::Result<Option<String>> {
        if self.urls.cdn_base().is_none() {
            return Ok(None);
        }
        let stored = tenant.scoped(key)?;
        self.urls
            .url_for(self.storage.as_ref(), &stored, true)
            .await
            .map(Some)
    }

    /// Registers the stores' health checks, `storage` and (with a mirror)
    /// `storage.mirror`, as non-critical: the service keeps taking orders while files are
    /// unavailable, and `/health` shows it degraded.
    pub fn register_health(&self, health: &HealthRegistry) {
        health.register_with(
            Arc::new(StorageHealth {
                name: "storage",
                storage: self.primary.clone(),
            }),
            CheckOptions::non_critical(),
        );
        if let Some(mirror) = &self.mirror {
            health.register_with(
                Arc::new(StorageHealth {
                    name: "storage.mirror",
                    storage: mirror.clone(),
                }),
                CheckOptions::non_critical(),
            );
        }
    }

    /// The task copying queued changes to the mirror, when the mirror is queued.
    pub fn mirror_drainer(&self) -> Option<MirrorDrainer> {
        let (Some(consumer), Some(mirror)) = (&self.mirror_queue, &self.mirror) else {
            return None;
        };
        Some(MirrorDrainer {
            consumer: consumer.clone(),
            primary: self.primary.clone(),
            mirror: mirror.clone(),
        })
    }

    /// Whether a mirror is configured.
    pub fn has_mirror(&self) -> bool {
        self.mirror.is_some()
    }

    /// Compares the mirror with the primary under `prefix`: every primary object must
    /// be in the mirror with the same content.
    ///
    /// # Errors
    ///
    /// [`seam_storage::Error::Invalid`] when no mirror is configured; the stores' own
    /// errors otherwise.
    pub async fn verify(&self, prefix: &str) -> seam_storage::Result<VerifyReport> {
        let Some(mirror) = &self.mirror else {
            return Err(seam_storage::Error::invalid(
                "no mirror is configured: set [storage.mirror] (or SEAM_STORAGE__MIRROR__BACKEND)",
            ));
        };
        seam_storage::mirror::verify(self.primary.as_ref(), mirror.as_ref(), prefix).await
    }
}

#[cfg(test)]
mod tests {
    use seam_config::MirrorSettings;
    use seam_storage::{ObjectStorageExt, PutOptions};

    use super::*;

    fn settings(data: &std::path::Path) -> Settings {
        Settings {
            data_dir: data.to_path_buf(),
            ..Settings::default()
        }
    }

    fn key(text: &str) -> ObjectKey {
        ObjectKey::parse(text).unwrap()
    }

    #[tokio::test]
    async fn local_files_are_mirrored_and_verified() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.mirror = Some(MirrorSettings::default());
        let storage = FileStorage::build(&settings).unwrap();
        assert!(storage.has_mirror());
        let tenant = storage.for_tenant("ada").unwrap();
        tenant
            .put_bytes(&key("a.txt"), "alpha".into(), PutOptions::default())
            .await
            .unwrap();
        assert!(data.path().join("files/tenants/ada/a.txt").is_file());
        assert!(data.path().join("files-mirror/tenants/ada/a.txt").is_file());
        let report = storage.verify("").await.unwrap();
        assert!(report.is_consistent(), "{report:?}");
        assert_eq!(report.checked, 1);

        std::fs::remove_file(data.path().join("files-mirror/tenants/ada/a.txt")).unwrap();
        let report = storage.verify("tenants/ada/").await.unwrap();
        assert_eq!(report.missing, [key("tenants/ada/a.txt")]);
    }

    #[tokio::test]
    async fn without_a_mirror_verify_says_how_to_configure_one() {
        let data = tempfile::tempdir().unwrap();
        let storage = FileStorage::build(&settings(data.path())).unwrap();
        assert!(!storage.has_mirror());
        let error = storage.verify("").await.unwrap_err();
        assert!(error.to_string().contains("[storage.mirror]"), "{error}");
    }

    #[tokio::test]
    async fn health_checks_probe_each_store() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.mirror = Some(MirrorSettings::default());
        let storage = FileStorage::build(&settings).unwrap();
        let health = HealthRegistry::new(
            seam_health::HealthConfig::default(),
            seam_core::SystemClock::shared(),
        );
        storage.register_health(&health);
        health.check_all().await;
        let report = health.report();
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["storage", "storage.mirror"], "{report:?}");
        for check in &report.checks {
            assert_eq!(check.status, seam_core::HealthStatus::Up, "{check:?}");
            assert!(!check.critical, "{check:?}");
        }
    }

    #[tokio::test]
    async fn a_queued_mirror_copies_through_the_database_queue() {
        let file = seam_testkit::TestSqlite::new().await;
        let database = Database::connect(&seam_sql::SqlConfig::new(file.url()))
            .await
            .unwrap();
        database.migrate_up().await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.mirror = Some(MirrorSettings {
            mode: MirrorMode::Queue,
            ..MirrorSettings::default()
        });
        let storage = FileStorage::build_with_database(&settings, &database).unwrap();
        let drainer = storage
            .mirror_drainer()
            .expect("a queued mirror has a drainer");
        let tenant = storage.for_tenant("ada").unwrap();

        tenant
            .put_bytes(&key("a.txt"), "alpha".into(), PutOptions::default())
            .await
            .unwrap();
        // Acknowledged once in the primary; the copy waits in the queue.
        let report = storage.verify("").await.unwrap();
        assert_eq!(report.missing, [key("tenants/ada/a.txt")]);
        assert_eq!(
            drainer.process_next(Duration::ZERO).await.unwrap(),
            Drained::Copied
        );
        assert!(storage.verify("").await.unwrap().is_consistent());
        assert_eq!(
            drainer.process_next(Duration::ZERO).await.unwrap(),
            Drained::Idle
        );

        tenant.delete(&key("a.txt")).await.unwrap();
        assert!(data.path().join("files-mirror/tenants/ada/a.txt").is_file());
        assert_eq!(
            drainer.process_next(Duration::ZERO).await.unwrap(),
            Drained::Copied
        );
        assert!(!data.path().join("files-mirror/tenants/ada/a.txt").exists());

        // A message that is not a mirror op is set aside, not retried for ever.
        let queue = SqlQueue::new(
            database.clone(),
            SqlQueueConfig::new(vec![QueueBinding::new(MIRROR_QUEUE, MIRROR_ROUTING_KEY)]),
        )
        .unwrap();
        queue
            .publish(
                MIRROR_ROUTING_KEY,
                &Envelope::new(MIRROR_MESSAGE_TYPE, serde_json::json!({"op": "shred"})),
            )
            .await
            .unwrap();
        assert_eq!(
            drainer.process_next(Duration::ZERO).await.unwrap(),
            Drained::DeadLettered
        );
        assert_eq!(
            drainer.process_next(Duration::ZERO).await.unwrap(),
            Drained::Idle
        );

        database.close().await;
        file.cleanup().await;
    }

    #[test]
    fn a_queued_mirror_needs_the_database() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.mirror = Some(MirrorSettings {
            mode: MirrorMode::Queue,
            ..MirrorSettings::default()
        });
        let error = FileStorage::build(&settings).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("storage.mirror.mode: \"queue\""),
            "{error}"
        );
    }

    #[tokio::test]
    async fn memory_storage_and_cdn_urls() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.backend = StorageBackend::Memory;
        settings.storage.cdn_base_url = Some("https://cdn.example.com/files".to_owned());
        let storage = FileStorage::build(&settings).unwrap();
        let tenant = storage.for_tenant("ada").unwrap();
        assert_eq!(
            storage.public_url(&tenant, &key("x/y.png")).await.unwrap(),
            Some("https://cdn.example.com/files/tenants/ada/x/y.png".to_owned())
        );
        // Nothing was written to the data folder.
        assert!(!data.path().join("files").exists());
        assert!(storage.for_tenant("a/b").is_err());
        assert!(storage.for_tenant("").is_err());
    }

    #[test]
    fn adapters_refusing_their_configuration_name_the_setting() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        settings.storage.backend = StorageBackend::S3Sdk;
        settings.storage.bucket = Some("Not_A_Bucket".to_owned());
        let error = FileStorage::build(&settings).unwrap_err();
        assert!(error.to_string().starts_with("storage: "), "{error}");

        let mut settings = self::settings(data.path());
        settings.storage.cdn_base_url = Some("ftp://cdn".to_owned());
        let error = FileStorage::build(&settings).unwrap_err();
        assert!(
            error.to_string().starts_with("storage.cdn_base_url: "),
            "{error}"
        );
    }
}
