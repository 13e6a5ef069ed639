//! Tokens at rest: rotation and tampering, at the cipher's level.

use seam_auth::Error;
use seam_auth_oauth2::TokenCipher;
use seam_core::ExposeSecret;

use crate::support::token_key;

#[test]
fn written_under_the_old_key_read_after_rotation() {
    let before = TokenCipher::new(&[token_key("2026-10", 1)], "2026-10").unwrap();
    let sealed = before
        .encrypt_str("refresh-token-value", b"session-1")
        .unwrap();
    assert!(sealed.starts_with("2026-10:"));

    let after = TokenCipher::new(
        &[token_key("2026-10", 1), token_key("2026-11", 2)],
        "2026-11",
    )
    .unwrap();
    assert_eq!(after.active_key_id(), "2026-11");
    let read = after.decrypt_str(&sealed, b"session-1").unwrap();
    assert_eq!(read.expose_secret(), "refresh-token-value");
    // New ciphertexts use the new key; the old cipher cannot read them.
    let fresh = after
        .encrypt_str("access-token-value", b"session-1")
        .unwrap();
    assert!(fresh.starts_with("2026-11:"));
    assert!(before.decrypt(&fresh, b"session-1").is_err());
}

#[test]
fn tampering_is_refused() {
    let cipher = TokenCipher::new(&[token_key("k1", 1), token_key("k2", 2)], "k1").unwrap();
    let sealed = cipher.encrypt_str("access-token-value", b"ctx").unwrap();
    let parts: Vec<&str> = sealed.split(':').collect();

    // One character of the ciphertext changed.
    let mut body: Vec<char> = parts[2].chars().collect();
    body[5] = if body[5] == 'A' { 'B' } else { 'A' };
    let flipped = format!(
        "{}:{}:{}",
        parts[0],
        parts[1],
        body.into_iter().collect::<String>()
    );
    // Another nonce, another key id, a truncated tag, another context.
    let renonced = format!("{}:AAAAAAAAAAAAAAAA:{}", parts[0], parts[2]);
    let rekeyed = format!("k2:{}:{}", parts[1], parts[2]);
    let truncated = format!(
        "{}:{}:{}",
        parts[0],
        parts[1],
        &parts[2][..parts[2].len() - 4]
    );
    for (what, text, aad) in [
        ("flipped", flipped.as_str(), b"ctx".as_slice()),
        ("nonce", renonced.as_str(), b"ctx"),
        ("key id", rekeyed.as_str(), b"ctx"),
        ("truncated", truncated.as_str(), b"ctx"),
        ("context", sealed.as_str(), b"other"),
    ] {
        let error = cipher.decrypt(text, aad).unwrap_err();
        assert!(matches!(error, Error::Crypto(_)), "{what}: {error:?}");
        assert!(!error.to_string().contains("access-token-value"));
    }
    assert_eq!(
        cipher.decrypt_str(&sealed, b"ctx").unwrap().expose_secret(),
        "access-token-value"
    );
}
