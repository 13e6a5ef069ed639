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

use seam_core::{Classify, Health, HealthCheck};
use seam_health::{CheckOptions, HealthRegistry};

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
    /// refuses its configuration.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let storage: &StorageSettings = &settings.storage;
        let primary = build_location(&storage.primary(&settings.data_dir), "storage")?;
        let mirror = match &storage.mirror {
            None => None,
            Some(mirror) => {
                let mode = match mirror.mode {
                    MirrorMode::Sync => seam_storage::MirrorMode::Sync,
                    // A deferred copy needs a durable queue and a worker draining it into
                    // the mirror; until the services run one, refuse rather than lose copies.
                    MirrorMode::Queue => {
                        return Err(adapter_error(
                            "storage.mirror.mode",
                            "\"queue\" is not available yet: no worker drains a mirror queue; \
                             use \"sync\"",
                        ));
                    }
                };
                let built = build_location(&mirror.location(&settings.data_dir), "storage.mirror")?;
                Some((built, mode))
            }
        };
        let urls = PublicUrls::new(storage.cdn_base_url.as_deref(), storage.signed_url_ttl)
            .map_err(|error| adapter_error("storage.cdn_base_url", error))?;
        Ok(Self::from_parts(primary, mirror, urls))
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

    #[test]
    fn a_queued_mirror_is_refused_until_a_worker_drains_it() {
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
