//! Tokens at rest: AES-256-GCM under keys with ids, so keys can rotate.
//!
//! A ciphertext is `kid:nonce:ct` — the key id, then the 96-bit nonce and the
//! ciphertext with its tag, both base64url without padding. New ciphertexts use the
//! active key; any configured key decrypts, so tokens written before a rotation still
//! read. The caller's context (`aad`) is authenticated with the ciphertext: a token
//! copied into another session, or another field, does not decrypt.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use seam_auth::Error;

use crate::error::config_error;

/// One encryption key, as configured: an id and 32 random bytes in base64.
///
/// Generate one with `openssl rand -base64 32`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKeyConfig {
    /// The key id written into every ciphertext (letters, digits, `-`, `_`, `.`).
    pub id: String,
    /// The 32-byte key, base64 (standard or URL-safe alphabet).
    pub key: SecretString,
}

impl fmt::Debug for TokenKeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeyConfig")
            .field("id", &self.id)
            .field("key", &self.key)
            .finish()
    }
}

/// Encrypts and decrypts tokens with a set of keys, one of them active.
#[derive(Clone)]
pub struct TokenCipher {
    keys: Vec<(String, Aes256Gcm)>,
    active: usize,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCipher")
            .field(
                "key_ids",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .field("active", &self.keys[self.active].0)
            .finish()
    }
}

impl TokenCipher {
    /// A cipher over `keys`, encrypting with the key whose id is `active`.
    ///
    /// # Errors
    ///
    /// A configuration error when there are no keys, a key id is empty, repeated or
    /// has characters other than letters, digits, `-`, `_` and `.`, a key is not
    /// base64 of exactly 32 bytes, or `active` names no key.
    pub fn new(keys: &[TokenKeyConfig], active: &str) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(config_error(
                "token_keys",
                "at least one encryption key is needed (generate one with `openssl rand -base64 32`)",
            ));
        }
        let mut parsed: Vec<(String, Aes256Gcm)> = Vec::with_capacity(keys.len());
        for key in keys {
            let id = key.id.trim();
            let id_ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !id_ok {
                return Err(config_error(
                    "token_keys.id",
                    format!("key id {id:?} must be 1 to 64 letters, digits, '-', '_' or '.'"),
                ));
            }
            if parsed.iter().any(|(other, _)| other == id) {
                return Err(config_error(
                    "token_keys.id",
                    format!("key id {id:?} is configured twice"),
                ));
            }
            let material = key.key.expose_secret().trim();
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(material)
                    .or_else(|_| URL_SAFE_NO_PAD.decode(material.trim_end_matches('=')))
                    .map_err(|_| {
                        config_error("token_keys.key", format!("key {id:?} is not valid base64"))
                    })?,
            );
            if bytes.len() != 32 {
                return Err(config_error(
                    "token_keys.key",
                    format!("key {id:?} must be 32 bytes (AES-256), got {}", bytes.len()),
                ));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| config_error("token_keys.key", format!("key {id:?} is unusable")))?;
            parsed.push((id.to_owned(), cipher));
        }
        let active_index = parsed
            .iter()
            .position(|(id, _)| id == active.trim())
            .ok_or_else(|| {
                config_error(
                    "active_token_key",
                    format!("the active key {active:?} is not among token_keys"),
                )
            })?;
        Ok(Self {
            keys: parsed,
            active: active_index,
        })
    }

    /// The id of the key new ciphertexts use.
    pub fn active_key_id(&self) -> &str {
        &self.keys[self.active].0
    }

    /// Encrypts `plaintext` with the active key, authenticating `aad` with it.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the cipher fails (it does not for inputs under 64 GiB).
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, Error> {
        let (id, cipher) = &self.keys[self.active];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::Crypto("encryption failed".to_owned()))?;
        Ok(format!(
            "{id}:{}:{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    /// Decrypts a ciphertext made by [`encrypt`](Self::encrypt) with any configured key.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the text is not `kid:nonce:ct`, names a key that is
    /// not configured (any more), or does not authenticate (tampered, other `aad`).
    pub fn decrypt(&self, ciphertext: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut parts = ciphertext.splitn(3, ':');
        let (Some(id), Some(nonce), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::Crypto("ciphertext is not `kid:nonce:ct`".to_owned()));
        };
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(candidate, _)| candidate == id)
            .ok_or_else(|| {
                Error::Crypto(format!(
                    "ciphertext key {:?} is not configured",
                    id.chars().take(64).collect::<String>()
                ))
            })?;
        let nonce: [u8; 12] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| Error::Crypto("ciphertext nonce is invalid".to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Error::Crypto("ciphertext is not base64url".to_owned()))?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: &body, aad })
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::Crypto(
                    "ciphertext does not authenticate (tampered, or another context)".to_owned(),
                )
            })
    }

    /// Encrypts a UTF-8 secret.
    ///
    /// # Errors
    ///
    /// As [`encrypt`](Self::encrypt).
    pub fn encrypt_str(&self, plaintext: &str, aad: &[u8]) -> Result<String, Error> {
        self.encrypt(plaintext.as_bytes(), aad)
    }

    /// Decrypts a UTF-8 secret.
    ///
    /// # Errors
    ///
    /// As [`decrypt`](Self::decrypt), and [`Error::Crypto`] when the plaintext is
    /// not UTF-8.
    pub fn decrypt_str(&self, ciphertext: &str, aad: &[u8]) -> Result<SecretString, Error> {
        let bytes = self.decrypt(ciphertext, aad)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Crypto("plaintext is not UTF-8".to_owned()))?;
        Ok(SecretString::from(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> TokenKeyConfig {
        TokenKeyConfig {
            id: id.to_owned(),
            key: SecretString::from(STANDARD.encode([byte; 32])),
        }
    }

    #[test]
    fn round_trip_and_format() {
        let cipher = TokenCipher::new(&[key("k1", 1)], "k1").unwrap();
        let sealed = cipher.encrypt_str("secret-token", b"ctx").unwrap();
        assert!(sealed.starts_with("k1:"));
        assert_eq!(sealed.split(':').count(), 3);
        assert!(!sealed.contains("secret-token"));
        assert_eq!(
            cipher.decrypt_str(&sealed, b"ctx").unwrap().expose_secret(),
            "secret-token"
        );
        assert!(cipher.decrypt(&sealed, b"other").is_err());
        // Two encryptions of one plaintext differ (random nonces).
        assert_ne!(sealed, cipher.encrypt_str("secret-token", b"ctx").unwrap());
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(TokenCipher::new(&[], "k1").is_err());
        assert!(TokenCipher::new(&[key("k1", 1)], "k2").is_err());
        assert!(TokenCipher::new(&[key("k1", 1), key("k1", 2)], "k1").is_err());
        assert!(TokenCipher::new(&[key("bad:id", 1)], "bad:id").is_err());
        let short = TokenKeyConfig {
            id: "k1".to_owned(),
            key: SecretString::from(STANDARD.encode([1u8; 16])),
        };
        let error = TokenCipher::new(&[short], "k1").unwrap_err().to_string();
        assert!(error.contains("32 bytes"), "{error}");
        let debug = format!("{:?}", key("k1", 7));
        assert!(!debug.contains(&STANDARD.encode([7u8; 32])), "{debug}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cipher = TokenCipher::new(&[key("k1", 1)], "k1").unwrap();
        for text in [
            "",
            "k1",
            "k1:",
            "k1::",
            "k1:AAAA:AAAA",
            "k9:AAAAAAAAAAAAAAAA:AAAA",
            "k1:!!:!!",
        ] {
            assert!(cipher.decrypt(text, b"").is_err(), "{text}");
        }
    }
}
