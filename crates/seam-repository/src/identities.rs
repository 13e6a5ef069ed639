//! External identities: which account at which identity provider (an OpenID Connect
//! issuer and its `sub`) signs in as which Seam user.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use seam_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::UserRepository;
use crate::error::{Error, Result};

/// The longest provider (issuer) accepted, in bytes.
pub const MAX_PROVIDER_LEN: usize = 512;
/// The longest subject accepted, in bytes (OpenID Connect allows 255 ASCII characters).
pub const MAX_SUBJECT_LEN: usize = 255;

/// An account at an identity provider, linked to a Seam user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// The provider: its issuer URL, e.g. `https://accounts.google.com`.
    pub provider: String,
    /// The provider's stable id of the account (`sub`).
    pub subject: String,
    /// The Seam user it signs in as.
    pub user_id: UserId,
    /// The e-mail address the provider gave when the link was made, if any.
    pub email: Option<String>,
    /// When the link was made (microsecond precision).
    pub created_at: DateTime<Utc>,
}

/// Checks a provider and subject: not blank, within their length limits, no control
/// characters.
///
/// # Errors
///
/// [`Error::Invalid`] on field `provider` or `subject`.
pub fn check_identity_key(provider: &str, subject: &str) -> Result<()> {
    for (field, value, max) in [
        ("provider", provider, MAX_PROVIDER_LEN),
        ("subject", subject, MAX_SUBJECT_LEN),
    ] {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, "must not be blank"));
        }
        if value.len() > max {
            return Err(Error::invalid(
                field,
                format!("must be at most {max} bytes long"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Error::invalid(field, "must not contain control characters"));
        }
    }
    Ok(())
}

/// Links between identity-provider accounts and Seam users.
///
/// # Contract
///
/// - `link` MUST return `Error::AlreadyExists` when the provider and subject are linked
///   already (to any user), `Error::Conflict` when the user does not exist, and
///   `Error::Invalid` for what [`check_identity_key`] refuses; it sets `created_at` and
///   returns the identity as `find` will.
/// - `find` MUST return `None` for an unlinked provider and subject; subjects are
///   compared exactly (case matters), providers too.
/// - `list_by_user` MUST list the user's identities oldest first (ties by provider,
///   then subject); an unknown user has none.
/// - `unlink` MUST return `Error::NotFound` when the provider and subject are not linked.
/// - Deleting a user removes its identities.
#[async_trait]
pub trait IdentityRepository: std::fmt::Debug + Send + Sync + 'static {
    /// Links an identity-provider account to a user.
    async fn link(
        &self,
        provider: &str,
        subject: &str,
        user_id: UserId,
        email: Option<&str>,
    ) -> Result<ExternalIdentity>;

    /// The link of a provider's account, if any.
    async fn find(&self, provider: &str, subject: &str) -> Result<Option<ExternalIdentity>>;

    /// The user's linked accounts, oldest first.
    async fn list_by_user(&self, user_id: UserId) -> Result<Vec<ExternalIdentity>>;

    /// Removes a link.
    async fn unlink(&self, provider: &str, subject: &str) -> Result<()>;
}

/// An identity repository as a trait object.
pub type DynIdentityRepository = dyn IdentityRepository;

macro_rules! delegate {
    ($($pointer:ident),+) => {$(
        #[async_trait]
        impl<T: IdentityRepository + ?Sized> IdentityRepository for $pointer<T> {
            async fn link(
                &self,
                provider: &str,
                subject: &str,
                user_id: UserId,
                email: Option<&str>,
            ) -> Result<ExternalIdentity> {
                (**self).link(provider, subject, user_id, email).await
            }
            async fn find(&self, provider: &str, subject: &str) -> Result<Option<ExternalIdentity>> {
                (**self).find(provider, subject).await
            }
            async fn list_by_user(&self, user_id: UserId) -> Result<Vec<ExternalIdentity>> {
                (**self).list_by_user(user_id).await
            }
            async fn unlink(&self, provider: &str, subject: &str) -> Result<()> {
                (**self).unlink(provider, subject).await
            }
        }
    )+};
}

delegate!(Arc, Box);

/// Identities in memory, over a [`UserRepository`] that says which users exist (the
/// embedded default and the fake for tests).
///
/// Links of a user deleted from the user repository are dropped when next read.
#[derive(Debug, Clone)]
pub struct MemoryIdentities {
    users: Arc<dyn UserRepository>,
    links: Arc<Mutex<BTreeMap<(String, String), ExternalIdentity>>>,
}

impl MemoryIdentities {
    /// Identities of the users in `users`.
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self {
            users,
            links: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn links(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), ExternalIdentity>> {
        // Every update is a single map operation: a poisoned lock holds consistent data.
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn user_exists(&self, id: UserId) -> Result<bool> {
        match self.users.get(id).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl IdentityRepository for MemoryIdentities {
    async fn link(
        &self,
        provider: &str,
        subject: &str,
        user_id: UserId,
        email: Option<&str>,
    ) -> Result<ExternalIdentity> {
        check_identity_key(provider, subject)?;
        if !self.user_exists(user_id).await? {
            return Err(Error::conflict("user", user_id, "the user does not exist"));
        }
        let key = (provider.to_owned(), subject.to_owned());
        // A link left by a deleted user does not block a new one.
        let stale = self.links().get(&key).map(|existing| existing.user_id);
        if let Some(owner) = stale
            && self.user_exists(owner).await?
        {
            return Err(Error::already_exists(
                "identity",
                format!("{provider} {subject}"),
            ));
        }
        let identity = ExternalIdentity {
            provider: key.0.clone(),
            subject: key.1.clone(),
            user_id,
            email: email.map(str::to_owned),
            created_at: Utc::now().trunc_subsecs(6),
        };
        let mut links = self.links();
        if links
            .get(&key)
            .is_some_and(|existing| Some(existing.user_id) != stale)
        {
            return Err(Error::already_exists(
                "identity",
                format!("{provider} {subject}"),
            ));
        }
        links.insert(key, identity.clone());
        Ok(identity)
    }

    async fn find(&self, provider: &str, subject: &str) -> Result<Option<ExternalIdentity>> {
        let key = (provider.to_owned(), subject.to_owned());
        let Some(identity) = self.links().get(&key).cloned() else {
            return Ok(None);
        };
        if self.user_exists(identity.user_id).await? {
            Ok(Some(identity))
        } else {
            self.links().remove(&key);
            Ok(None)
        }
    }

    async fn list_by_user(&self, user_id: UserId) -> Result<Vec<ExternalIdentity>> {
        if !self.user_exists(user_id).await? {
            self.links()
                .retain(|_, identity| identity.user_id != user_id);
            return Ok(Vec::new());
        }
        let mut found: Vec<ExternalIdentity> = self
            .links()
            .values()
            .filter(|identity| identity.user_id == user_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (a.created_at, &a.provider, &a.subject).cmp(&(b.created_at, &b.provider, &b.subject))
        });
        Ok(found)
    }

    async fn unlink(&self, provider: &str, subject: &str) -> Result<()> {
        self.links()
            .remove(&(provider.to_owned(), subject.to_owned()))
            .map(|_| ())
            .ok_or_else(|| Error::not_found("identity", format!("{provider} {subject}")))
    }
}

/// The contract of [`IdentityRepository`], checked against an adapter whose users live
/// in `users` (the same database). Every call uses fresh users and subjects, so it runs
/// beside other tests on a shared database.
///
/// # Panics
///
/// When the adapter breaks the contract.
#[cfg(any(test, feature = "conformance"))]
pub async fn identity_conformance(users: &dyn UserRepository, identities: &dyn IdentityRepository) {
    use seam_domain::{EmailAddress, NewUser};
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let provider = format!("https://idp-{unique}.example.com");
    let new_user = |n: u32| {
        NewUser::new(
            EmailAddress::parse(&format!("identity-{n}-{unique}@example.com")).unwrap(),
            "Identity Tester",
        )
        .unwrap()
    };
    let ada = users.create(new_user(1)).await.unwrap();
    let bob = users.create(new_user(2)).await.unwrap();

    // link, find
    assert_eq!(identities.find(&provider, "ada-sub").await.unwrap(), None);
    let linked = identities
        .link(&provider, "ada-sub", ada.id, Some("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(linked.user_id, ada.id);
    assert_eq!(linked.email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        identities.find(&provider, "ada-sub").await.unwrap(),
        Some(linked.clone())
    );
    // Exact comparison: another case is another subject.
    assert_eq!(identities.find(&provider, "ADA-SUB").await.unwrap(), None);

    // one account links to one user
    let again = identities.link(&provider, "ada-sub", bob.id, None).await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    let unknown = identities
        .link(&provider, "ghost-sub", UserId::new(), None)
        .await;
    assert!(
        matches!(unknown, Err(Error::Conflict { .. })),
        "{unknown:?}"
    );
    for (p, s) in [
        ("", "x"),
        (provider.as_str(), " "),
        (provider.as_str(), "a\nb"),
    ] {
        let bad = identities.link(p, s, ada.id, None).await;
        assert!(matches!(bad, Err(Error::Invalid { .. })), "{bad:?}");
    }
    let too_long = "s".repeat(MAX_SUBJECT_LEN + 1);
    assert!(matches!(
        identities.link(&provider, &too_long, ada.id, None).await,
        Err(Error::Invalid { .. })
    ));

    // several accounts per user, oldest first
    let second = identities
        .link(&format!("{provider}/other"), "ada-2", ada.id, None)
        .await
        .unwrap();
    let listed = identities.list_by_user(ada.id).await.unwrap();
    assert_eq!(listed, vec![linked.clone(), second]);
    assert!(identities.list_by_user(bob.id).await.unwrap().is_empty());
    assert!(
        identities
            .list_by_user(UserId::new())
            .await
            .unwrap()
            .is_empty()
    );

    // unlink
    identities.unlink(&provider, "ada-sub").await.unwrap();
    assert_eq!(identities.find(&provider, "ada-sub").await.unwrap(), None);
    assert!(matches!(
        identities.unlink(&provider, "ada-sub").await,
        Err(Error::NotFound { .. })
    ));
    identities
        .link(&provider, "ada-sub", bob.id, None)
        .await
        .unwrap();

    // deleting the user removes its identities
    users.delete(bob.id).await.unwrap();
    assert_eq!(identities.find(&provider, "ada-sub").await.unwrap(), None);
    assert!(identities.list_by_user(bob.id).await.unwrap().is_empty());
    users.delete(ada.id).await.unwrap();
    assert!(identities.list_by_user(ada.id).await.unwrap().is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRepositories;

    #[test]
    fn keys_are_checked() {
        check_identity_key("https://accounts.google.com", "1234").unwrap();
        assert!(check_identity_key(" ", "1").is_err());
        assert!(check_identity_key("p", "").is_err());
        assert!(check_identity_key(&"p".repeat(MAX_PROVIDER_LEN + 1), "1").is_err());
    }

    #[tokio::test]
    async fn memory_identities_pass_the_conformance_suite() {
        let repositories = MemoryRepositories::new();
        let users: Arc<dyn UserRepository> = repositories.ports().users;
        let identities = MemoryIdentities::new(users.clone());
        identity_conformance(users.as_ref(), &identities).await;
    }
}
