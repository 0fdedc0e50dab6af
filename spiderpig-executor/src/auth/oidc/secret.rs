//! The OIDC client secret. Trust: read once at start from a file that only the
//! executor can read; it leaves this process only in the token request's
//! `Authorization: Basic` header, to the issuer's token endpoint.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{ExecutorError, Result};

const KEY: &str = "oidc.client_secret_file";
/// No real client secret is this long; a bigger file is the wrong file.
const MAX_SECRET_BYTES: u64 = 4096;

/// The client secret. `Debug` does not show it and there is no `Display`.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Read the secret from `path`: one trailing newline (`\n` or `\r\n`) is
    /// dropped; an empty secret, or one with control characters or surrounding
    /// spaces, is refused. A file that group or others may read is accepted
    /// with a warning (systemd credentials and tests use 0400/0600).
    pub fn from_file(path: &Path) -> Result<ClientSecret> {
        let bad = |reason: String| ExecutorError::BadConfig {
            key: KEY.into(),
            reason,
        };
        let file = std::fs::File::open(path)
            .map_err(|e| bad(format!("cannot open {}: {e}", path.display())))?;
        let meta = file
            .metadata()
            .map_err(|e| bad(format!("cannot stat {}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(bad(format!("{} is not a regular file", path.display())));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o7777),
                "the OIDC client secret file is readable by group or others; make it 0600 or 0400"
            );
        }
        let mut text = String::new();
        file.take(MAX_SECRET_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("cannot read {} as UTF-8: {e}", path.display())))?;
        if text.len() as u64 > MAX_SECRET_BYTES {
            return Err(bad(format!(
                "{} is larger than {MAX_SECRET_BYTES} bytes",
                path.display()
            )));
        }
        Self::from_text(text).map_err(bad)
    }

    fn from_text(mut text: String) -> std::result::Result<ClientSecret, String> {
        if text.ends_with("\r\n") {
            text.truncate(text.len() - 2);
        } else if text.ends_with('\n') {
            text.truncate(text.len() - 1);
        }
        if text.is_empty() {
            return Err("the client secret file is empty".into());
        }
        if text.chars().any(char::is_control) || text.trim() != text {
            return Err(
                "the client secret has control characters, extra lines or surrounding spaces"
                    .into(),
            );
        }
        Ok(ClientSecret(text))
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(contents: &[u8], mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn one_trailing_newline_is_dropped() {
        for (contents, want) in [
            (&b"s3cret-value"[..], "s3cret-value"),
            (b"s3cret-value\n", "s3cret-value"),
            (b"s3cret-value\r\n", "s3cret-value"),
        ] {
            let f = file_with(contents, 0o600);
            assert_eq!(ClientSecret::from_file(f.path()).unwrap().expose(), want);
        }
    }

    #[test]
    fn empty_odd_or_huge_secrets_are_refused_naming_the_key() {
        let huge = vec![b'a'; 5000];
        for contents in [
            &b""[..],
            b"\n",
            b"a\n\n",
            b"two\nlines",
            b" padded",
            b"tab\tin",
            &huge,
        ] {
            let f = file_with(contents, 0o600);
            match ClientSecret::from_file(f.path()) {
                Err(ExecutorError::BadConfig { key, reason }) => {
                    assert_eq!(key, "oidc.client_secret_file");
                    assert!(!reason.contains("lines\n"), "{reason}");
                }
                other => panic!("{contents:?}: {other:?}"),
            }
        }
        let missing = ClientSecret::from_file(Path::new("/nonexistent/secret"));
        assert!(matches!(missing, Err(ExecutorError::BadConfig { .. })));
    }

    #[test]
    fn a_world_readable_file_is_accepted_with_a_warning() {
        let f = file_with(b"s3cret-value\n", 0o644);
        assert!(ClientSecret::from_file(f.path()).is_ok());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let f = file_with(b"s3cret-value\n", 0o600);
        let s = ClientSecret::from_file(f.path()).unwrap();
        assert_eq!(format!("{s:?}"), "ClientSecret(..)");
    }
}
