//! scap's progress reporter in machine mode (`SpiderpigProgressReporter`): every
//! change is a `progress` message; the text line (`HH:MM:SS name:  42% (ok: ...)`,
//! padded to 80 columns) goes to stderr at most every 30 seconds, and always at
//! the end. In terminal mode only the text line is written.

use std::time::{Duration, Instant};

use crate::clock::hms_now;
use crate::outcome::Stop;
use crate::protocol::Io;
use crate::pyjson::Json;

const TEXT_INTERVAL: Duration = Duration::from_secs(30);

pub struct Reporter {
    name: String,
    expect: u64,
    done: u64,
    ok: u64,
    failed: u64,
    in_flight: Option<u64>,
    finished: bool,
    last_text: Option<Instant>,
}

impl Reporter {
    pub fn new(name: impl Into<String>, expect: u64) -> Reporter {
        Reporter {
            name: name.into(),
            expect,
            done: 0,
            ok: 0,
            failed: 0,
            in_flight: None,
            finished: false,
            last_text: None,
        }
    }

    /// Changes the expected count without reporting (scap's `expect`).
    pub fn expect(&mut self, count: u64) {
        self.expect = count;
    }

    pub fn start(&mut self, io: &Io) -> Result<(), Stop> {
        self.report(io)
    }

    pub fn add_in_flight(&mut self, io: &Io) -> Result<(), Stop> {
        self.in_flight = Some(self.in_flight.unwrap_or(0) + 1);
        self.report(io)
    }

    pub fn add_success(&mut self, io: &Io) -> Result<(), Stop> {
        self.done += 1;
        self.ok += 1;
        self.in_flight = self.in_flight.map(|n| n.saturating_sub(1));
        self.report(io)
    }

    pub fn finish(&mut self, io: &Io) -> Result<(), Stop> {
        self.finished = true;
        self.report(io)
    }

    fn percent(&self) -> u64 {
        100 * self.done / self.expect.max(1)
    }

    fn remaining(&self) -> u64 {
        self.expect
            .saturating_sub(self.done + self.in_flight.unwrap_or(0))
    }

    fn text(&self) -> String {
        let in_flight = self
            .in_flight
            .map(|n| format!("in-flight: {n}; "))
            .unwrap_or_default();
        let line = format!(
            "{} {}: {:>3}% ({in_flight}ok: {}; fail: {}; left: {}) ",
            hms_now(),
            self.name,
            self.percent(),
            self.ok,
            self.failed,
            self.remaining(),
        );
        format!("{line:<80}")
    }

    fn report(&mut self, io: &Io) -> Result<(), Stop> {
        let now = Instant::now();
        if self.finished
            || self
                .last_text
                .is_none_or(|t| now.duration_since(t) >= TEXT_INTERVAL)
        {
            io.print_err(&self.text())?;
            self.last_text = Some(now);
        }
        let progress = Json::obj([
            ("name", Json::str(self.name.clone())),
            ("totalTasks", Json::Int(self.expect)),
            ("tasksInFlight", Json::opt_int(self.in_flight)),
            ("tasksFinishedOk", Json::Int(self.ok)),
            ("tasksFinishedFailed", Json::Int(self.failed)),
            ("tasksFinishedTotal", Json::Int(self.done)),
            ("tasksPercentComplete", Json::Int(self.percent())),
            ("tasksRemaining", Json::Int(self.remaining())),
            ("progressFinished", Json::Bool(self.finished)),
        ]);
        io.send(vec![
            ("type", Json::str("progress")),
            ("progress", progress),
        ])
    }
}
