//! Cookies. Trust: cookie values come from browsers (untrusted); they are
//! passed to the executor, which decides.
//!
//! - `__Host-spiderpig`: the session token (Secure, HttpOnly, SameSite=Lax,
//!   Path=/, no Domain: the `__Host-` prefix makes browsers enforce that).
//! - `__Host-spiderpig-login`: binds a login attempt to this browser (10 min).
//! - `__Host-spiderpig-csrf`: the double-submit CSRF token (HttpOnly; pages
//!   carry the same value in a `<meta>` and in forms).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const SESSION: &str = "__Host-spiderpig";
pub const LOGIN: &str = "__Host-spiderpig-login";
pub const CSRF: &str = "__Host-spiderpig-csrf";

/// Longest cookie value we look at.
/// The longest value is the login binding (a sealed login).
const MAX_VALUE: usize = spiderpig_policy::limits::MAX_LOGIN_BINDING_BYTES;

/// The value of a cookie, if present and sane.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= MAX_VALUE && v.bytes().all(is_token_byte))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A `Set-Cookie` value with the `__Host-` attributes.
pub fn set(name: &str, value: &str, max_age_secs: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; __Host-spiderpig=abc_DEF-9; b=2"),
        );
        assert_eq!(get(&h, SESSION).as_deref(), Some("abc_DEF-9"));
        assert_eq!(get(&h, CSRF), None);
    }

    #[test]
    fn refuses_odd_values() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("__Host-spiderpig=a b\"c"));
        assert_eq!(get(&h, SESSION), None);
    }

    #[test]
    fn session_cookie_has_the_host_prefix_attributes() {
        let c = set(SESSION, "tok", None);
        for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        assert!(!c.to_ascii_lowercase().contains("domain"));
        assert!(c.starts_with("__Host-spiderpig=tok;"));
    }
}
