use super::*;

/// A moment in the middle of a step, so T−1/T+1 are unambiguous.
const NOW_MS: i64 = 1_700_000_015_000;
const MINUTE_MS: i64 = 60_000;

fn code(s: &str) -> TotpCode {
    TotpCode::parse(s).unwrap()
}

fn code_for(secret: &TotpSecret, step: u64) -> TotpCode {
    code(&code_at(secret, step))
}

/// A code that is right for none of T−1, T, T+1.
fn wrong_code(secret: &TotpSecret, now_ms: i64) -> TotpCode {
    let t = step_at(now_ms);
    let right: Vec<String> = (t - 1..=t + 1).map(|s| code_at(secret, s)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !right.contains(c))
        .map(|c| code(&c))
        .unwrap()
}

#[test]
fn rfc6238_appendix_b_sha1_vectors_reproduce() {
    let key = b"12345678901234567890";
    let vectors: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (unix_secs, want) in vectors {
        assert_eq!(
            hotp(key, step_at(unix_secs * 1000), 8),
            want,
            "T = {unix_secs}"
        );
    }
}

#[test]
fn rfc4226_appendix_d_counts_reproduce_in_six_digits() {
    let key = b"12345678901234567890";
    let want = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922",
    ];
    for (counter, want) in want.iter().enumerate() {
        assert_eq!(hotp(key, counter as u64, 6), *want);
    }
}

#[test]
fn steps_are_30_seconds_and_never_negative() {
    assert_eq!(step_at(0), 0);
    assert_eq!(step_at(29_999), 0);
    assert_eq!(step_at(30_000), 1);
    assert_eq!(step_at(-5_000), 0);
}

#[test]
fn the_current_and_adjacent_steps_are_accepted() {
    let secret = TotpSecret::generate();
    let t = step_at(NOW_MS);
    for step in [t - 1, t, t + 1] {
        let (verdict, state) = verify(
            &secret,
            &code_for(&secret, step),
            NOW_MS,
            &TotpState::default(),
        );
        assert_eq!(verdict.unwrap(), step);
        assert_eq!(state.last_used_step, Some(step));
    }
}

#[test]
fn codes_two_steps_away_are_refused() {
    let secret = TotpSecret::generate();
    let t = step_at(NOW_MS);
    for step in [t - 2, t + 2, t - 10] {
        let c = code_for(&secret, step);
        // Skip the one-in-a-million case where the far code equals a near one.
        if (t - 1..=t + 1).any(|s| code_at(&secret, s) == c.as_str()) {
            continue;
        }
        let (verdict, state) = verify(&secret, &c, NOW_MS, &TotpState::default());
        assert!(
            matches!(verdict, Err(ExecutorError::TotpWrong)),
            "step {step}"
        );
        assert_eq!(state.failures_ms, vec![NOW_MS]);
        assert_eq!(state.last_used_step, None);
    }
}

#[test]
fn totp_code_is_usable_once() {
    let secret = TotpSecret::generate();
    let c = code_for(&secret, step_at(NOW_MS));
    let (first, state) = verify(&secret, &c, NOW_MS, &TotpState::default());
    assert!(first.is_ok());
    let (second, after) = verify(&secret, &c, NOW_MS + 1000, &state);
    assert!(matches!(second, Err(ExecutorError::TotpReplayed)));
    assert_eq!(after.last_used_step, state.last_used_step);
    assert!(
        after.failures_ms.is_empty(),
        "a replay is not counted as a guess"
    );
}

#[test]
fn two_checks_from_the_same_state_race_only_through_the_store() {
    // The engine runs check+persist in one write transaction, so the second
    // request sees the first one's state: this models that serialisation.
    let secret = TotpSecret::generate();
    let c = code_for(&secret, step_at(NOW_MS));
    let stored = TotpState::default();
    let (a, stored) = verify(&secret, &c, NOW_MS, &stored);
    let (b, _) = verify(&secret, &c, NOW_MS, &stored);
    assert!(a.is_ok());
    assert!(matches!(b, Err(ExecutorError::TotpReplayed)));
}

#[test]
fn after_step_t_is_used_a_code_for_t_minus_1_is_refused() {
    let secret = TotpSecret::generate();
    let t = step_at(NOW_MS);
    let (ok, state) = verify(
        &secret,
        &code_for(&secret, t),
        NOW_MS,
        &TotpState::default(),
    );
    assert_eq!(ok.unwrap(), t);
    let older = code_for(&secret, t - 1);
    if older.as_str() != code_at(&secret, t + 1) {
        let (verdict, _) = verify(&secret, &older, NOW_MS, &state);
        assert!(matches!(verdict, Err(ExecutorError::TotpReplayed)));
    }
    // The next step's code is still good.
    let (next, _) = verify(&secret, &code_for(&secret, t + 1), NOW_MS + 30_000, &state);
    assert_eq!(next.unwrap(), t + 1);
}

#[test]
fn malformed_codes_never_reach_the_hmac() {
    // `verify` takes a `TotpCode`; these never become one.
    for bad in [
        "",
        "12345",
        "1234567",
        "12345a",
        "１２３４５６",
        "١٢٣٤٥٦",
        " 12345",
        "123456 ",
        "+12345",
    ] {
        assert!(
            matches!(parse_code(bad), Err(ExecutorError::TotpMalformed)),
            "{bad:?}"
        );
    }
    assert_eq!(parse_code("012345").unwrap().as_str(), "012345");
}

#[test]
fn five_wrong_codes_lock_even_the_right_code_for_15_minutes() {
    let secret = TotpSecret::generate();
    let mut state = TotpState::default();
    for i in 0..5 {
        let now = NOW_MS + i * MINUTE_MS;
        let (verdict, next) = verify(&secret, &wrong_code(&secret, now), now, &state);
        state = next;
        if i < 4 {
            assert!(
                matches!(verdict, Err(ExecutorError::TotpWrong)),
                "attempt {i}"
            );
        } else {
            assert!(matches!(verdict, Err(ExecutorError::TotpLockedOut { .. })));
        }
    }
    let locked_at = NOW_MS + 4 * MINUTE_MS;
    assert_eq!(state.locked_until_ms, Some(locked_at + LOCKOUT_MS));

    // While locked: the right code is refused and nothing changes.
    for now in [locked_at + 1, locked_at + LOCKOUT_MS - 1] {
        let right = code_for(&secret, step_at(now));
        let (verdict, after) = verify(&secret, &right, now, &state);
        assert!(
            matches!(verdict, Err(ExecutorError::TotpLockedOut { until_ms }) if until_ms == locked_at + LOCKOUT_MS)
        );
        assert_eq!(after, state);
    }

    // Afterwards the right code works again and the slate is clean.
    let later = locked_at + LOCKOUT_MS;
    let (verdict, after) = verify(&secret, &code_for(&secret, step_at(later)), later, &state);
    assert!(verdict.is_ok());
    assert_eq!(after.locked_until_ms, None);
    assert!(after.failures_ms.is_empty());
}

#[test]
fn failures_older_than_15_minutes_drop_out() {
    let secret = TotpSecret::generate();
    let mut state = TotpState::default();
    // Four failures, then a long pause, then four more: never five within 15 min.
    for now in (0..4)
        .map(|i| NOW_MS + i * MINUTE_MS)
        .chain((0..4).map(|i| NOW_MS + (20 + i) * MINUTE_MS))
    {
        let (verdict, next) = verify(&secret, &wrong_code(&secret, now), now, &state);
        assert!(matches!(verdict, Err(ExecutorError::TotpWrong)), "at {now}");
        state = next;
    }
    assert_eq!(state.failures_ms.len(), 4);
    assert_eq!(state.locked_until_ms, None);
}

#[test]
fn success_clears_failures() {
    let secret = TotpSecret::generate();
    let (_, state) = verify(
        &secret,
        &wrong_code(&secret, NOW_MS),
        NOW_MS,
        &TotpState::default(),
    );
    assert_eq!(state.failures_ms.len(), 1);
    let (ok, state) = verify(&secret, &code_for(&secret, step_at(NOW_MS)), NOW_MS, &state);
    assert!(ok.is_ok());
    assert!(state.failures_ms.is_empty());
}

#[test]
fn another_users_state_is_unaffected() {
    // State is per user and passed in: locking one says nothing about another.
    let (alice, bob) = (TotpSecret::generate(), TotpSecret::generate());
    let mut alice_state = TotpState::default();
    for _ in 0..5 {
        alice_state = verify(&alice, &wrong_code(&alice, NOW_MS), NOW_MS, &alice_state).1;
    }
    assert!(alice_state.locked_until_ms.is_some());
    let (verdict, _) = verify(
        &bob,
        &code_for(&bob, step_at(NOW_MS)),
        NOW_MS,
        &TotpState::default(),
    );
    assert!(verdict.is_ok());
}

#[test]
fn the_secret_never_shows_in_debug_or_errors() {
    let secret = TotpSecret::generate();
    let b32 = secret.to_base32();
    assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    let mut state = TotpState::default();
    let mut messages = vec![];
    for _ in 0..6 {
        let (verdict, next) = verify(&secret, &wrong_code(&secret, NOW_MS), NOW_MS, &state);
        let e = verdict.unwrap_err();
        messages.push(format!("{e} {e:?} {next:?}"));
        state = next;
    }
    messages.push(format!(
        "{:?}",
        TotpSecret::from_base32("not base32!").unwrap_err()
    ));
    messages.push(format!(
        "{}",
        TotpSecret::from_base32(&b32[..30]).unwrap_err()
    ));
    for m in messages {
        assert!(!m.contains(&b32) && !m.contains(&b32[..16]), "{m}");
    }
}

#[test]
fn secrets_are_20_random_bytes_and_round_trip_through_base32() {
    let secret = TotpSecret::generate();
    assert_eq!(secret.as_bytes().len(), 20);
    assert_ne!(secret, TotpSecret::generate());
    let b32 = secret.to_base32();
    assert_eq!(b32.len(), 32);
    assert_eq!(TotpSecret::from_base32(&b32).unwrap(), secret);
    assert_eq!(TotpSecret::from_bytes(secret.as_bytes()).unwrap(), secret);
    assert!(TotpSecret::from_base32(&b32.to_lowercase()).is_err());
    assert!(TotpSecret::from_bytes(&[0; 19]).is_err());
}

#[test]
fn otpauth_uri_is_percent_encoded() {
    let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    let uri = otpauth_uri("SpiderPig (beta)", "deployer1", &secret);
    assert_eq!(
        uri,
        "otpauth://totp/SpiderPig%20%28beta%29:deployer1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=SpiderPig%20%28beta%29&algorithm=SHA1&digits=6&period=30"
    );
    let hostile = otpauth_uri("a:b?c&d#e/f", "x&secret=AAAA", &secret);
    assert!(hostile.starts_with("otpauth://totp/a%3Ab%3Fc%26d%23e%2Ff:x%26secret%3DAAAA?secret="));
    assert_eq!(hostile.matches("&issuer=").count(), 1);
}
