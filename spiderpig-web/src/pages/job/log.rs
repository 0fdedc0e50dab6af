//! A job's log as plain text: the excerpt on the job page (for readers
//! without JavaScript) and the `/jobs/{id}/log.txt` download. Trust: records
//! come from the executor already redacted; terminal controls (colours,
//! cursor moves, OSC links and clipboard writes) are stripped here so the
//! text is only text.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use spiderpig_policy::{JobId, LogKind, strip_terminal_controls};
use spiderpig_proto::v1 as pb;

use crate::api::calls::{Caller, MAX_LOG_PAGE, job_id};
use crate::extract::{Html, SignedIn};
use crate::pages::parts::utc;
use crate::state::AppState;
use crate::views;

/// Records shown on the job page without JavaScript (the latest ones).
pub const EXCERPT_RECORDS: u32 = 2000;

/// The end of a job's log, as text.
#[derive(Debug, Default)]
pub struct Excerpt {
    pub text: String,
    /// Earlier records exist that are not in `text`.
    pub earlier: bool,
    /// Why the log could not be read.
    pub error: Option<String>,
}

/// The last [`EXCERPT_RECORDS`] records before `last_seq` (inclusive).
pub async fn excerpt(caller: &Caller, id: JobId, last_seq: u64) -> Excerpt {
    if last_seq == 0 {
        return Excerpt::default();
    }
    let after = last_seq.saturating_sub(u64::from(EXCERPT_RECORDS));
    match caller.log(id, after, EXCERPT_RECORDS).await {
        Ok(page) => Excerpt {
            text: page.records.iter().map(|r| line(r) + "\n").collect(),
            earlier: after > 0,
            error: None,
        },
        Err(e) => Excerpt {
            error: Some(e.to_string()),
            ..Excerpt::default()
        },
    }
}

/// One record as text: its kind marked (except scap's own lines), every
/// line of it without terminal controls.
pub fn line(r: &pb::LogRecord) -> String {
    let prefix = match views::log_kind(r.kind) {
        LogKind::Status => "[status] ",
        LogKind::Prompt => "[scap asks] ",
        LogKind::Answer => "[answer] ",
        LogKind::System => "[spiderpig] ",
        LogKind::Line | LogKind::Redacted => "",
    };
    let body: Vec<String> = r.text.split('\n').map(strip_terminal_controls).collect();
    format!("{prefix}{}", body.join("\n"))
}

/// Records as download text: `<UTC time>  <line>` per record.
fn download_text(records: &[pb::LogRecord]) -> String {
    records
        .iter()
        .map(|r| {
            let at = utc(r.at_ms).map(|(iso, _)| iso).unwrap_or_default();
            format!("{at}  {}\n", line(r))
        })
        .collect()
}

enum Cursor {
    Page(pb::GetLogResponse),
    After(u64),
    Done,
}

/// The text of a page and where to go on.
fn emit(page: pb::GetLogResponse, after: u64) -> (Bytes, Cursor) {
    let last = page.records.last().map(|r| r.seq);
    let next = match last {
        // `seq` only grows, so each request asks for strictly later records.
        Some(seq) if page.more && seq > after => Cursor::After(seq),
        _ => Cursor::Done,
    };
    (Bytes::from(download_text(&page.records)), next)
}

/// `GET /jobs/{id}/log.txt`: the whole redacted log, paged from the
/// executor while it is sent.
pub async fn download(
    State(state): State<AppState>,
    SignedIn {
        who: (page, me),
        origin,
    }: SignedIn<Html>,
    Path(id): Path<String>,
) -> Response {
    let id = match job_id(&id) {
        Ok(id) => id,
        Err(e) => return page.fail(Some(&me), e),
    };
    let caller = Caller::new(&state, &origin, &me.token);
    // The first page decides the status: a missing job is a 404, not an
    // empty file.
    let first = match caller.log(id, 0, MAX_LOG_PAGE).await {
        Ok(p) => p,
        Err(e) => return page.fail(Some(&me), e),
    };
    let stream = futures::stream::unfold(
        (caller, 0u64, Cursor::Page(first)),
        move |(caller, after, cursor)| async move {
            let page = match cursor {
                Cursor::Done => return None,
                Cursor::Page(p) => p,
                Cursor::After(seq) => match caller.log(id, seq, MAX_LOG_PAGE).await {
                    Ok(p) => return Some(next_chunk(caller, seq, p)),
                    Err(e) => {
                        let note = format!("[spiderpig] the log stops here: {e}\n");
                        return Some((Ok(Bytes::from(note)), (caller, seq, Cursor::Done)));
                    }
                },
            };
            Some(next_chunk(caller, after, page))
        },
    );
    attachment(id, Body::from_stream(stream))
}

type Chunk = (Result<Bytes, Infallible>, (Caller, u64, Cursor));

fn next_chunk(caller: Caller, after: u64, page: pb::GetLogResponse) -> Chunk {
    let (bytes, cursor) = emit(page, after);
    let next_after = match cursor {
        Cursor::After(seq) => seq,
        _ => after,
    };
    (Ok(bytes), (caller, next_after, cursor))
}

fn attachment(id: JobId, body: Body) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The id is digits only, so the quoted file name needs no escaping.
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"spiderpig-job-{id}.log\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::log_record::Kind;

    fn rec(seq: u64, kind: Kind, text: &str) -> pb::LogRecord {
        pb::LogRecord {
            job_id: 1,
            seq,
            at_ms: 1_714_566_896_000,
            kind: kind as i32,
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn lines_lose_terminal_controls_and_keep_markup_as_text() {
        let r = rec(
            1,
            Kind::Line,
            "\u{1b}[31mred\u{1b}[0m <script>\u{1b}]8;;https://evil.example\u{7}x\u{1b}]8;;\u{7}\u{1b}]52;c;Zm9v\u{7}",
        );
        assert_eq!(line(&r), "red <script>x");
        assert_eq!(
            line(&rec(2, Kind::System, "scap exited 0")),
            "[spiderpig] scap exited 0"
        );
        assert_eq!(
            line(&rec(3, Kind::Prompt, "Continue?\n[y/n]")),
            "[scap asks] Continue?\n[y/n]"
        );
    }

    #[test]
    fn download_text_has_times_and_paging_stops() {
        let page = pb::GetLogResponse {
            records: vec![
                rec(1, Kind::Line, "a"),
                rec(2, Kind::Redacted, "<sensitive information hidden>"),
            ],
            more: true,
            next_hidden: 0,
        };
        let (bytes, cursor) = emit(page, 0);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "2024-05-01T12:34:56Z  a\n2024-05-01T12:34:56Z  <sensitive information hidden>\n"
        );
        assert!(matches!(cursor, Cursor::After(2)));
        let empty_but_more = pb::GetLogResponse {
            records: vec![],
            more: true,
            next_hidden: 0,
        };
        assert!(matches!(emit(empty_but_more, 2).1, Cursor::Done));
        let stale = pb::GetLogResponse {
            records: vec![rec(2, Kind::Line, "a")],
            more: true,
            next_hidden: 0,
        };
        assert!(matches!(emit(stale, 2).1, Cursor::Done));
    }
}
