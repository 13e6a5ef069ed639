//! File records: what Seam knows about an object it stored (owner, key, size, type,
//! checksum) and which orders a file is attached to. The bytes themselves live behind
//! the storage port; this is the index that makes them findable and owned.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_core::Id;
use seam_domain::{OrderId, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::Page;

/// The id of a stored file.
pub type FileId = Id<FileRecord>;

/// The longest object key a file record accepts, in bytes.
pub const MAX_FILE_KEY_LEN: usize = 1024;
/// The longest attachment role, in bytes.
pub const MAX_ATTACHMENT_ROLE_LEN: usize = 64;

/// A file to record, after its bytes were stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFile {
    /// Its id, chosen by the caller (it is usually part of the key).
    pub id: FileId,
    /// Who owns it.
    pub owner_id: UserId,
    /// Where its bytes are, within the owner's part of the storage; unique.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type, e.g. `application/pdf`.
    pub content_type: String,
    /// The SHA-256 of its bytes, 64 lower-case hex digits.
    pub checksum_sha256: String,
    /// Whether it may be served from a public (CDN) URL.
    pub public: bool,
}

/// A recorded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Its id.
    pub id: FileId,
    /// Who owns it.
    pub owner_id: UserId,
    /// Where its bytes are, within the owner's part of the storage.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub content_type: String,
    /// The SHA-256 of its bytes, 64 lower-case hex digits.
    pub checksum_sha256: String,
    /// Whether it may be served from a public (CDN) URL.
    pub public: bool,
    /// When it was recorded (microsecond precision).
    pub created_at: DateTime<Utc>,
}

/// A file attached to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAttachment {
    /// The order.
    pub order_id: OrderId,
    /// What the file is to the order (`invoice`, `receipt`, ...).
    pub role: String,
    /// When it was attached (microsecond precision).
    pub created_at: DateTime<Utc>,
    /// The file.
    pub file: FileRecord,
}

/// Checks what the schema requires of a new file record.
///
/// # Errors
///
/// [`Error::Invalid`] naming the field: a blank key or one longer than
/// [`MAX_FILE_KEY_LEN`], a blank content type, a checksum that is not 64 lower-case hex
/// digits, or a size beyond `i64::MAX`.
pub fn check_new_file(file: &NewFile) -> Result<()> {
    if file.key.trim().is_empty() {
        return Err(Error::invalid("key", "must not be blank"));
    }
    if file.key.len() > MAX_FILE_KEY_LEN {
        return Err(Error::invalid(
            "key",
            format!("must be at most {MAX_FILE_KEY_LEN} bytes long"),
        ));
    }
    if file.content_type.trim().is_empty() {
        return Err(Error::invalid("content_type", "must not be blank"));
    }
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if file.checksum_sha256.len() != 64 || !file.checksum_sha256.bytes().all(hex) {
        return Err(Error::invalid(
            "checksum_sha256",
            "must be 64 lower-case hex digits",
        ));
    }
    if i64::try_from(file.size).is_err() {
        return Err(Error::invalid("size", "is too large"));
    }
    Ok(())
}

/// Checks an attachment role: 1 to [`MAX_ATTACHMENT_ROLE_LEN`] bytes, not blank.
///
/// # Errors
///
/// [`Error::Invalid`] on field `role`.
pub fn check_attachment_role(role: &str) -> Result<()> {
    if role.trim().is_empty() {
        return Err(Error::invalid("role", "must not be blank"));
    }
    if role.len() > MAX_ATTACHMENT_ROLE_LEN {
        return Err(Error::invalid(
            "role",
            format!("must be at most {MAX_ATTACHMENT_ROLE_LEN} bytes long"),
        ));
    }
    Ok(())
}

/// Records of stored files, and their attachment to orders.
///
/// # Contract
///
/// - `create` MUST return `Error::AlreadyExists` for an id or a key that is recorded
///   already, `Error::Conflict` when the owner does not exist, and `Error::Invalid` for
///   what [`check_new_file`] refuses; it sets `created_at`, and returns the record as
///   `get` will.
/// - `get` MUST return `Error::NotFound` for an unknown id.
/// - `delete` MUST return `Error::NotFound` for an unknown id; it removes the file's
///   attachments with it.
/// - `list_by_owner` MUST list newest first (ties by id, newest first), return
///   `Error::Invalid` for a limit outside 1..=100, and report the owner's total number
///   of files.
/// - `attach_to_order` MUST return `Error::NotFound` naming the `order` or the `file`
///   that does not exist, `Error::AlreadyExists` when the file is attached to the order
///   already (whatever the role), and `Error::Invalid` for what
///   [`check_attachment_role`] refuses.
/// - `list_order_attachments` MUST list the order's attachments oldest first (ties by
///   file id), each with its file; an order without any (or unknown) has none.
#[async_trait]
pub trait FileRepository: std::fmt::Debug + Send + Sync + 'static {
    /// Records a stored file.
    async fn create(&self, file: NewFile) -> Result<FileRecord>;

    /// The file with this id.
    async fn get(&self, id: FileId) -> Result<FileRecord>;

    /// Forgets the file (the caller removes its bytes).
    async fn delete(&self, id: FileId) -> Result<()>;

    /// One page of an owner's files, newest first.
    async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<FileRecord>>;

    /// Attaches a file to an order in some role.
    async fn attach_to_order(
        &self,
        order_id: OrderId,
        file_id: FileId,
        role: &str,
    ) -> Result<OrderAttachment>;

    /// The files attached to an order, oldest first.
    async fn list_order_attachments(&self, order_id: OrderId) -> Result<Vec<OrderAttachment>>;
}

/// A file repository as a trait object.
pub type DynFileRepository = dyn FileRepository;

macro_rules! delegate {
    ($($pointer:ident),+) => {$(
        #[async_trait]
        impl<T: FileRepository + ?Sized> FileRepository for $pointer<T> {
            async fn create(&self, file: NewFile) -> Result<FileRecord> {
                (**self).create(file).await
            }
            async fn get(&self, id: FileId) -> Result<FileRecord> {
                (**self).get(id).await
            }
            async fn delete(&self, id: FileId) -> Result<()> {
                (**self).delete(id).await
            }
            async fn list_by_owner(
                &self,
                owner: UserId,
                limit: u32,
                offset: u64,
            ) -> Result<Page<FileRecord>> {
                (**self).list_by_owner(owner, limit, offset).await
            }
            async fn attach_to_order(
                &self,
                order_id: OrderId,
                file_id: FileId,
                role: &str,
            ) -> Result<OrderAttachment> {
                (**self).attach_to_order(order_id, file_id, role).await
            }
            async fn list_order_attachments(
                &self,
                order_id: OrderId,
            ) -> Result<Vec<OrderAttachment>> {
                (**self).list_order_attachments(order_id).await
            }
        }
    )+};
}

delegate!(Arc, Box);

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> NewFile {
        NewFile {
            id: FileId::new(),
            owner_id: UserId::new(),
            key: "owner/file".to_owned(),
            size: 3,
            content_type: "text/plain".to_owned(),
            checksum_sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                .to_owned(),
            public: false,
        }
    }

    #[test]
    fn a_valid_file_passes() {
        check_new_file(&file()).unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |change: fn(&mut NewFile)| {
            let mut bad = file();
            change(&mut bad);
            match check_new_file(&bad).unwrap_err() {
                Error::Invalid { field, .. } => field,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(field(|f| f.key = " ".to_owned()), "key");
        assert_eq!(field(|f| f.key = "k".repeat(MAX_FILE_KEY_LEN + 1)), "key");
        assert_eq!(field(|f| f.content_type = String::new()), "content_type");
        assert_eq!(
            field(|f| f.checksum_sha256 = f.checksum_sha256.to_uppercase()),
            "checksum_sha256"
        );
        assert_eq!(field(|f| f.checksum_sha256.truncate(10)), "checksum_sha256");
        assert_eq!(field(|f| f.size = u64::MAX), "size");
    }

    #[test]
    fn roles_are_bounded() {
        check_attachment_role("invoice").unwrap();
        assert!(check_attachment_role("  ").is_err());
        assert!(check_attachment_role(&"r".repeat(MAX_ATTACHMENT_ROLE_LEN + 1)).is_err());
    }
}
