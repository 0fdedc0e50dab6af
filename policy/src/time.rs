//! Calendar arithmetic for UTC timestamps (milliseconds since the Unix
//! epoch): the one copy, used by the executor's messages, by the web's pages
//! (people's and machines' forms of a time) and by `ctl`, which formats times
//! and parses RFC 3339 ones. Trust: pure; no clock is read.

/// `2026-11-25 16:33:39 UTC` for a Unix time in milliseconds (for people).
pub fn utc(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = fields(ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

/// `2026-11-25T16:33:39Z` for a Unix time in milliseconds: RFC 3339 to the
/// second (for machines, e.g. an HTML `datetime` attribute).
pub fn rfc3339(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = fields(ms);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// (year, month, day, hour, minute, second) of a Unix time in milliseconds;
/// the milliseconds are dropped (rounded towards the past, also before 1970).
fn fields(ms: i64) -> (i64, u32, u32, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's days-to-civil algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month 1..=12, day 1..=31) to days since 1970-01-01: the inverse of
/// the conversion in [`utc`] (Howard Hinnant's days-from-civil).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How many days month 1..=12 of `year` has (proleptic Gregorian), so a
/// parser can refuse 2026-02-29 before [`days_from_civil`] would roll it
/// over to March.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, days_from_civil, days_in_month, rfc3339, utc};

    #[test]
    fn days_in_month_knows_the_leap_years() {
        assert_eq!(days_in_month(2026, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2026, 4), 30);
        assert_eq!(days_in_month(2026, 12), 31);
        // Each month's last day is the day before the next month's first.
        for year in [1999, 2000, 2024, 2100] {
            for month in 1..=12 {
                let last = days_from_civil(year, month, days_in_month(year, month));
                let next = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                assert_eq!(
                    last + 1,
                    days_from_civil(next.0, next.1, 1),
                    "{year}-{month}"
                );
            }
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_743_230_210_771), "2025-03-29 06:36:50 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn rfc3339_names_the_same_second_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_566_896_789), "2024-05-01T12:34:56Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        for ms in [
            -86_400_001,
            -1,
            0,
            999,
            1_743_230_210_771,
            4_102_444_800_000,
        ] {
            let people = utc(ms).replace(' ', "T").replace("TUTC", "Z");
            assert_eq!(rfc3339(ms), people, "{ms}");
        }
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [-719_468, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }
}
