//! E-mail adapter that writes each message as an RFC 5322 `.eml` file into a folder.
//!
//! The embedded default: nothing to install, and every message can be opened in a mail
//! client or read with `cat`. Files are named `<timestamp>-<message-id>.eml`
//! (`20261125T212900.123456Z-0193….eml`), so a listing is in sending order.
//!
//! Bcc recipients are delivered, not shown: they are kept out of the `.eml` headers like
//! on the wire, and recorded with every other recipient in a sidecar
//! `<same name>.envelope.json` (`{"from": …, "to": [...]}`), the way a pickup folder
//! keeps the SMTP envelope apart from the message.
//!
//! Both files are written to a hidden temporary name, flushed to disk, then renamed:
//! a reader never sees half a message.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use seam_email::DynEmailService;
//! use seam_email_file::FileEmailConfig;
//!
//! let email: Arc<DynEmailService> = Arc::new(FileEmailConfig::new("data/outbox-mail").build()?);
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_email::{DeliveryStatus, EmailMessage, EmailService, Error, MessageId, SendReceipt};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

const METRICS: PortMetrics = PortMetrics::new("email", "file");

/// The extension of message files.
pub const MESSAGE_EXTENSION: &str = "eml";
/// The suffix of the envelope file written beside each message.
pub const ENVELOPE_SUFFIX: &str = ".envelope.json";

/// Where the file adapter writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEmailConfig {
    /// The folder for `.eml` files; created (with its parents) when missing.
    pub dir: PathBuf,
}

impl FileEmailConfig {
    /// Writes into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `dir` is empty.
    pub fn validate(&self) -> Result<(), Error> {
        if self.dir.as_os_str().is_empty() {
            return Err(Error::invalid(
                "email file adapter: `dir` must not be empty",
            ));
        }
        Ok(())
    }

    /// Validates and builds the adapter. The folder is created on first send.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn build(self) -> Result<FileEmail, Error> {
        self.validate()?;
        Ok(FileEmail { dir: self.dir })
    }
}

/// The envelope recorded beside each message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender address.
    pub from: String,
    /// Every recipient (`to`, `cc` and `bcc`).
    pub to: Vec<String>,
    /// When the message was written.
    pub accepted_at: DateTime<Utc>,
}

/// An [`EmailService`] writing `.eml` files; see the crate documentation.
#[derive(Debug, Clone)]
pub struct FileEmail {
    dir: PathBuf,
}

/// What can go wrong writing files, before it becomes the port's error.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl From<FileError> for Error {
    fn from(error: FileError) -> Self {
        let FileError::Io { source, .. } = &error;
        match source.kind() {
            // The folder is misconfigured: retrying cannot help.
            io::ErrorKind::PermissionDenied
            | io::ErrorKind::ReadOnlyFilesystem
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::InvalidInput => Error::permanent_from(error.to_string(), error),
            // A full disk, an interrupted write: may pass.
            _ => Error::transient_from(error.to_string(), error),
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FileError {
    let path = path.to_owned();
    move |source| FileError::Io {
        action,
        path,
        source,
    }
}

impl FileEmail {
    /// The folder written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The paths of every message file, in sending order.
    ///
    /// # Errors
    ///
    /// When the folder cannot be read ([`Error::Transient`] or [`Error::Permanent`]);
    /// a folder that does not exist yet holds no messages.
    pub async fn message_files(&self) -> Result<Vec<PathBuf>, Error> {
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error("reading folder", &self.dir)(error).into()),
        };
        let mut files = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error("reading folder", &self.dir))?
        {
            let path = entry.path();
            let visible = !entry.file_name().to_string_lossy().starts_with('.');
            if visible && path.extension().is_some_and(|ext| ext == MESSAGE_EXTENSION) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// The envelope file beside message file `eml`.
    pub fn envelope_path(eml: &Path) -> PathBuf {
        let stem = eml.file_stem().unwrap_or_default().to_string_lossy();
        eml.with_file_name(format!("{stem}{ENVELOPE_SUFFIX}"))
    }

    async fn write(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        let id = MessageId::generate();
        let mime = seam_email::mime::to_lettre(message, &id)?;
        let accepted_at = Utc::now();
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io_error("creating folder", &self.dir))?;
        let stem = format!("{}-{id}", accepted_at.format("%Y%m%dT%H%M%S%.6fZ"));
        let eml = self.dir.join(format!("{stem}.{MESSAGE_EXTENSION}"));
        let envelope = Envelope {
            from: message.from().address().to_string(),
            to: message
                .recipients()
                .map(|mailbox| mailbox.address().to_string())
                .collect(),
            accepted_at,
        };
        let envelope_json = serde_json::to_vec_pretty(&envelope)
            .map_err(|error| Error::permanent_from("encoding the envelope", error))?;
        // The envelope first: once the .eml exists, the message counts as sent.
        write_atomically(&Self::envelope_path(&eml), &envelope_json).await?;
        write_atomically(&eml, &mime.formatted()).await?;
        tracing::debug!(path = %eml.display(), message_id = %id, "e-mail written");
        Ok(SendReceipt {
            message_id: id,
            accepted_at,
        })
    }

    async fn find(&self, id: &MessageId) -> Result<DeliveryStatus, Error> {
        let suffix = format!("-{id}.{MESSAGE_EXTENSION}");
        let found = self.message_files().await?.iter().any(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with(&suffix))
        });
        if found {
            Ok(DeliveryStatus::Accepted)
        } else {
            Err(Error::NotFound(id.clone()))
        }
    }
}

/// Writes `bytes` to a hidden temporary file in the same folder, syncs it, and renames
/// it over `path`, so `path` is either absent or complete.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let result = async {
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(io_error("creating", &temp))?;
        file.write_all(bytes)
            .await
            .map_err(io_error("writing", &temp))?;
        file.sync_all().await.map_err(io_error("syncing", &temp))?;
        drop(file);
        tokio::fs::rename(&temp, path)
            .await
            .map_err(io_error("renaming into place", path))
    }
    .await;
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

#[async_trait]
impl EmailService for FileEmail {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        METRICS.call("send", self.write(message)).await
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus, Error> {
        METRICS.call("status", self.find(id)).await
    }
}
