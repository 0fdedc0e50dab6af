//! Sealed logins: handed out once, only to their own state, never altered,
//! never from another key. Trust level: test code.

use super::*;

const TTL: i64 = 600_000;

fn login(state: &str) -> PendingLogin {
    PendingLogin {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        created_ms: 0,
    }
}

fn refused(r: Result<PendingLogin>) -> bool {
    matches!(r, Err(ExecutorError::LoginStateInvalid))
}

#[test]
fn a_login_is_handed_out_once_with_what_was_sealed() {
    let p = SealedLogins::new(10, TTL).unwrap();
    let b = p.seal(&login("s1"), 5).unwrap();
    assert!(b.len() <= MAX_BINDING_BYTES, "{} bytes", b.len());
    let got = p.take(&b, "s1", 6).unwrap();
    assert_eq!(
        (
            got.state.as_str(),
            got.nonce.as_str(),
            got.pkce_verifier.as_str(),
            got.created_ms
        ),
        ("s1", "nonce-s1", "verifier-s1", 5)
    );
    assert!(refused(p.take(&b, "s1", 7)), "spent");
}

#[test]
fn the_binding_hides_the_verifier_and_nonce() {
    let p = SealedLogins::new(10, TTL).unwrap();
    let b = p.seal(&login("s1"), 0).unwrap();
    let raw = BASE64URL_NOPAD.decode(b.as_bytes()).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("verifier-s1") && !text.contains("nonce-s1"));
    // Two seals of the same login differ (a fresh nonce each).
    assert_ne!(b, p.seal(&login("s1"), 0).unwrap());
}

#[test]
fn a_wrong_state_spoils_nothing_and_foreign_or_altered_bindings_find_nothing() {
    let p = SealedLogins::new(10, TTL).unwrap();
    let other = SealedLogins::new(10, TTL).unwrap();
    let b = p.seal(&login("s1"), 0).unwrap();
    let foreign = other.seal(&login("s1"), 0).unwrap();
    let mut flipped = BASE64URL_NOPAD.decode(b.as_bytes()).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let flipped = BASE64URL_NOPAD.encode(&flipped);
    let cases = [
        (b.as_str(), "s2"),
        (b.as_str(), ""),
        (foreign.as_str(), "s1"),
        (flipped.as_str(), "s1"),
        ("", "s1"),
        ("not base64 !", "s1"),
        ("AAAA", "s1"),
    ];
    for (binding, state) in cases {
        assert!(refused(p.take(binding, state, 1)), "{binding:?} {state:?}");
    }
    let long = "A".repeat(MAX_BINDING_BYTES + 1);
    assert!(refused(p.take(&long, "s1", 1)));
    assert_eq!(p.spent(), 0, "refusals remember nothing");
    assert_eq!(p.take(&b, "s1", 1).unwrap().state, "s1");
}

#[test]
fn an_expired_login_is_refused() {
    let p = SealedLogins::new(10, TTL).unwrap();
    let b = p.seal(&login("s1"), 1_000).unwrap();
    assert!(refused(p.take(&b, "s1", 1_000 + TTL)));
    assert_eq!(p.take(&b, "s1", 1_000 + TTL - 1).unwrap().state, "s1");
}

#[test]
fn begun_logins_take_no_room_and_a_full_spent_memory_refuses_nobody() {
    let p = SealedLogins::new(3, TTL).unwrap();
    // Thousands of abandoned logins cost the executor nothing.
    let abandoned: Vec<String> = (0..5000)
        .map(|i| p.seal(&login(&format!("a{i}")), 0).unwrap())
        .collect();
    assert_eq!(p.spent(), 0);
    // Matched callbacks fill the spent memory; the oldest is forgotten and
    // new logins still work.
    for (i, b) in abandoned.iter().take(10).enumerate() {
        assert!(p.take(b, &format!("a{i}"), 1).is_ok(), "login {i}");
        assert!(p.spent() <= 3);
    }
    let real = p.seal(&login("real"), 2).unwrap();
    assert_eq!(p.take(&real, "real", 3).unwrap().state, "real");
    // Spent ones that expired are forgotten first.
    let later = p.seal(&login("later"), TTL + 10).unwrap();
    assert!(p.take(&later, "later", TTL + 11).is_ok());
    assert_eq!(p.spent(), 1);
}
