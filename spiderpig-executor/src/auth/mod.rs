//! Authentication: who is asking. Trust: everything that reaches these modules is
//! untrusted — codes, states and TOTP codes come from spiderpig-web, ID tokens from
//! the network. Nothing here touches the store: the engine persists what these
//! functions return, in the same redb transaction as the check.
//!
//! - [`oidc`]: the OpenID Connect authorization-code flow (PKCE S256, `state`, `nonce`)
//!   and the ID token checks; the client secret never leaves this process.
//! - [`sealed`]: logins in flight, sealed into the browser's login cookie under a
//!   key only this process holds (no table to fill; expiring; used once).
//! - [`totp`]: RFC 6238 codes, replay refusal and lockout, as pure functions.
//! - [`token`]: session tokens (256 bits from the OS) and other random values.

pub mod oidc;
pub mod sealed;
pub mod token;
pub mod totp;

pub use oidc::{ClientSecret, Identity, OidcClient, PendingLogin};
pub use sealed::SealedLogins;
pub use token::{SessionToken, public_session_id, random_urlsafe};
pub use totp::{TotpSecret, TotpState};
