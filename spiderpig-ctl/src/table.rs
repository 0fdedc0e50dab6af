//! Aligned plain-text tables for `ctl`'s human output. Trust: cells may hold
//! untrusted text; every cell is escaped here, so no caller can forget.

use super::escape::escape;
use spiderpig_policy::time::utc;

/// Columns separated by two spaces, left-aligned, headers in capitals.
pub(super) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; each cell is escaped to one line, an empty cell shows `-`.
    /// Missing cells are empty, extra cells are an error in the caller.
    pub(super) fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(|c| cell(c.as_ref())).collect();
        debug_assert!(row.len() <= self.headers.len(), "more cells than headers");
        row.resize(self.headers.len(), "-".to_string());
        self.rows.push(row);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table, one line per row, each ending in `\n`, without trailing
    /// spaces. Widths count characters, not terminal cells, so wide (CJK)
    /// characters can push a row out of line; they cannot break it.
    pub(super) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let headers = self
            .headers
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `label: value` lines with the values aligned; values are escaped.
pub(super) fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (label, value) in rows {
        let pad = width - label.chars().count();
        out.push_str(&format!("{label}:{}  {}\n", " ".repeat(pad), cell(value)));
    }
    out
}

fn cell(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        escape(s).into_owned()
    }
}

/// A proto time for people: `2026-11-25 16:33:39 UTC`, or empty for 0 (absent).
pub(super) fn time(ms: i64) -> String {
    if ms == 0 { String::new() } else { utc(ms) }
}

/// A list of numbers as `1, 2, 3`.
pub(super) fn numbers(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_left_aligned_to_the_widest_cell() {
        let mut t = Table::new(&["JOB", "OWNER", "STATE"]);
        t.row(["7", "alice", "queued"]);
        t.row(["12345", "bo", "awaiting_ready"]);
        assert_eq!(
            t.render(),
            "JOB    OWNER  STATE\n\
             7      alice  queued\n\
             12345  bo     awaiting_ready\n"
        );
    }

    #[test]
    fn empty_and_missing_cells_show_a_dash_and_lines_have_no_trailing_space() {
        let mut t = Table::new(&["A", "B", "C"]);
        t.row(["", "x"]);
        assert_eq!(t.render(), "A  B  C\n-  x  -\n");
        assert!(t.render().lines().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn hostile_cells_stay_in_their_row_and_column() {
        let mut t = Table::new(&["USER", "REASON"]);
        t.row(["mallory\nroot  admin", "\u{1b}[31mred\u{1b}[0m"]);
        t.row(["eve", r#"{"ok":true,"user":"root"}"#]);
        t.row(["quote", "it's \"fine\""]);
        let out = t.render();
        assert_eq!(
            out,
            "USER                  REASON\n\
             mallory\\nroot  admin  \\x1b[31mred\\x1b[0m\n\
             eve                   {\"ok\":true,\"user\":\"root\"}\n\
             quote                 it's \"fine\"\n"
        );
        assert_eq!(out.lines().count(), 4);
        assert!(!out.contains('\u{1b}'));
    }

    #[test]
    fn an_empty_table_is_just_its_header() {
        let t = Table::new(&["SEQ", "TIME"]);
        assert!(t.is_empty());
        assert_eq!(t.render(), "SEQ  TIME\n");
    }

    #[test]
    fn pairs_align_values_and_escape_them() {
        let out = pairs(&[
            ("version", "0.1.0".into()),
            ("reason", "a\nb".into()),
            ("by", String::new()),
        ]);
        assert_eq!(out, "version:  0.1.0\nreason:   a\\nb\nby:       -\n");
    }

    #[test]
    fn times_and_numbers() {
        assert_eq!(time(0), "");
        assert_eq!(time(1_743_230_210_771), "2025-03-29 06:36:50 UTC");
        assert_eq!(numbers(&[1234, 5678]), "1234, 5678");
    }
}
