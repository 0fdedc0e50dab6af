//! The optional settings file `$HOME/fake-scap.json`.
//!
//! The executor gives scap a fixed environment (PATH, HOME, LANG, SSH_AUTH_SOCK and
//! the SPIDERPIG_* variables), so a test or a demo cannot configure fake-scap through
//! the environment; it writes this file into the HOME it gives the executor instead.
//! A file that exists but does not parse is an error: a typo must not silently turn a
//! slow demo into an instant one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::clock::Pace;

pub const FILE_NAME: &str = "fake-scap.json";
pub const DEFAULT_FLOOD_LINES: u64 = 100_000;
const MAX_FLOOD_LINES: u64 = 100_000_000;
/// Bytes a padded flood line may have, at most (the executor cuts at 64 KiB).
const MAX_FLOOD_LINE_BYTES: usize = 1024 * 1024;
/// Lines per second of a paced flood, at most.
const MAX_FLOOD_RATE: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub pace: Pace,
    pub flood_lines: u64,
    /// Lines per second of the flood scenario; `None`: as fast as the pipe
    /// takes them.
    pub flood_rate: Option<u64>,
    /// Pad each flood line to this many bytes (`None`: as they come, ~70).
    pub flood_line_bytes: Option<usize>,
    pub record_invocations: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pace: Pace::INSTANT,
            flood_lines: DEFAULT_FLOOD_LINES,
            flood_rate: None,
            flood_line_bytes: None,
            record_invocations: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    pace: Option<PaceSetting>,
    flood_lines: Option<u64>,
    flood_rate: Option<u64>,
    flood_line_bytes: Option<usize>,
    record_invocations: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PaceSetting {
    Named(String),
    Factor(f64),
}

/// Reads `<home>/fake-scap.json`; no HOME or no file means the defaults.
pub fn load(home: Option<&Path>) -> Result<Settings, String> {
    let Some(home) = home else {
        return Ok(Settings::default());
    };
    let path = home.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn invocations_path(home: &Path) -> PathBuf {
    home.join("fake-scap-invocations.jsonl")
}

fn parse(text: &str) -> Result<Settings, String> {
    let file: SettingsFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let defaults = Settings::default();
    let pace = match file.pace {
        None => defaults.pace,
        Some(PaceSetting::Named(name)) => match name.as_str() {
            "instant" => Pace::INSTANT,
            "realistic" => Pace::REALISTIC,
            _ => {
                return Err(format!(
                    "pace must be \"instant\", \"realistic\" or a number, not {name:?}"
                ));
            }
        },
        Some(PaceSetting::Factor(f)) => Pace::factor(f)
            .ok_or_else(|| format!("pace must be a number from 0 to {}", Pace::MAX_FACTOR))?,
    };
    let flood_lines = file.flood_lines.unwrap_or(defaults.flood_lines);
    if flood_lines > MAX_FLOOD_LINES {
        return Err(format!("flood_lines must be at most {MAX_FLOOD_LINES}"));
    }
    let flood_rate = match file.flood_rate {
        Some(r) if r == 0 || r > MAX_FLOOD_RATE => {
            return Err(format!(
                "flood_rate must be from 1 to {MAX_FLOOD_RATE} lines per second"
            ));
        }
        r => r,
    };
    if file
        .flood_line_bytes
        .is_some_and(|b| b > MAX_FLOOD_LINE_BYTES)
    {
        return Err(format!(
            "flood_line_bytes must be at most {MAX_FLOOD_LINE_BYTES}"
        ));
    }
    Ok(Settings {
        pace,
        flood_lines,
        flood_rate,
        flood_line_bytes: file.flood_line_bytes,
        record_invocations: file
            .record_invocations
            .unwrap_or(defaults.record_invocations),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field() {
        let s = parse(
            r#"{"pace": "realistic", "flood_lines": 7, "flood_rate": 500, "flood_line_bytes": 900, "record_invocations": true}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            Settings {
                pace: Pace::REALISTIC,
                flood_lines: 7,
                flood_rate: Some(500),
                flood_line_bytes: Some(900),
                record_invocations: true
            }
        );
        assert_eq!(
            parse(r#"{"pace": 0.25}"#).unwrap().pace,
            Pace::factor(0.25).unwrap()
        );
        assert_eq!(parse("{}").unwrap(), Settings::default());
    }

    #[test]
    fn rejects_mistakes() {
        for bad in [
            r#"{"pace": "fast"}"#,
            r#"{"pace": -1}"#,
            r#"{"paec": "realistic"}"#,
            r#"{"flood_lines": -5}"#,
            r#"{"flood_lines": 1000000000}"#,
            r#"{"flood_rate": 0}"#,
            r#"{"flood_rate": 10000001}"#,
            "not json",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
