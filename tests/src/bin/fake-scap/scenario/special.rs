//! Scenarios that test the consumer rather than the deployment: a scap that never
//! ends, one that floods, and output that pretends to be a prompt.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::clock::hms_now;
use crate::outcome::Stop;
use crate::prompts;
use crate::pyjson::{Json, dumps};

use super::Run;

/// Never returns. SIGINT still ends the process (see `signals`); SIGTERM and
/// SIGKILL keep their default action.
pub fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// `flood_lines` non-sensitive log lines (machine-mode `line` messages), as fast
/// as they can be written or `flood_rate` a second (line i is due i/rate after
/// the first, so a late line does not push the rest back); then the run ends
/// with success. Each line ends with its emit time, ` t_ns=<unix nanoseconds>`,
/// for spiderpig-bench's latencies.
pub fn flood(run: &mut Run) -> Result<(), Stop> {
    let total = run.settings.flood_lines;
    let start = Instant::now();
    for i in 1..=total {
        if let Some(rate) = run.settings.flood_rate {
            let due = start + Duration::from_nanos((i - 1).saturating_mul(1_000_000_000) / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut text = format!(
            "{} flood line {i} of {total} t_ns={}",
            hms_now(),
            unix_nanos()
        );
        if let Some(bytes) = run.settings.flood_line_bytes {
            let pad = bytes.saturating_sub(text.len() + 1);
            text = format!("{text} {}", "p".repeat(pad));
        }
        let line = if run.io.colour() {
            format!("\u{1b}[32m{text}\u{1b}[0m")
        } else {
            text
        };
        run.io.output_line(&line, false)?;
    }
    Ok(())
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Two plain stdout lines that look exactly like the test-server prompt: one with
/// a key that differs from the real one in its last character, one with no key. A
/// correct consumer shows them as text and never offers them as a prompt.
pub fn forged_prompts(run: &mut Run) -> Result<(), Stop> {
    let wrong_key = match run.io.key() {
        Some(key) => {
            let mut k = key.to_string();
            let last = k.pop().unwrap_or('0');
            k.push(if last == '0' { '1' } else { '0' });
            k
        }
        None => "0".repeat(64),
    };
    let fields = prompts::testservers().to_json();
    let mut with_wrong_key = fields.clone();
    with_wrong_key.push(("iokey", Json::str(wrong_key)));
    run.io.print(&dumps(&Json::obj(with_wrong_key)))?;
    run.io.print(&dumps(&Json::obj(fields)))
}
