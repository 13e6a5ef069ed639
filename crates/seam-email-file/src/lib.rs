//! E-mail adapter that writes each message as an RFC 5322 `.eml` file into a folder.
//!
//! The embedded default: nothing to install, and every message can be opened in a mail
//! client or read with `cat`. Messages without a caller-chosen id are named
//! `<timestamp>-<message-id>.eml` (`20261125T212900.123456Z-0193….eml`), so a listing
//! is in sending order; messages with one are named after it (see below).
//!
//! Bcc recipients are delivered, not shown: they are kept out of the `.eml` headers like
//! on the wire, and recorded with every other recipient in a sidecar
//! `<same name>.envelope.json` (`{"from": …, "to": [...]}`), the way a pickup folder
//! keeps the SMTP envelope apart from the message.
//!
//! Both files are written to a hidden temporary name, flushed to disk, then renamed:
//! a reader never sees half a message.
//!
//! The adapter deduplicates. A message with a caller-chosen id
//! ([`EmailMessage::message_id`]) is written as `<message-id>.eml` (characters other than
//! `A-Z a-z 0-9 . _ @ + -` written as `%XX`); a second send with the same id finds that
//! file and answers success with the same id, without writing another. The message file
//! is put in place with a hard link, which fails when the target exists, so two
//! concurrent sends of the same id also leave one file.
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
        let accepted_at = Utc::now();
        let (id, stem) = match message.message_id() {
            Some(id) => (id.clone(), file_stem(id)?),
            None => {
                let id = MessageId::generate();
                let stem = format!("{}-{id}", accepted_at.format("%Y%m%dT%H%M%S%.6fZ"));
                (id, stem)
            }
        };
        let eml = self.dir.join(format!("{stem}.{MESSAGE_EXTENSION}"));
        if message.message_id().is_some()
            && let Some(receipt) = self.already_written(&eml, &id).await?
        {
            return Ok(receipt);
        }
        let mime = seam_email::mime::to_lettre(message, &id)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io_error("creating folder", &self.dir))?;
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
        if message.message_id().is_some() {
            if !write_new(&eml, &mime.formatted()).await? {
                // A concurrent send of the same id put its file in place first.
                tracing::debug!(path = %eml.display(), message_id = %id, "e-mail already written");
                if let Some(receipt) = self.already_written(&eml, &id).await? {
                    return Ok(receipt);
                }
            }
        } else {
            write_atomically(&eml, &mime.formatted()).await?;
        }
        tracing::debug!(path = %eml.display(), message_id = %id, "e-mail written");
        Ok(SendReceipt {
            message_id: id,
            accepted_at,
        })
    }

    /// The receipt of message file `eml` when it exists (its time from the envelope).
    async fn already_written(
        &self,
        eml: &Path,
        id: &MessageId,
    ) -> Result<Option<SendReceipt>, Error> {
        match tokio::fs::metadata(eml).await {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error("reading", eml)(error).into()),
        }
        let accepted_at = tokio::fs::read(Self::envelope_path(eml))
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Envelope>(&bytes).ok())
            .map_or_else(Utc::now, |envelope| envelope.accepted_at);
        tracing::debug!(path = %eml.display(), message_id = %id, "e-mail already written, not again");
        Ok(Some(SendReceipt {
            message_id: id.clone(),
            accepted_at,
        }))
    }

    async fn find(&self, id: &MessageId) -> Result<DeliveryStatus, Error> {
        let suffix = format!("-{id}.{MESSAGE_EXTENSION}");
        let exact = file_stem(id)
            .ok()
            .map(|stem| format!("{stem}.{MESSAGE_EXTENSION}"));
        let found = self.message_files().await?.iter().any(|path| {
            path.file_name().is_some_and(|name| {
                let name = name.to_string_lossy();
                name.ends_with(&suffix) || exact.as_deref() == Some(&*name)
            })
        });
        if found {
            Ok(DeliveryStatus::Accepted)
        } else {
            Err(Error::NotFound(id.clone()))
        }
    }
}

/// The longest file stem a caller-chosen id may become.
const MAX_STEM_BYTES: usize = 200;

/// The file stem of a caller-chosen id: the id, with every character other than
/// `A-Z a-z 0-9 . _ @ + -` (and a leading `.`, which would hide the file) as `%XX`.
fn file_stem(id: &MessageId) -> Result<String, Error> {
    let mut stem = String::with_capacity(id.as_str().len());
    for (index, byte) in id.as_str().bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'@' | b'+' | b'-')
            || (byte == b'.' && index > 0);
        if keep {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    if stem.len() > MAX_STEM_BYTES {
        return Err(Error::invalid(format!(
            "message id {id} is too long to name a file ({} bytes once escaped, at most {MAX_STEM_BYTES})",
            stem.len()
        )));
    }
    Ok(stem)
}

/// Writes `bytes` to a hidden temporary file, syncs it, and hard-links it to `path`
/// unless `path` exists: `false` when it did (nothing is replaced).
async fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, FileError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", MessageId::generate()));
    let result = async {
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(io_error("creating", &temp))?;
        file.write_all(bytes)
            .await
            .map_err(io_error("writing", &temp))?;
        file.sync_all().await.map_err(io_error("syncing", &temp))?;
        drop(file);
        match tokio::fs::hard_link(&temp, path).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(io_error("linking into place", path)(error)),
        }
    }
    .await;
    // Best effort: the link (if any) keeps the content; the error that matters is returned.
    let _ = tokio::fs::remove_file(&temp).await;
    result
}

/// Writes `bytes` to a hidden temporary file in the same folder, syncs it, and renames
/// it over `path`, so `path` is either absent or complete.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Unique: concurrent sends of one caller-chosen id write the same envelope.
    let temp = path.with_file_name(format!(".{name}.{}.tmp", MessageId::generate()));
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
