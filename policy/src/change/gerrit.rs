//! The configured Gerrit and links to its changes; trust level: the base comes from
//! the operator's config, the links are untrusted (pasted by a deployer).

use super::{ChangeNumber, foreign, parse_digits};
use crate::error::PolicyError;

/// The base URL of the deployment's Gerrit, e.g. `https://gerrit.wikimedia.org`:
/// `http` or `https`, a host (with an optional port) and an optional path prefix.
/// Stored normalised: lowercase scheme and host, no default port, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GerritBase {
    url: String,
    scheme: String,
    authority: String,
    prefix: String,
}

impl GerritBase {
    /// Checks and normalises a configured base URL.
    pub fn new(url: &str) -> Result<Self, PolicyError> {
        let bad = |reason| PolicyError::BadGerritBase { reason };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or(bad("it must start with http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("it must start with http:// or https://"));
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains(['?', '#', '@']) {
            return Err(bad(
                "it must not contain a query, a fragment or user information",
            ));
        }
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let authority = normalise_authority(&scheme, authority).ok_or(bad(
            "it needs a host name (letters, digits, dots, dashes), an IPv6 address in brackets, or a host and a port",
        ))?;
        if !prefix.is_empty() && !prefix[1..].split('/').all(is_path_segment) {
            return Err(bad(
                "its path may only hold segments of letters, digits, '.', '_', '-' and '~'",
            ));
        }
        Ok(Self {
            url: format!("{scheme}://{authority}{prefix}"),
            scheme,
            authority,
            prefix: prefix.to_owned(),
        })
    }

    /// The normalised base URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The canonical short link to a change: `<base>/r/<N>`.
    pub fn change_url(&self, change: ChangeNumber) -> String {
        format!("{}/r/{}", self.url, change)
    }

    /// Parses a link to a change on this Gerrit. The caller has trimmed the input and
    /// refused shell metacharacters.
    pub(super) fn parse_change_url(&self, input: &str) -> Result<ChangeNumber, PolicyError> {
        let (scheme, rest) = input.split_once("://").ok_or(PolicyError::NotAChange)?;
        let scheme = scheme.to_ascii_lowercase();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // With user information (`https://gerrit.example@evil.com/`), the host is
        // what follows the last '@'. Such a link is never accepted.
        if let Some((_, host)) = authority.rsplit_once('@') {
            return match normalise_authority(&scheme, host) {
                Some(h) if h == self.authority => Err(PolicyError::NotAChangeUrl),
                _ => Err(foreign(host)),
            };
        }
        let authority = match normalise_authority(&scheme, authority) {
            Some(a) if a == self.authority => a,
            Some(a) => return Err(foreign(&a)),
            None if authority.is_empty() => return Err(PolicyError::NotAChangeUrl),
            None => return Err(foreign(authority)),
        };
        if scheme != self.scheme {
            return Err(foreign(&format!("{scheme}://{authority}")));
        }
        // A path outside the prefix is another site on the same host.
        match path.strip_prefix(self.prefix.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => {
                change_from_path(rest)
            }
            _ => Err(foreign(&format!("{scheme}://{authority}{path}"))),
        }
    }
}

/// The change number in the path of a change link (after the base's prefix):
/// `/r/<N>`, `/r/c/<N>` or `/r/c/<project>/+/<N>[/<patchset>]`, each with an optional
/// trailing `/`.
fn change_from_path(path: &str) -> Result<ChangeNumber, PolicyError> {
    let path = path.strip_prefix('/').ok_or(PolicyError::NotAChangeUrl)?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let number = match segments.as_slice() {
        ["r", n] | ["r", "c", n] => n,
        ["r", "c", project @ .., "+", n] if is_project(project) => n,
        ["r", "c", project @ .., "+", n, patchset]
            if is_project(project) && is_ascii_number(patchset) =>
        {
            n
        }
        _ => return Err(PolicyError::NotAChangeUrl),
    };
    if !is_ascii_number(number) {
        return Err(PolicyError::NotAChangeUrl);
    }
    parse_digits(number)
}

fn is_ascii_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A Gerrit project path such as `mediawiki/extensions/GrowthExperiments`.
fn is_project(segments: &[&str]) -> bool {
    !segments.is_empty() && segments.iter().all(|s| is_path_segment(s) && *s != "+")
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'))
}

/// `host[:port]` lowercased, with the scheme's default port removed; `None` when it
/// is not a plain DNS name, IPv4 address or bracketed IPv6 address.
fn normalise_authority(scheme: &str, authority: &str) -> Option<String> {
    let lower = authority.to_ascii_lowercase();
    let (host, port) = split_port(&lower)?;
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        is_dns_name(host)
    };
    if !host_ok {
        return None;
    }
    let default_port = if scheme == "https" { "443" } else { "80" };
    match port {
        Some(p) if p != default_port => Some(format!("{host}:{p}")),
        _ => Some(host.to_owned()),
    }
}

/// Splits `host:port`; the port, if any, is 1-65535 written without a sign.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let colon = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Some((authority, None)),
    };
    let (host, port) = (&authority[..colon], &authority[colon + 1..]);
    let valid = is_ascii_number(port)
        && port.len() <= 5
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    valid.then_some((host, Some(port.trim_start_matches('0'))))
}

fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
