//! The prompts a backport meets (SCAP.md, "Prompts a backport meets"), with scap's
//! texts, choices in scap's order and defaults, and how each is rendered: as a
//! machine-mode `interaction` message, or as scap's terminal prompt text
//! (`TerminalIO.generate_prompt_text`).

use crate::pyjson::Json;

pub const MWDEBUG_URL: &str = "https://wikitech.wikimedia.org/wiki/Mwdebug";

/// A `choices` interaction: `choices` is `(label, key)` in scap's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub text: String,
    pub choices: Vec<(&'static str, &'static str)>,
    pub default: Option<&'static str>,
}

const YES_NO: [(&str, &str); 2] = [("Yes", "y"), ("No", "n")];

impl Prompt {
    /// `prompt_user_for_confirmation`: `{"Yes": "y", "No": "n"}`.
    pub fn yes_no(text: impl Into<String>, default: &'static str) -> Prompt {
        Prompt {
            text: text.into(),
            choices: YES_NO.to_vec(),
            default: Some(default),
        }
    }

    /// The machine-mode message, without the `iokey` (added when it is sent).
    pub fn to_json(&self) -> Vec<(&'static str, Json)> {
        let choices = Json::obj(
            self.choices
                .iter()
                .map(|(label, key)| (*label, Json::str(*key))),
        );
        vec![
            ("type", Json::str("interaction")),
            ("subtype", Json::str("choices")),
            ("prompt", Json::str(self.text.clone())),
            ("choices", choices),
            ("default", Json::opt_str(self.default)),
        ]
    }

    /// What scap's `TerminalIO` writes before reading the answer (no newline).
    pub fn terminal_text(&self) -> String {
        if self.choices == YES_NO {
            let hint = match self.default {
                Some("y") => "[Y/n]",
                Some("n") => "[y/N]",
                _ => "[y/n]",
            };
            return format!("{} {hint}: ", self.text);
        }
        let mut out = String::new();
        for (label, key) in &self.choices {
            if Some(*key) == self.default {
                out.push_str(&format!("\u{1b}[1m[{key}] {label}\u{1b}[0m\n"));
            } else {
                out.push_str(&format!("[{key}] {label}\n"));
            }
        }
        out.push_str(&self.text);
        if let Some(d) = self.default {
            out.push_str(&format!(" (default: [{d}])"));
        }
        out.push_str(": ");
        out
    }
}

/// Step 1: a warning before the start.
pub fn l10n_warning(links: &str) -> Prompt {
    Prompt::yes_no(
        format!(
            "The following changes touch l10n-related files and are likely to trigger a large \
             l10n rebuild (it can take a long time):\n{links}\nContinue with backport anyway?"
        ),
        "n",
    )
}

/// Step 2: the confirmation.
pub fn confirmation(table: &str) -> Prompt {
    Prompt::yes_no(
        format!(
            "The following changes are scheduled for backport:\n{table}\nBackport the changes?"
        ),
        "n",
    )
}

/// Step 5: after the test servers were synced and checked.
pub fn testservers() -> Prompt {
    Prompt {
        text: format!(
            "Changes synced to the testservers (see {MWDEBUG_URL})\nBefore continuing, please do \
             any necessary checks if you haven't already.\n\nContinue with deployment?"
        ),
        choices: vec![
            ("Yes, continue with deployment", "y"),
            ("No, roll back deployment and terminate", "n"),
        ],
        default: Some("n"),
    }
}

/// Step 6: a failed check. `description` is capitalised in the question and
/// lower-case in the retry label, as scap writes them.
pub fn failed_check(description: &'static str, retry_label: &'static str) -> Prompt {
    Prompt {
        text: format!("{description} failed.\n\nWhat do you want to do?"),
        choices: vec![
            (retry_label, "r"),
            ("Ignore failure and continue deployment", "i"),
            ("Roll back all stages and terminate", "b"),
            ("Exit without rollback", "x"),
        ],
        default: None,
    }
}

/// Step 9: after any rollback of a backport.
pub fn rollback_alert() -> Prompt {
    Prompt {
        text: "The backported change was undeployed by rollback, but it still exists in the \
               codebase.\nYou must merge a fix or revert commit before allowing further \
               backports to proceed."
            .to_string(),
        choices: vec![("Acknowledge and release the deployment lock", "a")],
        default: None,
    }
}

/// Step 10: the `input_line` of `--revert`.
pub fn revert_reason(default_reason: &str) -> String {
    format!("Please supply a reason for revert (default: {default_reason}): ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_is_scaps() {
        assert_eq!(
            Prompt::yes_no("Backport the changes?", "n").terminal_text(),
            "Backport the changes? [y/N]: "
        );
        let p = Prompt {
            text: "Pick".into(),
            choices: vec![("Retry", "r"), ("Exit", "x")],
            default: Some("x"),
        };
        assert_eq!(
            p.terminal_text(),
            "[r] Retry\n\u{1b}[1m[x] Exit\u{1b}[0m\nPick (default: [x]): "
        );
        assert!(
            rollback_alert()
                .terminal_text()
                .ends_with("further backports to proceed.: ")
        );
    }
}
