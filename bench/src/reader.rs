//! One watcher's reading loop, shared by SpiderPig's `/ws` and the baseline:
//! `log` frames carry records whose text ends with fake-scap's emit time
//! (`... flood line I of N t_ns=T`); each flood line's arrival is stamped and
//! its latency kept.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::{Error, Message};

/// What one watcher saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Emit → arrival of each flood line received, in nanoseconds.
    pub latencies: Vec<u64>,
    /// Distinct flood lines received (by line number).
    pub lines: u64,
    /// `skipped` frames received.
    pub skipped: u64,
    /// Earliest emit time and latest arrival (Unix nanoseconds).
    pub first_emit: Option<u64>,
    pub last_arrival: Option<u64>,
    /// Why the loop ended early, if it did.
    pub ended: Option<String>,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    text: String,
}

/// Unix time in nanoseconds.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `(line number, emit nanos)` of a flood line.
pub fn parse_flood_line(text: &str) -> Option<(u64, u64)> {
    let rest = &text[text.find("flood line ")? + "flood line ".len()..];
    let line: u64 = rest.split(' ').next()?.parse().ok()?;
    let t = &rest[rest.find("t_ns=")? + "t_ns=".len()..];
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    Some((line, t[..digits].parse().ok()?))
}

/// Read frames until flood line `total` arrives, the socket ends, or
/// nothing comes for `idle`.
pub async fn read_until<S>(stream: &mut S, total: u64, idle: Duration) -> Seen
where
    S: Stream<Item = Result<Message, Error>> + Unpin,
{
    let mut seen = Seen {
        latencies: Vec::with_capacity(total as usize),
        ..Seen::default()
    };
    let mut got = vec![false; total as usize + 1];
    loop {
        let msg = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                seen.ended = Some(format!("nothing for {idle:?}"));
                return seen;
            }
            Ok(None) => {
                seen.ended = Some("stream ended".into());
                return seen;
            }
            Ok(Some(Err(e))) => {
                seen.ended = Some(e.to_string());
                return seen;
            }
            Ok(Some(Ok(m))) => m,
        };
        let Message::Text(text) = msg else { continue };
        let arrival = unix_nanos();
        let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
            continue;
        };
        match frame.kind.as_str() {
            "skipped" => seen.skipped += 1,
            "log" => {
                let mut done = false;
                for r in &frame.records {
                    let Some((line, emit)) = parse_flood_line(&r.text) else {
                        continue;
                    };
                    if let Some(slot) = got.get_mut(line as usize).filter(|s| !**s) {
                        *slot = true;
                        seen.lines += 1;
                        seen.latencies.push(arrival.saturating_sub(emit));
                        seen.first_emit = Some(seen.first_emit.map_or(emit, |f| f.min(emit)));
                        seen.last_arrival = Some(arrival);
                    }
                    done |= line == total;
                }
                if done {
                    return seen;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_flood_line_with_its_emit_time() {
        let text = "20:51:02 flood line 123 of 5000 t_ns=1764103862123456789";
        assert_eq!(
            parse_flood_line(text),
            Some((123, 1_764_103_862_123_456_789))
        );
        assert_eq!(parse_flood_line("20:51:02 flood line 1 of 5"), None);
        assert_eq!(parse_flood_line("something else"), None);
    }
}
