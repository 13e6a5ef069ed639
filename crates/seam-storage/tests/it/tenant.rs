//! Tenant scoping: confinement, listing isolation, foreign tokens; and the suite.

use std::sync::Arc;

use bytes::Bytes;
use seam_storage::conformance::{self, Capabilities};
use seam_storage::{
    Error, InMemoryStorage, ListOptions, ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions,
    TenantId, TenantStorage,
};

use crate::support::key;

fn tenants() -> (Arc<InMemoryStorage>, TenantStorage, TenantStorage) {
    let shared = Arc::new(InMemoryStorage::new());
    let acme = TenantStorage::new(shared.clone(), TenantId::parse("acme").unwrap());
    let globex = TenantStorage::new(shared.clone(), TenantId::parse("globex").unwrap());
    (shared, acme, globex)
}

#[tokio::test]
async fn tenant_view_passes_the_conformance_suite() {
    let (shared, acme, _) = tenants();
    conformance::run_all(&acme, Capabilities::default()).await;
    assert!(shared.is_empty(), "{:?}", shared.keys());
}

#[tokio::test]
async fn keys_are_confined_under_the_tenant_root() {
    let (shared, acme, globex) = tenants();
    acme.put_bytes(
        &key("docs/a.txt"),
        Bytes::from("acme"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    globex
        .put_bytes(
            &key("docs/a.txt"),
            Bytes::from("globex"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    // A key that looks like another tenant's path is just a name inside this tenant.
    acme.put_bytes(
        &key("tenants/globex/docs/a.txt"),
        Bytes::from("spoof"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        shared.keys(),
        [
            key("tenants/acme/docs/a.txt"),
            key("tenants/acme/tenants/globex/docs/a.txt"),
            key("tenants/globex/docs/a.txt"),
        ]
    );
    assert_eq!(
        globex.get_bytes(&key("docs/a.txt")).await.unwrap(),
        "globex"
    );
    assert_eq!(acme.get_bytes(&key("docs/a.txt")).await.unwrap(), "acme");

    let meta = acme.head(&key("docs/a.txt")).await.unwrap();
    assert_eq!(meta.key, key("docs/a.txt"), "metas name the tenant's key");
    match acme.head(&key("missing")).await {
        Err(Error::NotFound { key: missing }) => assert_eq!(missing, key("missing")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let (_, acme, _) = tenants();
    for attempt in [
        "../globex/docs/a.txt",
        "/tenants/globex/docs/a.txt",
        "%2e%2e/globex/docs/a.txt",
        "docs%2F..%2F..%2Fglobex",
        "..%5cglobex",
        "docs/../../globex",
        "./docs",
    ] {
        assert!(
            matches!(ObjectKey::parse(attempt), Err(Error::InvalidKey { .. })),
            "{attempt}"
        );
        assert!(
            matches!(
                acme.list(ListOptions::prefix(attempt)).await,
                Err(Error::InvalidKey { .. })
            ),
            "list prefix {attempt}"
        );
    }
    for prefix in ["../", "%2e%2e/", "/", "a//"] {
        assert!(matches!(
            acme.list(ListOptions::prefix(prefix)).await,
            Err(Error::InvalidKey { .. })
        ));
    }
    let long = "x".repeat(seam_storage::MAX_KEY_BYTES - 3);
    match acme
        .put_bytes(&key(&long), Bytes::new(), PutOptions::default())
        .await
    {
        Err(Error::InvalidKey { .. }) => {}
        other => panic!("a key too long once scoped must be InvalidKey, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tenant_lists_only_its_own_objects() {
    let (_, acme, globex) = tenants();
    for name in ["a", "b", "c"] {
        acme.put_bytes(&key(name), Bytes::from("x"), PutOptions::default())
            .await
            .unwrap();
        globex
            .put_bytes(&key(name), Bytes::from("y"), PutOptions::default())
            .await
            .unwrap();
    }
    globex
        .put_bytes(&key("only-globex"), Bytes::from("y"), PutOptions::default())
        .await
        .unwrap();
    let listed: Vec<_> = acme
        .list_all("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, [key("a"), key("b"), key("c")]);
    assert!(acme.list_all("only").await.unwrap().is_empty());
    assert!(!acme.exists(&key("only-globex")).await.unwrap());
    // The tenants root itself cannot be listed through a tenant.
    assert!(acme.list_all("tenants/").await.unwrap().is_empty());
}

#[tokio::test]
async fn foreign_continuation_tokens_are_refused() {
    let (shared, acme, globex) = tenants();
    for name in ["a", "b", "c"] {
        globex
            .put_bytes(&key(name), Bytes::from("y"), PutOptions::default())
            .await
            .unwrap();
        acme.put_bytes(&key(name), Bytes::from("x"), PutOptions::default())
            .await
            .unwrap();
    }
    let page = |prefix: &str, token: Option<String>| ListOptions {
        prefix: prefix.to_owned(),
        page_size: 1,
        continuation: token,
    };
    let globex_token = globex.list(page("", None)).await.unwrap().next.unwrap();
    match acme.list(page("", Some(globex_token))).await {
        Err(Error::Invalid(message)) => assert!(message.contains("another tenant"), "{message}"),
        other => panic!("another tenant's token must be refused, got {other:?}"),
    }
    // A token of the shared store (not wrapped for the tenant) is refused as well.
    let raw = shared
        .list(page("tenants/globex/", None))
        .await
        .unwrap()
        .next
        .unwrap();
    assert!(matches!(
        acme.list(page("", Some(raw))).await,
        Err(Error::Invalid(_))
    ));
    // A token issued for another prefix of the same tenant is refused.
    let own = acme.list(page("", None)).await.unwrap().next.unwrap();
    assert!(matches!(
        acme.list(page("b", Some(own.clone()))).await,
        Err(Error::Invalid(_))
    ));
    // A forged token naming the tenant but pointing into another tenant stays confined.
    let forged = hex(&format!("acme\n\n{}", hex("tenants/globex/a")));
    let page_of_forged = acme.list(page("", Some(forged))).await;
    match page_of_forged {
        Ok(page) => assert!(page.objects.is_empty(), "{page:?}"),
        Err(error) => assert!(matches!(error, Error::Invalid(_)), "{error:?}"),
    }
    // The tenant's own token works.
    let next = acme.list(page("", Some(own))).await.unwrap();
    assert_eq!(next.objects[0].key, key("b"));
}

#[tokio::test]
async fn signed_urls_are_for_own_keys_only() {
    let (_, acme, _) = tenants();
    // The memory store cannot sign; the call still reaches it scoped (and nothing else).
    assert!(matches!(
        acme.signed_url(
            seam_storage::SignedMethod::Get,
            &key("a"),
            std::time::Duration::from_secs(60)
        )
        .await,
        Err(Error::NotSupported { .. })
    ));
    assert_eq!(acme.scoped(&key("a")).unwrap(), key("tenants/acme/a"));
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
