//! HMAC-SHA256 over several secrets, compared in constant time.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The keyed HMAC state of every active secret, computed once at construction so a
/// verification only clones it.
#[derive(Clone)]
pub(crate) struct HmacKeys {
    keys: Vec<HmacSha256>,
}

impl fmt::Debug for HmacKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keyed state is as good as the secret: show only how many there are.
        write!(f, "HmacKeys({} secret(s))", self.keys.len())
    }
}

impl HmacKeys {
    /// One key per secret; `None` when a secret is empty (HMAC accepts any other length).
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let mut keys = Vec::new();
        for secret in secrets {
            if secret.is_empty() {
                return None;
            }
            keys.push(HmacSha256::new_from_slice(secret).ok()?);
        }
        Some(Self { keys })
    }

    /// The MAC of the concatenation of `parts` with each key, in order.
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .map(|key| {
                let mut mac = key.clone();
                for part in parts {
                    mac.update(part);
                }
                mac.finalize().into_bytes().to_vec()
            })
            .collect()
    }

    /// The index of the first key whose MAC over the concatenation of `parts` equals one
    /// of `signatures`. Each comparison is constant-time in the signature's content.
    pub(crate) fn find(&self, parts: &[&[u8]], signatures: &[Vec<u8>]) -> Option<usize> {
        self.keys.iter().position(|key| {
            let mut mac = key.clone();
            for part in parts {
                mac.update(part);
            }
            let tag = mac.finalize().into_bytes();
            signatures
                .iter()
                .fold(subtle::Choice::from(0), |found, signature| {
                    found | tag[..].ct_eq(signature)
                })
                .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_secrets_are_refused_and_debug_hides_keys() {
        assert!(HmacKeys::new([b"".as_slice()]).is_none());
        let keys = HmacKeys::new([b"top-secret".as_slice()]).unwrap();
        assert_eq!(format!("{keys:?}"), "HmacKeys(1 secret(s))");
    }

    #[test]
    fn finds_the_key_that_signed_split_content() {
        let keys = HmacKeys::new([b"old".as_slice(), b"new".as_slice()]).unwrap();
        let mut mac = HmacSha256::new_from_slice(b"new").unwrap();
        mac.update(b"a.b");
        let tag = mac.finalize().into_bytes().to_vec();
        assert_eq!(
            keys.find(&[b"a", b".", b"b"], &[vec![0; 32], tag.clone()]),
            Some(1)
        );
        assert_eq!(keys.find(&[b"a.c"], &[tag]), None);
        assert_eq!(keys.find(&[b"a.b"], &[]), None);
    }
}
