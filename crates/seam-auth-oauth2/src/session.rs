//! Server-side sessions and pending sign-ins, kept in the cache port.
//!
//! A session id is 256 random bits (base64url); the cache key is its SHA-256, so a
//! listing of the cache (or a log of its keys) reveals no usable id. Tokens inside a
//! session are encrypted with the [`TokenCipher`], bound to the session they belong to.
//! Time comes from the injected [`Clock`](seam_core::Clock), so the idle and absolute
//! timeouts are testable with a manual clock.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use seam_auth::Error;
use seam_cache::{Cache, DynCache};
use seam_core::{SecretString, SharedClock};
use seam_domain::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SessionConfig;
use crate::crypto::TokenCipher;
use crate::error::store_error;

/// The length of a session or sign-in id: 32 bytes in base64url without padding.
const ID_LEN: usize = 43;

/// A new random 256-bit id, base64url.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `id` has the shape of an id this module made (anything else is not looked up).
pub(crate) fn well_formed(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn digest(id: &str) -> String {
    let hash = Sha256::digest(id.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn utc(time: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(time)
}

/// A signed-in session, as handlers see it. Holds no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Seam user.
    pub user_id: UserId,
    /// The provider's account id (`sub`).
    pub subject: String,
    /// The provider (issuer).
    pub issuer: String,
    /// The e-mail address the provider gave.
    pub email: Option<String>,
    /// The display name the provider gave.
    pub name: Option<String>,
    /// The picture URL the provider gave.
    pub picture: Option<String>,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When the session was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When the session ends at the latest, used or not.
    pub absolute_expires_at: DateTime<Utc>,
    /// When the provider's access token expires, if it said.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The scopes the provider granted.
    pub scopes: Vec<String>,
}

/// What the cache holds for a session: the view plus encrypted tokens.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredSession {
    pub(crate) session: Session,
    /// `kid:nonce:ct` of the access token.
    pub(crate) access_token: String,
    /// `kid:nonce:ct` of the refresh token, if one was issued.
    pub(crate) refresh_token: Option<String>,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("session", &self.session)
            .field("access_token", &seam_core::secret::REDACTED)
            .field(
                "refresh_token",
                &self
                    .refresh_token
                    .as_ref()
                    .map(|_| seam_core::secret::REDACTED),
            )
            .finish()
    }
}

/// A sign-in in progress: what the callback is checked against.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    /// Encrypted, as everything secret at rest.
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    /// A local path to go to after signing in.
    pub(crate) return_to: Option<String>,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// Which secret a ciphertext holds, bound into its authentication so that a
/// ciphertext moved to another field or session does not decrypt.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    Access,
    Refresh,
    State,
    Nonce,
    Verifier,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
            Self::State => "state",
            Self::Nonce => "nonce",
            Self::Verifier => "pkce_verifier",
        }
    }
}

/// Sessions and pending sign-ins over the cache port.
#[derive(Debug, Clone)]
pub(crate) struct SessionStore {
    cache: Arc<DynCache>,
    cipher: TokenCipher,
    clock: SharedClock,
    config: SessionConfig,
}

impl SessionStore {
    pub(crate) fn new(
        cache: Arc<DynCache>,
        cipher: TokenCipher,
        clock: SharedClock,
        config: SessionConfig,
    ) -> Self {
        Self {
            cache,
            cipher,
            clock,
            config,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        utc(self.clock.system_time())
    }

    pub(crate) fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}session:{}", self.config.key_prefix, digest(id))
    }

    fn login_key(&self, id: &str) -> String {
        format!("{}login:{}", self.config.key_prefix, digest(id))
    }

    fn aad(kind: &str, id: &str, field: Field) -> Vec<u8> {
        format!("seam-oidc/{kind}/{}/{}", digest(id), field.name()).into_bytes()
    }

    pub(crate) fn seal_session(
        &self,
        id: &str,
        field: Field,
        secret: &str,
    ) -> Result<String, Error> {
        self.cipher
            .encrypt_str(secret, &Self::aad("session", id, field))
    }

    pub(crate) fn open_session(
        &self,
        id: &str,
        field: Field,
        sealed: &str,
    ) -> Result<SecretString, Error> {
        self.cipher
            .decrypt_str(sealed, &Self::aad("session", id, field))
    }

    pub(crate) fn seal_login(&self, id: &str, field: Field, secret: &str) -> Result<String, Error> {
        self.cipher
            .encrypt_str(secret, &Self::aad("login", id, field))
    }

    pub(crate) fn open_login(
        &self,
        id: &str,
        field: Field,
        sealed: &str,
    ) -> Result<SecretString, Error> {
        self.cipher
            .decrypt_str(sealed, &Self::aad("login", id, field))
    }

    /// Stores a pending sign-in under a new id, for `login_timeout`.
    pub(crate) async fn put_login(&self, id: &str, login: &PendingLogin) -> Result<(), Error> {
        let bytes = serde_json::to_vec(login)
            .map_err(|e| Error::Internal(format!("cannot encode a pending sign-in: {e}")))?;
        self.cache
            .set(&self.login_key(id), &bytes, Some(self.config.login_timeout))
            .await
            .map_err(store_error)
    }

    /// Takes a pending sign-in: it is deleted as it is read, so a callback can be
    /// completed once only (a second use finds nothing).
    pub(crate) async fn take_login(&self, id: &str) -> Result<Option<PendingLogin>, Error> {
        if !well_formed(id) {
            return Ok(None);
        }
        let key = self.login_key(id);
        let Some(bytes) = self.cache.get(&key).await.map_err(store_error)? else {
            return Ok(None);
        };
        // Only the caller whose delete removed the entry may use it.
        if !self.cache.delete(&key).await.map_err(store_error)? {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Stores a session (new or updated), with a cache TTL of what is left of its idle
    /// and absolute lifetimes.
    pub(crate) async fn put(&self, id: &str, stored: &StoredSession) -> Result<(), Error> {
        let now = self.now();
        let idle_end = stored.session.last_seen_at
            + chrono::Duration::from_std(self.config.idle_timeout).unwrap_or(chrono::Duration::MAX);
        let end = idle_end.min(stored.session.absolute_expires_at);
        let ttl = (end - now).to_std().unwrap_or(Duration::ZERO);
        if ttl.is_zero() {
            self.delete(id).await?;
            return Ok(());
        }
        let bytes = serde_json::to_vec(stored)
            .map_err(|e| Error::Internal(format!("cannot encode a session: {e}")))?;
        self.cache
            .set(&self.session_key(id), &bytes, Some(ttl))
            .await
            .map_err(store_error)
    }

    /// The live session `id`: `None` when unknown or past its idle or absolute timeout
    /// (a timed-out session is deleted).
    pub(crate) async fn get(&self, id: &str) -> Result<Option<StoredSession>, Error> {
        if !well_formed(id) {
            return Ok(None);
        }
        let key = self.session_key(id);
        let Some(bytes) = self.cache.get(&key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_slice::<StoredSession>(&bytes) else {
            tracing::warn!("a stored session does not decode; ending it");
            self.cache.delete(&key).await.map_err(store_error)?;
            return Ok(None);
        };
        let now = self.now();
        let idle =
            chrono::Duration::from_std(self.config.idle_timeout).unwrap_or(chrono::Duration::MAX);
        let timed_out =
            now >= stored.session.absolute_expires_at || now >= stored.session.last_seen_at + idle;
        if timed_out {
            tracing::debug!(user.id = %stored.session.user_id, "session timed out");
            self.cache.delete(&key).await.map_err(store_error)?;
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// Deletes a session; `true` when there was one.
    pub(crate) async fn delete(&self, id: &str) -> Result<bool, Error> {
        if !well_formed(id) {
            return Ok(false);
        }
        self.cache
            .delete(&self.session_key(id))
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_well_formed() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}!", &a[..42])));
        assert_eq!(digest(&a).len(), 64);
    }
}
