//! Session tokens and other unguessable values. Trust: tokens presented by
//! spiderpig-web are untrusted until [`SessionToken::parse`] accepts them and the
//! store finds their hash. Every random byte comes from the OS CSPRNG.

use std::fmt;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};

/// Bytes of entropy in a session token (256 bits).
pub const SESSION_TOKEN_BYTES: usize = 32;
/// Characters of a session token: 32 bytes in base64url without padding.
pub const SESSION_TOKEN_CHARS: usize = 43;

/// `n` bytes from the operating system's CSPRNG.
///
/// Panics if the OS cannot provide randomness: there is no safe way to go on
/// minting sessions without it.
pub fn os_random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut buf)
        .expect("the operating system's random number generator failed");
    buf
}

/// `bytes` random bytes, base64url without padding (for `state`, `nonce`, PKCE
/// verifiers and login bindings).
pub fn random_urlsafe(bytes: usize) -> String {
    BASE64URL_NOPAD.encode(&os_random_bytes(bytes))
}

/// A short random id that names a session in `ctl sessions` and logs. It is
/// not derived from the token, so showing it reveals nothing about the token.
pub fn public_session_id() -> String {
    HEXLOWER.encode(&os_random_bytes(6))
}

/// A session token, as held by the browser's cookie. The store keeps only
/// [`SessionToken::hash`]. `Debug` does not show it and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token: 256 bits from the OS.
    pub fn generate() -> Self {
        Self(BASE64URL_NOPAD.encode(&os_random_bytes(SESSION_TOKEN_BYTES)))
    }

    /// Accepts exactly the form [`SessionToken::generate`] produces: 43
    /// base64url characters with canonical trailing bits. Anything else is
    /// [`ExecutorError::Unauthenticated`] (the caller learns nothing more).
    pub fn parse(s: &str) -> Result<Self> {
        let alphabet_ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if s.len() != SESSION_TOKEN_CHARS || !alphabet_ok {
            return Err(ExecutorError::Unauthenticated);
        }
        match BASE64URL_NOPAD.decode(s.as_bytes()) {
            Ok(bytes) if bytes.len() == SESSION_TOKEN_BYTES => Ok(Self(s.to_owned())),
            _ => Err(ExecutorError::Unauthenticated),
        }
    }

    /// The token, to hand to spiderpig-web once (for the cookie).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token: the store's key. A stolen database holds no
    /// usable token.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn session_tokens_are_43_urlsafe_chars_of_256_random_bits() {
        let token = SessionToken::generate();
        assert_eq!(token.as_str().len(), SESSION_TOKEN_CHARS);
        let bytes = BASE64URL_NOPAD.decode(token.as_str().as_bytes()).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(SessionToken::parse(token.as_str()).unwrap(), token);
    }

    #[test]
    fn session_tokens_do_not_repeat_and_use_the_whole_alphabet() {
        let tokens: Vec<_> = (0..2000).map(|_| SessionToken::generate()).collect();
        let distinct: HashSet<_> = tokens.iter().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(distinct.len(), tokens.len());
        // Crude entropy check: over 2000 tokens, all 64 symbols show up in the
        // first 42 positions and every bit position of the raw bytes varies.
        let symbols: HashSet<u8> = tokens
            .iter()
            .flat_map(|t| t.as_str().bytes().take(42))
            .collect();
        assert_eq!(symbols.len(), 64);
        let (mut ones, mut zeros) = ([0u32; 256], [0u32; 256]);
        for t in &tokens {
            let raw = BASE64URL_NOPAD.decode(t.as_str().as_bytes()).unwrap();
            for bit in 0..256 {
                if raw[bit / 8] >> (bit % 8) & 1 == 1 {
                    ones[bit] += 1;
                } else {
                    zeros[bit] += 1;
                }
            }
        }
        assert!(ones.iter().zip(&zeros).all(|(o, z)| *o > 800 && *z > 800));
    }

    #[test]
    fn near_miss_tokens_are_refused() {
        let good = SessionToken::generate().as_str().to_owned();
        let padded = format!("{good}=");
        let short = &good[..42];
        let long = format!("{good}A");
        let plus = format!("+{}", &good[1..]);
        let slash = format!("/{}", &good[1..]);
        let space = format!(" {}", &good[1..]);
        let unicode = format!("é{}", &good[2..]);
        // The last character carries 4 data bits and 2 zero bits: 'B' (0b000001)
        // sets a non-canonical bit, so two strings would map to one token.
        let noncanonical = format!("{}B", &good[..42]);
        let canonical_last = format!("{}A", &good[..42]);
        for bad in [
            "",
            short,
            &long,
            &padded,
            &plus,
            &slash,
            &space,
            &unicode,
            &noncanonical,
        ] {
            assert!(
                matches!(
                    SessionToken::parse(bad),
                    Err(ExecutorError::Unauthenticated)
                ),
                "{bad:?}"
            );
        }
        assert!(SessionToken::parse(&canonical_last).is_ok());
    }

    #[test]
    fn session_token_debug_and_errors_do_not_show_it() {
        let token = SessionToken::generate();
        assert_eq!(format!("{token:?}"), "SessionToken(..)");
        assert!(!format!("{:?}", Some(&token)).contains(token.as_str()));
        let err = SessionToken::parse(&format!("{}!", token.as_str())).unwrap_err();
        assert!(!err.to_string().contains(token.as_str()));
    }

    #[test]
    fn the_hash_is_sha256_of_the_token() {
        let token = SessionToken::generate();
        let want: [u8; 32] = Sha256::digest(token.as_str().as_bytes()).into();
        assert_eq!(token.hash(), want);
        assert_ne!(token.hash(), SessionToken::generate().hash());
    }

    #[test]
    fn public_session_ids_are_12_hex_chars_and_random() {
        let ids: HashSet<_> = (0..1000).map(|_| public_session_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| {
            id.len() == 12
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }));
    }

    #[test]
    fn random_urlsafe_has_the_asked_entropy() {
        assert_eq!(random_urlsafe(32).len(), 43);
        assert_eq!(random_urlsafe(16).len(), 22);
        assert_ne!(random_urlsafe(32), random_urlsafe(32));
    }
}
