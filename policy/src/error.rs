//! The crate's one error type; trust level: messages may quote untrusted input, so
//! every quote is cut short and escaped before it is stored in a variant.
//!
//! Every message is meant for the person who caused it: it says what was wrong and,
//! where it helps, what is accepted instead. No message carries a secret.

use std::fmt;

use crate::change::ChangeNumber;
use crate::job::{JobEvent, JobState};
use crate::job_id::JobId;

/// Why a policy check refused something. Variants name the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    // --- change references (untrusted: pasted by a deployer) ---
    /// Empty input, or a list with no change in it.
    NoChanges,
    /// The change number 0.
    ChangeZero,
    /// A negative number such as `-1`.
    ChangeNegative,
    /// A number that does not fit in 64 bits.
    ChangeTooLarge,
    /// Digits outside ASCII, such as full-width `１２３`.
    NonAsciiDigits,
    /// Shell metacharacters such as `;`, `|`, `$`, backticks.
    ShellMetacharacters,
    /// Something that looks like a command-line option, such as `-h`.
    OptionLike,
    /// A URL that points somewhere else than the configured Gerrit. `host` is an
    /// escaped, shortened copy of what the URL named.
    ForeignHost { host: String },
    /// A URL on the configured Gerrit that is not a link to a change.
    NotAChangeUrl,
    /// Anything else that is neither a change number nor a Gerrit change URL.
    NotAChange,
    /// More changes than one job may deploy.
    TooManyChanges { max: usize, got: usize },
    /// The same change named twice.
    DuplicateChange(ChangeNumber),
    /// The configured Gerrit base URL is unusable.
    BadGerritBase { reason: &'static str },

    // --- configuration of the executor ---
    /// The configured scap path is unusable.
    BadScapPath { reason: &'static str },
    /// A configured redaction pattern does not compile; the executor must not start.
    BadRedactionPattern { pattern: String, reason: String },

    // --- small newtypes ---
    /// A machine-mode key that is not 64 lowercase hex characters.
    IoKeyMalformed,
    /// A user name outside the accepted alphabet or length.
    UsernameMalformed { reason: &'static str },
    /// A TOTP code that is not exactly six ASCII digits.
    TotpCodeMalformed,
    /// The job id 0.
    JobIdZero,
    /// A job id that is not a positive decimal number.
    JobIdMalformed,
    /// The prompt id 0.
    PromptIdZero,

    // --- jobs ---
    /// The job's state does not allow this event.
    NotAllowed { event: JobEvent, state: JobState },
    /// The job belongs to someone else.
    NotYourJob,
    /// Only an admin may do this.
    AdminOnly { event: JobEvent },
    /// Only SpiderPig itself may do this; a person cannot.
    SystemOnly { event: JobEvent },
    /// Two jobs hold the deployment lock at once: the store is inconsistent.
    TwoLockHolders(JobId, JobId),
    /// A word that is not one of a closed list (job states, stages, kinds,
    /// roles, actions). `what` names the list; `allowed` holds its words.
    UnknownWord {
        what: &'static str,
        allowed: &'static [&'static str],
    },

    // --- answers to prompts, admin reasons ---
    /// An answer that is not one of the keys the pending prompt offered.
    NotAnOfferedChoice,
    /// A free-text answer longer than allowed.
    InputLineTooLong { max: usize, got: usize },
    /// A free-text answer with control, bidi or invisible characters.
    InputLineNotPrintable,
    /// An admin reason that is empty or only whitespace.
    ReasonEmpty,
    /// An admin reason longer than allowed.
    ReasonTooLong { max: usize, got: usize },
    /// An admin reason with control, bidi or invisible characters.
    ReasonNotPrintable,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PolicyError::*;
        match self {
            ForeignHost { host } => write!(
                f,
                "\"{host}\" is not this deployment's Gerrit: give a change number or a link to a change on the configured Gerrit"
            ),
            TooManyChanges { max, got } => write!(
                f,
                "too many changes: one deployment takes at most {max}, got {got}"
            ),
            DuplicateChange(n) => write!(f, "change {n} is listed more than once"),
            BadGerritBase { reason } => write!(f, "bad Gerrit base URL: {reason}"),
            BadScapPath { reason } => write!(f, "bad scap path: {reason}"),
            BadRedactionPattern { pattern, reason } => write!(
                f,
                "redaction pattern \"{pattern}\" is invalid, refusing to run without it: {reason}"
            ),
            UsernameMalformed { reason } => write!(f, "invalid user name: {reason}"),
            NotAllowed { event, state } => {
                let (event, state) = (event.describe(), state.describe());
                write!(f, "cannot {event} a job that is {state}")
            }
            AdminOnly { event } => write!(f, "only an admin may {} a job", event.describe()),
            SystemOnly { event } => {
                let event = event.describe();
                write!(f, "only SpiderPig itself may {event} a job, not a person")
            }
            TwoLockHolders(a, b) => write!(
                f,
                "jobs {a} and {b} both hold the deployment lock: the job store is inconsistent"
            ),
            UnknownWord { what, allowed } => {
                write!(f, "unknown {what}: expected one of {}", allowed.join(", "))
            }
            InputLineTooLong { max, got } => write!(
                f,
                "the answer is too long: at most {max} characters, got {got}"
            ),
            ReasonTooLong { max, got } => write!(
                f,
                "the reason is too long: at most {max} characters, got {got}"
            ),
            fixed => f.write_str(fixed.fixed_message()),
        }
    }
}

impl PolicyError {
    /// The message of a variant without data. Variants with data are written by
    /// `Display` directly and never reach the last arm.
    fn fixed_message(&self) -> &'static str {
        use PolicyError::*;
        match self {
            NoChanges => "no change given: enter a Gerrit change number or a Gerrit change URL",
            ChangeZero => "0 is not a Gerrit change number: change numbers start at 1",
            ChangeNegative => "a Gerrit change number cannot be negative",
            ChangeTooLarge => "that number is too large to be a Gerrit change number",
            NonAsciiDigits => {
                "change numbers must be written with the digits 0-9 (full-width or other non-ASCII digits are not accepted)"
            }
            ShellMetacharacters => {
                "shell metacharacters (such as ; | & $ ` ( ) < > quotes or backslashes) are not allowed: give change numbers or Gerrit change URLs only"
            }
            OptionLike => {
                "options cannot be passed to scap: give change numbers or Gerrit change URLs only"
            }
            NotAChangeUrl => {
                "that URL is not a link to a Gerrit change: use <gerrit>/r/c/<project>/+/<N>, <gerrit>/r/c/<N> or <gerrit>/r/<N>"
            }
            NotAChange => "not a Gerrit change number or a Gerrit change URL",
            IoKeyMalformed => "a machine-mode key must be 64 lowercase hexadecimal characters",
            TotpCodeMalformed => {
                "a TOTP code is exactly 6 digits 0-9, with no spaces or other characters"
            }
            JobIdZero => "0 is not a job id: job ids start at 1",
            JobIdMalformed => "a job id is a positive number such as 42",
            PromptIdZero => "0 is not a prompt id: prompt ids start at 1",
            NotYourJob => {
                "this job belongs to someone else: only its owner or an admin may do that"
            }
            NotAnOfferedChoice => "that answer is not one of the choices this prompt offers",
            InputLineNotPrintable => {
                "the answer must be one line of printable characters (no line breaks, tabs, control or bidi characters)"
            }
            ReasonEmpty => "a reason is required",
            ReasonNotPrintable => {
                "the reason must be one line of printable characters (no line breaks, tabs, control or bidi characters)"
            }
            _ => "the request was refused",
        }
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::TOTP_DIGITS;

    #[test]
    fn every_variant_has_its_own_message() {
        use PolicyError::*;
        let n = ChangeNumber::new(5).unwrap();
        let id = |x| JobId::new(x).unwrap();
        let all = [
            NoChanges,
            ChangeZero,
            ChangeNegative,
            ChangeTooLarge,
            NonAsciiDigits,
            ShellMetacharacters,
            OptionLike,
            ForeignHost {
                host: "evil.com".into(),
            },
            NotAChangeUrl,
            NotAChange,
            TooManyChanges { max: 10, got: 11 },
            DuplicateChange(n),
            BadGerritBase { reason: "r" },
            BadScapPath { reason: "r" },
            BadRedactionPattern {
                pattern: "(".into(),
                reason: "r".into(),
            },
            IoKeyMalformed,
            UsernameMalformed { reason: "r" },
            TotpCodeMalformed,
            JobIdZero,
            JobIdMalformed,
            PromptIdZero,
            NotAllowed {
                event: JobEvent::Cancel,
                state: JobState::Done,
            },
            NotYourJob,
            AdminOnly {
                event: JobEvent::Remove,
            },
            SystemOnly {
                event: JobEvent::Promote,
            },
            TwoLockHolders(id(1), id(2)),
            UnknownWord {
                what: "job state",
                allowed: &JobState::NAMES,
            },
            NotAnOfferedChoice,
            InputLineTooLong { max: 200, got: 201 },
            InputLineNotPrintable,
            ReasonEmpty,
            ReasonTooLong { max: 500, got: 501 },
            ReasonNotPrintable,
        ];
        let mut seen = std::collections::HashSet::new();
        for e in all {
            let message = e.to_string();
            assert_ne!(message, "the request was refused", "{e:?}");
            assert!(seen.insert(message), "{e:?} repeats another message");
        }
        assert!(
            TotpCodeMalformed
                .to_string()
                .contains(&TOTP_DIGITS.to_string())
        );
    }
}
