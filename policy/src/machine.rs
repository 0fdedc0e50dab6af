//! scap's machine-mode protocol (SCAP.md); trust level: input is untrusted: scap's
//! output carries the output of the code it deploys, which may try to fake prompts.
//!
//! A line is a structured message only if it is a JSON object carrying this run's
//! key. Anything else is ordinary text. A line that carries the key but cannot be
//! decoded, or that was cut before it could be read, is withheld: it came from scap
//! (or may have), it may be sensitive, and we cannot tell.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::command::IoKey;
use crate::text::is_printable_in_line;

mod assembler;
mod choices;

pub use assembler::{LineAssembler, RawLine};

/// A progress bar, with scap's fields (sent in camelCase).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Progress {
    pub name: String,
    pub total_tasks: Option<u64>,
    pub tasks_in_flight: Option<u64>,
    pub tasks_finished_ok: Option<u64>,
    pub tasks_finished_failed: Option<u64>,
    pub tasks_finished_total: Option<u64>,
    pub tasks_percent_complete: Option<f64>,
    pub tasks_remaining: Option<u64>,
    pub progress_finished: bool,
}

/// One answer a `choices` prompt offers: what to show, and the key scap reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub key: String,
}

/// What one line of scap's output means.
#[derive(Debug, Clone, PartialEq)]
pub enum ScapMessage {
    /// A log line (`type: "line"`); `sensitive` when scap marks it so.
    Line { text: String, sensitive: bool },
    /// The current step (`type: "status"`).
    Status(Option<String>),
    /// A progress bar (`type: "progress"`).
    Progress(Progress),
    /// scap waits for one of `choices`' keys on stdin. Choices are in scap's order;
    /// `default`, when set, is one of their keys. Every key is a non-empty line of
    /// printable characters.
    Choices {
        prompt: String,
        choices: Vec<Choice>,
        default: Option<String>,
    },
    /// scap waits for one free-text line on stdin.
    InputLine { prompt: String },
    /// Not a machine-mode message: an ordinary log line, shown as text.
    Text(String),
    /// A line that could not be classified safely; never shown. `bytes` is about
    /// the size of the original line.
    Withheld { bytes: usize },
}

/// Decodes one line of scap's output. Never panics; fails closed.
pub fn decode_line(line: &RawLine, iokey: &IoKey) -> ScapMessage {
    let text = line.text.as_str();
    let looks_like_object = text.trim_start().starts_with('{');
    if looks_like_object
        && !line.truncated
        && let Some(line) = decode_plain_line(text, iokey)
    {
        return line;
    }
    decode_tree(line, iokey)
}

/// [`decode_line`] through a JSON tree: every case.
fn decode_tree(line: &RawLine, iokey: &IoKey) -> ScapMessage {
    let withheld = ScapMessage::Withheld {
        bytes: line.text.len().saturating_add(line.dropped_bytes),
    };
    let text = line.text.as_str();
    let looks_like_object = text.trim_start().starts_with('{');
    let carries_key = text.contains(iokey.as_str());
    if line.truncated {
        // The cut may have hidden a `sensitive: true` or a prompt.
        return if looks_like_object || carries_key {
            withheld
        } else {
            ScapMessage::Text(line.text.clone())
        };
    }
    let object = match looks_like_object.then(|| serde_json::from_str::<Value>(text)) {
        Some(Ok(Value::Object(object))) => object,
        _ if carries_key => return withheld,
        _ => return ScapMessage::Text(line.text.clone()),
    };
    match object.get("iokey") {
        Some(Value::String(key)) if iokey.matches(key) => {}
        _ if carries_key => return withheld,
        _ => return ScapMessage::Text(line.text.clone()),
    }
    decode_message(&object, text).unwrap_or(withheld)
}

/// The fields of a `line` message, borrowed from the text where no escape
/// was decoded.
#[derive(Deserialize)]
struct LineFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    iokey: Cow<'a, str>,
    #[serde(borrow)]
    line: Cow<'a, str>,
    #[serde(default)]
    sensitive: bool,
}

/// The common case without building a JSON tree: a well-formed `line`
/// message with this run's key. `None` sends the line down the general
/// path, which decides everything else (and would decide this case alike).
fn decode_plain_line(text: &str, iokey: &IoKey) -> Option<ScapMessage> {
    let f: LineFields = serde_json::from_str(text).ok()?;
    (f.kind == "line" && iokey.matches(&f.iokey)).then(|| ScapMessage::Line {
        text: f.line.into_owned(),
        sensitive: f.sensitive,
    })
}

/// A message with the right key; `None` when it is malformed or of a type we do
/// not know (we cannot tell what it holds, so it is withheld).
fn decode_message(object: &Map<String, Value>, raw: &str) -> Option<ScapMessage> {
    match object.get("type")?.as_str()? {
        "line" => Some(ScapMessage::Line {
            text: object.get("line")?.as_str()?.to_owned(),
            sensitive: match object.get("sensitive") {
                None => false,
                Some(value) => value.as_bool()?,
            },
        }),
        "status" => match object.get("status")? {
            Value::Null => Some(ScapMessage::Status(None)),
            Value::String(s) => Some(ScapMessage::Status(Some(s.clone()))),
            _ => None,
        },
        "progress" => decode_progress(object.get("progress")?).map(ScapMessage::Progress),
        "interaction" => {
            let prompt = object.get("prompt")?.as_str()?.to_owned();
            match object.get("subtype")?.as_str()? {
                "choices" => decode_choices(object, raw, prompt),
                "input_line" => Some(ScapMessage::InputLine { prompt }),
                _ => None,
            }
        }
        _ => None,
    }
}

fn decode_progress(value: &Value) -> Option<Progress> {
    let o = value.as_object()?;
    // Some(None) for an absent or null count, None (malformed) for anything but a
    // non-negative integer.
    let count = |name: &str| match o.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(v) => v.as_u64().map(Some),
    };
    Some(Progress {
        name: o.get("name")?.as_str()?.to_owned(),
        total_tasks: count("totalTasks")?,
        tasks_in_flight: count("tasksInFlight")?,
        tasks_finished_ok: count("tasksFinishedOk")?,
        tasks_finished_failed: count("tasksFinishedFailed")?,
        tasks_finished_total: count("tasksFinishedTotal")?,
        tasks_percent_complete: match o.get("tasksPercentComplete") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_f64()?),
        },
        tasks_remaining: count("tasksRemaining")?,
        progress_finished: match o.get("progressFinished") {
            None | Some(Value::Null) => false,
            Some(v) => v.as_bool()?,
        },
    })
}

fn decode_choices(object: &Map<String, Value>, raw: &str, prompt: String) -> Option<ScapMessage> {
    // serde_json's map is sorted by key; read the object again to keep scap's order.
    let choices = choices::in_order(raw)?;
    let key_ok = |key: &str| !key.is_empty() && key.chars().all(is_printable_in_line);
    if choices.is_empty() || !choices.iter().all(|c| key_ok(&c.key)) {
        return None;
    }
    let default = match object.get("default") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) if choices.iter().any(|c| &c.key == key) => Some(key.clone()),
        Some(_) => return None,
    };
    Some(ScapMessage::Choices {
        prompt,
        choices,
        default,
    })
}

#[cfg(test)]
mod tests;
