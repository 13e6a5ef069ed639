//! The checks of [`FileRepository`](crate::FileRepository)'s contract.

use seam_core::ErrorKind;
use seam_domain::{OrderId, UserId};

use super::{create_product, create_user, expect_kind, insert_committed, now, place, token};
use crate::{Error, FileId, FileRecord, NewFile, RepositoryPorts};

fn new_file(owner: UserId, name: &str) -> NewFile {
    let id = FileId::new();
    NewFile {
        id,
        owner_id: owner,
        key: format!("{owner}/{id}-{name}"),
        size: 11,
        content_type: "text/plain".to_owned(),
        // SHA-256 of "hello world".
        checksum_sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            .to_owned(),
        public: false,
    }
}

async fn create_file(ports: &RepositoryPorts, owner: UserId, name: &str) -> FileRecord {
    ports
        .files
        .create(new_file(owner, name))
        .await
        .expect("create file")
}

/// `create` records every field and sets `created_at`; `get` returns it; `list_by_owner`
/// pages newest first and counts; `delete` forgets it (and a second delete is
/// `NotFound`).
pub async fn files_create_get_list_and_delete(ports: &RepositoryPorts) {
    let t = token();
    let owner = create_user(ports, &format!("files.{t}"), "Owner").await;
    let other = create_user(ports, &format!("files.other.{t}"), "Other").await;
    let before = now();
    let mut wanted = new_file(owner.id, "report.pdf");
    wanted.size = 5 * 1024 * 1024 * 1024;
    wanted.content_type = "application/pdf".to_owned();
    wanted.public = true;
    let created = ports.files.create(wanted.clone()).await.unwrap();
    assert_eq!(created.id, wanted.id);
    assert_eq!(created.owner_id, owner.id);
    assert_eq!(created.key, wanted.key);
    assert_eq!(created.size, wanted.size, "sizes past 4 GiB survive");
    assert_eq!(created.content_type, "application/pdf");
    assert_eq!(created.checksum_sha256, wanted.checksum_sha256);
    assert!(created.public);
    assert!(created.created_at >= before, "created_at is set to now");
    assert_eq!(ports.files.get(created.id).await.unwrap(), created);

    let second = create_file(ports, owner.id, "b").await;
    let third = create_file(ports, owner.id, "c").await;
    create_file(ports, other.id, "not-mine").await;
    let first_page = ports.files.list_by_owner(owner.id, 2, 0).await.unwrap();
    assert_eq!(first_page.total, 3);
    assert_eq!(first_page.items, vec![third.clone(), second.clone()]);
    assert!(first_page.has_more());
    let second_page = ports.files.list_by_owner(owner.id, 2, 2).await.unwrap();
    assert_eq!(second_page.items, vec![created.clone()]);
    let nobody = ports
        .files
        .list_by_owner(UserId::new(), 10, 0)
        .await
        .unwrap();
    assert_eq!((nobody.total, nobody.items.len()), (0, 0));
    for limit in [0, 101] {
        expect_kind(
            ports.files.list_by_owner(owner.id, limit, 0).await,
            ErrorKind::Invalid,
            "list_by_owner with a limit out of range",
        );
    }

    ports.files.delete(second.id).await.unwrap();
    let error = expect_kind(
        ports.files.get(second.id).await,
        ErrorKind::NotFound,
        "get after delete",
    );
    assert!(
        matches!(error, Error::NotFound { entity: "file", .. }),
        "{error:?}"
    );
    expect_kind(
        ports.files.delete(second.id).await,
        ErrorKind::NotFound,
        "delete twice",
    );
    expect_kind(
        ports.files.get(FileId::new()).await,
        ErrorKind::NotFound,
        "get of an unknown file",
    );
    let left = ports.files.list_by_owner(owner.id, 10, 0).await.unwrap();
    assert_eq!(left.items, vec![third, created]);
}

/// A recorded id or key is `AlreadyExists`, an unknown owner `Conflict`, bad fields
/// `Invalid`; none of them leaves a record. A user with files cannot be deleted.
pub async fn files_create_refuses_duplicates_unknown_owners_and_bad_fields(
    ports: &RepositoryPorts,
) {
    let t = token();
    let owner = create_user(ports, &format!("files.dup.{t}"), "Owner").await;
    let created = create_file(ports, owner.id, "a").await;

    let mut same_id = new_file(owner.id, "other-key");
    same_id.id = created.id;
    expect_kind(
        ports.files.create(same_id).await,
        ErrorKind::AlreadyExists,
        "create with a recorded id",
    );
    let mut same_key = new_file(owner.id, "x");
    same_key.key = created.key.clone();
    let refused = same_key.id;
    expect_kind(
        ports.files.create(same_key).await,
        ErrorKind::AlreadyExists,
        "create with a recorded key",
    );
    expect_kind(
        ports.files.get(refused).await,
        ErrorKind::NotFound,
        "a refused file is not recorded",
    );

    let orphan = new_file(UserId::new(), "orphan");
    let orphan_id = orphan.id;
    expect_kind(
        ports.files.create(orphan).await,
        ErrorKind::Conflict,
        "create for an unknown owner",
    );
    expect_kind(
        ports.files.get(orphan_id).await,
        ErrorKind::NotFound,
        "a file of an unknown owner is not recorded",
    );

    let mut bad_checksum = new_file(owner.id, "bad");
    bad_checksum.checksum_sha256 = "not hex".to_owned();
    expect_kind(
        ports.files.create(bad_checksum).await,
        ErrorKind::Invalid,
        "create with a malformed checksum",
    );
    let mut blank_type = new_file(owner.id, "blank");
    blank_type.content_type = " ".to_owned();
    expect_kind(
        ports.files.create(blank_type).await,
        ErrorKind::Invalid,
        "create with a blank content type",
    );

    expect_kind(
        ports.users.delete(owner.id).await,
        ErrorKind::Conflict,
        "delete of a user with files",
    );
    ports.files.delete(created.id).await.unwrap();
    ports.users.delete(owner.id).await.unwrap();
}

/// Attaching needs an existing order and file, once per pair; attachments list oldest
/// first with their files, and go with their file.
pub async fn files_attach_to_orders(ports: &RepositoryPorts) {
    let t = token();
    let customer = create_user(ports, &format!("attach.{t}"), "Customer").await;
    let product = create_product(ports, &format!("ATT-{t}"), 10).await;
    let order = place(customer.id, &[(&product, 1)], now());
    insert_committed(ports, &order).await;
    let other_order = place(customer.id, &[(&product, 1)], now());
    insert_committed(ports, &other_order).await;
    let invoice = create_file(ports, customer.id, "invoice.pdf").await;
    let receipt = create_file(ports, customer.id, "receipt.png").await;

    assert!(
        ports
            .files
            .list_order_attachments(order.id)
            .await
            .unwrap()
            .is_empty()
    );
    let first = ports
        .files
        .attach_to_order(order.id, invoice.id, "invoice")
        .await
        .unwrap();
    assert_eq!(first.order_id, order.id);
    assert_eq!(first.role, "invoice");
    assert_eq!(first.file, invoice);
    let second = ports
        .files
        .attach_to_order(order.id, receipt.id, "receipt")
        .await
        .unwrap();
    ports
        .files
        .attach_to_order(other_order.id, invoice.id, "copy")
        .await
        .unwrap();
    assert_eq!(
        ports.files.list_order_attachments(order.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    expect_kind(
        ports
            .files
            .attach_to_order(order.id, invoice.id, "another role")
            .await,
        ErrorKind::AlreadyExists,
        "attaching the same file twice",
    );
    let error = expect_kind(
        ports
            .files
            .attach_to_order(OrderId::new(), invoice.id, "invoice")
            .await,
        ErrorKind::NotFound,
        "attaching to an unknown order",
    );
    assert!(
        matches!(
            error,
            Error::NotFound {
                entity: "order",
                ..
            }
        ),
        "{error:?}"
    );
    let error = expect_kind(
        ports
            .files
            .attach_to_order(order.id, FileId::new(), "invoice")
            .await,
        ErrorKind::NotFound,
        "attaching an unknown file",
    );
    assert!(
        matches!(error, Error::NotFound { entity: "file", .. }),
        "{error:?}"
    );
    expect_kind(
        ports.files.attach_to_order(order.id, receipt.id, " ").await,
        ErrorKind::Invalid,
        "attaching with a blank role",
    );
    assert!(
        ports
            .files
            .list_order_attachments(OrderId::new())
            .await
            .unwrap()
            .is_empty(),
        "an unknown order has no attachments"
    );

    // Deleting a file detaches it from every order.
    ports.files.delete(invoice.id).await.unwrap();
    assert_eq!(
        ports.files.list_order_attachments(order.id).await.unwrap(),
        vec![second]
    );
    assert!(
        ports
            .files
            .list_order_attachments(other_order.id)
            .await
            .unwrap()
            .is_empty()
    );
}
