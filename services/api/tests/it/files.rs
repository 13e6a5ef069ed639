//! Files end to end on the embedded defaults: SQLite records, local files under the
//! data folder.

use std::path::Path;

use bytes::Bytes;
use reqwest::StatusCode;
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS};
use seam_storage::{GetOptions, ObjectKey, ObjectStorage, ObjectStorageExt};
use seam_wiring::FileStorage;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{TestApp, seeded_settings};

const BOUNDARY: &str = "seam-test-boundary-2f9c";

/// A multipart/form-data body of `parts`: (name, content type, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\n")
                .as_bytes(),
        );
        if let Some(content_type) = content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

async fn upload(app: &TestApp, query: &str, content_type: &str, bytes: &[u8]) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/files?{query}")))
        .header("content-type", multipart_type())
        .body(multipart(&[("file", Some(content_type), bytes)]))
        .send()
        .await
        .expect("request sent")
}

async fn problem(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Objects (not the adapter's metadata sidecars) under the local storage folder.
fn stored_objects(data: &Path) -> Vec<std::path::PathBuf> {
    files_under(&data.join("files"))
        .into_iter()
        .filter(|path| {
            !path
                .components()
                .any(|part| part.as_os_str() == ".seam-meta")
        })
        .collect()
}

async fn create_user(app: &TestApp, email: &str) -> String {
    let response = app
        .post_json(
            "/v1/users",
            &json!({"email": email, "name": "Someone"}).to_string(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    user["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_and_download_round_trip_with_checksum() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let owner = DEMO_CUSTOMER_ID.to_string();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    let response = upload(&app, &format!("owner={owner}"), "application/pdf", &content).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let view: Value = response.json().await.unwrap();
    let id = view["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/files/{id}"));
    assert_eq!(view["owner_id"], owner.as_str());
    assert_eq!(view["size"], content.len());
    assert_eq!(view["content_type"], "application/pdf");
    assert_eq!(view["checksum_sha256"], sha256(&content).as_str());
    assert_eq!(view["public"], false);

    let download = app.get(&location).await;
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-length"],
        content.len().to_string().as_str()
    );
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", sha256(&content)));
    let bytes = download.bytes().await.unwrap();
    assert_eq!(sha256(&bytes), sha256(&content));

    // The bytes are a file under <data_dir>/files, in the owner's part.
    let objects = stored_objects(data.path());
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(
        objects[0].ends_with(format!("tenants/{owner}/{owner}/{id}")),
        "{objects:?}"
    );

    // The storage has its (non-critical) health check.
    let health: Value = app.get("/health").await.json().await.unwrap();
    let storage = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "storage")
        .cloned()
        .unwrap_or_default();
    assert_eq!(storage["status"], "up", "{health}");
    assert_eq!(storage["critical"], false, "{health}");
    assert_eq!(health["status"], "up", "{health}");

    // A client that has it already gets a 304.
    let again = app
        .client
        .get(app.url(&location))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn ranges_are_served_as_206_and_unsatisfiable_ones_as_416() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let content = b"0123456789abcdefghij";
    let response = upload(
        &app,
        &format!("owner={DEMO_CUSTOMER_ID}"),
        "text/plain",
        content,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let view: Value = response.json().await.unwrap();
    let path = format!("/v1/files/{}", view["id"].as_str().unwrap());
    let ranged = |range: &'static str| app.client.get(app.url(&path)).header("range", range).send();

    for (range, expected, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/20"),
        ("bytes=15-", &b"fghij"[..], "bytes 15-19/20"),
        ("bytes=-3", &b"hij"[..], "bytes 17-19/20"),
        ("bytes=18-100", &b"ij"[..], "bytes 18-19/20"),
    ] {
        let response = ranged(range).await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            content_range,
            "{range}"
        );
        assert_eq!(
            response.headers()["content-length"],
            expected.len().to_string().as_str()
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            Bytes::from_static(expected)
        );
    }

    let response = ranged("bytes=20-").await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()["content-range"], "bytes */20");
    let (_, detail) = problem(response).await;
    assert!(detail.contains("20-byte"), "{detail}");

    // A malformed Range is ignored: the whole file.
    let response = ranged("lines=1-2").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), Bytes::from_static(content));

    // If-Range with another ETag: the whole file, not the range.
    let response = app
        .client
        .get(app.url(&path))
        .header("range", "bytes=0-1")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_while_streaming_and_leave_nothing() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = seeded_settings(data.path()).await;
    settings.storage.max_upload_bytes = 1024;
    let app = TestApp::spawn(settings).await;
    let owner = DEMO_CUSTOMER_ID;
    let too_big = vec![b'x'; 64 * 1024];

    // With a Content-Length over the limit: refused before reading.
    let (status, detail) =
        problem(upload(&app, &format!("owner={owner}"), "text/plain", &too_big).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(detail, "the file is larger than the limit of 1024 bytes");

    // Chunked, with no Content-Length: refused as the bytes arrive.
    let body = multipart(&[("file", Some("text/plain"), &too_big)]);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(4096).map(|chunk| Ok(chunk.to_vec())).collect();
    let response = app
        .client
        .post(app.url(&format!("/v1/files?owner={owner}")))
        .header("content-type", multipart_type())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(detail, "the file is larger than the limit of 1024 bytes");

    // Just under the limit passes; nothing of the refused uploads was kept.
    let fits = vec![b'y'; 1024];
    let response = upload(&app, &format!("owner={owner}"), "text/plain", &fits).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(stored_objects(data.path()).len(), 1);
    let database = seam_sql::Database::connect(&seam_wiring::sql_config(&crate::sqlite_settings(
        data.path(),
    )))
    .await
    .unwrap();
    let count: i64 = seam_sql::sqlx::query_scalar("SELECT COUNT(*) FROM files")
        .fetch_one(database.as_sqlite().unwrap())
        .await
        .unwrap();
    assert_eq!(count, 1, "only the upload that fits is recorded");
    database.close().await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_types_missing_parts_and_unknown_owners_are_precise_4xx() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let owner = format!("owner={DEMO_CUSTOMER_ID}");

    let (status, detail) =
        problem(upload(&app, &owner, "application/x-msdownload", b"MZ").await).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        detail.starts_with(
            "files of type \"application/x-msdownload\" are not accepted; allowed: application/pdf"
        ),
        "{detail}"
    );

    let response = app
        .client
        .post(app.url(&format!("/v1/files?{owner}")))
        .header("content-type", multipart_type())
        .body(multipart(&[("file", None, b"no type")]))
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(detail, "the `file` part has no Content-Type");

    let (status, _) = problem(app.post_json(&format!("/v1/files?{owner}"), "{}").await).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = app
        .client
        .post(app.url(&format!("/v1/files?{owner}")))
        .header("content-type", multipart_type())
        .body(multipart(&[(
            "attachment",
            Some("text/plain"),
            b"wrong name",
        )]))
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        detail,
        "file: missing; send the file as the multipart part named `file`"
    );

    let stranger = seam_core::Id::<()>::new();
    let (status, detail) =
        problem(upload(&app, &format!("owner={stranger}"), "text/plain", b"hi").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail, format!("owner: unknown user {stranger}"));
    let (status, _) = problem(upload(&app, "owner=nope", "text/plain", b"hi").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = problem(upload(&app, "", "text/plain", b"hi").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let body = multipart(&[("file", Some("text/plain"), b"cut")]);
    let response = app
        .client
        .post(app.url(&format!("/v1/files?{owner}")))
        .header("content-type", multipart_type())
        .body(body[..body.len() - 20].to_vec())
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail.starts_with("malformed multipart body"), "{detail}");

    assert!(stored_objects(data.path()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn unknown_files_are_404_delete_removes_bytes_and_record_and_local_cannot_sign() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let unknown = seam_core::Id::<()>::new();
    for path in [
        format!("/v1/files/{unknown}"),
        format!("/v1/files/{unknown}/url"),
    ] {
        let (status, detail) = problem(app.get(&path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(detail, format!("file {unknown} not found"));
    }
    let (status, _) = problem(app.get("/v1/files/42").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let response = upload(
        &app,
        &format!("owner={DEMO_CUSTOMER_ID}"),
        "image/png",
        b"\x89PNG",
    )
    .await;
    let view: Value = response.json().await.unwrap();
    let path = format!("/v1/files/{}", view["id"].as_str().unwrap());

    let (status, detail) = problem(app.get(&format!("{path}/url")).await).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(
        detail.contains("cannot sign URLs; download the file through GET /v1/files/"),
        "{detail}"
    );

    assert_eq!(stored_objects(data.path()).len(), 1);
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(stored_objects(data.path()).is_empty());
    let (status, _) = problem(app.get(&path).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let again = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn public_files_get_cdn_urls() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = seeded_settings(data.path()).await;
    settings.storage.cdn_base_url = Some("https://cdn.example.com/seam/".to_owned());
    let app = TestApp::spawn(settings).await;
    let owner = DEMO_CUSTOMER_ID;
    let response = upload(
        &app,
        &format!("owner={owner}&public=true"),
        "image/jpeg",
        b"\xff\xd8\xff",
    )
    .await;
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["public"], true);
    let id = view["id"].as_str().unwrap();
    let url: Value = app
        .get(&format!("/v1/files/{id}/url"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        url["url"],
        format!("https://cdn.example.com/seam/tenants/{owner}/{owner}/{id}").as_str()
    );
    assert_eq!(url["expires_at"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn one_owner_never_reaches_another_owners_files() {
    let data = tempfile::tempdir().unwrap();
    let settings = seeded_settings(data.path()).await;
    let app = TestApp::spawn(settings.clone()).await;
    let other = create_user(&app, "other@example.com").await;
    let response = upload(
        &app,
        &format!("owner={DEMO_CUSTOMER_ID}"),
        "text/plain",
        b"ada's secret",
    )
    .await;
    let view: Value = response.json().await.unwrap();
    let id = view["id"].as_str().unwrap().to_owned();

    // Through the API: another owner gets 404, on every route.
    for path in [format!("/v1/files/{id}"), format!("/v1/files/{id}/url")] {
        let (status, _) = problem(app.get(&format!("{path}?owner={other}")).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let refused = app
        .client
        .delete(app.url(&format!("/v1/files/{id}?owner={other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let own = app
        .get(&format!("/v1/files/{id}?owner={DEMO_CUSTOMER_ID}"))
        .await;
    assert_eq!(own.status(), StatusCode::OK);

    // In the storage: the recorded key, taken in the other owner's part, is not there.
    let storage = FileStorage::build(&settings).unwrap();
    let recorded = ObjectKey::parse(&format!("{DEMO_CUSTOMER_ID}/{id}")).unwrap();
    let theirs = storage.for_tenant(&other).unwrap();
    let error = theirs
        .get(&recorded, GetOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    // Nor can a key climb out of the other owner's part.
    let climbing = ObjectKey::parse(&format!(
        "tenants/{DEMO_CUSTOMER_ID}/{DEMO_CUSTOMER_ID}/{id}"
    ))
    .unwrap();
    assert!(
        theirs
            .get(&climbing, GetOptions::default())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(theirs.list_all("").await.unwrap().is_empty());
    let ours = storage.for_tenant(&DEMO_CUSTOMER_ID.to_string()).unwrap();
    assert!(ours.head(&recorded).await.is_ok());
    // A tenant cannot be a path either.
    assert!(storage.for_tenant("a/b").is_err());
    assert!(storage.for_tenant("..").is_err());
    app.stop().await;
}

#[tokio::test]
async fn files_attach_to_orders_of_their_owner() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let order: Value = app
        .post_json(
            "/v1/orders",
            &json!({
                "customer_id": DEMO_CUSTOMER_ID.to_string(),
                "currency": "EUR",
                "lines": [{"sku": DEMO_PRODUCTS[0].sku, "quantity": 1}],
            })
            .to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    let order_id = order["id"].as_str().unwrap();
    let invoice: Value = upload(
        &app,
        &format!("owner={DEMO_CUSTOMER_ID}"),
        "application/pdf",
        b"%PDF-1.7",
    )
    .await
    .json()
    .await
    .unwrap();
    let invoice_id = invoice["id"].as_str().unwrap();
    let path = format!("/v1/orders/{order_id}/attachments");
    let attach = |file_id: String, role: &str| {
        let body = json!({"file_id": file_id, "role": role}).to_string();
        app.client
            .post(app.url(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let attached = attach(invoice_id.to_owned(), "invoice").await.unwrap();
    assert_eq!(attached.status(), StatusCode::CREATED);
    let attached: Value = attached.json().await.unwrap();
    assert_eq!(attached["role"], "invoice");
    assert_eq!(attached["order_id"], order_id);
    assert_eq!(attached["file"]["id"], invoice_id);

    let listed: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["items"][0]["file"]["checksum_sha256"],
        invoice["checksum_sha256"]
    );

    let (status, _) = problem(attach(invoice_id.to_owned(), "copy").await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let unknown = seam_core::Id::<()>::new().to_string();
    let (status, detail) = problem(attach(unknown.clone(), "invoice").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail, format!("file_id: unknown file {unknown}"));
    let (status, detail) = problem(attach(invoice_id.to_owned(), " ").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.starts_with("role: "), "{detail}");

    // Someone else's file cannot be attached to this customer's order.
    let other = create_user(&app, "mallory@example.com").await;
    let theirs: Value = upload(&app, &format!("owner={other}"), "text/plain", b"not ada's")
        .await
        .json()
        .await
        .unwrap();
    let theirs_id = theirs["id"].as_str().unwrap().to_owned();
    let (status, detail) = problem(attach(theirs_id.clone(), "invoice").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail, format!("file_id: unknown file {theirs_id}"));

    let no_order = format!("/v1/orders/{unknown}/attachments");
    let (status, _) = problem(app.get(&no_order).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = problem(
        app.post_json(
            &no_order,
            &json!({"file_id": invoice_id, "role": "invoice"}).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting the file detaches it.
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/files/{invoice_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed: Value = app.get(&path).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn files_need_a_credential_by_default() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let anonymous = reqwest::Client::new();
    let listed = anonymous
        .get(app.url(&format!("/v1/files?owner={DEMO_CUSTOMER_ID}")))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    let uploaded = anonymous
        .post(app.url(&format!("/v1/files?owner={DEMO_CUSTOMER_ID}")))
        .header("content-type", multipart_type())
        .body(multipart(&[("file", Some("text/plain"), b"hi")]))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::UNAUTHORIZED);
    assert!(stored_objects(data.path()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_file_routes() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/v1/files",
        "/v1/files/{id}",
        "/v1/files/{id}/url",
        "/v1/orders/{id}/attachments",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert!(
        document["paths"]["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
            .is_object()
    );
    // Both credentials the protected routes take are described.
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "seam_session");
    assert!(
        document["security"]
            .as_array()
            .is_some_and(|all| all.len() == 2)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_signed_in_user_owns_what_they_upload_and_sees_only_their_files() {
    let data = tempfile::tempdir().unwrap();
    let settings = seeded_settings(data.path()).await;
    let mut request = seam_wiring::auth::TokenRequest::new(DEMO_CUSTOMER_ID.to_string());
    request.user_id = Some(seam_core::Id::from_uuid(DEMO_CUSTOMER_ID));
    let token = seam_wiring::auth::issue_token(&settings, &request).unwrap();
    let user = crate::authorized_client(seam_core::ExposeSecret::expose_secret(&token.token));
    let app = TestApp::spawn(settings).await;
    let other = create_user(&app, "eve@example.com").await;
    let send = |client: &reqwest::Client, query: &str| {
        client
            .post(app.url(&format!("/v1/files{query}")))
            .header("content-type", multipart_type())
            .body(multipart(&[("file", Some("text/plain"), b"mine")]))
            .send()
    };

    // No owner named: the caller's own file.
    let response = send(&user, "").await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mine: Value = response.json().await.unwrap();
    assert_eq!(mine["owner_id"], DEMO_CUSTOMER_ID.to_string().as_str());
    // Naming someone else is refused.
    let (status, detail) = problem(send(&user, &format!("?owner={other}")).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(detail, "you can only upload files of your own");
    // An admin (TestApp's client) uploads for whomever it names.
    let response = send(&app.client, &format!("?owner={other}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let theirs: Value = response.json().await.unwrap();

    let get = |path: String| user.get(app.url(&path)).send();
    let own = get(format!("/v1/files/{}", mine["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let (status, _) = problem(
        get(format!("/v1/files/{}", theirs["id"].as_str().unwrap()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Listing: the caller's own files, whatever they name.
    let listed: Value = user
        .get(app.url("/v1/files"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], mine["id"]);
    let refused = user
        .get(app.url(&format!("/v1/files?owner={other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listed: Value = app
        .get(&format!("/v1/files?owner={other}&limit=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (listed["total"].as_u64(), listed["limit"].as_u64()),
        (Some(1), Some(1))
    );
    let (status, _) = problem(app.get(&format!("/v1/files?owner={other}&limit=0")).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without a credential the protected routes answer 401.
    let anonymous = reqwest::Client::new()
        .get(app.url(&format!("/v1/files/{}", mine["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn a_queued_mirror_receives_uploads_in_the_background() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = seeded_settings(data.path()).await;
    settings.storage.mirror = Some(seam_wiring::MirrorSettings {
        mode: seam_wiring::MirrorMode::Queue,
        ..seam_wiring::MirrorSettings::default()
    });
    let app = TestApp::spawn(settings.clone()).await;
    let owner = DEMO_CUSTOMER_ID;
    let response = upload(&app, &format!("owner={owner}"), "text/plain", b"copy me").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let view: Value = response.json().await.unwrap();
    let copy = data.path().join(format!(
        "files-mirror/tenants/{owner}/{owner}/{}",
        view["id"].as_str().unwrap()
    ));
    // The drainer copies it shortly; bounded wait.
    for _ in 0..200 {
        if copy.is_file() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read(&copy).unwrap(), b"copy me");
    app.stop().await;
}
