//! History filters (`user`, `state`, `before`, `limit`), shared by
//! `GET /api/jobs` and the `/history` page. Trust: query strings are
//! untrusted; each value is checked into a typed filter or refused with a
//! message that says what is accepted.

use serde::Deserialize;
use spiderpig_policy::{JobId, JobState, Username};

use crate::error::WebError;

/// Rows per page when none is asked for.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most rows per page (the executor's maximum).
pub const MAX_LIMIT: u32 = 100;
/// Longest piece of a bad value quoted back.
const MAX_ECHO: usize = 40;

/// The query string as sent.
#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    pub user: Option<String>,
    pub state: Option<String>,
    pub before: Option<String>,
    pub limit: Option<String>,
}

/// Checked filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    pub owner: Option<Username>,
    pub states: Vec<JobState>,
    pub before: Option<JobId>,
    pub limit: u32,
}

fn bad(message: String) -> WebError {
    WebError::BadRequest(message)
}

fn echo(s: &str) -> String {
    s.chars()
        .take(MAX_ECHO)
        .filter(|c| !c.is_control())
        .collect()
}

impl Filters {
    /// Empty values mean "no filter".
    pub fn parse(q: &FilterQuery) -> Result<Filters, WebError> {
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let owner = present(&q.user)
            .map(|u| Username::parse(&u).map_err(|e| bad(format!("user filter: {e}"))))
            .transpose()?;
        let states = match present(&q.state) {
            None => Vec::new(),
            Some(list) => parse_states(&list)?,
        };
        let before = present(&q.before)
            .map(|b| {
                b.parse::<JobId>().map_err(|_| {
                    bad(format!(
                        "before: \"{}\" is not a job id (a positive number)",
                        echo(&b)
                    ))
                })
            })
            .transpose()?;
        let limit = match present(&q.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(bad(format!("limit must be a number from 1 to {MAX_LIMIT}"))),
            },
        };
        Ok(Filters {
            owner,
            states,
            before,
            limit,
        })
    }

    /// The filters as a query string (without `before`), for paging links.
    pub fn query(&self, before: Option<u64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(u) = &self.owner {
            q.append_pair("user", u.as_str());
        }
        if !self.states.is_empty() {
            q.append_pair("state", &self.state_names());
        }
        if let Some(b) = before {
            q.append_pair("before", &b.to_string());
        }
        if self.limit != DEFAULT_LIMIT {
            q.append_pair("limit", &self.limit.to_string());
        }
        q.finish()
    }

    /// The state names, comma separated (for a filter form).
    pub fn state_names(&self) -> String {
        let names: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
        names.join(",")
    }
}

/// `running,awaiting_input`: comma-separated state names (the policy's
/// exact words), no repeats.
fn parse_states(list: &str) -> Result<Vec<JobState>, WebError> {
    let mut states = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let state = name.parse::<JobState>().map_err(|_| {
            bad(format!(
                "state filter: \"{}\" is not a job state; the states are {}",
                echo(name),
                JobState::NAMES.join(", ")
            ))
        })?;
        if !states.contains(&state) {
            states.push(state);
        }
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(user: &str, state: &str, before: &str, limit: &str) -> FilterQuery {
        let s = |v: &str| Some(v.to_string());
        FilterQuery {
            user: s(user),
            state: s(state),
            before: s(before),
            limit: s(limit),
        }
    }

    #[test]
    fn empty_filters_mean_everything() {
        let f = Filters::parse(&FilterQuery::default()).unwrap();
        assert_eq!(
            f,
            Filters {
                owner: None,
                states: vec![],
                before: None,
                limit: DEFAULT_LIMIT
            }
        );
        assert_eq!(Filters::parse(&q("", " ", "", "")).unwrap(), f);
        assert_eq!(f.query(None), "");
    }

    #[test]
    fn good_filters_parse_and_round_trip() {
        let f = Filters::parse(&q("ann", "running, done,running", "40", "10")).unwrap();
        assert_eq!(f.owner.as_ref().unwrap().as_str(), "ann");
        assert_eq!(f.states, vec![JobState::Running, JobState::Done]);
        assert_eq!(f.before.unwrap().get(), 40);
        assert_eq!(f.limit, 10);
        assert_eq!(
            f.query(Some(30)),
            "user=ann&state=running%2Cdone&before=30&limit=10"
        );
    }

    #[test]
    fn bad_filters_are_refused_with_a_clear_message() {
        let cases = [
            (q("Ann", "", "", ""), "user filter"),
            (q("a b", "", "", ""), "user filter"),
            (q("", "bogus", "", ""), "not a job state"),
            (q("", "RUNNING", "", ""), "not a job state"),
            (q("", "unspecified", "", ""), "not a job state"),
            (q("", "<script>", "", ""), "not a job state"),
            (q("", "", "0", ""), "not a job id"),
            (q("", "", "-1", ""), "not a job id"),
            (q("", "", "x", ""), "not a job id"),
            (q("", "", "", "0"), "limit"),
            (q("", "", "", "101"), "limit"),
            (q("", "", "", "ten"), "limit"),
        ];
        for (query, needle) in cases {
            match Filters::parse(&query) {
                Err(WebError::BadRequest(m)) => assert!(m.contains(needle), "{query:?}: {m}"),
                other => panic!("{query:?}: {other:?}"),
            }
        }
    }
}
