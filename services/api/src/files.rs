//! Files: `POST /v1/files` (streaming multipart upload), `GET /v1/files/{id}`
//! (streaming download with ranges), `GET /v1/files/{id}/url`, `DELETE /v1/files/{id}`,
//! and `POST/GET /v1/orders/{id}/attachments`.
//!
//! Every owner's objects live in their own part of the storage (a tenant scope keyed by
//! the owner's id), so a key recorded for one owner can never reach another's objects.
//!
//! Who owns a file: a caller authenticated as a Seam user (a credential carrying a user
//! id) uploads and reads only their own files: the owner is that user, an `owner` query
//! naming someone else is refused, and another user's file is answered 404. Other
//! callers (anonymous where `auth.protect` leaves `/v1/files` open, service tokens,
//! admins) name the owner with the `owner` query parameter: it is required to upload,
//! and when given on the other routes a file of another owner is answered 404.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use seam_auth::Principal;
use seam_core::{Classify, ErrorKind};
use seam_domain::{OrderId, UserId};
use seam_repository::{FileId, FileRecord, FileRepository, NewFile, OrderAttachment};
use seam_storage::{
    ByteRange, ByteStream, GetOptions, ObjectKey, ObjectStorage, PutMode, PutOptions, SignedMethod,
    TenantStorage,
};
use seam_wiring::{FileStorage, StorageSettings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, invalid};
use crate::orders::parse_id;
use crate::problem::Problem;

/// Room for the multipart framing and small fields around the file part.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// What the file routes share: the storage, the file records and the upload rules.
#[derive(Debug, Clone)]
pub struct Files {
    storage: FileStorage,
    records: Arc<dyn FileRepository>,
    settings: Arc<StorageSettings>,
}

impl Files {
    /// The file routes over `storage` and `records`, with the limits of `settings`.
    pub fn new(
        storage: FileStorage,
        records: Arc<dyn FileRepository>,
        settings: StorageSettings,
    ) -> Self {
        Self {
            storage,
            records,
            settings: Arc::new(settings),
        }
    }

    /// The largest request body an upload may have: the file plus the multipart framing.
    pub fn upload_body_limit(&self) -> u64 {
        self.settings.max_upload_bytes + MULTIPART_OVERHEAD
    }

    /// The owner's part of the storage: the owner is the tenant, so a key recorded for
    /// one owner never reaches another's objects.
    fn scoped(&self, owner: UserId) -> Result<TenantStorage, ApiError> {
        self.storage
            .for_tenant(&owner.to_string())
            .map_err(|error| storage_error(error, "scoping the storage to the owner"))
    }

    /// The record of `id`, or 404 when it does not exist or belongs to someone other
    /// than `owner` (when known): another owner's file is not even acknowledged.
    async fn record(&self, id: FileId, owner: Option<UserId>) -> Result<FileRecord, ApiError> {
        let record = self.records.get(id).await.map_err(repository)?;
        if owner.is_some_and(|owner| owner != record.owner_id) {
            return Err(not_found(id));
        }
        Ok(record)
    }
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// Who owns it.
    #[schema(value_type = String, format = Uuid)]
    pub owner_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type, as uploaded.
    pub content_type: String,
    /// The SHA-256 of its bytes, in lower-case hex (also its ETag).
    pub checksum_sha256: String,
    /// Whether it may be served from a public (CDN) URL.
    pub public: bool,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

impl From<&FileRecord> for FileView {
    fn from(file: &FileRecord) -> Self {
        Self {
            id: file.id.to_string(),
            owner_id: file.owner_id.to_string(),
            size: file.size,
            content_type: file.content_type.clone(),
            checksum_sha256: file.checksum_sha256.clone(),
            public: file.public,
            created_at: file.created_at,
        }
    }
}

/// The multipart form of an upload.
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    /// The file, with its `Content-Type`; other parts are ignored.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Query of `POST /v1/files`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The owner's user id; a caller authenticated as a user may leave it out (it is
    /// then that user) and may not name another.
    pub owner: Option<String>,
    /// Whether the file may be served from a public (CDN) URL (default false).
    pub public: Option<bool>,
}

/// Query of the routes reading or deleting one file.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OwnerQuery {
    /// When given, a file of another owner is answered 404 (for a caller authenticated
    /// as a user, their own id is implied).
    pub owner: Option<String>,
}

/// A URL to download a file from.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileUrl {
    /// The URL: the CDN's for a public file, a signed one otherwise.
    pub url: String,
    /// When a signed URL stops working; `null` for a CDN URL.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A file to attach to an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachRequest {
    /// The file; it must belong to the order's customer.
    #[schema(value_type = String, format = Uuid)]
    pub file_id: String,
    /// What the file is to the order, 1 to 64 characters.
    #[schema(example = "invoice")]
    pub role: String,
}

/// A file attached to an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    /// The order.
    #[schema(value_type = String, format = Uuid)]
    pub order_id: String,
    /// What the file is to the order.
    pub role: String,
    /// When it was attached.
    pub attached_at: DateTime<Utc>,
    /// The file.
    pub file: FileView,
}

impl From<&OrderAttachment> for AttachmentView {
    fn from(attachment: &OrderAttachment) -> Self {
        Self {
            order_id: attachment.order_id.to_string(),
            role: attachment.role.clone(),
            attached_at: attachment.created_at,
            file: FileView::from(&attachment.file),
        }
    }
}

/// An order's attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first.
    pub items: Vec<AttachmentView>,
}

fn not_found(id: FileId) -> ApiError {
    Problem::new(StatusCode::NOT_FOUND, format!("file {id} not found")).into()
}

fn repository(error: seam_repository::Error) -> ApiError {
    ApiError::Orders(error.into())
}

/// A storage failure as a problem: the cause is logged for 5xx.
fn storage_error(error: seam_storage::Error, doing: &'static str) -> ApiError {
    let kind = error.kind();
    let (status, detail) = match (&error, kind) {
        (seam_storage::Error::NotSupported { .. }, _) => {
            (StatusCode::NOT_IMPLEMENTED, Some(error.to_string()))
        }
        (_, ErrorKind::Unavailable | ErrorKind::Transient | ErrorKind::RateLimited { .. }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("the file storage is unavailable; try again shortly".to_owned()),
        ),
        (_, ErrorKind::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            Some("the file storage did not answer in time".to_owned()),
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
    };
    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
        tracing::error!(error.message = %error, error.kind = %kind, error.cause_chain = ?error, doing, "file storage failed");
    }
    ApiError::Problem(Problem::new(status, detail))
}

/// A recorded key (relative to its owner's part of the storage).
fn object_key(key: &str) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(key).map_err(|error| storage_error(error, "reading an object key"))
}

/// The Seam user a request acts for, when its credential names one and is not an
/// admin's (admins act for whichever owner they name).
fn acting_user(principal: Option<&Principal>) -> Option<UserId> {
    principal
        .filter(|principal| !principal.roles.contains(crate::auth::ADMIN_ROLE))
        .and_then(|principal| principal.user_id)
}

/// The owner a request is about: the calling user, or the `owner` parameter for other
/// callers. A user naming another owner is refused with `refusal`.
fn owner_of(
    principal: Option<&Principal>,
    owner: Option<&str>,
    refusal: impl FnOnce() -> ApiError,
) -> Result<Option<UserId>, ApiError> {
    let named = owner
        .map(|owner| parse_id::<seam_domain::User>("owner", owner))
        .transpose()?;
    match (acting_user(principal), named) {
        (Some(user), Some(named)) if named != user => Err(refusal()),
        (Some(user), _) => Ok(Some(user)),
        (None, named) => Ok(named),
    }
}

/// What the upload stream saw, read once `put` returns.
#[derive(Default)]
struct Upload {
    hasher: Sha256,
    size: u64,
    failure: Option<UploadFailure>,
}

enum UploadFailure {
    TooLarge,
    Malformed(String),
}

/// The file part as the storage's body, hashing and counting on the way.
fn hashing(field: multer::Field<'static>, upload: Arc<Mutex<Upload>>) -> ByteStream {
    field
        .map(move |chunk| {
            let mut upload = upload.lock().unwrap_or_else(PoisonError::into_inner);
            match chunk {
                Ok(bytes) => {
                    upload.hasher.update(&bytes);
                    upload.size += bytes.len() as u64;
                    Ok(bytes)
                }
                Err(error) => {
                    upload.failure = Some(match error {
                        multer::Error::FieldSizeExceeded { .. }
                        | multer::Error::StreamSizeExceeded { .. } => UploadFailure::TooLarge,
                        other => UploadFailure::Malformed(other.to_string()),
                    });
                    Err(seam_storage::Error::invalid("the upload ended early"))
                }
            }
        })
        .boxed()
}

fn too_large(limit: u64) -> ApiError {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the file is larger than the limit of {limit} bytes"),
    )
    .into()
}

/// Uploads a file.
///
/// The body is `multipart/form-data` whose part named `file` carries the bytes and
/// their `Content-Type`. The bytes stream to the storage as they arrive; their size and
/// SHA-256 are computed on the way.
#[utoipa::path(
    post, path = "/v1/files", params(UploadQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; `Location` names it", body = FileView),
        (status = 400, description = "Malformed multipart body"),
        (status = 413, description = "Larger than `storage.max_upload_bytes`"),
        (status = 415, description = "Not multipart, or a file type not in `storage.allowed_content_types`"),
        (status = 422, description = "No `file` part, or an unknown owner"),
        (status = 503, description = "The storage or the database is unavailable"),
    ),
    tag = "files"
)]
pub(crate) async fn upload_file(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let files = &state.files;
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let owner = owner_of(principal.as_deref(), query.owner.as_deref(), || {
        Problem::new(
            StatusCode::FORBIDDEN,
            "you can only upload files of your own".to_owned(),
        )
        .into()
    })?
    .ok_or_else(|| invalid("owner: required (the owner's user id)"))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a multipart/form-data body with a `file` part".to_owned(),
        )
    })?;
    let limit = files.settings.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > files.upload_body_limit()) {
        // Refused before a byte is read.
        return Err(too_large(limit));
    }
    match state.orders.get_user(owner).await {
        Ok(_) => {}
        Err(seam_orders::OrdersError::Repository(error)) if error.kind() == ErrorKind::NotFound => {
            return Err(invalid(format!("owner: unknown user {owner}")));
        }
        Err(error) => return Err(error.into()),
    }

    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(files.upload_body_limit())
            .for_field("file", limit),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            // Other parts are skipped (multer drains them when the next one is asked for).
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(invalid(
                    "file: missing; send the file as the multipart part named `file`",
                ));
            }
            Err(
                multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. },
            ) => return Err(too_large(limit)),
            Err(error) => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("malformed multipart body: {error}"),
                )
                .into());
            }
        }
    };
    let Some(part_type) = field.content_type().map(ToString::to_string) else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the `file` part has no Content-Type".to_owned(),
        )
        .into());
    };
    if !files.settings.allows_content_type(&part_type) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "files of type {part_type:?} are not accepted; allowed: {}",
                files.settings.allowed_content_types.join(", ")
            ),
        )
        .into());
    }

    let id = FileId::new();
    let key_text = format!("{owner}/{id}");
    let key = object_key(&key_text)?;
    let storage = files.scoped(owner)?;
    let public = query.public.unwrap_or(false);
    let upload = Arc::new(Mutex::new(Upload::default()));
    let options = PutOptions {
        content_type: Some(part_type.clone()),
        mode: PutMode::Create,
        public,
        ..PutOptions::default()
    };
    let stored = storage
        .put(&key, hashing(field, upload.clone()), options)
        .await;
    let (size, checksum, failure) = {
        let mut upload = upload.lock().unwrap_or_else(PoisonError::into_inner);
        let hasher = std::mem::take(&mut upload.hasher);
        (
            upload.size,
            hex::encode(hasher.finalize()),
            upload.failure.take(),
        )
    };
    match (stored, failure) {
        (_, Some(UploadFailure::TooLarge)) => return Err(too_large(limit)),
        (_, Some(UploadFailure::Malformed(message))) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                format!("malformed multipart body: {message}"),
            )
            .into());
        }
        (Err(error), None) => {
            // A mirrored write can fail after the primary took it: leave nothing behind.
            if let Err(cleanup) = storage.delete(&key).await {
                tracing::warn!(error.message = %cleanup, key = %key, "cannot remove the object of a failed upload");
            }
            return Err(storage_error(error, "storing an upload"));
        }
        (Ok(_), None) => {}
    }

    let record = files
        .records
        .create(NewFile {
            id,
            owner_id: owner,
            key: key_text,
            size,
            content_type: part_type,
            checksum_sha256: checksum,
            public,
        })
        .await;
    let record = match record {
        Ok(record) => record,
        Err(error) => {
            // Not recorded: the object would be unreachable, so it goes.
            if let Err(cleanup) = storage.delete(&key).await {
                tracing::warn!(error.message = %cleanup, key = %key, "cannot remove the object of a failed upload");
            }
            if error.kind() == ErrorKind::Conflict {
                return Err(invalid(format!("owner: unknown user {owner}")));
            }
            return Err(repository(error));
        }
    };
    let mut response = (StatusCode::CREATED, Json(FileView::from(&record))).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("/v1/files/{id}")) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Query of `GET /v1/files`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListFiles {
    /// Whose files; a caller authenticated as a user may leave it out (their own).
    pub owner: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    pub offset: Option<u64>,
}

/// A page of files.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilePage {
    /// The files on this page, newest first.
    pub items: Vec<FileView>,
    /// How many the owner has in all.
    pub total: u64,
    /// The page size.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// An owner's files, newest first.
#[utoipa::path(
    get, path = "/v1/files", params(ListFiles),
    responses((status = 200, body = FilePage), (status = 403), (status = 422)),
    tag = "files"
)]
pub(crate) async fn list_files(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    query: Result<Query<ListFiles>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FilePage>, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let owner = owner_of(principal.as_deref(), query.owner.as_deref(), || {
        Problem::new(
            StatusCode::FORBIDDEN,
            "you can only list files of your own".to_owned(),
        )
        .into()
    })?
    .ok_or_else(|| invalid("owner: required (the owner's user id)"))?;
    let page = state
        .files
        .records
        .list_by_owner(owner, query.limit.unwrap_or(20), query.offset.unwrap_or(0))
        .await
        .map_err(|error| match error {
            seam_repository::Error::Invalid { field, message } => {
                invalid(format!("{field}: {message}"))
            }
            other => repository(other),
        })?;
    Ok(Json(FilePage {
        items: page.items.iter().map(FileView::from).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// The entity tag of a file: its SHA-256, the same on every backend and mirror.
fn etag(record: &FileRecord) -> String {
    format!("\"{}\"", record.checksum_sha256)
}

fn etag_matches(header: Option<&HeaderValue>, etag: &str) -> bool {
    header
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == "*" || tag == etag)
        })
}

/// Downloads a file, or a range of it.
#[utoipa::path(
    get, path = "/v1/files/{id}",
    params(("id" = String, Path), OwnerQuery,
        ("Range" = Option<String>, Header, description = "One range: `bytes=0-99`, `bytes=100-` or `bytes=-100`")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for, with `Content-Range`"),
        (status = 304, description = "`If-None-Match` matched the ETag"),
        (status = 404), (status = 416, description = "The range selects no byte"), (status = 422),
    ),
    tag = "files"
)]
pub(crate) async fn download_file(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    query: Result<Query<OwnerQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let id: FileId = parse_id("id", &id)?;
    let owner = owner_of(principal.as_deref(), query.owner.as_deref(), || {
        not_found(id)
    })?;
    let record = state.files.record(id, owner).await?;
    let etag = etag(&record);
    if etag_matches(headers.get(header::IF_NONE_MATCH), &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    // A Range is honoured when it is well formed and, with If-Range, the file is still
    // the one the client has; otherwise the whole file is sent (RFC 9110 §14.2).
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|value| value.to_str().is_ok_and(|value| value.trim() == etag));
    let range = headers
        .get(header::RANGE)
        .filter(|_| if_range_ok)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| ByteRange::parse_http(value).ok());

    let key = object_key(&record.key)?;
    let storage = state.files.scoped(record.owner_id)?;
    let result = match storage.get(&key, GetOptions { range }).await {
        Ok(result) => result,
        Err(seam_storage::Error::RangeNotSatisfiable { size }) => {
            let mut response = Problem::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the range selects no byte of this {size}-byte file"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        Err(seam_storage::Error::NotFound { .. }) => {
            tracing::error!(file.id = %id, key = %key, "a recorded file has no object");
            return Err(
                Problem::new(StatusCode::NOT_FOUND, format!("file {id} has no content")).into(),
            );
        }
        Err(error) => return Err(storage_error(error, "reading a file")),
    };

    let size = result.meta.size;
    let length = result.range.end - result.range.start;
    let partial = range.is_some();
    let mut response = Response::new(Body::from_stream(result.body));
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, record.content_type.clone());
    set(header::CONTENT_LENGTH, length.to_string());
    set(header::ETAG, etag);
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    // Uploaded content is never interpreted by a browser on the API's origin.
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox".to_owned(),
    );
    if partial {
        set(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{size}",
                result.range.start,
                result.range.end.saturating_sub(1)
            ),
        );
    }
    Ok(response)
}

/// A URL to download a file from: the CDN's for a public file when a CDN is
/// configured, a signed one otherwise (`storage.signed_url_ttl`).
#[utoipa::path(
    get, path = "/v1/files/{id}/url", params(("id" = String, Path), OwnerQuery),
    responses(
        (status = 200, body = FileUrl), (status = 404), (status = 422),
        (status = 501, description = "The storage backend cannot sign URLs (local files): download through `GET /v1/files/{id}`"),
    ),
    tag = "files"
)]
pub(crate) async fn file_url(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    query: Result<Query<OwnerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FileUrl>, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let id: FileId = parse_id("id", &id)?;
    let files = &state.files;
    let owner = owner_of(principal.as_deref(), query.owner.as_deref(), || {
        not_found(id)
    })?;
    let record = files.record(id, owner).await?;
    let key = object_key(&record.key)?;
    let storage = files.scoped(record.owner_id)?;
    if record.public
        && let Some(url) = files
            .storage
            .public_url(&storage, &key)
            .await
            .map_err(|error| storage_error(error, "making a public URL"))?
    {
        return Ok(Json(FileUrl {
            url,
            expires_at: None,
        }));
    }
    let ttl: Duration = files.settings.signed_url_ttl;
    let signed = storage
        .signed_url(SignedMethod::Get, &key, ttl)
        .await
        .map_err(|error| match error {
            seam_storage::Error::NotSupported { adapter, .. } => Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                format!(
                    "the {adapter} storage backend cannot sign URLs; download the file \
                     through GET /v1/files/{id} instead"
                ),
            )
            .into(),
            other => storage_error(other, "signing a URL"),
        })?;
    Ok(Json(FileUrl {
        url: signed.url,
        expires_at: Some(signed.expires_at),
    }))
}

/// Deletes a file: its bytes, then its record (and its attachments).
#[utoipa::path(
    delete, path = "/v1/files/{id}", params(("id" = String, Path), OwnerQuery),
    responses((status = 204), (status = 404), (status = 422)),
    tag = "files"
)]
pub(crate) async fn delete_file(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    query: Result<Query<OwnerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let id: FileId = parse_id("id", &id)?;
    let files = &state.files;
    let owner = owner_of(principal.as_deref(), query.owner.as_deref(), || {
        not_found(id)
    })?;
    let record = files.record(id, owner).await?;
    let key = object_key(&record.key)?;
    // Bytes first: if this fails the record stays and the delete can be retried; a
    // missing object is fine (deletes are idempotent).
    files
        .scoped(record.owner_id)?
        .delete(&key)
        .await
        .map_err(|error| storage_error(error, "deleting a file"))?;
    files.records.delete(id).await.map_err(repository)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The order, when the caller may see it: a caller authenticated as a user sees only
/// their own orders (another's is answered 404, as an unknown one).
async fn order_of(
    state: &AppState,
    principal: Option<&Principal>,
    order_id: OrderId,
) -> Result<seam_domain::Order, ApiError> {
    let order = state.orders.get_order(order_id).await?;
    if acting_user(principal).is_some_and(|user| user != order.customer_id) {
        return Err(
            Problem::new(StatusCode::NOT_FOUND, format!("order {order_id} not found")).into(),
        );
    }
    Ok(order)
}

/// Attaches a file of the order's customer to the order.
#[utoipa::path(
    post, path = "/v1/orders/{id}/attachments", params(("id" = String, Path)),
    request_body = AttachRequest,
    responses(
        (status = 201, body = AttachmentView), (status = 404, description = "Unknown order"),
        (status = 409, description = "The file is attached already"),
        (status = 422, description = "Unknown file, a file of someone else, or a bad role"),
    ),
    tag = "files"
)]
pub(crate) async fn attach_file(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let order_id: OrderId = parse_id("id", &id)?;
    let request: AttachRequest = crate::json::parse(&headers, &body)?;
    let file_id: FileId = parse_id("file_id", &request.file_id)?;
    let order = order_of(&state, principal.as_deref(), order_id).await?;
    let file = match state.files.records.get(file_id).await {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Err(invalid(format!("file_id: unknown file {file_id}")));
        }
        Err(error) => return Err(repository(error)),
    };
    if file.owner_id != order.customer_id {
        // Said the same way as an unknown file: another owner's files are not acknowledged.
        return Err(invalid(format!("file_id: unknown file {file_id}")));
    }
    let attached = state
        .files
        .records
        .attach_to_order(order_id, file_id, &request.role)
        .await
        .map_err(|error| match error {
            seam_repository::Error::Invalid { field, message } => {
                invalid(format!("{field}: {message}"))
            }
            seam_repository::Error::NotFound { entity: "file", .. } => {
                invalid(format!("file_id: unknown file {file_id}"))
            }
            other => repository(other),
        })?;
    Ok((StatusCode::CREATED, Json(AttachmentView::from(&attached))).into_response())
}

/// The files attached to an order, oldest first.
#[utoipa::path(
    get, path = "/v1/orders/{id}/attachments", params(("id" = String, Path)),
    responses((status = 200, body = AttachmentList), (status = 404), (status = 422)),
    tag = "files"
)]
pub(crate) async fn list_attachments(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
) -> Result<Json<AttachmentList>, ApiError> {
    let order_id: OrderId = parse_id("id", &id)?;
    order_of(&state, principal.as_deref(), order_id).await?;
    let attachments = state
        .files
        .records
        .list_order_attachments(order_id)
        .await
        .map_err(repository)?;
    Ok(Json(AttachmentList {
        items: attachments.iter().map(AttachmentView::from).collect(),
    }))
}
