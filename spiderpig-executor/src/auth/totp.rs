//! TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits) as pure functions: time
//! and state come in, a verdict and the new state go out, and the engine stores
//! that state in the same redb write transaction as the check — which is how two
//! concurrent requests with one code end with one of them refused. Trust: codes
//! are untrusted (from spiderpig-web) but already parsed into [`TotpCode`]; the
//! client's clock is never an input.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use spiderpig_policy::TotpCode;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::error::{ExecutorError, Result};

/// Seconds per time step (RFC 6238 default).
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a secret (160 bits, the HMAC-SHA-1 block recommendation of RFC 4226).
pub const SECRET_BYTES: usize = 20;
/// Wrong codes within [`FAILURE_WINDOW_MS`] that lock the account.
pub const MAX_FAILURES: usize = 5;
/// How far back failures count.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a lockout lasts.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// A TOTP shared secret. `Debug` does not show it and there is no `Display`
/// or `Serialize`: the only ways out are [`TotpSecret::to_base32`] (enrolment
/// and the store) and [`TotpSecret::as_bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl TotpSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let bytes = super::token::os_random_bytes(SECRET_BYTES);
        let mut secret = [0u8; SECRET_BYTES];
        secret.copy_from_slice(&bytes);
        Self(secret)
    }

    /// From the raw bytes (as stored).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <[u8; SECRET_BYTES]>::try_from(bytes)
            .map(Self)
            .map_err(|_| ExecutorError::Internal("stored TOTP secret has the wrong length".into()))
    }

    /// From RFC 4648 base32 without padding, exactly as [`TotpSecret::to_base32`]
    /// writes it. The error never contains the input.
    pub fn from_base32(s: &str) -> Result<Self> {
        let bytes = BASE32_NOPAD
            .decode(s.as_bytes())
            .map_err(|_| ExecutorError::Internal("stored TOTP secret is not base32".into()))?;
        Self::from_bytes(&bytes)
    }

    /// Base32 without padding (32 characters), as authenticator apps expect.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// Per-user TOTP bookkeeping, persisted by the engine after every check.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TotpState {
    /// The last step a code was accepted for; that step and older are spent.
    pub last_used_step: Option<u64>,
    /// Times of wrong codes within the last [`FAILURE_WINDOW_MS`].
    pub failures_ms: Vec<i64>,
    /// Every code is refused until then.
    pub locked_until_ms: Option<i64>,
}

/// The time step containing `now_ms` (0 before the epoch).
pub fn step_at(now_ms: i64) -> u64 {
    u64::try_from(now_ms.max(0) / 1000 / STEP_SECS).unwrap_or(0)
}

/// RFC 4226 HOTP with HMAC-SHA-1 and dynamic truncation; `digits` is 6 to 9.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    assert!((6..=9).contains(&digits), "HOTP codes have 6 to 9 digits");
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

/// The 6-digit code for `step`.
pub fn code_at(secret: &TotpSecret, step: u64) -> String {
    hotp(secret.as_bytes(), step, DIGITS)
}

/// Parse a code as typed, mapping the policy error to [`ExecutorError::TotpMalformed`].
/// Nothing is computed for a malformed code.
pub fn parse_code(s: &str) -> Result<TotpCode> {
    TotpCode::parse(s).map_err(|_| ExecutorError::TotpMalformed)
}

/// Check `code` at `now_ms` against `state`. Returns the verdict (the step the
/// code belonged to on success) and the state to persist — whatever the verdict.
///
/// - Locked: every code is refused, nothing is computed, the state is unchanged.
/// - Steps T−1, T and T+1 are tried, all three, each compared in constant time.
/// - A match at or before `last_used_step` is a replay (the code, or an older one).
/// - A wrong code is recorded; the [`MAX_FAILURES`]th within the window locks
///   the account for [`LOCKOUT_MS`] (reported as `TotpLockedOut` at once).
/// - Success spends the step and clears the failures.
pub fn verify(
    secret: &TotpSecret,
    code: &TotpCode,
    now_ms: i64,
    state: &TotpState,
) -> (Result<u64>, TotpState) {
    if let Some(until_ms) = state.locked_until_ms
        && now_ms < until_ms
    {
        return (
            Err(ExecutorError::TotpLockedOut { until_ms }),
            state.clone(),
        );
    }
    let mut next = state.clone();
    next.locked_until_ms = None;
    next.failures_ms
        .retain(|t| now_ms.saturating_sub(*t) < FAILURE_WINDOW_MS);

    let Some(step) = matching_step(secret, code, step_at(now_ms)) else {
        next.failures_ms.push(now_ms);
        if next.failures_ms.len() >= MAX_FAILURES {
            let until_ms = now_ms.saturating_add(LOCKOUT_MS);
            next.locked_until_ms = Some(until_ms);
            return (Err(ExecutorError::TotpLockedOut { until_ms }), next);
        }
        return (Err(ExecutorError::TotpWrong), next);
    };
    if state.last_used_step.is_some_and(|used| step <= used) {
        // Not a guess (the code was right once), so not counted as a failure.
        return (Err(ExecutorError::TotpReplayed), next);
    }
    next.last_used_step = Some(step);
    next.failures_ms.clear();
    (Ok(step), next)
}

/// The latest of T−1, T, T+1 whose code equals `code`. All three codes are
/// computed and compared without branching on the result.
fn matching_step(secret: &TotpSecret, code: &TotpCode, now_step: u64) -> Option<u64> {
    let mut found = Choice::from(0);
    let mut matched = 0u64;
    for step in [
        now_step.saturating_sub(1),
        now_step,
        now_step.saturating_add(1),
    ] {
        let candidate = code_at(secret, step);
        let hit = candidate.as_bytes().ct_eq(code.as_str().as_bytes());
        matched = u64::conditional_select(&matched, &step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched)
}

/// The `otpauth://` URI for enrolment (shown once, as a QR code and text).
pub fn otpauth_uri(issuer_label: &str, username: &str, secret: &TotpSecret) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent_encode(issuer_label),
        percent_encode(username),
        secret.to_base32(),
        percent_encode(issuer_label),
    )
}

/// Percent-encode everything but RFC 3986 unreserved characters, so `:`, `?`,
/// `&`, `#`, `/` and spaces in a label cannot change the URI's structure.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
