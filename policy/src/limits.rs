//! Numeric limits of the system; trust level: constants, no input.

/// Most changes one job may deploy.
pub const MAX_CHANGES: usize = 10;
/// A line of scap output longer than this many bytes is cut; the rest is dropped and
/// counted, so memory stays bounded whatever scap (or a change's own code) prints.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Most characters in a free-text answer to scap (`input_line`, the revert reason).
pub const MAX_INPUT_LINE_CHARS: usize = 200;
/// Most characters in an admin's reason for an action.
pub const MAX_REASON_CHARS: usize = 500;
/// Digits in a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Most characters of hostile input that an error message repeats.
pub const MAX_ECHO_CHARS: usize = 60;
/// Most bytes of a login binding, the sealed login the executor hands out at
/// `BeginLogin` and the web keeps in the login cookie (one is about 270).
pub const MAX_LOGIN_BINDING_BYTES: usize = 512;
