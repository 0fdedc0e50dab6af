//! Prometheus's HTTP API, `GET /api/v1/query_range`: building the request,
//! reading the answer within a time-out and a size limit, and parsing the
//! JSON. Trust: Prometheus's answer is untrusted input: its size is capped,
//! it is parsed into numbers, and its error text is shown as text only.

use std::time::Duration;

use serde::Deserialize;

/// Largest answer read (a range of ≤ 2000 points for a few series is far
/// smaller).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest error text passed on to browsers.
const MAX_ERROR: usize = 300;

/// What a panel says whenever no HTTP answer came back: refused, reset, a
/// pooled connection the server closed, a DNS or TLS failure. One sentence
/// whatever the transport said, so a reader (and a test) need not know which
/// of them a stopped server happens to cause; the detail goes to the log.
pub const CANNOT_CONNECT: &str = "Prometheus is unreachable (cannot connect)";

/// What one query of one panel gave.
pub type Points = Vec<(i64, f64)>;

/// One query range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_secs: u64,
}

/// The `query_range` URL under `base` (a configured http(s) base URL).
pub fn query_url(base: &str, query: &str, r: Range) -> Result<url::Url, String> {
    let mut url = url::Url::parse(base.trim_end_matches('/'))
        .map_err(|e| format!("Prometheus is unreachable (bad base URL: {e})"))?;
    url.path_segments_mut()
        .map_err(|()| "Prometheus is unreachable (bad base URL)".to_string())?
        .pop_if_empty()
        .extend(["api", "v1", "query_range"]);
    url.query_pairs_mut()
        .append_pair("query", query)
        .append_pair("start", &secs(r.start_ms))
        .append_pair("end", &secs(r.end_ms))
        .append_pair("step", &format!("{}s", r.step_secs));
    Ok(url)
}

/// Milliseconds as Prometheus's decimal seconds.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Ask Prometheus; the error is the sentence a panel shows.
pub async fn fetch(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    r: Range,
    timeout: Duration,
) -> Result<Points, String> {
    let url = query_url(base, query, r)?;
    let unreachable = |why: String| format!("Prometheus is unreachable ({why})");
    let read = async {
        let mut res = http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = res.status();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| transport_error(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(unreachable(format!(
                    "its answer is larger than {} MiB",
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", timeout.as_secs())))??;
    parse(status.as_u16(), &body)
}

/// The panel's sentence for a failed request or answer: [`CANNOT_CONNECT`]
/// (or a time-out); the transport's own words are logged.
fn transport_error(e: &reqwest::Error) -> String {
    use std::error::Error;
    if e.is_timeout() {
        return "Prometheus is unreachable (timed out)".into();
    }
    // The innermost cause is the useful one ("Connection refused").
    let mut cause: &dyn Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    tracing::debug!(cause = %clip(&cause.to_string()), "Prometheus request failed");
    CANNOT_CONNECT.into()
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_ERROR) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Parse a `query_range` answer: a matrix; several series are summed per
/// timestamp; NaN and infinite values are left out.
pub fn parse(status: u16, body: &[u8]) -> Result<Points, String> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(_) if !(200..300).contains(&status) => {
            return Err(format!(
                "Prometheus is unreachable (it answered HTTP {status})"
            ));
        }
        Err(e) => return Err(format!("the query failed: unreadable answer ({e})")),
    };
    if answer.status != "success" {
        let why = answer.error.unwrap_or_else(|| format!("HTTP {status}"));
        return Err(format!("the query failed: {}", clip(&why)));
    }
    let data = answer
        .data
        .ok_or_else(|| "the query failed: the answer has no data".to_string())?;
    if data.result_type != "matrix" {
        return Err(format!(
            "the query failed: expected a range vector, got a {}",
            clip(&data.result_type)
        ));
    }
    let mut sum = std::collections::BTreeMap::<i64, f64>::new();
    for series in data.result {
        for (t, v) in series.values {
            let Ok(v) = v.parse::<f64>() else { continue };
            if !v.is_finite() || !t.is_finite() {
                continue;
            }
            // Seconds with up to millisecond precision.
            let ms = (t * 1000.0).round() as i64;
            *sum.entry(ms).or_insert(0.0) += v;
        }
    }
    Ok(sum.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_has_the_range_and_keeps_the_base_path() {
        let r = Range {
            start_ms: 1_700_000_000_500,
            end_ms: 1_700_003_600_000,
            step_secs: 30,
        };
        let u = query_url("http://127.0.0.1:9090/thanos/", "sum(rate(x[5m])) * 60", r).unwrap();
        assert_eq!(u.path(), "/thanos/api/v1/query_range");
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("query", "sum(rate(x[5m])) * 60"),
                ("start", "1700000000.500"),
                ("end", "1700003600.000"),
                ("step", "30s"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let u = query_url("https://p.example", "up", r).unwrap();
        assert_eq!(u.path(), "/api/v1/query_range");
    }

    #[test]
    fn parse_table() {
        let ok = |p: &[(i64, f64)]| Ok(p.to_vec());
        let cases: Vec<(u16, &str, Result<Points, String>)> = vec![
            (
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1700000000,"1.5"],[1700000030.25,"2"]]}]}}"#,
                ok(&[(1_700_000_000_000, 1.5), (1_700_000_030_250, 2.0)]),
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[
                    {"metric":{"dc":"a"},"values":[[10,"1"],[20,"2"]]},
                    {"metric":{"dc":"b"},"values":[[20,"3"],[30,"NaN"],[40,"+Inf"]]}]}}"#,
                ok(&[(10_000, 1.0), (20_000, 5.0)]),
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
                ok(&[]),
            ),
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}"#,
                Err("the query failed: 1:5: parse error: unclosed left parenthesis".into()),
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
                Err("the query failed: expected a range vector, got a vector".into()),
            ),
            (
                502,
                "<html>Bad Gateway</html>",
                Err("Prometheus is unreachable (it answered HTTP 502)".into()),
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(parse(status, body.as_bytes()), want, "{body}");
        }
        let garbled = parse(200, b"{\"status\":").unwrap_err();
        assert!(
            garbled.starts_with("the query failed: unreadable answer"),
            "{garbled}"
        );
    }
}
