//! The port's conformance suite on a local directory and on the S3 server, with a
//! plain `reqwest` client trying the signed URLs.

use std::sync::Arc;

use seam_storage::ObjectStorage;
use seam_storage::conformance::{self, Capabilities};
use seam_storage_object_store::ObjectStoreConfig;
use seam_testkit::storage::HttpSignedUrlClient;

use crate::support::s3_storage;

fn s3_caps() -> Capabilities {
    Capabilities {
        signed_urls: true,
        signed_url_client: Some(Arc::new(HttpSignedUrlClient::default())),
        ..Capabilities::default()
    }
}

/// One test per check and backend, so they run in parallel and fail by name. Each
/// check works under its own random prefix and cleans up.
macro_rules! checks {
    ($($name:ident => |$storage:ident, $caps:ident| $check:expr;)*) => {
        mod local_directory {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
                    let $storage: &dyn ObjectStorage = &storage;
                    let $caps = Capabilities::default();
                    let _ = &$caps;
                    $check.await;
                }
            )*
        }
        mod s3_server {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let storage = s3_storage().await;
                    let $storage: &dyn ObjectStorage = &storage;
                    let $caps = s3_caps();
                    let _ = &$caps;
                    $check.await;
                }
            )*
        }
    };
}

// The suite's checks as `run_all` lists them.
checks! {
    round_trips_empty_and_small_objects => |s, caps| conformance::round_trips_empty_and_small_objects(s);
    streams_a_large_object => |s, caps| conformance::streams_a_large_object(s, caps.max_test_body);
    reads_ranges => |s, caps| conformance::reads_ranges(s);
    round_trips_metadata_and_content_type => |s, caps| conformance::round_trips_metadata_and_content_type(s);
    refuses_bad_options => |s, caps| conformance::refuses_bad_options(s);
    lists_in_order_across_pages => |s, caps| conformance::lists_in_order_across_pages(s);
    list_prefixes_isolate => |s, caps| conformance::list_prefixes_isolate(s);
    continuation_token_stays_within_its_prefix => |s, caps| conformance::continuation_token_stays_within_its_prefix(s);
    copies_objects => |s, caps| conformance::copies_objects(s);
    deletes_idempotently => |s, caps| conformance::deletes_idempotently(s);
    missing_keys_are_not_found => |s, caps| conformance::missing_keys_are_not_found(s);
    create_mode_refuses_existing_objects => |s, caps| conformance::create_mode_refuses_existing_objects(s);
    failed_body_leaves_the_previous_object => |s, caps| conformance::failed_body_leaves_the_previous_object(s);
    refuses_bad_keys_and_prefixes => |s, caps| conformance::refuses_bad_keys_and_prefixes(s);
    signed_urls => |s, caps| conformance::signed_urls(s, &caps);
}

/// Six concurrent create-only writes of one key: exactly one wins. Local only: s3s-fs
/// checks `If-None-Match: *` and then writes, without a lock, so there every racer
/// wins; AWS S3 (and this adapter's request, a conditional PUT) are atomic.
#[tokio::test]
async fn concurrent_creates_have_one_winner_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
    conformance::concurrent_creates_have_one_winner(&storage).await;
}
