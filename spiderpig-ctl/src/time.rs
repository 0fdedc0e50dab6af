//! Times given on the command line: `--until` of `freeze` and `--since` of
//! `audit`. Trust: typed by an operator on the host.
//!
//! A time is either an RFC 3339 timestamp (`2026-11-25T18:00:00Z`,
//! `2026-11-25T19:00:00+01:00`) or a duration (`2h`, `30m`, `1h30m`, `1d`),
//! counted forwards from now for `--until` and backwards for `--since`. The
//! conversion to epoch milliseconds happens here, on the client, so the
//! executor only ever sees one absolute instant.

use std::time::{SystemTime, UNIX_EPOCH};

use spiderpig_policy::time::{days_from_civil, days_in_month, utc};

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// clap value parser for `freeze --until`.
pub(super) fn until_arg(s: &str) -> Result<i64, String> {
    parse_until(s, now_ms())
}

/// clap value parser for `audit --since`.
pub(super) fn since_arg(s: &str) -> Result<i64, String> {
    parse_since(s, now_ms())
}

/// The end of a freeze: a future instant. A time in the past is refused
/// rather than sent, because a freeze that has already ended is surely a typo.
pub(super) fn parse_until(s: &str, now_ms: i64) -> Result<i64, String> {
    let at = match parse_duration_ms(s) {
        Some(d) => now_ms.checked_add(d?).ok_or("the duration is too long")?,
        None => parse_rfc3339_ms(s)?,
    };
    if at <= now_ms {
        return Err(format!(
            "{} is in the past (now is {}): give a future time, or leave out --until \
             to freeze until `unfreeze`",
            utc(at),
            utc(now_ms)
        ));
    }
    Ok(at)
}

/// The start of an audit listing: an instant, or a duration ago.
pub(super) fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    match parse_duration_ms(s) {
        Some(d) => Ok(now_ms.saturating_sub(d?).max(0)),
        None => parse_rfc3339_ms(s),
    }
}

/// `Some` if `s` looks like a duration (starts with a digit and has no `-`,
/// which every RFC 3339 date has), then whether it is a good one.
fn parse_duration_ms(s: &str) -> Option<Result<i64, String>> {
    if !s.starts_with(|c: char| c.is_ascii_digit()) || s.contains('-') {
        return None;
    }
    Some(duration_ms(s))
}

fn duration_ms(s: &str) -> Result<i64, String> {
    let bad =
        || format!("`{s}` is not a duration: use a number and a unit, e.g. 30m, 2h, 1h30m, 1d");
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit_ms: i64 = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or("the duration is too long")?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    if total == 0 {
        return Err(format!("`{s}` is a zero duration"));
    }
    Ok(total)
}

/// RFC 3339 `date-time` (a `T`, `t` or space between date and time; `Z` or a
/// numeric offset; optional fraction of a second, kept to milliseconds).
fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    let bad = |why: &str| {
        format!(
            "`{s}` is not a time ({why}): use RFC 3339 like 2026-11-25T18:00:00Z, or a duration like 2h"
        )
    };
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return Err(bad("too short"));
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let part = &s[from..to];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("digits expected"));
        }
        part.parse().map_err(|_| bad("digits expected"))
    };
    let fixed = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if fixed.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("no such time of day"));
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad("digits expected after '.'"));
        }
        let first3 = format!("{:0<3}", &frac[..n.min(3)]);
        millis = first3.parse::<i64>().map_err(|_| bad("bad fraction"))?;
        rest = &frac[n..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(bad("bad offset")),
            };
            let (oh, om) = (num_in(rest, 1, 3), num_in(rest, 4, 6));
            match (oh, om) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => sign * (h * 3600 + m * 60),
                _ => return Err(bad("bad offset")),
            }
        }
        _ => return Err(bad("needs Z or an offset like +01:00")),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Ok(secs * 1000 + millis)
}

fn num_in(s: &str, from: usize, to: usize) -> Option<i64> {
    let part = s.get(from..to)?;
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25 16:33:39.500 UTC
    const NOW: i64 = 1_795_624_419_500;

    #[test]
    fn now_constant_is_what_it_says() {
        assert_eq!(utc(NOW), "2026-11-25 16:33:39 UTC");
    }

    #[test]
    fn until_accepts_future_times_and_durations() {
        let cases: &[(&str, i64)] = &[
            ("2026-11-25T18:00:00Z", 1_795_629_600_000),
            ("2026-11-25t18:00:00z", 1_795_629_600_000),
            ("2026-11-25 18:00:00Z", 1_795_629_600_000),
            ("2026-11-25T19:00:00+01:00", 1_795_629_600_000),
            ("2026-11-25T12:30:00-05:30", 1_795_629_600_000),
            ("2026-11-25T18:00:00.25Z", 1_795_629_600_250),
            ("2026-11-25T18:00:00.123456789Z", 1_795_629_600_123),
            ("2028-02-29T00:00:00Z", 1_835_395_200_000),
            ("2h", NOW + 7_200_000),
            ("30m", NOW + 1_800_000),
            ("1h30m", NOW + 5_400_000),
            ("45s", NOW + 45_000),
            ("1d", NOW + 86_400_000),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_until(input, NOW), Ok(want), "{input}");
        }
    }

    #[test]
    fn until_refuses_the_past_with_a_clear_message() {
        for input in [
            "2026-11-25T16:00:00Z",
            "2020-01-01T00:00:00Z",
            "2026-11-25T16:33:39.500Z",
        ] {
            let err = parse_until(input, NOW).unwrap_err();
            assert!(err.contains("is in the past"), "{input}: {err}");
            assert!(err.contains("now is 2026-11-25 16:33:39 UTC"), "{err}");
        }
    }

    #[test]
    fn malformed_times_are_refused() {
        for input in [
            "",
            "tomorrow",
            "2h30",
            "h",
            "0m",
            "5w",
            "-2h",
            "99999999999999999999h",
            "2026-11-25",
            "2026-11-25T18:00:00",
            "2026-13-01T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T18:60:00Z",
            "2026-11-25T18:00:00+1:00",
            "2026-11-25T18:00:00+25:00",
            "2026-11-25T18:00:00.Z",
            "2026-11-25X18:00:00Z",
            "2026-11-25T18:00:00Zjunk",
            "２026-11-25T18:00:00Z",
        ] {
            assert!(parse_until(input, NOW).is_err(), "{input:?} was accepted");
        }
    }

    #[test]
    fn since_counts_durations_backwards() {
        assert_eq!(parse_since("2h", NOW), Ok(NOW - 7_200_000));
        assert_eq!(
            parse_since("2026-11-25T18:00:00Z", NOW),
            Ok(1_795_629_600_000)
        );
        assert_eq!(
            parse_since("2020-01-01T00:00:00Z", NOW),
            Ok(1_577_836_800_000)
        );
        assert_eq!(parse_since("100000d", NOW), Ok(0));
        assert!(parse_since("yesterday", NOW).is_err());
    }

    #[test]
    fn rfc3339_agrees_with_the_formatting() {
        for ms in [
            0,
            951_782_400_000,
            1_743_230_210_000,
            NOW - 500,
            4_102_444_800_000,
        ] {
            let text = utc(ms).replace(" UTC", "Z").replacen(' ', "T", 1);
            assert_eq!(parse_rfc3339_ms(&text), Ok(ms), "{text}");
        }
    }
}
