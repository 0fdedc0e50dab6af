//! `[monitoring]` in web.toml: where the Prometheus-compatible HTTP API is,
//! how often to ask it, and the panels (docs/CONFIG.md, "Monitoring").
//! Trust: read from the root-owned configuration file; a bad value stops
//! the start naming the key.

use serde::Deserialize;

use crate::error::WebError;

/// Most panels a page shows.
pub const MAX_PANELS: usize = 8;
/// Longest PromQL query, bytes.
pub const MAX_QUERY: usize = 2048;
/// Most points one query may ask for (`window_secs / step_secs`, after
/// stretching the window over a job's baseline; Prometheus allows 11 000).
pub const MAX_POINTS: u64 = 2000;

/// The default panel's query: MediaWiki's error rate per minute, from the
/// counter `mediawiki_errors_total` (errors and exceptions logged by
/// MediaWiki, all wikis and servers). Site-specific: set yours.
pub const DEFAULT_QUERY: &str = "sum(rate(mediawiki_errors_total[5m])) * 60";

/// `[monitoring]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    /// Base URL of the Prometheus-compatible HTTP API (Prometheus, Thanos
    /// Query ...), e.g. `http://prometheus.svc:9090`; `/api/v1/query_range`
    /// is appended. Absent: monitoring is off and panels say so.
    pub prometheus_url: Option<String>,
    /// Time-out of one query.
    pub timeout_secs: u64,
    /// How often all panels are queried (once for all viewers).
    pub interval_secs: u64,
    /// How far back a chart reaches.
    pub window_secs: u64,
    /// Resolution (the query's `step`).
    pub step_secs: u64,
    pub panels: Vec<Panel>,
}

/// `[[monitoring.panels]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub title: String,
    /// PromQL; several series are summed per timestamp.
    pub query: String,
    /// Words after a value, e.g. `errors/min`.
    #[serde(default)]
    pub unit: String,
    /// The spike rule; absent: this panel never prompts.
    #[serde(default)]
    pub spike: Option<SpikeRule>,
}

/// `spike = { floor, factor, baseline_secs }`: a spike is a latest value
/// above `max(floor, factor × baseline)`, the baseline being the median of
/// the `baseline_secs` before the job started.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeRule {
    pub floor: f64,
    pub factor: f64,
    pub baseline_secs: u64,
}

impl Default for SpikeRule {
    fn default() -> Self {
        SpikeRule {
            floor: 10.0,
            factor: 3.0,
            baseline_secs: 1800,
        }
    }
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            prometheus_url: None,
            timeout_secs: 5,
            interval_secs: 15,
            window_secs: 3600,
            step_secs: 30,
            panels: vec![Panel {
                title: "MediaWiki errors".into(),
                query: DEFAULT_QUERY.into(),
                unit: "errors/min".into(),
                spike: Some(SpikeRule::default()),
            }],
        }
    }
}

fn bad(key: &str, reason: impl Into<String>) -> WebError {
    WebError::BadConfig {
        key: format!("monitoring.{key}"),
        reason: reason.into(),
    }
}

impl Monitoring {
    /// Is there a Prometheus to ask?
    pub fn enabled(&self) -> bool {
        self.prometheus_url.is_some()
    }

    pub fn validate(&self) -> Result<(), WebError> {
        if let Some(u) = &self.prometheus_url {
            let url =
                url::Url::parse(u).map_err(|e| bad("prometheus_url", format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(bad("prometheus_url", "must be an http(s) URL"));
            }
            if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
                return Err(bad(
                    "prometheus_url",
                    "a base URL only: no query, fragment or user name",
                ));
            }
        }
        for (key, v, max) in [
            ("timeout_secs", self.timeout_secs, 120),
            ("interval_secs", self.interval_secs, 3600),
            ("window_secs", self.window_secs, 7 * 86400),
            ("step_secs", self.step_secs, 3600),
        ] {
            if v == 0 || v > max {
                return Err(bad(key, format!("must be between 1 and {max}")));
            }
        }
        if self.timeout_secs > self.interval_secs {
            return Err(bad("timeout_secs", "must not exceed interval_secs"));
        }
        if self.window_secs / self.step_secs > MAX_POINTS {
            return Err(bad(
                "step_secs",
                format!("window_secs / step_secs must be at most {MAX_POINTS} points"),
            ));
        }
        if self.panels.len() > MAX_PANELS {
            return Err(bad("panels", format!("at most {MAX_PANELS} panels")));
        }
        for (i, p) in self.panels.iter().enumerate() {
            let key = |k: &str| format!("panels[{i}].{k}");
            if p.title.trim().is_empty() || p.title.chars().count() > 80 {
                return Err(bad(&key("title"), "must be 1 to 80 characters"));
            }
            if p.query.trim().is_empty() || p.query.len() > MAX_QUERY {
                return Err(bad(&key("query"), "must be 1 byte to 2 KiB"));
            }
            if p.unit.chars().count() > 40 {
                return Err(bad(&key("unit"), "at most 40 characters"));
            }
            if let Some(s) = &p.spike {
                let ok = |v: f64| v.is_finite() && v > 0.0;
                if !ok(s.floor) || !ok(s.factor) {
                    return Err(bad(
                        &key("spike"),
                        "floor and factor must be positive numbers",
                    ));
                }
                if s.baseline_secs == 0 || s.baseline_secs > 86400 {
                    return Err(bad(
                        &key("spike.baseline_secs"),
                        "must be between 1 and 86400",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Monitoring, String> {
        let m: Monitoring = toml::from_str(text).map_err(|e| e.to_string())?;
        m.validate().map_err(|e| e.to_string())?;
        Ok(m)
    }

    #[test]
    fn defaults_are_off_with_the_error_panel() {
        let m = parse("").unwrap();
        assert!(!m.enabled());
        assert_eq!(m.interval_secs, 15);
        assert_eq!(m.panels.len(), 1);
        assert_eq!(m.panels[0].title, "MediaWiki errors");
        assert_eq!(m.panels[0].spike, Some(SpikeRule::default()));
    }

    #[test]
    fn panels_and_partial_spike_rules() {
        let m = parse(
            "prometheus_url = \"https://thanos.example.org\"\n\
             [[panels]]\ntitle = \"5xx\"\nquery = \"sum(rate(x[5m]))\"\nspike = { factor = 4 }",
        )
        .unwrap();
        assert!(m.enabled());
        let s = m.panels[0].spike.unwrap();
        assert_eq!((s.floor, s.factor, s.baseline_secs), (10.0, 4.0, 1800));
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let long = format!(
            "[[panels]]\ntitle = \"t\"\nquery = \"{}\"",
            "a".repeat(2049)
        );
        let many = "[[panels]]\ntitle = \"t\"\nquery = \"q\"\n".repeat(9);
        let cases: &[(&str, &str)] = &[
            ("prometheus_url = \"ftp://x\"", "monitoring.prometheus_url"),
            (
                "prometheus_url = \"not a url\"",
                "monitoring.prometheus_url",
            ),
            (
                "prometheus_url = \"http://x/?q=1\"",
                "monitoring.prometheus_url",
            ),
            ("interval_secs = 0", "monitoring.interval_secs"),
            ("timeout_secs = 0", "monitoring.timeout_secs"),
            ("timeout_secs = 30", "monitoring.timeout_secs"),
            ("step_secs = 1", "monitoring.step_secs"),
            (&long, "monitoring.panels[0].query"),
            (&many, "monitoring.panels"),
            (
                "[[panels]]\ntitle = \"\"\nquery = \"q\"",
                "monitoring.panels[0].title",
            ),
            (
                "[[panels]]\ntitle = \"t\"\nquery = \"q\"\nspike = { floor = -1 }",
                "monitoring.panels[0].spike",
            ),
            (
                "[[panels]]\ntitle = \"t\"\nquery = \"q\"\nspike = { factor = 0 }",
                "monitoring.panels[0].spike",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
