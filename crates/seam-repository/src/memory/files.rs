//! [`FileRepository`] in memory, with the same contract as the SQL adapters.

use async_trait::async_trait;
use seam_domain::{OrderId, UserId};

use super::{MemoryRepositories, State, now, page};
use crate::error::{Error, Result};
use crate::files::{
    FileId, FileRecord, FileRepository, NewFile, OrderAttachment, check_attachment_role,
    check_new_file,
};
use crate::types::{Page, check_limit, check_offset};

fn attachment(
    state: &State,
    (order_id, file_id): (OrderId, FileId),
    (role, created_at): &(String, chrono::DateTime<chrono::Utc>),
) -> Option<OrderAttachment> {
    state.files.get(&file_id).map(|file| OrderAttachment {
        order_id,
        role: role.clone(),
        created_at: *created_at,
        file: file.clone(),
    })
}

#[async_trait]
impl FileRepository for MemoryRepositories {
    async fn create(&self, file: NewFile) -> Result<FileRecord> {
        check_new_file(&file)?;
        self.write(|state| {
            if state.files.contains_key(&file.id) {
                return Err(Error::already_exists("file", format!("id {}", file.id)));
            }
            if state.files.values().any(|other| other.key == file.key) {
                return Err(Error::already_exists("file", format!("key {}", file.key)));
            }
            if !state.users.contains_key(&file.owner_id) {
                return Err(Error::conflict(
                    "file",
                    file.id,
                    format!("owner {} does not exist", file.owner_id),
                ));
            }
            let record = FileRecord {
                id: file.id,
                owner_id: file.owner_id,
                key: file.key,
                size: file.size,
                content_type: file.content_type,
                checksum_sha256: file.checksum_sha256,
                public: file.public,
                created_at: now(),
            };
            state.files.insert(record.id, record.clone());
            Ok(record)
        })
        .await
    }

    async fn get(&self, id: FileId) -> Result<FileRecord> {
        self.committed()
            .files
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("file", id))
    }

    async fn delete(&self, id: FileId) -> Result<()> {
        self.write(|state| {
            if state.files.remove(&id).is_none() {
                return Err(Error::not_found("file", id));
            }
            state.attachments.retain(|(_, file_id), _| *file_id != id);
            Ok(())
        })
        .await
    }

    async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<FileRecord>> {
        check_limit(limit)?;
        check_offset(offset)?;
        let mut files: Vec<FileRecord> = self
            .committed()
            .files
            .values()
            .filter(|file| file.owner_id == owner)
            .cloned()
            .collect();
        files.sort_by_key(|file| std::cmp::Reverse((file.created_at, file.id)));
        Ok(page(files, limit, offset))
    }

    async fn attach_to_order(
        &self,
        order_id: OrderId,
        file_id: FileId,
        role: &str,
    ) -> Result<OrderAttachment> {
        check_attachment_role(role)?;
        self.write(|state| {
            if !state.orders.contains_key(&order_id) {
                return Err(Error::not_found("order", order_id));
            }
            if !state.files.contains_key(&file_id) {
                return Err(Error::not_found("file", file_id));
            }
            let key = (order_id, file_id);
            if state.attachments.contains_key(&key) {
                return Err(Error::already_exists(
                    "attachment",
                    format!("file {file_id} on order {order_id}"),
                ));
            }
            let value = (role.to_owned(), now());
            let attached = attachment(state, key, &value)
                .ok_or_else(|| Error::internal("memory", "the file vanished"))?;
            state.attachments.insert(key, value);
            Ok(attached)
        })
        .await
    }

    async fn list_order_attachments(&self, order_id: OrderId) -> Result<Vec<OrderAttachment>> {
        let state = self.committed();
        let mut attachments: Vec<OrderAttachment> = state
            .attachments
            .range((order_id, FileId::from_uuid(uuid::Uuid::nil()))..)
            .take_while(|((order, _), _)| *order == order_id)
            .filter_map(|(key, value)| attachment(&state, *key, value))
            .collect();
        attachments.sort_by_key(|attachment| (attachment.created_at, attachment.file.id));
        Ok(attachments)
    }
}
