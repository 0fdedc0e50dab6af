//! A scenario script is data: a list of [`Step`]s that `Run::play` turns into
//! scap's output. Texts may contain `{name}` placeholders filled from the run's
//! variables (`{user}`, `{sal}`, `{v}`, ...).

use std::time::Instant;

use crate::clock::human_duration;
use crate::outcome::Stop;
use crate::progress::Reporter;
use crate::protocol::Level;

use super::Run;

#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// A log record at INFO (green).
    Info(&'static str),
    /// A log record at INFO written right after an ANSI reset, as the line after
    /// `git am`'s output appears in the recordings.
    InfoAfterReset(&'static str),
    Warn(&'static str),
    Error(&'static str),
    /// `print()`: plain text, no timestamp (with colour codes removed when colour is off).
    Print(&'static str),
    /// `output_line(text, sensitive=True)`: security-patch output.
    Sensitive(&'static str),
    Status(&'static str),
    ClearStatus,
    /// scap's `Timer`: logs `Started <name>` ...
    Start(&'static str),
    /// ... and `Finished <name> (duration: 00m 03s)`, measured.
    Finish(&'static str),
    /// A progress bar that runs to the end.
    Progress(&'static str, Bar),
    /// A pause of this many seconds at the realistic pace.
    Wait(f64),
}

#[derive(Debug, Clone, Copy)]
pub struct Bar {
    pub total: u64,
    /// Realistic duration of the whole bar.
    pub secs: f64,
    pub style: BarStyle,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BarStyle {
    /// Tasks finish one after the other (`tasksInFlight` stays null).
    Count,
    /// All tasks start, then finish (scap's `add_in_flight`).
    InFlight,
    /// As `InFlight`, but the bar starts with 0 tasks expected (php-fpm restarts).
    LateInFlight,
}

impl Run<'_> {
    pub fn play(&mut self, steps: &[Step]) -> Result<(), Stop> {
        for step in steps {
            self.step(*step)?;
        }
        Ok(())
    }

    fn step(&mut self, step: Step) -> Result<(), Stop> {
        match step {
            Step::Info(t) => self.io.log(Level::Info, &self.fill(t)),
            Step::InfoAfterReset(t) => {
                let reset = if self.io.colour() { "\u{1b}[0m" } else { "" };
                self.io.log_after(Level::Info, reset, &self.fill(t))
            }
            Step::Warn(t) => self.io.log(Level::Warning, &self.fill(t)),
            Step::Error(t) => self.io.log(Level::Error, &self.fill(t)),
            Step::Print(t) => {
                let text = self.fill(t);
                let text = if self.io.colour() {
                    text
                } else {
                    strip_sgr(&text)
                };
                self.io.print(&text)
            }
            Step::Sensitive(t) => self.io.output_line(&self.fill(t), true),
            Step::Status(t) => self.io.status(Some(&self.fill(t))),
            Step::ClearStatus => self.io.status(None),
            Step::Start(name) => {
                let name = self.fill(name);
                self.io.log(Level::Info, &format!("Started {name}"))?;
                self.timers.push((name, Instant::now()));
                Ok(())
            }
            Step::Finish(name) => {
                let name = self.fill(name);
                let started = match self.timers.iter().rposition(|(n, _)| *n == name) {
                    Some(i) => self.timers.remove(i).1,
                    None => Instant::now(),
                };
                let took = human_duration(started.elapsed());
                self.io
                    .log(Level::Info, &format!("Finished {name} (duration: {took})"))
            }
            Step::Progress(name, bar) => self.progress_bar(name, bar),
            Step::Wait(secs) => {
                self.pace.pause(secs);
                Ok(())
            }
        }
    }

    fn progress_bar(&mut self, name: &str, bar: Bar) -> Result<(), Stop> {
        let tick = bar.secs / bar.total.max(1) as f64;
        let initial = if bar.style == BarStyle::LateInFlight {
            0
        } else {
            bar.total
        };
        let mut r = Reporter::new(self.fill(name), initial);
        r.start(self.io)?;
        r.expect(bar.total);
        if bar.style != BarStyle::Count {
            for _ in 0..bar.total {
                r.add_in_flight(self.io)?;
            }
        }
        for _ in 0..bar.total {
            self.pace.pause(tick);
            r.add_success(self.io)?;
        }
        r.finish(self.io)
    }
}

/// Removes SGR colour sequences (`ESC [ ... m`).
pub fn strip_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_sgr;

    #[test]
    fn strips_colours_only() {
        assert_eq!(strip_sgr("\u{1b}[1;35m_/\u{1b}[0m \u{7}x"), "_/ \u{7}x");
    }
}
