//! Rotating refresh tokens: opaque, stored only as hashes, grouped in families whose
//! reuse revokes them whole.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use seam_auth::{DynRevocationList, Error, Result};
use seam_cache::DynCache;
use seam_core::{SecretString, SharedClock};
use seam_domain::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::issuer::{AccessToken, TokenIssuer, TokenRequest};

/// How many superseded token hashes a family remembers to recognise reuse.
const MAX_PREVIOUS: usize = 64;

/// One chain of refresh tokens, from a sign-in to its end.
///
/// Only the SHA-256 of each token is kept. `Debug` shows no hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// The family id (also the first part of each of its tokens).
    pub id: String,
    /// Bumped on every change; saves compare it (optimistic concurrency).
    pub version: u64,
    /// The hash of the one token that may be used now.
    pub current_hash: String,
    /// Hashes of tokens already rotated away: presenting one is reuse.
    pub previous_hashes: Vec<String>,
    /// Whether the family was revoked (reuse, logout).
    pub revoked: bool,
    /// The subject its access tokens are issued to.
    pub subject: String,
    /// The Seam user, if any.
    pub user_id: Option<UserId>,
    /// Roles of its access tokens.
    pub roles: BTreeSet<String>,
    /// Scopes of its access tokens.
    pub scopes: BTreeSet<String>,
    /// When the family started.
    pub created_at: DateTime<Utc>,
    /// When the family ends, whatever rotations happen (absolute lifetime).
    pub expires_at: DateTime<Utc>,
    /// Access tokens issued in this family still live: `(jti, exp)`, revoked with it.
    pub access_tokens: Vec<(String, DateTime<Utc>)>,
}

impl fmt::Debug for RefreshFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshFamily")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("revoked", &self.revoked)
            .field("subject", &self.subject)
            .field("expires_at", &self.expires_at)
            .field("access_tokens", &self.access_tokens.len())
            .finish_non_exhaustive()
    }
}

/// Where refresh families are kept.
///
/// # Contract
///
/// - `load` MUST return the family last saved under `id`, and `None` for an unknown
///   id or once the family's `expires_at` has passed;
/// - `save(family, expected)` MUST store `family` and return `true` only when the
///   stored version equals `expected` (`None`: no family with that id exists), and
///   otherwise change nothing and return `false`;
/// - a store that cannot be reached MUST give [`Error::StoreUnavailable`].
#[async_trait]
pub trait RefreshStore: fmt::Debug + Send + Sync + 'static {
    /// The family `id`, if it exists and has not expired.
    async fn load(&self, id: &str) -> Result<Option<RefreshFamily>>;

    /// Saves `family` if the stored version is `expected` (compare-and-set).
    async fn save(&self, family: &RefreshFamily, expected: Option<u64>) -> Result<bool>;
}

/// Refresh families in process memory: atomic compare-and-set, expiry on the clock.
#[derive(Debug)]
pub struct InMemoryRefreshStore {
    clock: SharedClock,
    families: Mutex<HashMap<String, RefreshFamily>>,
}

impl InMemoryRefreshStore {
    /// An empty store on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            families: Mutex::new(HashMap::new()),
        }
    }

    fn families(&self) -> MutexGuard<'_, HashMap<String, RefreshFamily>> {
        // Updates are single inserts: a poisoned map is consistent.
        self.families
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }
}

#[async_trait]
impl RefreshStore for InMemoryRefreshStore {
    async fn load(&self, id: &str) -> Result<Option<RefreshFamily>> {
        let now = self.now();
        Ok(self
            .families()
            .get(id)
            .filter(|family| family.expires_at > now)
            .cloned())
    }

    async fn save(&self, family: &RefreshFamily, expected: Option<u64>) -> Result<bool> {
        let now = self.now();
        let mut families = self.families();
        families.retain(|_, f| f.expires_at > now);
        let stored = families.get(&family.id).map(|f| f.version);
        if stored != expected {
            return Ok(false);
        }
        families.insert(family.id.clone(), family.clone());
        Ok(true)
    }
}

/// Refresh families in a [`Cache`](seam_cache::Cache) (Redis in production) as JSON
/// under `"{prefix}refresh:{id}"`, with the family's remaining lifetime as TTL.
///
/// The compare-and-set is read-then-write, since the cache port has no atomic
/// update: two rotations of the same token racing within one round trip may both
/// succeed (each then holds a valid token of the family; the next use of the
/// superseded one is detected as reuse). Use [`InMemoryRefreshStore`] for a single
/// instance, or accept this window.
#[derive(Debug)]
pub struct CacheRefreshStore {
    cache: Arc<DynCache>,
    prefix: String,
    clock: SharedClock,
}

impl CacheRefreshStore {
    /// A store in `cache` under `prefix` (e.g. `"auth:"`).
    pub fn new(cache: Arc<DynCache>, prefix: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            cache,
            prefix: prefix.into(),
            clock,
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}refresh:{id}", self.prefix)
    }
}

fn cache_error(error: seam_cache::Error) -> Error {
    Error::store("refresh token store", error)
}

#[async_trait]
impl RefreshStore for CacheRefreshStore {
    async fn load(&self, id: &str) -> Result<Option<RefreshFamily>> {
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let Some(bytes) = self.cache.get(&self.key(id)).await.map_err(cache_error)? else {
            return Ok(None);
        };
        let family: RefreshFamily = serde_json::from_slice(&bytes)
            .map_err(|error| Error::store("refresh token store: undecodable family", error))?;
        let now = DateTime::<Utc>::from(self.clock.system_time());
        Ok((family.expires_at > now).then_some(family))
    }

    async fn save(&self, family: &RefreshFamily, expected: Option<u64>) -> Result<bool> {
        let stored = self.load(&family.id).await?.map(|f| f.version);
        if stored != expected {
            return Ok(false);
        }
        let now = DateTime::<Utc>::from(self.clock.system_time());
        let remaining = (family.expires_at - now).num_milliseconds();
        if remaining <= 0 {
            return Ok(true);
        }
        let bytes = serde_json::to_vec(family)
            .map_err(|error| Error::Internal(format!("refresh family encoding: {error}")))?;
        self.cache
            .set(
                &self.key(&family.id),
                &bytes,
                Some(Duration::from_millis(
                    u64::try_from(remaining).unwrap_or(u64::MAX),
                )),
            )
            .await
            .map_err(cache_error)?;
        Ok(true)
    }
}

/// An access token and the refresh token that renews it. `Debug` shows neither.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token.
    pub access: AccessToken,
    /// The opaque refresh token; use it once.
    pub refresh_token: SecretString,
    /// When the refresh token's family ends.
    pub refresh_expires_at: DateTime<Utc>,
}

/// Issues token pairs and rotates refresh tokens.
///
/// Every [`refresh`](Self::refresh) returns a new pair and invalidates the token it
/// was given. Presenting a token that was already rotated away is reuse: one of its
/// two holders is an attacker, so the whole family is revoked, including the access
/// tokens it issued (their `jti`s go on the [`RevocationList`](seam_auth::RevocationList)).
#[derive(Debug)]
pub struct RefreshTokens {
    issuer: Arc<TokenIssuer>,
    store: Arc<dyn RefreshStore>,
    revocations: Arc<DynRevocationList>,
    refresh_ttl: Duration,
    clock: SharedClock,
}

impl RefreshTokens {
    /// Token pairs from `issuer`, families in `store` living `refresh_ttl`,
    /// revocations on `revocations`.
    pub fn new(
        issuer: Arc<TokenIssuer>,
        store: Arc<dyn RefreshStore>,
        revocations: Arc<DynRevocationList>,
        refresh_ttl: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            issuer,
            store,
            revocations,
            refresh_ttl,
            clock,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    /// Starts a family: an access token for `request` and its first refresh token.
    ///
    /// # Errors
    ///
    /// The issuer's errors; [`Error::StoreUnavailable`] when the store is down.
    pub async fn issue(&self, request: &TokenRequest) -> Result<TokenPair> {
        let access = self.issuer.issue(request)?;
        let now = self.now();
        let expires_at = now
            + chrono::Duration::from_std(self.refresh_ttl)
                .map_err(|_| Error::invalid("refresh TTL out of range"))?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let (secret, hash) = new_secret();
        let family = RefreshFamily {
            id: id.clone(),
            version: 1,
            current_hash: hash,
            previous_hashes: Vec::new(),
            revoked: false,
            subject: request.subject.clone(),
            user_id: request.user_id,
            roles: request.roles.clone(),
            scopes: request.scopes.clone(),
            created_at: now,
            expires_at,
            access_tokens: vec![(access.jti.clone(), access.expires_at)],
        };
        if !self.store.save(&family, None).await? {
            return Err(Error::Internal("refresh family id collision".to_owned()));
        }
        Ok(TokenPair {
            access,
            refresh_token: SecretString::from(format!("{id}.{secret}")),
            refresh_expires_at: expires_at,
        })
    }

    /// Exchanges `refresh_token` for a new pair; the given token stops working.
    ///
    /// # Errors
    ///
    /// - [`Error::RefreshReuseDetected`] when the token was already rotated away (or
    ///   is being rotated concurrently): the family is revoked;
    /// - [`Error::InvalidGrant`] when the token is malformed, unknown, expired or its
    ///   family revoked;
    /// - [`Error::StoreUnavailable`] when a store is down.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let (id, hash) = parse(refresh_token)?;
        let Some(mut family) = self.store.load(id).await? else {
            return Err(Error::invalid_grant("unknown or expired refresh token"));
        };
        if family.revoked {
            return Err(Error::invalid_grant(
                "the refresh token's family is revoked",
            ));
        }
        if family.current_hash != hash {
            if family.previous_hashes.contains(&hash) {
                self.revoke_family(family).await?;
                return Err(Error::RefreshReuseDetected);
            }
            return Err(Error::invalid_grant("unknown refresh token"));
        }
        let now = self.now();
        let request = TokenRequest {
            subject: family.subject.clone(),
            user_id: family.user_id,
            roles: family.roles.clone(),
            scopes: family.scopes.clone(),
            ttl: None,
        };
        let access = self.issuer.issue(&request)?;
        let (secret, new_hash) = new_secret();
        let expected = family.version;
        let old_hash = std::mem::replace(&mut family.current_hash, new_hash);
        family.previous_hashes.push(old_hash);
        if family.previous_hashes.len() > MAX_PREVIOUS {
            family.previous_hashes.remove(0);
        }
        family.access_tokens.retain(|(_, exp)| *exp > now);
        family
            .access_tokens
            .push((access.jti.clone(), access.expires_at));
        family.version += 1;
        if !self.store.save(&family, Some(expected)).await? {
            // Someone rotated this very token at the same moment: that is reuse.
            if let Some(current) = self.store.load(id).await? {
                self.revoke_family(current).await?;
            }
            self.revocations
                .revoke(&access.jti, access.expires_at)
                .await?;
            return Err(Error::RefreshReuseDetected);
        }
        Ok(TokenPair {
            access,
            refresh_token: SecretString::from(format!("{id}.{secret}")),
            refresh_expires_at: family.expires_at,
        })
    }

    /// Ends the family of `refresh_token` (sign-out): its refresh tokens and live
    /// access tokens stop working. An unknown or expired token is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] when the token is malformed; store errors.
    pub async fn revoke(&self, refresh_token: &str) -> Result<()> {
        let (id, hash) = parse(refresh_token)?;
        match self.store.load(id).await? {
            Some(family)
                if family.current_hash == hash || family.previous_hashes.contains(&hash) =>
            {
                self.revoke_family(family).await
            }
            _ => Ok(()),
        }
    }

    async fn revoke_family(&self, mut family: RefreshFamily) -> Result<()> {
        // Bounded: each failed save means another writer changed the family; after a
        // few attempts the latest state is revoked anyway below.
        for _ in 0..3 {
            if family.revoked {
                break;
            }
            let expected = family.version;
            family.revoked = true;
            family.version += 1;
            if self.store.save(&family, Some(expected)).await? {
                break;
            }
            match self.store.load(&family.id).await? {
                Some(latest) => family = latest,
                None => break,
            }
        }
        let now = self.now();
        for (jti, exp) in &family.access_tokens {
            if *exp > now {
                self.revocations.revoke(jti, *exp).await?;
            }
        }
        tracing::warn!(
            auth.family = %family.id,
            auth.subject = %family.subject,
            access_tokens = family.access_tokens.len(),
            "refresh token family revoked"
        );
        Ok(())
    }
}

fn new_secret() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    bytes.fill(0);
    let hash = hash(&secret);
    (secret, hash)
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn parse(refresh_token: &str) -> Result<(&str, String)> {
    let malformed = || Error::invalid_grant("malformed refresh token");
    let (id, secret) = refresh_token.split_once('.').ok_or_else(malformed)?;
    if id.is_empty()
        || id.len() > 64
        || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        || secret.is_empty()
        || secret.len() > 128
    {
        return Err(malformed());
    }
    Ok((id, hash(secret)))
}
