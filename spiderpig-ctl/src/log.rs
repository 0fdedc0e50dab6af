//! `ctl log JOB`: a job's log, paged through `AdminGetLog` until the
//! executor says there is no more. Trust: the text is scap's output (which
//! quotes Gerrit commit messages) and SpiderPig's notes, all untrusted.
//!
//! scap's ANSI colours reach a terminal and nothing else; every other escape
//! sequence (titles, OSC 52 clipboard writes, cursor movement) is removed, and
//! other control characters are shown escaped. With `--include-sensitive`
//! the hidden security-patch lines are printed under their placeholder, each
//! marked `[sensitive]`; the executor audits that request.

use std::io::Write;

use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_client::AdminClient;
use tonic::transport::Channel;

use super::errors::VerbError;
use super::escape::log_text;
use super::verbs::{Output, call};
use super::view::LogRecordView;

/// The mark in front of each hidden line shown by `--include-sensitive`.
const SENSITIVE_MARK: &str = "[sensitive] ";

/// What to print: a job's log after a seq, and with the hidden lines when a
/// reason for reading them is given.
pub(super) struct Read {
    pub job_id: u64,
    pub sensitive: Option<String>,
    pub after_seq: u64,
}

pub(super) async fn print<W: Write>(
    client: &mut AdminClient<Channel>,
    read: Read,
    out: &mut Output<W>,
) -> Result<(), VerbError> {
    let mut after_seq = read.after_seq;
    let mut after_hidden = 0;
    loop {
        let req = pb::AdminGetLogRequest {
            job_id: read.job_id,
            after_seq,
            limit: 0,
            include_sensitive: read.sensitive.is_some(),
            reason: read.sensitive.clone().unwrap_or_default(),
            after_hidden,
        };
        let page = call(client.admin_get_log(req)).await?;
        let next = next_page(after_seq, &page)?;
        for (i, record) in page.records.into_iter().enumerate() {
            let mut record = LogRecordView::from(record);
            // A record whose hidden lines a page cut comes again: only the
            // rest of its lines are new.
            record.continued = i == 0 && after_hidden > 0;
            if out.json {
                out.write_json(serde_json::to_string(&record)?)?;
            } else {
                write_record(&mut out.out, &record, out.tty)?;
            }
        }
        out.out.flush()?;
        match next {
            Some((seq, hidden)) => (after_seq, after_hidden) = (seq, hidden),
            None => return Ok(()),
        }
    }
}

/// Where the next page starts (after which seq, from which hidden line), or
/// `None` after the last page.
fn next_page(after_seq: u64, page: &pb::GetLogResponse) -> Result<Option<(u64, u32)>, VerbError> {
    let next = next_after(after_seq, page)?;
    match (next, page.next_hidden, page.records.last()) {
        (None, 0, _) => Ok(None),
        (Some(seq), 0, _) => Ok(Some((seq, 0))),
        (_, n, Some(last)) => Ok(Some((last.seq - 1, n))),
        (_, _, None) => Err(VerbError::Protocol(
            "hidden lines announced but no record sent".into(),
        )),
    }
}

/// Where the next page starts, or `None` after the last page. Refuses an
/// answer that would make the loop spin or go backwards.
fn next_after(after_seq: u64, page: &pb::GetLogResponse) -> Result<Option<u64>, VerbError> {
    let mut last = after_seq;
    for r in &page.records {
        if r.seq <= last {
            return Err(VerbError::Protocol(format!(
                "log record {} came after record {last}",
                r.seq
            )));
        }
        last = r.seq;
    }
    match (page.more, page.records.is_empty()) {
        (false, _) => Ok(None),
        (true, true) => Err(VerbError::Protocol(
            "more records announced but none sent".into(),
        )),
        (true, false) => Ok(Some(last)),
    }
}

/// One record as text. scap's lines and prompts keep their line breaks; the
/// notes that SpiderPig writes (status, answers, system notes) are one line
/// each, with a mark saying what they are.
fn write_record(out: &mut impl Write, r: &LogRecordView, colour: bool) -> std::io::Result<()> {
    if !r.continued {
        write_text(out, r, colour)?;
    }
    for hidden in &r.sensitive_lines {
        writeln!(out, "{SENSITIVE_MARK}{}", log_text(hidden, colour))?;
    }
    Ok(())
}

/// The record's own text, with its mark.
fn write_text(out: &mut impl Write, r: &LogRecordView, colour: bool) -> std::io::Result<()> {
    let mark = match r.kind.as_str() {
        "line" | "redacted" => String::new(),
        "system" => "[spiderpig] ".to_string(),
        other => format!("[{other}] "),
    };
    if matches!(r.kind.as_str(), "line" | "prompt") {
        for part in r.text.split('\n') {
            writeln!(out, "{mark}{}", log_text(part, colour))?;
        }
    } else {
        writeln!(out, "{mark}{}", log_text(&r.text, colour))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, kind: pb::log_record::Kind, text: &str, hidden: &[&str]) -> pb::LogRecord {
        pb::LogRecord {
            job_id: 7,
            seq,
            at_ms: 1_743_230_210_771,
            kind: kind as i32,
            text: text.into(),
            sensitive_lines: hidden.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn render(records: &[pb::LogRecord], colour: bool) -> String {
        let mut out = Vec::new();
        for r in records {
            write_record(&mut out, &LogRecordView::from(r.clone()), colour).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_print_their_text_with_marks_for_spiderpig_notes() {
        use pb::log_record::Kind::*;
        let records = [
            record(1, System, "scap started", &[]),
            record(2, Line, "\u{1b}[32mSynced\u{1b}[0m 12 hosts", &[]),
            record(3, Prompt, "Continue?\n[y/n]", &[]),
            record(4, Answer, "alice\nroot chose Yes", &[]),
            record(5, Status, "Syncing canaries", &[]),
        ];
        assert_eq!(
            render(&records, false),
            "[spiderpig] scap started\n\
             Synced 12 hosts\n\
             [prompt] Continue?\n\
             [prompt] [y/n]\n\
             [answer] alice\\nroot chose Yes\n\
             [status] Syncing canaries\n"
        );
        assert_eq!(
            render(&records[1..2], true),
            "\u{1b}[32mSynced\u{1b}[0m 12 hosts\u{1b}[0m\n"
        );
    }

    #[test]
    fn hidden_lines_are_printed_under_their_placeholder_and_marked() {
        let r = record(
            9,
            pb::log_record::Kind::Redacted,
            "<sensitive information hidden>",
            &[
                "Applying /srv/patches/1.45/core/01-T1234.patch",
                "\u{1b}]52;c;eA==\u{7}second",
            ],
        );
        assert_eq!(
            render(&[r], false),
            "<sensitive information hidden>\n\
             [sensitive] Applying /srv/patches/1.45/core/01-T1234.patch\n\
             [sensitive] second\n"
        );
    }

    #[test]
    fn paging_follows_the_sequence_numbers_and_refuses_nonsense() {
        use pb::log_record::Kind::Line;
        let page = |seqs: &[u64], more| pb::GetLogResponse {
            records: seqs.iter().map(|&s| record(s, Line, "x", &[])).collect(),
            more,
            next_hidden: 0,
        };
        assert!(matches!(
            next_after(0, &page(&[1, 2, 3], true)),
            Ok(Some(3))
        ));
        assert!(matches!(next_after(3, &page(&[4], false)), Ok(None)));
        assert!(matches!(next_after(3, &page(&[], false)), Ok(None)));
        assert!(matches!(
            next_after(3, &page(&[], true)),
            Err(VerbError::Protocol(_))
        ));
        assert!(matches!(
            next_after(3, &page(&[3, 4], true)),
            Err(VerbError::Protocol(_))
        ));
        assert!(matches!(
            next_after(0, &page(&[2, 1], false)),
            Err(VerbError::Protocol(_))
        ));
    }
}
