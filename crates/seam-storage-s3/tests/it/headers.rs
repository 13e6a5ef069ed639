//! The exact requests the SDK sends (encryption, storage class, conditional writes,
//! metadata), and S3 error answers, checked against wiremock.

use std::time::Duration;

use seam_core::{Classify, ErrorKind, SecretString};
use seam_storage::{Error, ObjectStorage, ObjectStorageExt, PutMode, PutOptions};
use seam_storage_s3::{S3Config, S3Storage, Sse};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::key;

fn storage(server: &MockServer, sse: Option<Sse>, storage_class: Option<&str>) -> S3Storage {
    let mut config = S3Config::new(
        "seam-test",
        "eu-west-1",
        "AKIDEXAMPLE",
        SecretString::new("wJalrXUtnFEMI".into()),
    )
    .with_endpoint(server.uri());
    config.server_side_encryption = sse;
    config.storage_class = storage_class.map(str::to_owned);
    config.build().unwrap()
}

fn header(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn put_sends_kms_encryption_storage_class_metadata_and_if_none_match() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/seam-test/invoices/1.pdf"))
        .respond_with(ResponseTemplate::new(200).insert_header("ETag", "\"abc\""))
        .expect(1)
        .mount(&server)
        .await;
    let storage = storage(
        &server,
        Some(Sse::Kms {
            key_id: Some("alias/orders".into()),
        }),
        Some("STANDARD_IA"),
    );
    let options = PutOptions {
        content_type: Some("application/pdf".into()),
        metadata: [("order-id".to_owned(), "o-1".to_owned())].into(),
        mode: PutMode::Create,
        public: true,
    };
    let written = storage
        .put_bytes(&key("invoices/1.pdf"), "%PDF".into(), options)
        .await
        .unwrap();
    assert_eq!(written.etag.as_deref(), Some("\"abc\""));
    assert_eq!(written.size, 4);

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(request.body, b"%PDF");
    for (name, value) in [
        ("x-amz-server-side-encryption", "aws:kms"),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "alias/orders",
        ),
        ("x-amz-storage-class", "STANDARD_IA"),
        ("content-type", "application/pdf"),
        ("content-length", "4"),
        ("x-amz-meta-order-id", "o-1"),
        ("x-amz-meta-seam-public", "true"),
        ("if-none-match", "*"),
    ] {
        assert_eq!(header(request, name).as_deref(), Some(value), "{name}");
    }
    let authorization = header(request, "authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{authorization}"
    );
    assert!(authorization.contains("/eu-west-1/s3/aws4_request"));
    // public_acl is off: no ACL header.
    assert_eq!(header(request, "x-amz-acl"), None);
}

#[tokio::test]
async fn sse_s3_is_aes256_and_overwrite_sends_no_condition() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let storage = storage(&server, Some(Sse::S3), None);
    storage
        .put_bytes(&key("a"), "x".into(), PutOptions::default())
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        header(request, "x-amz-server-side-encryption").as_deref(),
        Some("AES256")
    );
    assert_eq!(
        header(request, "x-amz-server-side-encryption-aws-kms-key-id"),
        None
    );
    assert_eq!(header(request, "x-amz-storage-class"), None);
    assert_eq!(header(request, "if-none-match"), None);
    assert_eq!(header(request, "x-amz-meta-seam-public"), None);
}

#[tokio::test]
async fn public_acl_sends_public_read_for_public_objects_only() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut config = S3Config::new("seam-test", "us-east-1", "a", SecretString::new("s".into()))
        .with_endpoint(server.uri());
    config.public_acl = true;
    let storage = config.build().unwrap();
    for public in [true, false] {
        let options = PutOptions {
            public,
            ..PutOptions::default()
        };
        storage
            .put_bytes(&key("a"), "x".into(), options)
            .await
            .unwrap();
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        header(&requests[0], "x-amz-acl").as_deref(),
        Some("public-read")
    );
    assert_eq!(header(&requests[1], "x-amz-acl"), None);
}

#[tokio::test]
async fn multipart_uploads_carry_encryption_and_storage_class_at_creation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/seam-test/big.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<InitiateMultipartUploadResult><Bucket>seam-test</Bucket><Key>big.bin</Key>\
             <UploadId>upload-1</UploadId></InitiateMultipartUploadResult>",
        ))
        .mount(&server)
        .await;
    let storage = storage(&server, Some(Sse::Kms { key_id: None }), Some("GLACIER_IR"));
    let upload = storage
        .start_upload(&key("big.bin"), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(upload.upload_id(), "upload-1");
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(request.url.query(), Some("uploads"));
    assert_eq!(
        header(request, "x-amz-server-side-encryption").as_deref(),
        Some("aws:kms")
    );
    assert_eq!(
        header(request, "x-amz-server-side-encryption-aws-kms-key-id"),
        None
    );
    assert_eq!(
        header(request, "x-amz-storage-class").as_deref(),
        Some("GLACIER_IR")
    );
}

#[tokio::test]
async fn copy_encodes_the_source_and_keeps_encryption() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>"),
        )
        .mount(&server)
        .await;
    let storage = storage(&server, Some(Sse::S3), Some("STANDARD_IA"));
    storage
        .copy(&key("dir/a b+c.txt"), &key("dir/copy.txt"))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        header(request, "x-amz-copy-source").as_deref(),
        Some("seam-test/dir/a%20b%2Bc.txt")
    );
    assert_eq!(
        header(request, "x-amz-server-side-encryption").as_deref(),
        Some("AES256")
    );
    assert_eq!(
        header(request, "x-amz-storage-class").as_deref(),
        Some("STANDARD_IA")
    );
}

fn s3_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
         <Message>{code} happened</Message><RequestId>r</RequestId></Error>"
    ))
}

#[tokio::test]
async fn error_answers_are_classified() {
    let cases = [
        (
            s3_error(503, "SlowDown").insert_header("Retry-After", "3"),
            ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
        ),
        (s3_error(500, "InternalError"), ErrorKind::Transient),
        (s3_error(403, "AccessDenied"), ErrorKind::Forbidden),
        (
            s3_error(403, "SignatureDoesNotMatch"),
            ErrorKind::Unauthorized,
        ),
        (s3_error(403, "InvalidAccessKeyId"), ErrorKind::Unauthorized),
        (s3_error(404, "NoSuchKey"), ErrorKind::NotFound),
        (s3_error(404, "NoSuchBucket"), ErrorKind::Unavailable),
        (
            s3_error(412, "PreconditionFailed"),
            ErrorKind::AlreadyExists,
        ),
        (s3_error(400, "InvalidArgument"), ErrorKind::Invalid),
        (s3_error(405, "MethodNotAllowed"), ErrorKind::Permanent),
    ];
    for (answer, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let storage = storage(&server, None, None);
        let error = storage
            .put_bytes(&key("a"), "x".into(), PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
        if kind == ErrorKind::AlreadyExists {
            assert!(matches!(error, Error::AlreadyExists { .. }));
        }
    }
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let mut config = S3Config::new("seam-test", "us-east-1", "a", SecretString::new("s".into()))
        .with_endpoint(server.uri());
    config.operation_timeout = Duration::from_millis(200);
    let storage = config.build().unwrap();
    let error = storage.get_bytes(&key("slow")).await.unwrap_err();
    assert!(
        matches!(error, Error::Timeout(after) if after == Duration::from_millis(200)),
        "{error}"
    );
}

#[tokio::test]
async fn resume_pages_through_list_parts() {
    let server = MockServer::start().await;
    let page = |parts: &[(u16, &str)], next: Option<&str>| {
        let parts: String = parts
            .iter()
            .map(|(n, etag)| {
                format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag><Size>5242880</Size></Part>")
            })
            .collect();
        let paging = match next {
            Some(marker) => {
                format!(
                    "<IsTruncated>true</IsTruncated><NextPartNumberMarker>{marker}</NextPartNumberMarker>"
                )
            }
            None => "<IsTruncated>false</IsTruncated>".to_owned(),
        };
        ResponseTemplate::new(200).set_body_string(format!(
            "<ListPartsResult><Bucket>seam-test</Bucket><Key>big.bin</Key>\
             <UploadId>u-1</UploadId>{paging}{parts}</ListPartsResult>"
        ))
    };
    Mock::given(method("GET"))
        .and(path("/seam-test/big.bin"))
        .and(wiremock::matchers::query_param("part-number-marker", "2"))
        .respond_with(page(&[(3, "\"c\"")], None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/seam-test/big.bin"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(page(&[(1, "\"a\""), (2, "\"b\"")], Some("2")))
        .with_priority(10)
        .mount(&server)
        .await;
    let storage = storage(&server, None, None);
    let upload = storage.resume(&key("big.bin"), "u-1").await.unwrap();
    let parts: Vec<_> = upload
        .completed_parts()
        .into_iter()
        .map(|part| (part.number, part.etag, part.size))
        .collect();
    assert_eq!(
        parts,
        vec![
            (1, "\"a\"".to_owned(), 5_242_880),
            (2, "\"b\"".to_owned(), 5_242_880),
            (3, "\"c\"".to_owned(), 5_242_880),
        ]
    );
}

#[tokio::test]
async fn resuming_an_unknown_upload_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(s3_error(404, "NoSuchUpload"))
        .mount(&server)
        .await;
    let storage = storage(&server, None, None);
    let error = storage.resume(&key("big.bin"), "gone").await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
}

#[tokio::test]
async fn completing_in_create_mode_sends_if_none_match() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(s3_error(412, "PreconditionFailed"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).insert_header("ETag", "\"p1\""))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<ListPartsResult><UploadId>u-1</UploadId><IsTruncated>false</IsTruncated></ListPartsResult>",
        ))
        .mount(&server)
        .await;
    let storage = storage(&server, None, None);
    let mut upload = storage.resume(&key("big.bin"), "u-1").await.unwrap();
    assert_eq!(upload.completed_parts(), vec![]);
    upload.set_mode(PutMode::Create);
    upload.upload_part(1, "part".into()).await.unwrap();
    let error = upload.complete().await.unwrap_err();
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error}");
    let requests = server.received_requests().await.unwrap();
    let complete = requests
        .iter()
        .find(|request| request.method.as_str() == "POST")
        .unwrap();
    assert_eq!(header(complete, "if-none-match").as_deref(), Some("*"));
    let body = String::from_utf8_lossy(&complete.body);
    assert!(body.contains("<PartNumber>1</PartNumber>"), "{body}");
    assert!(body.contains("p1"), "{body}");
}

/// A server for a streamed multipart upload: create answers `u-1`, parts answer
/// `part_answer`, abort answers 204.
async fn multipart_server(part_answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::query_param("uploads", ""))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>",
        ))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(part_answer)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn small_parts(server: &MockServer) -> S3Storage {
    let mut config = S3Config::new("seam-test", "us-east-1", "a", SecretString::new("s".into()))
        .with_endpoint(server.uri());
    config.multipart_threshold = seam_storage_s3::MIN_PART_SIZE;
    config.part_size = seam_storage_s3::MIN_PART_SIZE;
    config.build().unwrap()
}

/// The multipart calls the server saw: `create`, `part`, `complete`, `abort`.
async fn multipart_calls(server: &MockServer) -> Vec<&'static str> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            let query = request.url.query().unwrap_or("");
            match (request.method.as_str(), query.contains("uploadId=u-1")) {
                ("POST", false) if query.starts_with("uploads") => "create",
                ("PUT", true) => "part",
                ("POST", true) => "complete",
                ("DELETE", true) => "abort",
                _ => "other",
            }
        })
        .collect()
}

#[tokio::test]
async fn a_failing_body_aborts_the_multipart_upload() {
    use futures::StreamExt;

    let server = multipart_server(ResponseTemplate::new(200).insert_header("ETag", "\"p\"")).await;
    let storage = small_parts(&server);
    let part = bytes::Bytes::from(vec![7u8; seam_storage_s3::MIN_PART_SIZE as usize]);
    let body = futures::stream::iter([
        Ok(part.clone()),
        Ok(part),
        Err(Error::transient("the source went away")),
    ])
    .boxed();
    let error = storage
        .put(&key("big.bin"), body, PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transient { message, .. } if message == "the source went away"),
        "{error}"
    );
    // The body failed after two parts were read: the first was sent, then the upload
    // was aborted, never completed.
    assert_eq!(
        multipart_calls(&server).await,
        ["create", "part", "part", "abort"]
    );
}

#[tokio::test]
async fn a_failing_part_aborts_the_multipart_upload() {
    let server = multipart_server(s3_error(500, "InternalError")).await;
    let storage = small_parts(&server);
    let body = bytes::Bytes::from(vec![1u8; seam_storage_s3::MIN_PART_SIZE as usize + 10]);
    let error = storage
        .put_bytes(&key("big.bin"), body, PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transient { .. }), "{error}");
    let calls = multipart_calls(&server).await;
    assert_eq!(calls.first(), Some(&"create"), "{calls:?}");
    assert_eq!(calls.last(), Some(&"abort"), "{calls:?}");
    assert!(!calls.contains(&"complete"), "{calls:?}");
}

#[tokio::test]
async fn a_long_body_streams_with_at_most_two_parts_read_ahead() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;

    const PART: usize = seam_storage_s3::MIN_PART_SIZE as usize;
    const CHUNK: usize = 1024 * 1024;
    const TOTAL: usize = 4 * PART + 1000;

    // How many body bytes the adapter had pulled when each part reached the server.
    let pulled = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::query_param("uploads", ""))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>",
        ))
        .mount(&server)
        .await;
    let (pulled_at_part, seen_by_server) = (Arc::clone(&pulled), Arc::clone(&seen));
    Mock::given(method("PUT"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(move |request: &wiremock::Request| {
            let number: usize = request
                .url
                .query_pairs()
                .find(|(name, _)| name == "partNumber")
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or(0);
            let pulled = pulled_at_part.load(Ordering::SeqCst);
            seen_by_server.lock().unwrap().push((number, pulled));
            ResponseTemplate::new(200).insert_header("ETag", format!("\"p{number}\""))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::query_param("uploadId", "u-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<CompleteMultipartUploadResult><ETag>\"done\"</ETag></CompleteMultipartUploadResult>",
        ))
        .mount(&server)
        .await;

    let counter = Arc::clone(&pulled);
    let body = futures::stream::iter((0..TOTAL).step_by(CHUNK))
        .map(move |start| {
            let len = CHUNK.min(TOTAL - start);
            counter.fetch_add(len, Ordering::SeqCst);
            Ok(bytes::Bytes::from(vec![0u8; len]))
        })
        .boxed();
    let written = small_parts(&server)
        .put(&key("big.bin"), body, PutOptions::default())
        .await
        .unwrap();
    assert_eq!(written.size, TOTAL as u64);
    assert_eq!(written.etag.as_deref(), Some("\"done\""));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(number, _)| *number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    for (number, pulled) in seen {
        // Part n is on the wire while part n + 1 is read: never more than that (plus
        // the chunk that crossed the boundary) was pulled from the body.
        let bound = ((number + 1) * PART + CHUNK).min(TOTAL);
        assert!(
            pulled <= bound,
            "part {number} arrived after {pulled} bytes were read (bound {bound})"
        );
    }
}

#[tokio::test]
async fn pending_uploads_page_through_list_multipart_uploads() {
    let server = MockServer::start().await;
    let page = |uploads: &[(&str, &str)], next: Option<(&str, &str)>| {
        let uploads: String = uploads
            .iter()
            .map(|(key, id)| {
                format!(
                    "<Upload><Key>{key}</Key><UploadId>{id}</UploadId>\
                     <Initiated>2026-11-25T10:00:00.000Z</Initiated></Upload>"
                )
            })
            .collect();
        let paging = match next {
            Some((key, id)) => format!(
                "<IsTruncated>true</IsTruncated><NextKeyMarker>{key}</NextKeyMarker>\
                 <NextUploadIdMarker>{id}</NextUploadIdMarker>"
            ),
            None => "<IsTruncated>false</IsTruncated>".to_owned(),
        };
        ResponseTemplate::new(200).set_body_string(format!(
            "<ListMultipartUploadsResult><Bucket>seam-test</Bucket>{paging}{uploads}\
             </ListMultipartUploadsResult>"
        ))
    };
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param(
            "key-marker",
            "exports/b.csv",
        ))
        .and(wiremock::matchers::query_param("upload-id-marker", "u-b"))
        .respond_with(page(&[("exports/c.csv", "u-c")], None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("prefix", "exports/"))
        .respond_with(page(
            &[("exports/a.csv", "u-a"), ("exports/b.csv", "u-b")],
            Some(("exports/b.csv", "u-b")),
        ))
        .with_priority(10)
        .mount(&server)
        .await;
    let uploads = storage(&server, None, None)
        .pending_uploads("exports/")
        .await
        .unwrap();
    let found: Vec<_> = uploads
        .iter()
        .map(|upload| (upload.key.as_str(), upload.upload_id.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("exports/a.csv", "u-a"),
            ("exports/b.csv", "u-b"),
            ("exports/c.csv", "u-c")
        ]
    );
    assert_eq!(
        uploads[0].initiated.map(|time| time.to_rfc3339()),
        Some("2026-11-25T10:00:00+00:00".to_owned())
    );
    let error = storage(&server, None, None)
        .pending_uploads("../x")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidKey { .. }), "{error}");
}

#[tokio::test]
async fn concurrent_creates_are_all_conditional_and_losers_already_exist() {
    // The server lets the first conditional PUT through and refuses the others with
    // 412, as S3 does atomically.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(wiremock::matchers::header("if-none-match", "*"))
        .respond_with(ResponseTemplate::new(200).insert_header("ETag", "\"w\""))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(wiremock::matchers::header("if-none-match", "*"))
        .respond_with(s3_error(412, "PreconditionFailed"))
        .with_priority(2)
        .mount(&server)
        .await;
    let storage = storage(&server, None, None);
    let contested = key("contested");
    let attempts = (0..6).map(|writer| {
        let (storage, contested) = (&storage, &contested);
        async move {
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            storage
                .put_bytes(contested, format!("writer {writer}").into(), options)
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in results.iter().filter_map(|result| result.as_ref().err()) {
        assert!(matches!(result, Error::AlreadyExists { .. }), "{result}");
    }
    // Unconditional PUTs would have found no mock (404) above.
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
}
