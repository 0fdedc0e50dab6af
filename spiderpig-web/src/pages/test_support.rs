//! Fixtures for the pages' unit tests, written once: a signed-in person and
//! the links of an example Gerrit and Phabricator. Trust: test only.

use spiderpig_policy::GerritBase;

use crate::auth::Me;
use crate::links::Links;

/// `name`, signed in with TOTP passed; an admin if `is_admin`.
pub(crate) fn signed_in(name: &str, is_admin: bool) -> Me {
    Me {
        token: "t".into(),
        username: name.into(),
        is_admin,
        totp_passed: true,
        totp_enrolled: true,
    }
}

/// Links to `gerrit.example.org` and `phab.example.org`.
pub(crate) fn links() -> Links {
    Links::new(
        GerritBase::new("https://gerrit.example.org").unwrap(),
        "https://phab.example.org",
    )
}
