//! Redaction: which log lines users may see; trust level: input is untrusted:
//! scap's output, including the output of the code it deploys.
//!
//! A line is sensitive when scap says so, when it could not be classified, or when
//! a configured pattern matches any of its views (see [`RedactionPatterns::is_sensitive`]).
//! Each run of sensitive lines becomes one [`PLACEHOLDER`]. Lines that are shown are
//! sanitised: printable text and colours only, so what a viewer sees is exactly the
//! text the patterns were checked against.

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};

use crate::error::PolicyError;
use crate::text::{echo, fold_lookalikes};

mod terminal;

pub use terminal::{sanitize as sanitize_for_display, strip as strip_terminal_controls};

/// What users see instead of a run of sensitive lines.
pub const PLACEHOLDER: &str = "<sensitive information hidden>";

/// The default pattern: any path under the security-patch directory `/srv/patches`,
/// also when written with doubled slashes or `./` components.
pub const DEFAULT_PATTERN: &str = r"/srv/(?:\.?/)*patches(?:/|$|[^\w.-])";

/// Compiled regular expressions for lines that are sensitive whatever scap says:
/// always [`DEFAULT_PATTERN`], plus any a configuration adds. A configuration can
/// widen what is hidden, never narrow it.
#[derive(Debug, Clone)]
pub struct RedactionPatterns {
    set: RegexSet,
}

impl RedactionPatterns {
    /// [`DEFAULT_PATTERN`] and the configured `extra` patterns (Rust `regex`
    /// syntax). Any pattern that does not compile, or is empty, is an error: the
    /// executor must not run without it.
    pub fn new(extra: &[String]) -> Result<Self, PolicyError> {
        for pattern in extra {
            let bad = |reason: String| PolicyError::BadRedactionPattern {
                pattern: echo(pattern),
                reason,
            };
            if pattern.is_empty() {
                return Err(bad("an empty pattern would match every line".into()));
            }
            RegexBuilder::new(pattern)
                .build()
                .map_err(|e| bad(regex_reason(&e)))?;
        }
        let all = std::iter::once(DEFAULT_PATTERN).chain(extra.iter().map(String::as_str));
        let set =
            RegexSetBuilder::new(all)
                .build()
                .map_err(|e| PolicyError::BadRedactionPattern {
                    pattern: "(all patterns together)".into(),
                    reason: regex_reason(&e),
                })?;
        Ok(Self { set })
    }

    /// [`DEFAULT_PATTERN`] alone: what the executor uses when its configuration
    /// adds none (the fuzz target and the policy tests check exactly this).
    pub fn default_patterns() -> Self {
        Self::new(&[]).expect("the default pattern compiles")
    }

    /// Every pattern in force, [`DEFAULT_PATTERN`] first.
    pub fn patterns(&self) -> &[String] {
        self.set.patterns()
    }

    /// Whether any pattern matches any view of `text`, failing closed: the text with
    /// escape sequences and control characters removed; each `\r`-separated segment
    /// likewise; the text with only control characters removed (so a path in an
    /// OSC 8 link's URL counts); and the line as a terminal would render it after
    /// `\r`, backspace and cursor movements.
    pub fn is_sensitive(&self, text: &str) -> bool {
        self.shown(text).is_none()
    }

    /// `None` when [`RedactionPatterns::is_sensitive`]; otherwise what users may
    /// see of `text` ([`sanitize_for_display`]). One reading of the line's
    /// terminal sequences serves both.
    ///
    /// Text with look-alikes of ASCII (fullwidth forms, slash look-alikes) is
    /// also checked with them folded to ASCII; what users see keeps them.
    pub fn shown(&self, text: &str) -> Option<String> {
        let shown = self.shown_as_written(text)?;
        match fold_lookalikes(text) {
            Some(folded) if self.shown_as_written(&folded).is_none() => None,
            _ => Some(shown),
        }
    }

    /// [`RedactionPatterns::shown`] for the characters as written.
    fn shown_as_written(&self, text: &str) -> Option<String> {
        if self.set.is_match(text) {
            return None;
        }
        if !terminal::has_controls(text) {
            // Every view, and the sanitised text, equal the text itself.
            return Some(text.to_owned());
        }
        let views = terminal::views(text);
        let stripped = views.stripped.as_str();
        let sensitive = self.set.is_match(stripped)
            || self.set.is_match(&terminal::without_controls(text))
            || if views.flat {
                // Rendering would only trim trailing blanks (colours move nothing).
                let trimmed = stripped.trim_end();
                trimmed.len() != stripped.len() && self.set.is_match(trimmed)
            } else {
                self.set.is_match(&terminal::render(text))
            }
            || (text.contains('\r')
                && text
                    .split('\r')
                    .any(|s| self.set.is_match(&terminal::strip(s))));
        (!sensitive).then_some(views.sanitized)
    }
}

/// The last line of a regex error (the reason; earlier lines repeat the pattern).
fn regex_reason(e: &regex::Error) -> String {
    let message = e.to_string();
    echo(message.lines().last().unwrap_or_default().trim())
}

/// Turns a stream of decoded log lines into what users may see.
#[derive(Debug, Clone)]
pub struct Redactor {
    patterns: RedactionPatterns,
    in_sensitive_run: bool,
}

impl Redactor {
    pub fn new(patterns: RedactionPatterns) -> Self {
        Self {
            patterns,
            in_sensitive_run: false,
        }
    }

    /// Classify one decoded log line. Returns what users may see: Some(text) for a
    /// normal line, Some(PLACEHOLDER) for the first line of a run of sensitive lines,
    /// None for the following lines of the same run.
    ///
    /// A normal line is returned sanitised ([`sanitize_for_display`]): printable
    /// text and colours only. (A normal line may read exactly like the placeholder;
    /// [`Redactor::classify`] tells the two apart.)
    pub fn feed(&mut self, text: &str, scap_says_sensitive: bool) -> Option<String> {
        match self.classify(text, scap_says_sensitive) {
            Verdict::Show(shown) => Some(shown),
            Verdict::Hide { starts_run: true } => Some(PLACEHOLDER.to_owned()),
            Verdict::Hide { starts_run: false } => None,
        }
    }

    /// Like [`Redactor::feed`], with a distinct answer for a hidden line.
    pub fn classify(&mut self, text: &str, scap_says_sensitive: bool) -> Verdict {
        let shown = if scap_says_sensitive {
            None
        } else {
            self.patterns.shown(text)
        };
        match shown {
            None => self.hide(),
            Some(shown) => {
                self.in_sensitive_run = false;
                Verdict::Show(shown)
            }
        }
    }

    /// A `Withheld` message counts as sensitive.
    pub fn feed_withheld(&mut self) -> Option<String> {
        match self.hide() {
            Verdict::Hide { starts_run: true } => Some(PLACEHOLDER.to_owned()),
            _ => None,
        }
    }

    /// Like [`Redactor::feed_withheld`], with a distinct answer for a hidden line.
    pub fn classify_withheld(&mut self) -> Verdict {
        self.hide()
    }

    /// Ends the current run of sensitive lines, e.g. after a prompt or status, so
    /// the next sensitive line gets its own placeholder.
    pub fn reset_run(&mut self) {
        self.in_sensitive_run = false;
    }

    /// Whether `text` matches the patterns (for texts that are not log lines, such
    /// as status messages and prompts).
    pub fn is_sensitive(&self, text: &str) -> bool {
        self.patterns.is_sensitive(text)
    }

    /// `None` when `text` matches the patterns, else what users may see of it
    /// ([`sanitize_for_display`]), from one reading of the text; for texts
    /// outside a run of log lines.
    pub fn shown(&self, text: &str) -> Option<String> {
        self.patterns.shown(text)
    }

    fn hide(&mut self) -> Verdict {
        let starts_run = !self.in_sensitive_run;
        self.in_sensitive_run = true;
        Verdict::Hide { starts_run }
    }
}

/// What the redactor decided about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Show this (sanitised) text.
    Show(String),
    /// Hide the line. The first line of a run (`starts_run`) is shown as one
    /// [`PLACEHOLDER`]; the others are not shown at all.
    Hide { starts_run: bool },
}

#[cfg(test)]
mod tests;
