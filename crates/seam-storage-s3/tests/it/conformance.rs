//! The storage port's conformance suite, against the real S3-compatible test server.

use std::sync::Arc;

use seam_storage::ObjectStorage;
use seam_storage::conformance::{self, Capabilities};
use seam_testkit::storage::HttpSignedUrlClient;

use crate::test_storage;

fn caps() -> Capabilities {
    Capabilities {
        signed_urls: true,
        signed_url_client: Some(Arc::new(HttpSignedUrlClient::default())),
        ..Capabilities::default()
    }
}

/// Runs one check of the suite on a storage below a root prefix of its own (which the
/// adapter must make invisible), then removes what is left under that root.
macro_rules! checks {
    ($($name:ident => |$storage:ident| $check:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let storage = test_storage();
            {
                let $storage: &dyn ObjectStorage = &storage;
                $check.await;
            }
            crate::cleanup(&storage).await;
        }
    )*};
}

// The suite's checks, one test each so they run in parallel, as `run_all` lists them,
// but for `concurrent_creates_have_one_winner`: s3s-fs checks `If-None-Match: *` and
// then writes, without a lock, so concurrent creates can all win there. AWS S3
// evaluates the condition atomically; `headers::concurrent_creates_*` checks this
// adapter's side (every create is conditional, a 412 is `AlreadyExists`).
checks! {
    round_trips_empty_and_small_objects => |s| conformance::round_trips_empty_and_small_objects(s);
    streams_a_large_object => |s| conformance::streams_a_large_object(s, caps().max_test_body);
    reads_ranges => |s| conformance::reads_ranges(s);
    round_trips_metadata_and_content_type => |s| conformance::round_trips_metadata_and_content_type(s);
    refuses_bad_options => |s| conformance::refuses_bad_options(s);
    lists_in_order_across_pages => |s| conformance::lists_in_order_across_pages(s);
    list_prefixes_isolate => |s| conformance::list_prefixes_isolate(s);
    continuation_token_stays_within_its_prefix => |s| conformance::continuation_token_stays_within_its_prefix(s);
    copies_objects => |s| conformance::copies_objects(s);
    deletes_idempotently => |s| conformance::deletes_idempotently(s);
    missing_keys_are_not_found => |s| conformance::missing_keys_are_not_found(s);
    create_mode_refuses_existing_objects => |s| conformance::create_mode_refuses_existing_objects(s);
    failed_body_leaves_the_previous_object => |s| conformance::failed_body_leaves_the_previous_object(s);
    refuses_bad_keys_and_prefixes => |s| conformance::refuses_bad_keys_and_prefixes(s);
    signed_urls => |s| conformance::signed_urls(s, &caps());
}
