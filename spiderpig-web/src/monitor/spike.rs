//! The spike rule (pure): while a job holds the lock, a panel "spikes" when
//! its latest value exceeds `max(floor, factor × baseline)`, the baseline
//! being the median of the panel's points in the `baseline_secs` before the
//! job started (0 when there are none, so only the floor counts). Trust:
//! Prometheus's numbers only ever raise a prompt; they decide nothing.

use serde::Serialize;

use super::config::SpikeRule;
use crate::views::StageMarkView;

/// What rose, from what to what, since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// The baseline (median before the job).
    pub from: f64,
    /// The latest value.
    pub to: f64,
    /// `max(floor, factor × baseline)`.
    pub threshold: f64,
    /// The stage in effect when the values went above the threshold and
    /// stayed there (`"start"` before the first stage mark, `"before"` when
    /// they were already above it before the job started).
    pub since_stage: &'static str,
    /// When that was (the first point of the run above the threshold).
    pub at_ms: i64,
}

/// The median of `values` (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// Apply the rule to a panel's points (`[t_ms, value]`, ascending) for a job
/// that started at `started_at_ms` and went through `marks`.
pub fn evaluate(
    points: &[(i64, f64)],
    started_at_ms: i64,
    marks: &[StageMarkView],
    rule: &SpikeRule,
) -> Option<Found> {
    let window_ms = i64::try_from(rule.baseline_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let from_ms = started_at_ms.saturating_sub(window_ms);
    let before: Vec<f64> = points
        .iter()
        .filter(|(t, _)| *t >= from_ms && *t < started_at_ms)
        .map(|(_, v)| *v)
        .collect();
    let baseline = median(&before).unwrap_or(0.0);
    let threshold = rule.floor.max(rule.factor * baseline);
    let during: Vec<&(i64, f64)> = points.iter().filter(|(t, _)| *t >= started_at_ms).collect();
    let (_, latest) = **during.last()?;
    if latest.is_nan() || latest <= threshold {
        return None;
    }
    // The run above the threshold that the latest value ends, followed back
    // into the time before the job if it began there.
    let run_start = points
        .iter()
        .rev()
        .take_while(|(_, v)| *v > threshold)
        .last()
        .map_or(started_at_ms, |(t, _)| *t);
    let since_stage = if run_start < started_at_ms {
        "before"
    } else {
        marks
            .iter()
            .filter(|m| m.at_ms <= run_start)
            .max_by_key(|m| m.at_ms)
            .map_or("start", |m| m.stage.as_str())
    };
    Some(Found {
        from: baseline,
        to: latest,
        threshold,
        since_stage,
        at_ms: run_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const START: i64 = 1_000 * MIN;

    fn marks() -> Vec<StageMarkView> {
        use spiderpig_policy::Stage;
        [
            (Stage::TestServers, 2),
            (Stage::Canaries, 5),
            (Stage::Production, 12),
        ]
        .into_iter()
        .map(|(stage, m)| StageMarkView {
            stage,
            at_ms: START + m * MIN,
        })
        .collect()
    }

    /// One point a minute from 40 min before the start; `during(i)` is the
    /// value `i` minutes after the start, up to `len` minutes.
    fn series(calm: f64, len: i64, during: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
        (-40..=len)
            .map(|i| (START + i * MIN, if i < 0 { calm } else { during(i) }))
            .collect()
    }

    #[test]
    fn median_table() {
        let cases: &[(&[f64], Option<f64>)] = &[
            (&[], None),
            (&[3.0], Some(3.0)),
            (&[1.0, 9.0], Some(5.0)),
            (&[5.0, 1.0, 100.0], Some(5.0)),
            (&[f64::NAN, 2.0], Some(2.0)),
        ];
        for (v, want) in cases {
            assert_eq!(median(v), *want, "{v:?}");
        }
    }

    #[test]
    fn spike_rule_table() {
        let rule = SpikeRule::default(); // floor 10, factor 3, 30 min
        struct Case {
            name: &'static str,
            points: Vec<(i64, f64)>,
            want: Option<(f64, f64, &'static str, i64)>,
        }
        let cases = vec![
            Case {
                name: "calm",
                points: series(3.0, 20, |_| 3.5),
                want: None,
            },
            Case {
                name: "spike in the canaries",
                points: series(3.0, 20, |i| if i >= 8 { 40.0 } else { 3.0 }),
                want: Some((3.0, 40.0, "canaries", START + 8 * MIN)),
            },
            Case {
                name: "above factor × baseline but under the floor",
                points: series(1.0, 20, |_| 9.0),
                want: None,
            },
            Case {
                name: "over the floor but under factor × baseline",
                points: series(20.0, 20, |_| 50.0),
                want: None,
            },
            Case {
                name: "3 × a high baseline is exceeded",
                points: series(20.0, 20, |i| if i >= 13 { 70.0 } else { 20.0 }),
                want: Some((20.0, 70.0, "production", START + 13 * MIN)),
            },
            Case {
                name: "went up and came back: the latest value counts",
                points: series(3.0, 20, |i| if (6..10).contains(&i) { 40.0 } else { 3.0 }),
                want: None,
            },
            Case {
                name: "no baseline: the floor alone, since the start",
                points: (0..=3).map(|i| (START + i * MIN, 11.0)).collect(),
                want: Some((0.0, 11.0, "start", START)),
            },
            Case {
                name: "already high before the job (under half the baseline window)",
                points: series(3.0, 20, |_| 40.0)
                    .into_iter()
                    .map(|(t, v)| (t, if t >= START - 5 * MIN { 40.0 } else { v }))
                    .collect(),
                want: Some((3.0, 40.0, "before", START - 5 * MIN)),
            },
            Case {
                name: "nothing since the start",
                points: series(3.0, -1, |_| 50.0),
                want: None,
            },
            Case {
                name: "equal to the threshold is not above it",
                points: series(3.0, 20, |_| 10.0),
                want: None,
            },
        ];
        for c in cases {
            let got = evaluate(&c.points, START, &marks(), &rule)
                .map(|f| (f.from, f.to, f.since_stage, f.at_ms));
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn baseline_window_excludes_older_points() {
        let mut points = vec![(START - 50 * MIN, 1000.0)];
        points.extend(series(2.0, 5, |_| 12.0).into_iter().skip(20));
        let f = evaluate(&points, START, &[], &SpikeRule::default()).expect("spike");
        assert_eq!((f.from, f.threshold, f.since_stage), (2.0, 10.0, "start"));
    }
}
