//! The invocation record: one JSON line appended to
//! `$HOME/fake-scap-invocations.jsonl` when the settings ask for it, so that tests
//! can prove exactly how the executor started scap (argv, environment, working
//! directory, process group, what stdin is).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::Path;

use nix::sys::stat::{SFlag, fstat};
use nix::unistd::{getpgrp, getpid, getppid};
use serde_json::json;

use crate::settings;

/// Bit of SIGINT (2) in the masks of `/proc/self/status`.
const SIGINT_BIT: u64 = 1 << (2 - 1);

pub fn record(home: &Path) -> std::io::Result<()> {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env: BTreeMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stdin = std::io::stdin();
    let stdin_is_pipe = fstat(stdin.as_fd())
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO)
        .unwrap_or(false);
    let rec = json!({
        "argv": argv,
        "env": env,
        "cwd": cwd,
        "pid": getpid().as_raw(),
        "pgid": getpgrp().as_raw(),
        "ppid": getppid().as_raw(),
        "stdin_is_pipe": stdin_is_pipe,
        "stdin_is_tty": stdin.is_terminal(),
        // A child started with SIGINT ignored cannot be interrupted (neither can
        // Python, hence scap); the executor must not start scap that way.
        "sigint_ignored": signal_mask("SigIgn").is_some_and(|m| m & SIGINT_BIT != 0),
    });
    let mut line = rec.to_string();
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(settings::invocations_path(home))?;
    // One write, so that records of concurrent runs never interleave.
    file.write_all(line.as_bytes())
}

/// A signal mask line (`SigIgn:`, `SigBlk:`) of `/proc/self/status`.
fn signal_mask(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}
