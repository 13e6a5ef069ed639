//! The adapter's configuration: which backend, its credentials, and how transfers and
//! retries behave. [`ObjectStoreConfig::build`] validates it and builds the adapter.

use std::path::PathBuf;
use std::time::Duration;

use seam_core::SecretString;
use serde::{Deserialize, Serialize};

/// Bytes in a mebibyte.
const MIB: u64 = 1024 * 1024;

/// The smallest multipart part S3 accepts (except the last part).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The largest multipart part S3 accepts.
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;

/// Where the objects live, and how to reach them.
///
/// In TOML the backend is named by `backend`:
///
/// ```toml
/// backend = "s3"
/// bucket = "invoices"
/// region = "eu-west-1"
/// access_key_id = "AKIA..."
/// secret_access_key = "..."
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum BackendConfig {
    /// Files under a directory: the embedded default, needs nothing installed.
    Local(LocalConfig),
    /// Amazon S3 or an S3-compatible server (MinIO, Ceph, s3s-fs, R2 ...).
    S3(S3Config),
    /// Google Cloud Storage.
    Gcs(GcsConfig),
    /// Azure Blob Storage (or Azurite).
    Azure(AzureConfig),
}

impl BackendConfig {
    /// The backend's name, as used in the adapter name (`object_store-<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::S3(_) => "s3",
            Self::Gcs(_) => "gcs",
            Self::Azure(_) => "azure",
        }
    }
}

/// Files under a directory.
///
/// An object `a/b.txt` is the file `<root>/a/b.txt`. Content type and custom metadata,
/// which a file system cannot hold, are kept in sidecar files under
/// `<root>/.seam-meta/`; keys under `.seam-meta/` are therefore refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// The directory holding the objects; created when missing.
    pub root: PathBuf,
    /// `fsync` files and directories before a write returns: durable across power
    /// loss, at the cost of write throughput.
    #[serde(default)]
    pub fsync: bool,
}

/// Amazon S3 or an S3-compatible server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket (3-63 characters: lowercase letters, digits, `-` and `.`).
    pub bucket: String,
    /// The bucket's region, e.g. `eu-west-1` (S3-compatible servers usually accept
    /// `us-east-1`).
    #[serde(default = "default_region")]
    pub region: String,
    /// The endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`; `None`
    /// for AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The access key id. With neither key set, credentials come from the environment
    /// (`AWS_ACCESS_KEY_ID`..., web identity, the instance metadata service).
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The secret access key, set together with `access_key_id`.
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
    /// A session token for temporary credentials.
    #[serde(default)]
    pub session_token: Option<SecretString>,
    /// Allow `http://` endpoints (local servers only; never for AWS).
    #[serde(default)]
    pub allow_http: bool,
    /// Address the bucket as `https://<bucket>.<endpoint>` (virtual-hosted style)
    /// instead of `https://<endpoint>/<bucket>` (path style, the default, which local
    /// S3-compatible servers expect).
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// Google Cloud Storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsConfig {
    /// The bucket.
    pub bucket: String,
    /// A service-account JSON key file. Set at most one of this and
    /// `service_account_key`; with neither, application default credentials are used.
    #[serde(default)]
    pub service_account_path: Option<PathBuf>,
    /// A service-account JSON key, inline.
    #[serde(default)]
    pub service_account_key: Option<SecretString>,
}

/// Azure Blob Storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// The storage account.
    pub account: String,
    /// The container.
    pub container: String,
    /// The account's access key. With none, credentials come from the environment
    /// (`AZURE_*` variables, managed identity).
    #[serde(default)]
    pub access_key: Option<SecretString>,
    /// An endpoint override, e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Allow `http://` endpoints (Azurite only).
    #[serde(default)]
    pub allow_http: bool,
}

/// How failed requests to a remote backend are retried inside `object_store`
/// (connection failures, timeouts of idempotent requests, 5xx, 429).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// Retries after the first attempt; 0 disables retrying (leave it to an outer
    /// `seam-resilience` policy).
    pub max_retries: usize,
    /// Give up retrying once this much time passed since the first attempt.
    #[serde(with = "humantime_serde")]
    pub retry_timeout: Duration,
    /// The first backoff; each next one is larger (exponential, with jitter).
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// The largest backoff.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for RetrySettings {
    /// 3 retries within 30 s, backing off from 100 ms up to 5 s.
    fn default() -> Self {
        Self {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The whole adapter configuration.
///
/// ```
/// use seam_storage_object_store::ObjectStoreConfig;
///
/// let config: ObjectStoreConfig = toml::from_str(r#"
///     part_size = 16777216
///     request_timeout = "1m"
///
///     [store]
///     backend = "s3"
///     bucket = "invoices"
///     endpoint = "http://127.0.0.1:9000"
///     allow_http = true
///     access_key_id = "seam-test-access"
///     secret_access_key = "seam-test-secret-key"
/// "#).unwrap();
/// assert_eq!(config.store.name(), "s3");
/// assert!(!format!("{config:?}").contains("seam-test-secret-key"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// The backend.
    pub store: BackendConfig,
    /// Bodies of at least this many bytes are uploaded in parts (multipart upload), so
    /// they are never held whole in memory; smaller ones in one request.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: u64,
    /// The size of each part of a multipart upload (S3: 5 MiB to 5 GiB).
    #[serde(default = "default_part_size")]
    pub part_size: usize,
    /// Parts uploaded at the same time in a multipart upload.
    #[serde(default = "default_max_concurrent_parts")]
    pub max_concurrent_parts: usize,
    /// The longest one HTTP request may take, body included (remote backends). It
    /// bounds the largest object a `get` can stream at the network's speed: raise it
    /// for very large objects; `read_timeout` catches a stalled transfer.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The longest wait for the next bytes of a response (remote backends).
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub read_timeout: Duration,
    /// The longest wait for a connection (remote backends).
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Retries of failed requests (remote backends).
    #[serde(default)]
    pub retry: RetrySettings,
}

fn default_multipart_threshold() -> u64 {
    8 * MIB
}

fn default_part_size() -> usize {
    8 * 1024 * 1024
}

fn default_max_concurrent_parts() -> usize {
    4
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

impl ObjectStoreConfig {
    /// A configuration for `store` with the default transfer and retry settings.
    pub fn new(store: BackendConfig) -> Self {
        Self {
            store,
            multipart_threshold: default_multipart_threshold(),
            part_size: default_part_size(),
            max_concurrent_parts: default_max_concurrent_parts(),
            request_timeout: default_request_timeout(),
            read_timeout: default_read_timeout(),
            connect_timeout: default_connect_timeout(),
            retry: RetrySettings::default(),
        }
    }

    /// Files under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::new(BackendConfig::Local(LocalConfig {
            root: root.into(),
            fsync: false,
        }))
    }

    /// Every problem with this configuration, each naming its field; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match &self.store {
            BackendConfig::Local(local) => {
                if local.root.as_os_str().is_empty() {
                    problems.push("`root` must not be empty".to_owned());
                }
            }
            BackendConfig::S3(s3) => s3_problems(s3, &mut problems),
            BackendConfig::Gcs(gcs) => gcs_problems(gcs, &mut problems),
            BackendConfig::Azure(azure) => azure_problems(azure, &mut problems),
        }
        if self.part_size < MIN_PART_SIZE || self.part_size > MAX_PART_SIZE {
            problems.push(format!(
                "`part_size` must be between 5 MiB ({MIN_PART_SIZE}) and 5 GiB ({MAX_PART_SIZE}) bytes, got {}",
                self.part_size
            ));
        }
        if self.multipart_threshold == 0 {
            problems.push("`multipart_threshold` must be more than 0".to_owned());
        }
        if self.max_concurrent_parts == 0 {
            problems.push("`max_concurrent_parts` must be at least 1".to_owned());
        }
        if self.request_timeout.is_zero() {
            problems.push("`request_timeout` must be more than 0".to_owned());
        }
        if self.read_timeout.is_zero() {
            problems.push("`read_timeout` must be more than 0".to_owned());
        }
        if self.connect_timeout.is_zero() {
            problems.push("`connect_timeout` must be more than 0".to_owned());
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            problems.push("`retry.initial_backoff` must not exceed `retry.max_backoff`".to_owned());
        }
        problems
    }
}

fn s3_problems(s3: &S3Config, problems: &mut Vec<String>) {
    if let Err(why) = check_bucket_name(&s3.bucket) {
        problems.push(format!("`bucket` {:?}: {why}", s3.bucket));
    }
    if s3.region.trim().is_empty() {
        problems.push("`region` must not be empty".to_owned());
    }
    match (&s3.access_key_id, &s3.secret_access_key) {
        (Some(_), None) | (None, Some(_)) => problems.push(
            "`access_key_id` and `secret_access_key`: set both, or neither to use the environment's credentials"
                .to_owned(),
        ),
        (Some(id), Some(secret)) => {
            if id.trim().is_empty() {
                problems.push("`access_key_id` must not be empty".to_owned());
            }
            if seam_core::ExposeSecret::expose_secret(secret).is_empty() {
                problems.push("`secret_access_key` must not be empty".to_owned());
            }
        }
        (None, None) => {
            if s3.session_token.is_some() {
                problems.push(
                    "`session_token` needs `access_key_id` and `secret_access_key`".to_owned(),
                );
            }
        }
    }
    if let Some(endpoint) = &s3.endpoint {
        endpoint_problems("endpoint", endpoint, s3.allow_http, problems);
    }
}

fn gcs_problems(gcs: &GcsConfig, problems: &mut Vec<String>) {
    if let Err(why) = check_bucket_name(&gcs.bucket) {
        problems.push(format!("`bucket` {:?}: {why}", gcs.bucket));
    }
    if gcs.service_account_path.is_some() && gcs.service_account_key.is_some() {
        problems
            .push("`service_account_path` and `service_account_key`: set at most one".to_owned());
    }
    if let Some(key) = &gcs.service_account_key
        && seam_core::ExposeSecret::expose_secret(key)
            .trim()
            .is_empty()
    {
        problems.push("`service_account_key` must not be empty".to_owned());
    }
    if let Some(path) = &gcs.service_account_path
        && path.as_os_str().is_empty()
    {
        problems.push("`service_account_path` must not be empty".to_owned());
    }
}

fn azure_problems(azure: &AzureConfig, problems: &mut Vec<String>) {
    let account_ok = (3..=24).contains(&azure.account.len())
        && azure
            .account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !account_ok {
        problems.push(format!(
            "`account` {:?}: must be 3-24 lowercase letters and digits",
            azure.account
        ));
    }
    let container = &azure.container;
    let container_ok = (3..=63).contains(&container.len())
        && container
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !container.starts_with('-')
        && !container.ends_with('-')
        && !container.contains("--");
    if !container_ok {
        problems.push(format!(
            "`container` {container:?}: must be 3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit"
        ));
    }
    if let Some(key) = &azure.access_key
        && seam_core::ExposeSecret::expose_secret(key)
            .trim()
            .is_empty()
    {
        problems.push("`access_key` must not be empty".to_owned());
    }
    if let Some(endpoint) = &azure.endpoint {
        endpoint_problems("endpoint", endpoint, azure.allow_http, problems);
    }
}

fn endpoint_problems(field: &str, endpoint: &str, allow_http: bool, problems: &mut Vec<String>) {
    if endpoint.starts_with("http://") {
        if !allow_http {
            problems.push(format!(
                "`{field}` {endpoint:?} is plain http: set `allow_http = true` (local servers only) or use https"
            ));
        }
    } else if !endpoint.starts_with("https://") {
        problems.push(format!(
            "`{field}` {endpoint:?}: expected an http:// or https:// URL"
        ));
    }
}

/// The S3 (and GCS) bucket naming rules that matter for addressing: 3-63 characters of
/// lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit,
/// no `..`, not an IP address.
pub(crate) fn check_bucket_name(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err("only lowercase letters, digits, '-' and '.' are allowed");
    }
    let first_last_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_last_ok(bucket.bytes().next()) || !first_last_ok(bucket.bytes().last()) {
        return Err("must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return Err("must not contain '..'");
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("must not be an IP address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3Config {
        S3Config {
            bucket: "seam-test".into(),
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            access_key_id: Some("id".into()),
            secret_access_key: Some("secret".parse().unwrap()),
            session_token: None,
            allow_http: true,
            virtual_hosted_style: false,
        }
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert_eq!(check_bucket_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "Upper",
            "under_score",
            "-dash",
            "dash-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_good_s3_config_has_no_problems() {
        let config = ObjectStoreConfig::new(BackendConfig::S3(s3()));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }

    #[test]
    fn every_s3_problem_is_named() {
        let mut bad = s3();
        bad.bucket = "Bad_Bucket".into();
        bad.secret_access_key = None;
        bad.allow_http = false;
        let mut config = ObjectStoreConfig::new(BackendConfig::S3(bad));
        config.part_size = 1024;
        config.max_concurrent_parts = 0;
        let problems = config.problems().join("\n");
        for needle in [
            "`bucket` \"Bad_Bucket\"",
            "`access_key_id` and `secret_access_key`",
            "allow_http",
            "`part_size`",
            "`max_concurrent_parts`",
        ] {
            assert!(
                problems.contains(needle),
                "{needle} missing from:\n{problems}"
            );
        }
    }

    #[test]
    fn empty_secret_is_a_problem() {
        let mut bad = s3();
        bad.secret_access_key = Some(SecretString::default());
        let problems = ObjectStoreConfig::new(BackendConfig::S3(bad)).problems();
        assert_eq!(problems, ["`secret_access_key` must not be empty"]);
    }

    #[test]
    fn gcs_and_azure_problems() {
        let gcs = GcsConfig {
            bucket: "b".into(),
            service_account_path: Some("/x.json".into()),
            service_account_key: Some("{}".parse().unwrap()),
        };
        let problems = ObjectStoreConfig::new(BackendConfig::Gcs(gcs))
            .problems()
            .join("\n");
        assert!(problems.contains("`bucket`"), "{problems}");
        assert!(problems.contains("set at most one"), "{problems}");

        let azure = AzureConfig {
            account: "Not-An-Account".into(),
            container: "c".into(),
            access_key: None,
            endpoint: Some("ftp://x".into()),
            allow_http: false,
        };
        let problems = ObjectStoreConfig::new(BackendConfig::Azure(azure))
            .problems()
            .join("\n");
        for needle in ["`account`", "`container`", "`endpoint`"] {
            assert!(
                problems.contains(needle),
                "{needle} missing from:\n{problems}"
            );
        }
    }

    #[test]
    fn secrets_never_show() {
        let config = ObjectStoreConfig::new(BackendConfig::S3(s3()));
        let shown = format!("{config:?} {}", serde_json::to_string(&config).unwrap());
        assert!(!shown.contains("\"secret\""), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }

    #[test]
    fn reads_local_from_toml_with_defaults() {
        let config: ObjectStoreConfig = toml::from_str(
            r#"
            [store]
            backend = "local"
            root = "data/objects"
            "#,
        )
        .unwrap();
        let BackendConfig::Local(local) = &config.store else {
            panic!("not local: {config:?}");
        };
        assert_eq!(local.root, PathBuf::from("data/objects"));
        assert_eq!(config.part_size, 8 * 1024 * 1024);
        assert_eq!(config.multipart_threshold, 8 * MIB);
        assert_eq!(config.retry.max_retries, 3);
        assert!(config.problems().is_empty());
    }
}
