//! The WebSocket's JSON frames and close codes (docs/API.md, "WebSocket
//! /ws"). Trust: frames from the browser are untrusted and parsed here into
//! a closed enum; frames to the browser carry the executor's data, already
//! redacted, reshaped by `views`.

use axum::extract::ws::{Utf8Bytes, close_code};
use serde::{Deserialize, Serialize};
use spiderpig_proto::v1 as pb;

use crate::views::{self, FreezeView, JobView, LogRecordView, PromptView, QueueView, Viewer};

/// The server is shutting down (SIGTERM).
pub const CLOSE_GOING_AWAY: u16 = close_code::AWAY;
/// The browser broke the WebSocket protocol.
pub const CLOSE_PROTOCOL: u16 = close_code::PROTOCOL;
/// The browser sent a binary frame; the protocol is JSON text only.
pub const CLOSE_BINARY: u16 = close_code::UNSUPPORTED;
/// A text frame that is not UTF-8.
pub const CLOSE_NOT_UTF8: u16 = close_code::INVALID;
/// Too many invalid messages, or too many messages.
pub const CLOSE_POLICY: u16 = close_code::POLICY;
/// A frame or message over `limits.ws_message_bytes`.
pub const CLOSE_TOO_BIG: u16 = close_code::SIZE;
/// The session was logged out, banned or expired: sign in again, do not
/// just reconnect. (An application code, so pages can tell it from 1008.)
pub const CLOSE_REVOKED: u16 = 4001;

/// A frame to the browser. `type` names the variant.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    Queue {
        queue: QueueView,
    },
    Job {
        job: JobView,
    },
    PromptOpened {
        prompt: PromptView,
    },
    PromptClosed {
        job: u64,
        prompt_id: u64,
        answered_by: &'a str,
        answer: &'a str,
    },
    Freeze {
        freeze: FreezeView,
    },
    Log {
        job: u64,
        records: Vec<LogRecordView>,
    },
    Skipped {
        job: u64,
        next_seq: u64,
    },
    Revoked {
        reason: &'a str,
    },
    Heartbeat {
        at_ms: i64,
    },
    Executor {
        up: bool,
    },
    /// A `watch` the executor refused (no such job, not allowed ...).
    Error {
        job: u64,
        error: &'static str,
        message: String,
    },
}

/// Serialise a frame once; the result is cheap to clone and share.
pub fn encode(msg: &ServerMsg<'_>) -> Utf8Bytes {
    // Serialising these plain structs cannot fail (no maps with non-string
    // keys, no foreign Serialize impls).
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}

/// The `log` frame for consecutive records of one job.
pub fn log_frame(job: u64, records: &[pb::LogRecord]) -> Utf8Bytes {
    let records = records.iter().map(views::log_record).collect();
    encode(&ServerMsg::Log { job, records })
}

/// What an event of the shared global stream means for the sockets.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// Forward this frame.
    Forward(Utf8Bytes),
    /// The session ended; the stream ends too.
    Revoked(String),
    /// Not a global frame (heartbeats are the web's own).
    Ignore,
}

/// Whether `event`'s frame differs by viewer: queue and job events carry
/// job views, whose `actions` are the viewer's own.
pub fn is_per_viewer(event: &pb::Event) -> bool {
    use pb::event::Kind;
    matches!(event.kind, Some(Kind::Queue(_) | Kind::Job(_)))
}

/// Map a global event (queue, job, prompt, freeze, revocation) for `viewer`
/// (job views carry the viewer's actions). A job this build cannot describe
/// is logged and not forwarded.
pub fn incoming(event: &pb::Event, viewer: &Viewer) -> Incoming {
    use pb::event::Kind;
    let described = |r: Result<ServerMsg<'static>, crate::WebError>| {
        r.map_err(|e| tracing::warn!("job event not forwarded: {e:?}"))
            .ok()
    };
    let msg = match event.kind.as_ref() {
        Some(Kind::Queue(q)) => q.queue.as_ref().and_then(|q| {
            described(views::queue(q, viewer).map(|queue| ServerMsg::Queue { queue }))
        }),
        Some(Kind::Job(j)) => j
            .job
            .as_ref()
            .and_then(|j| described(views::job(j, viewer).map(|job| ServerMsg::Job { job }))),
        Some(Kind::PromptOpened(p)) => p.prompt.as_ref().map(|p| ServerMsg::PromptOpened {
            prompt: views::prompt(p),
        }),
        Some(Kind::PromptClosed(p)) => Some(ServerMsg::PromptClosed {
            job: p.job_id,
            prompt_id: p.prompt_id,
            answered_by: &p.answered_by,
            answer: &p.answer_label,
        }),
        Some(Kind::Freeze(f)) => Some(ServerMsg::Freeze {
            freeze: views::freeze(f.freeze.as_ref()),
        }),
        Some(Kind::SessionRevoked(r)) => return Incoming::Revoked(r.reason.clone()),
        // Sessions' ends go to their guards (`guard`), never to a browser.
        Some(Kind::Log(_) | Kind::Skipped(_) | Kind::Heartbeat(_) | Kind::SessionEnded(_))
        | None => None,
    };
    msg.map_or(Incoming::Ignore, |m| Incoming::Forward(encode(&m)))
}

/// A frame from the browser. Anything else is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Follow this job's log from after `after_seq` (job 0: follow none).
    Watch {
        job: u64,
        #[serde(default)]
        after_seq: u64,
    },
    /// Answered with a `heartbeat`.
    Ping,
}

/// Parse a browser frame; `None` if it is not one of ours.
pub fn parse(text: &str) -> Option<ClientMsg> {
    serde_json::from_str(text).ok()
}

/// Milliseconds since the Unix epoch, for heartbeats.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn value(frame: &Utf8Bytes) -> Value {
        serde_json::from_str(frame.as_str()).expect("valid JSON")
    }

    #[test]
    fn client_messages_table() {
        let cases: &[(&str, Option<ClientMsg>)] = &[
            (
                r#"{"type":"watch","job":7,"after_seq":41}"#,
                Some(ClientMsg::Watch {
                    job: 7,
                    after_seq: 41,
                }),
            ),
            (
                r#"{"type":"watch","job":7}"#,
                Some(ClientMsg::Watch {
                    job: 7,
                    after_seq: 0,
                }),
            ),
            (
                r#"{"type":"watch","job":0}"#,
                Some(ClientMsg::Watch {
                    job: 0,
                    after_seq: 0,
                }),
            ),
            (r#"{"type":"ping"}"#, Some(ClientMsg::Ping)),
            (r#"{"type":"watch"}"#, None),
            (r#"{"type":"watch","job":-1}"#, None),
            (r#"{"type":"watch","job":1.5}"#, None),
            (r#"{"type":"watch","job":"7"}"#, None),
            (r#"{"type":"watch","job":18446744073709551616}"#, None),
            (r#"{"type":"answer","job":7}"#, None),
            (r#"{"job":7}"#, None),
            ("[]", None),
            ("ping", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), *want, "{text}");
        }
    }

    #[test]
    fn server_frames_have_the_documented_shapes() {
        assert_eq!(
            value(&encode(&ServerMsg::Skipped {
                job: 3,
                next_seq: 90
            })),
            json!({"type": "skipped", "job": 3, "next_seq": 90})
        );
        assert_eq!(
            value(&encode(&ServerMsg::Revoked {
                reason: "logged out"
            })),
            json!({"type": "revoked", "reason": "logged out"})
        );
        assert_eq!(
            value(&encode(&ServerMsg::Executor { up: false })),
            json!({"type": "executor", "up": false})
        );
        assert_eq!(
            value(&encode(&ServerMsg::Heartbeat { at_ms: 5 })),
            json!({"type": "heartbeat", "at_ms": 5})
        );
        let rec = pb::LogRecord {
            job_id: 3,
            seq: 9,
            at_ms: 1,
            kind: pb::log_record::Kind::Line as i32,
            text: "<b>".into(),
            sensitive_lines: vec!["never".into()],
        };
        assert_eq!(
            value(&log_frame(3, &[rec])),
            json!({"type": "log", "job": 3, "records": [{"seq": 9, "at_ms": 1, "kind": "line", "text": "<b>"}]})
        );
    }

    #[test]
    fn global_events_map_to_frames() {
        use pb::event::Kind;
        let ann = Viewer {
            username: "ann".into(),
            is_admin: false,
        };
        let incoming = |e: &pb::Event| incoming(e, &ann);
        let ev = |k| pb::Event { kind: Some(k) };
        let closed = ev(Kind::PromptClosed(pb::PromptClosed {
            job_id: 4,
            prompt_id: 2,
            answered_by: "ann".into(),
            answer_label: "Yes".into(),
        }));
        let Incoming::Forward(frame) = incoming(&closed) else {
            panic!("not forwarded")
        };
        assert_eq!(
            value(&frame),
            json!({"type": "prompt_closed", "job": 4, "prompt_id": 2, "answered_by": "ann", "answer": "Yes"})
        );
        let q = ev(Kind::Queue(pb::QueueChanged {
            queue: Some(pb::QueueResponse::default()),
        }));
        let Incoming::Forward(frame) = incoming(&q) else {
            panic!("not forwarded")
        };
        assert_eq!(value(&frame)["type"], "queue");
        let revoked = ev(Kind::SessionRevoked(pb::SessionRevoked {
            reason: "banned".into(),
        }));
        assert_eq!(incoming(&revoked), Incoming::Revoked("banned".into()));
        assert_eq!(
            incoming(&ev(Kind::Heartbeat(pb::Heartbeat { at_ms: 1 }))),
            Incoming::Ignore
        );
        assert_eq!(incoming(&pb::Event { kind: None }), Incoming::Ignore);
        assert_eq!(
            incoming(&ev(Kind::Job(pb::JobChanged { job: None }))),
            Incoming::Ignore
        );
    }
}
