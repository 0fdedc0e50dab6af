//! The fake Gerrit: the details scap would fetch for a change number, made up
//! deterministically from the number, and the texts scap builds from them (the
//! confirmation table, the Server Admin Log message).

use sha1::{Digest, Sha1};

/// Revert changes get the reverted number plus this, so they keep its last three
/// digits (and therefore its scenario).
pub const REVERT_OFFSET: u64 = 100_000;

const SUBJECTS: [&str; 4] = [
    "Fix undefined index in ApiQueryInfo when the page is missing",
    "Avoid fatal error in Special:Homepage for new accounts",
    "Hide the mentor dashboard module behind a feature flag",
    "Add missing i18n message for the edit-check dialog",
];

#[derive(Debug, Clone, PartialEq)]
pub struct FakeChange {
    pub number: u64,
    pub project: &'static str,
    pub branch: &'static str,
    pub subject: String,
    pub bug: Option<String>,
}

impl FakeChange {
    pub fn lookup(number: u64) -> FakeChange {
        let project = if number.is_multiple_of(2) {
            "mediawiki/core"
        } else {
            "mediawiki/extensions/GrowthExperiments"
        };
        FakeChange {
            number,
            project,
            branch: "wmf/1.44.0-wmf.8",
            subject: SUBJECTS[(number % SUBJECTS.len() as u64) as usize].to_string(),
            bug: Some(format!("T{}", 300_000 + number % 100_000)),
        }
    }

    /// The change `scap backport --revert` creates for this one.
    pub fn revert(&self) -> FakeChange {
        FakeChange {
            number: self.number + REVERT_OFFSET,
            project: self.project,
            branch: self.branch,
            subject: format!("Revert \"{}\"", self.subject),
            bug: None,
        }
    }

    pub fn change_id(&self) -> String {
        format!(
            "I{:x}",
            Sha1::digest(format!("fake-scap change {}", self.number))
        )
    }

    /// A short commit hash, as `git commit` prints it.
    pub fn short_sha(&self) -> String {
        self.change_id()[1..8].to_string()
    }

    pub fn link(&self) -> String {
        format!(
            "\t* https://gerrit.wikimedia.org/r/c/{}/+/{}",
            self.project, self.number
        )
    }

    fn sal_entry(&self) -> String {
        let bug = self
            .bug
            .as_ref()
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        format!("[[gerrit:{}|{}{bug}]]", self.number, self.subject)
    }
}

/// scap's `_build_sal`.
pub fn sal(changes: &[FakeChange]) -> String {
    let entries: Vec<String> = changes.iter().map(FakeChange::sal_entry).collect();
    format!("Backport for {}", entries.join(", "))
}

/// scap's `make_table`: a PrettyTable with `SINGLE_BORDER` style.
pub fn table(changes: &[FakeChange]) -> String {
    let header = ["#", "Project", "Branch", "Subject"];
    let rows: Vec<[String; 4]> = changes
        .iter()
        .map(|c| {
            [
                c.number.to_string(),
                c.project.replace("mediawiki/", ""),
                c.branch.to_string(),
                c.subject.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = |left: char, mid: char, right: char| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}", parts.join(&mid.to_string()))
    };
    let line = |cells: [&str; 4]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| format!(" {} ", align(cell, w, ["r", "c", "c", "l"][i])))
            .collect();
        format!("│{}│", parts.join("│"))
    };
    let mut out = vec![rule('┌', '┬', '┐'), line(header), rule('├', '┼', '┤')];
    for row in &rows {
        out.push(line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out.push(rule('└', '┴', '┘'));
    out.join("\n")
}

/// Pads `text` to `width` like Python's `str.rjust`, `str.center`, `str.ljust`.
fn align(text: &str, width: usize, how: &str) -> String {
    let pad = width.saturating_sub(text.chars().count());
    let (left, right) = match how {
        "r" => (pad, 0),
        "l" => (0, pad),
        _ => {
            let left = pad / 2 + (pad & width & 1);
            (left, pad - left)
        }
    };
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sal_and_table() {
        let c = FakeChange::lookup(42);
        assert_eq!(
            sal(std::slice::from_ref(&c)),
            "Backport for [[gerrit:42|Hide the mentor dashboard module behind a feature flag (T300042)]]"
        );
        let t = table(&[c]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[3].starts_with("│ 42 │   core  │ wmf/1.44.0-wmf.8 │ Hide the mentor"),
            "{t}"
        );
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count()),
            "{t}"
        );
        assert_eq!(FakeChange::lookup(7).revert().number, 100_007);
        assert_eq!(FakeChange::lookup(7).change_id().len(), 41);
    }

    #[test]
    fn centres_like_python() {
        assert_eq!(align("ab", 5, "c"), "  ab ");
        assert_eq!(align("abc", 6, "c"), " abc  ");
        assert_eq!(align("abc", 8, "c"), "  abc   ");
    }
}
