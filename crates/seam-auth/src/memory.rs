//! An in-process deny-list whose entries expire with their token.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_core::SharedClock;

use crate::{Result, RevocationList, validate_jti};

/// A [`RevocationList`] in process memory, driven by a [`Clock`](seam_core::Clock).
///
/// Entries are dropped once their `expires_at` has passed on the clock (swept on
/// every `revoke`), so the list stays as small as the set of live revoked tokens. It
/// is not shared between processes: use the cache-backed list of `seam-auth-jwt` with
/// Redis when several instances run.
#[derive(Debug)]
pub struct InMemoryRevocationList {
    clock: SharedClock,
    entries: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl InMemoryRevocationList {
    /// An empty list on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many entries are kept (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        // Every update is a single insert or retain: a poisoned lock holds a consistent map.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl RevocationList for InMemoryRevocationList {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        validate_jti(jti)?;
        let now = self.now();
        let mut entries = self.entries();
        entries.retain(|_, until| *until > now);
        if expires_at > now {
            let until = entries.entry(jti.to_owned()).or_insert(expires_at);
            *until = (*until).max(expires_at);
        }
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool> {
        validate_jti(jti)?;
        let now = self.now();
        Ok(self.entries().get(jti).is_some_and(|until| *until > now))
    }
}
