//! Text with links: Phabricator tasks (`T123`), Gerrit changes ("change
//! 123456", and lists of numbers after the word) and Change-Ids
//! (`I` + 40 hex digits). Trust: the text comes from users, Gerrit or scap
//! and is untrusted. The output is maud markup: the text stays escaped text
//! and each link is an `a` element whose `href` is built only from the
//! configured bases and the digits or hex digits that matched; raw HTML is
//! never produced.

use maud::{Markup, html};
use spiderpig_policy::{ChangeNumber, GerritBase};

use crate::state::AppState;

/// Longest task number linked (Phabricator ids are far shorter).
const MAX_TASK_DIGITS: usize = 10;
/// A Gerrit Change-Id: `I` and 40 lowercase hex digits.
const CHANGE_ID_HEX: usize = 40;

/// The bases links point to.
#[derive(Debug, Clone)]
pub struct Links {
    gerrit: GerritBase,
    /// `None` when the configured URL is not http(s): then tasks stay text.
    phabricator: Option<String>,
}

/// One piece of linked text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Link { href: String, text: String },
}

impl Links {
    pub fn new(gerrit: GerritBase, phabricator_url: &str) -> Links {
        let base = phabricator_url.trim_end_matches('/');
        // Only http(s): a `javascript:` base must never become an href.
        let phabricator =
            (base.starts_with("https://") || base.starts_with("http://")).then(|| base.to_string());
        Links {
            gerrit,
            phabricator,
        }
    }

    pub fn from_state(state: &AppState) -> Links {
        Links::new(state.gerrit.base().clone(), &state.config.phabricator_url)
    }

    /// The Gerrit page of a change, or `None` for 0.
    pub fn change_url(&self, number: u64) -> Option<String> {
        ChangeNumber::new(number)
            .ok()
            .map(|n| self.gerrit.change_url(n))
    }

    /// What a change number is appended to for its Gerrit page.
    pub fn change_base(&self) -> String {
        format!("{}/r/", self.gerrit.as_str())
    }

    /// A change number linked to Gerrit.
    pub fn change(&self, number: u64) -> Markup {
        match self.change_url(number) {
            Some(href) => html! { a class="change" href=(href) { (number) } },
            None => html! { (number) },
        }
    }

    /// A list of change numbers, comma separated, each linked.
    pub fn changes(&self, numbers: &[u64]) -> Markup {
        html! {
            @for (i, n) in numbers.iter().enumerate() {
                @if i > 0 { ", " }
                (self.change(*n))
            }
        }
    }

    /// Untrusted text as escaped markup with links.
    pub fn text(&self, text: &str) -> Markup {
        html! {
            @for piece in self.pieces(text) {
                @match piece {
                    Piece::Text(t) => (t),
                    Piece::Link { href, text } => a href=(href) { (text) },
                }
            }
        }
    }

    /// Split `text` into plain pieces and links.
    pub fn pieces(&self, text: &str) -> Vec<Piece> {
        let mut out = Out::default();
        let mut after_change_word = false;
        for (is_word, token) in tokens(text) {
            if !is_word {
                // Separators inside "changes 1, 2 and 3" keep the list going.
                after_change_word &= token.chars().all(|c| matches!(c, ' ' | ',' | '#'));
                out.text(token);
                continue;
            }
            match self.link_for(token, after_change_word) {
                Some(href) => out.link(href, token),
                None => out.text(token),
            }
            let lower = token.to_ascii_lowercase();
            after_change_word = matches!(lower.as_str(), "change" | "changes")
                || (after_change_word && (lower == "and" || is_digits(token)));
        }
        out.pieces
    }

    fn link_for(&self, word: &str, after_change_word: bool) -> Option<String> {
        if let Some(digits) = word.strip_prefix('T')
            && is_digits(digits)
            && digits.len() <= MAX_TASK_DIGITS
            && !digits.starts_with('0')
        {
            return self.phabricator.as_ref().map(|p| format!("{p}/T{digits}"));
        }
        if let Some(hex) = word.strip_prefix('I')
            && hex.len() == CHANGE_ID_HEX
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Some(format!("{}/r/q/{word}", self.gerrit.as_str()));
        }
        if after_change_word && is_digits(word) {
            return word.parse::<u64>().ok().and_then(|n| self.change_url(n));
        }
        None
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Collects pieces, merging neighbouring text.
#[derive(Default)]
struct Out {
    pieces: Vec<Piece>,
}

impl Out {
    fn text(&mut self, t: &str) {
        match self.pieces.last_mut() {
            Some(Piece::Text(prev)) => prev.push_str(t),
            _ => self.pieces.push(Piece::Text(t.to_string())),
        }
    }

    fn link(&mut self, href: String, text: &str) {
        self.pieces.push(Piece::Link {
            href,
            text: text.to_string(),
        });
    }
}

/// Words (runs of letters, digits and `_`, in any script, so `T１２３` or
/// `éT1` stay one word and are not linked) and the runs between them.
fn tokens(text: &str) -> impl Iterator<Item = (bool, &str)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let word = is_word(first);
        let end = rest
            .char_indices()
            .find(|(_, c)| is_word(*c) != word)
            .map_or(rest.len(), |(i, _)| i);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some((word, token))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GERRIT: &str = "https://gerrit.example.org";
    const PHAB: &str = "https://phabricator.example.org";
    const CHANGE_ID: &str = "I0123456789abcdef0123456789abcdef01234567";

    fn links() -> Links {
        Links::new(GerritBase::new(GERRIT).unwrap(), &format!("{PHAB}/"))
    }

    fn html_of(text: &str) -> String {
        links().text(text).into_string()
    }

    fn link(href: &str, text: &str) -> Piece {
        Piece::Link {
            href: href.into(),
            text: text.into(),
        }
    }

    fn text(t: &str) -> Piece {
        Piece::Text(t.into())
    }

    #[test]
    fn tasks_link_to_phabricator() {
        assert_eq!(
            links().pieces("Fix crash (T12345)."),
            vec![
                text("Fix crash ("),
                link(&format!("{PHAB}/T12345"), "T12345"),
                text(").")
            ]
        );
    }

    #[test]
    fn change_ids_link_to_a_gerrit_query() {
        let pieces = links().pieces(&format!("Change-Id: {CHANGE_ID}"));
        assert_eq!(
            pieces,
            vec![
                text("Change-Id: "),
                link(&format!("{GERRIT}/r/q/{CHANGE_ID}"), CHANGE_ID)
            ]
        );
    }

    #[test]
    fn change_numbers_after_the_word_change_link_to_gerrit() {
        let pieces = links().pieces("Deploying changes 123, 456 and 789; 1000 apples");
        assert_eq!(
            pieces,
            vec![
                text("Deploying changes "),
                link(&format!("{GERRIT}/r/123"), "123"),
                text(", "),
                link(&format!("{GERRIT}/r/456"), "456"),
                text(" and "),
                link(&format!("{GERRIT}/r/789"), "789"),
                text("; 1000 apples"),
            ]
        );
        assert_eq!(
            links().pieces("Change 42"),
            vec![text("Change "), link(&format!("{GERRIT}/r/42"), "42")]
        );
    }

    #[test]
    fn lookalikes_stay_text() {
        let cases = [
            "aT123",
            "T123a",
            "T0123",
            "T",
            "T12345678901",
            "T１２３",
            "éT1",
            "I0123456789abcdef0123456789abcdef0123456",
            "I0123456789ABCDEF0123456789ABCDEF01234567",
            "I0123456789abcdef0123456789abcdef012345678",
            "change 0",
            "change 99999999999999999999999",
            "change: 12",
            "1234",
            "",
        ];
        for case in cases {
            assert!(
                links()
                    .pieces(case)
                    .iter()
                    .all(|p| matches!(p, Piece::Text(_))),
                "{case:?} was linked"
            );
        }
    }

    #[test]
    fn script_stays_escaped_text() {
        let out = html_of("<script>alert(1)</script> T1 \"quoted\" & <a href=x>");
        assert!(!out.contains("<script>"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(out.contains("&lt;a href=x&gt;"), "{out}");
        assert!(out.contains("&quot;quoted&quot; &amp;"), "{out}");
        assert!(
            out.contains(&format!("<a href=\"{PHAB}/T1\">T1</a>")),
            "{out}"
        );
        assert_eq!(out.matches("<a ").count(), 1, "{out}");
    }

    #[test]
    fn a_task_inside_markup_is_linked_but_the_markup_stays_text() {
        let out = html_of("<img src=x onerror=T5>");
        assert!(out.starts_with("&lt;img src=x onerror="), "{out}");
        assert!(
            out.ends_with(&format!("<a href=\"{PHAB}/T5\">T5</a>&gt;")),
            "{out}"
        );
    }

    #[test]
    fn a_non_http_phabricator_base_never_becomes_an_href() {
        let l = Links::new(GerritBase::new(GERRIT).unwrap(), "javascript:alert(1)");
        assert_eq!(l.pieces("T1"), vec![text("T1")]);
    }

    #[test]
    fn change_lists_render_as_links() {
        let out = links().changes(&[1, 22]).into_string();
        assert_eq!(
            out,
            format!(
                "<a class=\"change\" href=\"{GERRIT}/r/1\">1</a>, <a class=\"change\" href=\"{GERRIT}/r/22\">22</a>"
            )
        );
        assert_eq!(links().change(0).into_string(), "0");
    }

    #[test]
    fn text_is_kept_whole() {
        let input = "a <b> T1, change 5 — ünïcode\nline2 I0123";
        let joined: String = links()
            .pieces(input)
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) | Piece::Link { text: t, .. } => t,
            })
            .collect();
        assert_eq!(joined, input);
    }
}
