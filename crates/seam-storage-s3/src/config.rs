//! The adapter's configuration: where the bucket is, how to sign, how to write.

use std::time::Duration;

use aws_sdk_s3::types::StorageClass;
use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;
/// The smallest part S3 accepts in a multipart upload, except for the last part.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts in a multipart upload.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// The most parts one multipart upload may have.
pub const MAX_PARTS: i32 = 10_000;
/// The largest object one `PutObject` may write.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * MIB;
/// Default [`S3Config::multipart_threshold`]: 8 MiB, as the AWS CLI.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 8 * MIB;
/// Default [`S3Config::part_size`]: 8 MiB, as the AWS CLI.
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;

/// Server-side encryption requested on every object written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sse {
    /// SSE-S3: keys managed by S3 (`x-amz-server-side-encryption: AES256`).
    S3,
    /// SSE-KMS (`x-amz-server-side-encryption: aws:kms`), with the KMS key to use.
    Kms {
        /// The KMS key id, ARN or alias (`x-amz-server-side-encryption-aws-kms-key-id`);
        /// `None` uses the account's AWS-managed `aws/s3` key.
        #[serde(default)]
        key_id: Option<String>,
    },
}

/// How to reach an S3 bucket (AWS or an S3-compatible server) and how to write to it.
///
/// Deserialize it from configuration, then [`build`](Self::build) the adapter, which
/// validates it first. `Debug` and `Serialize` never show the secret key or the
/// session token.
///
/// ```toml
/// bucket = "orders-attachments"
/// region = "eu-west-1"
/// access_key_id = "AKIA..."
/// secret_access_key = "..."
/// server_side_encryption = { type = "kms", key_id = "alias/orders" }
/// storage_class = "STANDARD_IA"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket every key lives in.
    pub bucket: String,
    /// The AWS region (`eu-west-1`); S3-compatible servers usually accept `us-east-1`.
    pub region: String,
    /// A custom endpoint (`http://127.0.0.1:9000`) for S3-compatible servers; `None`
    /// uses AWS's regional endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`; most
    /// S3-compatible servers need it.
    #[serde(default)]
    pub force_path_style: bool,
    /// A fixed prefix put before every key (`tenant-a/`), so several users can share a
    /// bucket; empty, or a valid key prefix ending with `/`. Listings strip it again.
    #[serde(default)]
    pub root: String,
    /// Also send `x-amz-acl: public-read` when writing or copying an object marked
    /// public. Only for buckets that still allow ACLs; most serve public objects
    /// through a bucket policy or a CDN instead, so the default is `false` and the flag
    /// is only recorded with the object.
    #[serde(default)]
    pub public_acl: bool,
    /// The access key id. With [`secret_access_key`](Self::secret_access_key), static
    /// credentials; leave both out to use the AWS default chain (environment, profile,
    /// web identity, ECS, EC2 instance metadata), which needs the crate feature
    /// `default-credentials`.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The secret access key.
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
    /// A session token, for temporary (STS) credentials.
    #[serde(default)]
    pub session_token: Option<SecretString>,
    /// Server-side encryption for every object written (`None`: the bucket's default).
    #[serde(default)]
    pub server_side_encryption: Option<Sse>,
    /// The storage class for every object written (`STANDARD_IA`, `GLACIER_IR`, ...;
    /// `None`: `STANDARD`). Checked against the names S3 knows.
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Bodies up to this many bytes are written with one `PutObject`; longer bodies
    /// stream as a multipart upload. At least 5 MiB, at most 5 GiB.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: u64,
    /// The size of each multipart part but the last. At least 5 MiB, at most 5 GiB.
    /// A streamed upload holds at most about two parts in memory.
    #[serde(default = "default_part_size")]
    pub part_size: u64,
    /// Longest wait to open a connection.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for one whole call (all attempts), body streaming of a `get` excepted.
    #[serde(default = "default_operation_timeout", with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// Attempts the SDK makes per call. `1` (the default) leaves retrying to the
    /// caller's `seam-resilience` policy, so retries are counted and budgeted once.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_multipart_threshold() -> u64 {
    DEFAULT_MULTIPART_THRESHOLD
}

fn default_part_size() -> u64 {
    DEFAULT_PART_SIZE
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_operation_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_max_attempts() -> u32 {
    1
}

impl S3Config {
    /// A configuration for `bucket` in `region` with static credentials and the
    /// defaults for everything else.
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: SecretString,
    ) -> Self {
        Self {
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            force_path_style: false,
            root: String::new(),
            public_acl: false,
            access_key_id: Some(access_key_id.into()),
            secret_access_key: Some(secret_access_key),
            session_token: None,
            server_side_encryption: None,
            storage_class: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            connect_timeout: default_connect_timeout(),
            operation_timeout: default_operation_timeout(),
            max_attempts: default_max_attempts(),
        }
    }

    /// Sets a custom endpoint and path-style addressing, as S3-compatible servers need.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self.force_path_style = true;
        self
    }

    /// Every problem with this configuration, in words an operator can act on.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(why) = check_bucket_name(&self.bucket) {
            problems.push(format!("`bucket` {:?} {why}", self.bucket));
        }
        if self.region.trim().is_empty() {
            problems.push("`region` must not be empty (S3-compatible servers: `us-east-1`)".into());
        } else if !self
            .region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            problems.push(format!(
                "`region` {:?} is not a region name such as `eu-west-1`",
                self.region
            ));
        }
        if let Some(endpoint) = &self.endpoint
            && let Err(why) = check_endpoint(endpoint)
        {
            problems.push(format!("`endpoint` {endpoint:?} {why}"));
        }
        if !self.root.is_empty() {
            if !self.root.ends_with('/') {
                problems.push(format!("`root` {:?} must end with `/`", self.root));
            } else if let Err(error) = seam_storage::validate_prefix(&self.root) {
                problems.push(format!("`root`: {error}"));
            }
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => {
                if id.trim().is_empty() {
                    problems.push("`access_key_id` must not be empty".into());
                }
                if secret.expose_secret().trim().is_empty() {
                    problems.push("`secret_access_key` must not be empty".into());
                }
            }
            (Some(_), None) | (None, Some(_)) => problems.push(
                "`access_key_id` and `secret_access_key` go together: set both, or neither \
                 for the AWS default credential chain"
                    .into(),
            ),
            (None, None) if !cfg!(feature = "default-credentials") => problems.push(
                "`access_key_id` and `secret_access_key` are required: this build has no AWS \
                 default credential chain (crate feature `default-credentials`)"
                    .into(),
            ),
            (None, None) => {
                if self.session_token.is_some() {
                    problems.push(
                        "`session_token` needs `access_key_id` and `secret_access_key`".into(),
                    );
                }
            }
        }
        if let Some(token) = &self.session_token
            && token.expose_secret().trim().is_empty()
        {
            problems.push("`session_token`, when given, must not be empty".into());
        }
        if let Some(Sse::Kms {
            key_id: Some(key_id),
        }) = &self.server_side_encryption
            && key_id.trim().is_empty()
        {
            problems.push(
                "`server_side_encryption.key_id` must not be empty (leave it out for the \
                 AWS-managed key)"
                    .into(),
            );
        }
        if let Some(class) = &self.storage_class
            && !StorageClass::values().contains(&class.as_str())
        {
            problems.push(format!(
                "`storage_class` {class:?} is not one of S3's storage classes: {}",
                StorageClass::values().join(", ")
            ));
        }
        for (name, value) in [
            ("multipart_threshold", self.multipart_threshold),
            ("part_size", self.part_size),
        ] {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&value) {
                problems.push(format!(
                    "`{name}` is {value} bytes; S3 needs between {MIN_PART_SIZE} (5 MiB) and \
                     {MAX_PART_SIZE} (5 GiB)"
                ));
            }
        }
        if self.connect_timeout.is_zero() {
            problems.push("`connect_timeout` must be more than 0".into());
        }
        if self.operation_timeout.is_zero() {
            problems.push("`operation_timeout` must be more than 0".into());
        }
        if self.max_attempts == 0 {
            problems.push("`max_attempts` must be at least 1".into());
        }
        problems
    }
}

/// S3's bucket naming rules (general purpose buckets).
fn check_bucket_name(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return Err("may hold only lower-case letters, digits, `.` and `-`");
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last_ok(bucket.chars().next()) || !first_last_ok(bucket.chars().last()) {
        return Err("must begin and end with a letter or a digit");
    }
    if bucket.contains("..") {
        return Err("must not hold two adjacent dots");
    }
    Ok(())
}

fn check_endpoint(endpoint: &str) -> Result<(), &'static str> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or("must be an http(s) URL such as `http://127.0.0.1:9000`")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['?', '#', '@', ' ']) {
        return Err("must be an http(s) URL with a host, such as `http://127.0.0.1:9000`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> S3Config {
        S3Config::new(
            "seam-test",
            "us-east-1",
            "access",
            SecretString::new("secret".into()),
        )
        .with_endpoint("http://127.0.0.1:9000")
    }

    #[test]
    fn a_valid_config_has_no_problems() {
        assert_eq!(valid().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_named() {
        let mut config = valid();
        config.bucket = "Bad_Bucket".into();
        config.region = String::new();
        config.endpoint = Some("127.0.0.1:9000".into());
        config.access_key_id = Some(" ".into());
        config.secret_access_key = Some(SecretString::new(String::new()));
        config.storage_class = Some("COLD".into());
        config.part_size = MIB;
        config.multipart_threshold = 6 * 1024 * MIB;
        config.max_attempts = 0;
        let problems = config.problems().join("\n");
        for needle in [
            "`bucket` \"Bad_Bucket\"",
            "`region` must not be empty",
            "`endpoint` \"127.0.0.1:9000\" must be an http(s) URL",
            "`access_key_id`",
            "`secret_access_key`",
            "`storage_class` \"COLD\" is not one of S3's storage classes: ",
            "GLACIER_IR",
            "`part_size` is 1048576 bytes",
            "`multipart_threshold` is 6442450944 bytes",
            "`max_attempts`",
        ] {
            assert!(
                problems.contains(needle),
                "{needle} missing in:\n{problems}"
            );
        }
    }

    #[test]
    fn keys_go_together_and_without_them_need_the_default_chain() {
        let mut config = valid();
        config.secret_access_key = None;
        let problems = config.problems().join("\n");
        assert!(problems.contains("go together"), "{problems}");
        config.access_key_id = None;
        let problems = config.problems().join("\n");
        assert_eq!(
            problems.contains("are required"),
            !cfg!(feature = "default-credentials"),
            "{problems}"
        );
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_bucket_name("my-bucket.logs").is_ok());
        for bad in ["ab", "-ab", "ab-", "a..b", "UPPER", "under_score"] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sse_and_durations_deserialize() {
        let config: S3Config = serde_json::from_value(serde_json::json!({
            "bucket": "seam-test",
            "region": "eu-west-1",
            "access_key_id": "a",
            "secret_access_key": "s",
            "server_side_encryption": {"type": "kms", "key_id": "alias/orders"},
            "storage_class": "STANDARD_IA",
            "operation_timeout": "90s",
        }))
        .unwrap();
        assert_eq!(
            config.server_side_encryption,
            Some(Sse::Kms {
                key_id: Some("alias/orders".into())
            })
        );
        assert_eq!(config.operation_timeout, Duration::from_secs(90));
        assert_eq!(config.part_size, DEFAULT_PART_SIZE);
        let s3: Sse = serde_json::from_value(serde_json::json!({"type": "s3"})).unwrap();
        assert_eq!(s3, Sse::S3);
    }

    #[test]
    fn debug_and_serialize_hide_the_secret() {
        let mut config = valid();
        config.secret_access_key = Some(SecretString::new("very-secret-key".into()));
        config.session_token = Some(SecretString::new("session-token-value".into()));
        let shown = format!(
            "{config:?} {}",
            serde_json::to_string(&config).unwrap_or_default()
        );
        assert!(!shown.contains("very-secret-key"), "{shown}");
        assert!(!shown.contains("session-token-value"), "{shown}");
    }
}
