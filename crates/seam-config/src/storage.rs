//! The `[storage]` section: where uploaded files are kept, the limits on uploads, how
//! download URLs are made, and an optional mirror. `seam-wiring` matches the backend
//! enum to an adapter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Which object store keeps the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageBackend {
    /// Files in a local folder (`dir`): the default, needs nothing installed.
    Local,
    /// In the process: for tests and demos; files do not survive a restart.
    Memory,
    /// Amazon S3 or an S3-compatible server, through the `object_store` crate.
    S3,
    /// Google Cloud Storage, through the `object_store` crate.
    Gcs,
    /// Azure Blob Storage, through the `object_store` crate.
    Azure,
    /// Amazon S3 or an S3-compatible server, through the AWS SDK (multipart uploads,
    /// server-side encryption, storage classes).
    S3Sdk,
}

impl StorageBackend {
    /// The name used in configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Memory => "memory",
            Self::S3 => "s3",
            Self::Gcs => "gcs",
            Self::Azure => "azure",
            Self::S3Sdk => "s3-sdk",
        }
    }

    fn needs_bucket(self) -> bool {
        matches!(self, Self::S3 | Self::Gcs | Self::Azure | Self::S3Sdk)
    }
}

/// Credentials of the cloud backends; each backend reads its own. Left out, the
/// `object_store` backends fall back on their provider's usual chain (environment,
/// instance or workload identity).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageCredentials {
    /// S3: the access key id.
    pub access_key_id: Option<String>,
    /// S3: the secret access key.
    pub secret_access_key: Option<SecretString>,
    /// S3: a session token, for temporary (STS) credentials.
    pub session_token: Option<SecretString>,
    /// GCS: the service account key, as JSON.
    pub service_account_key: Option<SecretString>,
    /// Azure: the storage account name.
    pub account: Option<String>,
    /// Azure: the storage account's access key.
    pub access_key: Option<SecretString>,
}

/// One object store: the backend and how to reach it. [`StorageSettings::primary`] and
/// [`MirrorSettings::location`] give theirs in this shape, so both are built alike.
#[derive(Debug, Clone)]
pub struct StorageLocation {
    /// Which backend.
    pub backend: StorageBackend,
    /// The folder (`local`), resolved against `data_dir`.
    pub dir: PathBuf,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: Option<String>,
    /// The region (S3); `us-east-1` when left out.
    pub region: Option<String>,
    /// A custom endpoint (S3-compatible servers, emulators).
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket/key` (most S3-compatible servers).
    pub path_style: bool,
    /// Credentials.
    pub credentials: StorageCredentials,
}

/// Whether writes reach the mirror during the request or after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorMode {
    /// Every write goes to both stores before it is acknowledged.
    #[default]
    Sync,
    /// Writes are acknowledged once in the primary and the copy is queued durably (in
    /// the database's SQL queue, queue `storage-mirror`); the API copies queued changes
    /// in the background, retrying, then dead-lettering (`seam dlq`).
    Queue,
}

/// A second object store that receives a copy of every write.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MirrorSettings {
    /// Which backend.
    pub backend: StorageBackend,
    /// The folder (`local`); default `<data_dir>/files-mirror`.
    pub dir: Option<PathBuf>,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: Option<String>,
    /// The region (S3).
    pub region: Option<String>,
    /// A custom endpoint.
    pub endpoint: Option<String>,
    /// Path-style bucket addressing.
    pub path_style: bool,
    /// Credentials.
    pub credentials: StorageCredentials,
    /// Synchronous or queued copies.
    pub mode: MirrorMode,
}

impl Default for MirrorSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            dir: None,
            bucket: None,
            region: None,
            endpoint: None,
            path_style: false,
            credentials: StorageCredentials::default(),
            mode: MirrorMode::Sync,
        }
    }
}

impl MirrorSettings {
    /// The mirror's store; a local one defaults to `<data_dir>/files-mirror`.
    pub fn location(&self, data_dir: &Path) -> StorageLocation {
        StorageLocation {
            backend: self.backend,
            dir: self
                .dir
                .clone()
                .unwrap_or_else(|| data_dir.join("files-mirror")),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            path_style: self.path_style,
            credentials: self.credentials.clone(),
        }
    }
}

/// The default of [`StorageSettings::max_upload_bytes`]: 25 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;
/// The largest `max_upload_bytes` accepted: 5 GiB (one S3 `PutObject`).
pub const MAX_UPLOAD_BYTES_LIMIT: u64 = 5 * 1024 * 1024 * 1024;

/// File storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Which backend.
    pub backend: StorageBackend,
    /// The folder (`local`); default `<data_dir>/files`.
    pub dir: Option<PathBuf>,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: Option<String>,
    /// The region (S3); `us-east-1` when left out.
    pub region: Option<String>,
    /// A custom endpoint (S3-compatible servers such as MinIO, emulators).
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub path_style: bool,
    /// Credentials of the cloud backends.
    pub credentials: StorageCredentials,
    /// Public files are served from `<cdn_base_url>/<key>` when set; otherwise (and for
    /// private files) from signed URLs.
    pub cdn_base_url: Option<String>,
    /// How long a signed download URL works: 1s to 7 days.
    #[serde(with = "humantime_serde")]
    pub signed_url_ttl: Duration,
    /// The largest upload accepted, in bytes (larger: 413).
    pub max_upload_bytes: u64,
    /// The media types an upload may have (larger list: fewer 415s). `type/*` allows a
    /// whole type.
    pub allowed_content_types: Vec<String>,
    /// A second store receiving a copy of every write.
    pub mirror: Option<MirrorSettings>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            dir: None,
            bucket: None,
            region: None,
            endpoint: None,
            path_style: false,
            credentials: StorageCredentials::default(),
            cdn_base_url: None,
            signed_url_ttl: Duration::from_secs(15 * 60),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            allowed_content_types: [
                "application/pdf",
                "image/png",
                "image/jpeg",
                "text/plain",
                "text/csv",
                "application/json",
            ]
            .map(str::to_owned)
            .to_vec(),
            mirror: None,
        }
    }
}

impl StorageSettings {
    /// The primary store; a local one defaults to `<data_dir>/files`.
    pub fn primary(&self, data_dir: &Path) -> StorageLocation {
        StorageLocation {
            backend: self.backend,
            dir: self.dir.clone().unwrap_or_else(|| data_dir.join("files")),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            path_style: self.path_style,
            credentials: self.credentials.clone(),
        }
    }

    /// Whether uploads of `content_type` are allowed: its essence (`type/subtype`,
    /// parameters ignored, case-insensitive) is listed, or its type is (`image/*`).
    pub fn allows_content_type(&self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some((kind, _)) = essence.split_once('/') else {
            return false;
        };
        self.allowed_content_types.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            allowed == essence || allowed == format!("{kind}/*")
        })
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        location_problems(
            "storage",
            self.backend,
            self.dir.as_deref(),
            self.bucket.as_deref(),
            self.endpoint.as_deref(),
            &self.credentials,
            &mut problems,
        );
        if let Some(url) = &self.cdn_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!(
                "`storage.cdn_base_url`: expected an http:// or https:// URL, found {url:?}"
            ));
        }
        let (min, max) = (
            Duration::from_secs(1),
            Duration::from_secs(7 * 24 * 60 * 60),
        );
        if !(min..=max).contains(&self.signed_url_ttl) {
            problems.push(format!(
                "`storage.signed_url_ttl`: must be between 1s and 7 days, found {:?}",
                self.signed_url_ttl
            ));
        }
        if self.max_upload_bytes == 0 || self.max_upload_bytes > MAX_UPLOAD_BYTES_LIMIT {
            problems.push(format!(
                "`storage.max_upload_bytes`: expected 1 to {MAX_UPLOAD_BYTES_LIMIT} (5 GiB), found {}",
                self.max_upload_bytes
            ));
        }
        if self.allowed_content_types.is_empty() {
            problems.push(
                "`storage.allowed_content_types`: must list at least one media type \
                 (for example \"application/pdf\" or \"image/*\")"
                    .to_owned(),
            );
        }
        for allowed in &self.allowed_content_types {
            let valid = allowed.split_once('/').is_some_and(|(kind, subtype)| {
                let token = |text: &str| {
                    !text.is_empty()
                        && text
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
                };
                token(kind) && (subtype == "*" || token(subtype))
            });
            if !valid {
                problems.push(format!(
                    "`storage.allowed_content_types`: {allowed:?} is not a media type such as \
                     \"application/pdf\" or \"image/*\""
                ));
            }
        }
        if let Some(mirror) = &self.mirror {
            location_problems(
                "storage.mirror",
                mirror.backend,
                mirror.dir.as_deref(),
                mirror.bucket.as_deref(),
                mirror.endpoint.as_deref(),
                &mirror.credentials,
                &mut problems,
            );
            let same_folder = self.backend == StorageBackend::Local
                && mirror.backend == StorageBackend::Local
                && self.dir.is_some()
                && self.dir == mirror.dir;
            let same_bucket = self.backend == mirror.backend
                && self.backend.needs_bucket()
                && self.bucket.is_some()
                && self.bucket == mirror.bucket
                && self.endpoint == mirror.endpoint;
            if same_folder || same_bucket {
                problems.push(
                    "`storage.mirror`: must be another place than the primary storage \
                     (a mirror of itself protects nothing)"
                        .to_owned(),
                );
            }
        }
        problems
    }
}

fn location_problems(
    section: &str,
    backend: StorageBackend,
    dir: Option<&Path>,
    bucket: Option<&str>,
    endpoint: Option<&str>,
    credentials: &StorageCredentials,
    problems: &mut Vec<String>,
) {
    let name = backend.as_str();
    if backend == StorageBackend::Local && dir.is_some_and(|dir| dir.as_os_str().is_empty()) {
        problems.push(format!(
            "`{section}.dir`: must not be empty (leave it out for the default)"
        ));
    }
    if backend.needs_bucket() && bucket.is_none_or(|bucket| bucket.trim().is_empty()) {
        let var = section.to_uppercase().replace('.', "__");
        problems.push(format!(
            "`{section}.bucket`: required when `{section}.backend` is {name:?} \
             (set SEAM_{var}__BUCKET)"
        ));
    }
    if let Some(endpoint) = endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        problems.push(format!(
            "`{section}.endpoint`: expected an http:// or https:// URL, found {endpoint:?}"
        ));
    }
    let has = |secret: &Option<SecretString>| {
        secret
            .as_ref()
            .is_some_and(|secret| !secret.expose_secret().trim().is_empty())
    };
    let key_id = credentials
        .access_key_id
        .as_ref()
        .is_some_and(|id| !id.trim().is_empty());
    match backend {
        StorageBackend::S3 if key_id != has(&credentials.secret_access_key) => {
            problems.push(format!(
                "`{section}.credentials.access_key_id` and `{section}.credentials.secret_access_key`: \
                 set both or neither"
            ));
        }
        StorageBackend::S3Sdk if !key_id || !has(&credentials.secret_access_key) => {
            let var = section.to_uppercase().replace('.', "__");
            problems.push(format!(
                "`{section}.credentials.access_key_id` and `{section}.credentials.secret_access_key`: \
                 required when `{section}.backend` is \"s3-sdk\" \
                 (set SEAM_{var}__CREDENTIALS__ACCESS_KEY_ID and ..._SECRET_ACCESS_KEY)"
            ));
        }
        StorageBackend::Azure
            if credentials
                .account
                .as_ref()
                .is_none_or(|account| account.trim().is_empty()) =>
        {
            problems.push(format!(
                "`{section}.credentials.account`: required when `{section}.backend` is \"azure\""
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_local_under_the_data_dir() {
        let settings = StorageSettings::default();
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        let primary = settings.primary(Path::new("data"));
        assert_eq!(primary.backend, StorageBackend::Local);
        assert_eq!(primary.dir, Path::new("data/files"));
        assert_eq!(settings.max_upload_bytes, 25 * 1024 * 1024);
        assert_eq!(settings.signed_url_ttl, Duration::from_secs(900));
        assert_eq!(
            MirrorSettings::default().location(Path::new("d")).dir,
            Path::new("d/files-mirror")
        );
    }

    #[test]
    fn content_types_match_by_essence_and_wildcard() {
        let mut settings = StorageSettings::default();
        assert!(settings.allows_content_type("application/pdf"));
        assert!(settings.allows_content_type("Text/Plain; charset=utf-8"));
        assert!(!settings.allows_content_type("application/x-msdownload"));
        assert!(!settings.allows_content_type("garbage"));
        assert!(!settings.allows_content_type("image/gif"));
        settings.allowed_content_types.push("image/*".to_owned());
        assert!(settings.allows_content_type("image/gif"));
    }

    #[test]
    fn every_problem_names_its_key() {
        let settings = StorageSettings {
            backend: StorageBackend::S3Sdk,
            endpoint: Some("minio:9000".to_owned()),
            cdn_base_url: Some("cdn.example.com".to_owned()),
            signed_url_ttl: Duration::from_secs(8 * 24 * 60 * 60),
            max_upload_bytes: 0,
            allowed_content_types: vec!["pdf".to_owned()],
            mirror: Some(MirrorSettings {
                backend: StorageBackend::Azure,
                ..MirrorSettings::default()
            }),
            ..StorageSettings::default()
        };
        let problems = settings.problems();
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            keys,
            [
                "storage.bucket",
                "storage.endpoint",
                "storage.credentials.access_key_id",
                "storage.cdn_base_url",
                "storage.signed_url_ttl",
                "storage.max_upload_bytes",
                "storage.allowed_content_types",
                "storage.mirror.bucket",
                "storage.mirror.credentials.account",
            ],
            "{problems:#?}"
        );
        assert!(
            problems[0].contains("SEAM_STORAGE__BUCKET"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_mirror_of_itself_is_refused() {
        let settings = StorageSettings {
            dir: Some(PathBuf::from("/srv/files")),
            mirror: Some(MirrorSettings {
                dir: Some(PathBuf::from("/srv/files")),
                ..MirrorSettings::default()
            }),
            ..StorageSettings::default()
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("`storage.mirror`: "),
            "{problems:?}"
        );
    }

    #[test]
    fn secrets_are_redacted_when_serialised() {
        let settings = StorageSettings {
            credentials: StorageCredentials {
                access_key_id: Some("AKIA123".to_owned()),
                secret_access_key: Some(SecretString::from("hunter2")),
                ..StorageCredentials::default()
            },
            ..StorageSettings::default()
        };
        let json = serde_json::to_string(&settings).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
