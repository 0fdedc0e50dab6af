//! The producer's ceiling: fake-scap's flood with nothing behind the pipe but
//! the bench reading lines, in the environment the executor gives it
//! (machine mode, `FORCE_COLOR`). No server can deliver lines faster than
//! they are written, so SpiderPig's throughput is also shown against this.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{Context, bail};

use crate::flood::Flood;
use crate::reader::{parse_flood_line, unix_nanos};

/// fake-scap playing `flood`, its confirmation answered, its stdout piped.
pub struct FakeScap {
    pub child: Child,
    /// Its HOME, with the settings file; removed when dropped.
    _home: tempfile::TempDir,
}

impl FakeScap {
    pub fn start(flood: Flood) -> anyhow::Result<FakeScap> {
        let home = tempfile::tempdir()?;
        flood.configure(home.path())?;
        let mut child = Command::new(spiderpig_tests::bins::fake_scap())
            .args(["backport", "1006"])
            .env_clear()
            .env("HOME", home.path())
            .env("SPIDERPIG_IO_KEY", "7a".repeat(32))
            .env("FORCE_COLOR", "1")
            .env("LANG", "C.UTF-8")
            .env("SSH_AUTH_SOCK", home.path().join("agent"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn fake-scap")?;
        // The answer to the confirmation prompt, waiting in the pipe.
        child.stdin.take().context("stdin")?.write_all(b"y\n")?;
        Ok(FakeScap { child, _home: home })
    }

    /// Its stdout, line by line.
    pub fn lines(&mut self) -> anyhow::Result<Lines<BufReader<ChildStdout>>> {
        Ok(BufReader::new(self.child.stdout.take().context("stdout")?).lines())
    }
}

/// Lines per second fake-scap writes into a pipe the bench drains.
pub fn ceiling(lines: u64) -> anyhow::Result<f64> {
    let mut fake = FakeScap::start(Flood { lines, rate: None })?;
    let out = fake.lines()?;
    let (mut first, mut last, mut seen) = (None, 0, 0u64);
    for line in out {
        let line = line?;
        if let Some((_, emit)) = parse_flood_line(&line) {
            first.get_or_insert(emit);
            last = unix_nanos();
            seen += 1;
        }
    }
    let status = fake.child.wait()?;
    if !status.success() || seen != lines {
        bail!("fake-scap alone: {status}, {seen} of {lines} lines");
    }
    let span = last.saturating_sub(first.unwrap_or(last)) as f64 / 1e9;
    Ok(lines as f64 / span.max(1e-9))
}
