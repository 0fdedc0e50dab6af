//! What change references are accepted and how each refusal is named
//! (SECURITY-TESTS 30); trust level: test code.

use proptest::prelude::*;

use super::*;

type Outcome = Result<Vec<ChangeNumber>, PolicyError>;

fn wmf() -> GerritBase {
    GerritBase::new("https://gerrit.wikimedia.org").unwrap()
}

fn n(x: u64) -> ChangeNumber {
    ChangeNumber::new(x).unwrap()
}

fn foreign_host(host: &str) -> PolicyError {
    PolicyError::ForeignHost {
        host: host.to_owned(),
    }
}

#[test]
fn accepted_forms_yield_the_bare_number() {
    let cases = [
        "123",
        "  123\n",
        "000123",
        "https://gerrit.wikimedia.org/r/123",
        "https://gerrit.wikimedia.org/r/123/",
        "https://gerrit.wikimedia.org/r/c/123",
        "https://gerrit.wikimedia.org/r/c/123/",
        "https://gerrit.wikimedia.org/r/c/mediawiki/core/+/123",
        "https://gerrit.wikimedia.org/r/c/mediawiki/core/+/123/",
        "https://gerrit.wikimedia.org/r/c/mediawiki/core/+/123/4",
        "https://gerrit.wikimedia.org/r/c/mediawiki/core/+/123/4/",
        "https://gerrit.wikimedia.org/r/c/operations/mediawiki-config/+/123",
        "https://gerrit.wikimedia.org/r/c/mediawiki/extensions/GrowthExperiments/+/123",
        "HTTPS://Gerrit.Wikimedia.ORG/r/123",
        "https://gerrit.wikimedia.org:443/r/123",
        "\t https://gerrit.wikimedia.org/r/c/123 \u{a0}",
    ];
    for input in cases {
        assert_eq!(parse_change_ref(input, &wmf()), Ok(n(123)), "{input:?}");
    }
}

#[test]
fn shell_metacharacters_are_refused() {
    let cases = [
        "123; rm -rf /",
        "$(id)",
        "`id`",
        "123 | cat",
        "123 && id",
        "123>x",
        "<x",
        "123\\",
        "'123'",
        "\"123\"",
        "${IFS}",
        "!!",
        "https://gerrit.wikimedia.org/r/$(id)",
    ];
    for input in cases {
        assert_eq!(
            parse_change_ref(input, &wmf()),
            Err(PolicyError::ShellMetacharacters),
            "{input:?}"
        );
        assert_eq!(
            parse_change_list(input, &wmf()),
            Err(PolicyError::ShellMetacharacters),
            "{input:?}"
        );
    }
}

#[test]
fn bad_change_references_are_refused_with_their_own_reason() {
    use PolicyError::*;
    let too_large = "18446744073709551616"; // 2^64
    let cases: Vec<(&str, PolicyError)> = vec![
        ("", NoChanges),
        ("   \n", NoChanges),
        ("0", ChangeZero),
        ("0000", ChangeZero),
        ("-1", ChangeNegative),
        ("-0", ChangeNegative),
        (too_large, ChangeTooLarge),
        ("99999999999999999999999999999999", ChangeTooLarge),
        ("１２３", NonAsciiDigits),
        ("١٢٣", NonAsciiDigits),
        ("12３", NonAsciiDigits),
        ("-h", OptionLike),
        ("--config=evil.cfg", OptionLike),
        ("--yes", OptionLike),
        ("-", OptionLike),
        ("-１", OptionLike),
        ("abc", NotAChange),
        ("+123", NotAChange),
        ("123abc", NotAChange),
        ("12 34", NotAChange),
        ("I0123456789abcdef", NotAChange),
        ("gerrit.wikimedia.org/r/123", NotAChange),
        ("123\u{0}", NotAChange),
        ("https://gerrit.wikimedia.org", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/0", ChangeZero),
        (
            "https://gerrit.wikimedia.org/r/18446744073709551616",
            ChangeTooLarge,
        ),
        ("https://gerrit.wikimedia.org/r/-1", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/１２３", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/123//", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/123?x=1", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/123#msg", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/123", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/c/+/123", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/c/a/../+/123", NotAChangeUrl),
        (
            "https://gerrit.wikimedia.org/r/c/core/+/123/x",
            NotAChangeUrl,
        ),
        (
            "https://gerrit.wikimedia.org/r/c/core/+/123/4/5",
            NotAChangeUrl,
        ),
        ("https://gerrit.wikimedia.org/r/c/core/123", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/q/123", NotAChangeUrl),
        ("https://gerrit.wikimedia.org/r/%31%32%33", NotAChangeUrl),
        ("https://user@gerrit.wikimedia.org/r/1", NotAChangeUrl),
        ("https:///r/1", NotAChangeUrl),
    ];
    for (input, want) in cases {
        assert_eq!(parse_change_ref(input, &wmf()), Err(want), "{input:?}");
    }
}

#[test]
fn links_to_other_sites_are_foreign() {
    let cases = [
        (
            "https://gerrit.wikimedia.org.evil.com/r/123",
            foreign_host("gerrit.wikimedia.org.evil.com"),
        ),
        (
            "https://gerrit.wikimedia.org@evil.com/r/1",
            foreign_host("evil.com"),
        ),
        (
            "https://evil.com/gerrit.wikimedia.org/r/1",
            foreign_host("evil.com"),
        ),
        ("https://evil.com/r/1", foreign_host("evil.com")),
        (
            "https://gerrit.wikimedia.org:8443/r/1",
            foreign_host("gerrit.wikimedia.org:8443"),
        ),
        (
            "https://xgerrit.wikimedia.org/r/1",
            foreign_host("xgerrit.wikimedia.org"),
        ),
        (
            "http://gerrit.wikimedia.org/r/1",
            foreign_host("http://gerrit.wikimedia.org"),
        ),
        (
            "ftp://gerrit.wikimedia.org/r/1",
            foreign_host("ftp://gerrit.wikimedia.org"),
        ),
        (
            "https://gerrit.wikimedia.org%2eevil.com/r/1",
            foreign_host("gerrit.wikimedia.org%2eevil.com"),
        ),
        ("https://[::1]/r/1", foreign_host("[::1]")),
    ];
    for (input, want) in cases {
        assert_eq!(parse_change_ref(input, &wmf()), Err(want), "{input:?}");
    }
}

#[test]
fn a_base_with_a_prefix_and_a_port_only_accepts_links_under_it() {
    let base = GerritBase::new("http://127.0.0.1:8080/gerrit/").unwrap();
    assert_eq!(base.as_str(), "http://127.0.0.1:8080/gerrit");
    let cases = [
        ("http://127.0.0.1:8080/gerrit/r/7", Ok(n(7))),
        ("http://127.0.0.1:8080/gerrit/r/c/a/b/+/7/2/", Ok(n(7))),
        (
            "http://127.0.0.1:8080/r/7",
            Err(foreign_host("http://127.0.0.1:8080/r/7")),
        ),
        (
            "http://127.0.0.1:8080/gerritx/r/7",
            Err(foreign_host("http://127.0.0.1:8080/gerritx/r/7")),
        ),
        (
            "http://127.0.0.1:8080/gerrit",
            Err(PolicyError::NotAChangeUrl),
        ),
        (
            "http://127.0.0.1/gerrit/r/7",
            Err(foreign_host("127.0.0.1")),
        ),
        ("7", Ok(n(7))),
    ];
    for (input, want) in cases {
        assert_eq!(parse_change_ref(input, &base), want, "{input:?}");
    }
}

#[test]
fn gerrit_base_is_checked_and_normalised() {
    let good = [
        (
            "https://gerrit.wikimedia.org",
            "https://gerrit.wikimedia.org",
        ),
        (
            "https://gerrit.wikimedia.org/",
            "https://gerrit.wikimedia.org",
        ),
        (
            "HTTPS://Gerrit.Wikimedia.Org:443//",
            "https://gerrit.wikimedia.org",
        ),
        ("http://localhost:80", "http://localhost"),
        ("http://[::1]:8080/g", "http://[::1]:8080/g"),
        ("https://example.org/a/b~c/", "https://example.org/a/b~c"),
    ];
    for (input, want) in good {
        assert_eq!(
            GerritBase::new(input).map(|b| b.as_str().to_owned()),
            Ok(want.to_owned()),
            "{input:?}"
        );
    }
    let bad = [
        "gerrit.wikimedia.org",
        "ftp://gerrit.wikimedia.org",
        "https://",
        "https://user@gerrit.wikimedia.org",
        "https://gerrit.wikimedia.org/?x",
        "https://gerrit.wikimedia.org/#x",
        "https://gerrit.wikimedia.org/a//b",
        "https://gerrit.wikimedia.org/a/../b",
        "https://gerrit wikimedia.org",
        "https://gerrit.wikimedia.org:0",
        "https://gerrit.wikimedia.org:65536",
        "https://gerrit.wikimedia.org:",
        "https://-gerrit.org",
    ];
    for input in bad {
        assert!(
            matches!(
                GerritBase::new(input),
                Err(PolicyError::BadGerritBase { .. })
            ),
            "{input:?}"
        );
    }
}

#[test]
fn change_url_is_the_short_form() {
    assert_eq!(wmf().change_url(n(42)), "https://gerrit.wikimedia.org/r/42");
    assert_eq!(
        parse_change_ref(&wmf().change_url(n(42)), &wmf()),
        Ok(n(42))
    );
}

#[test]
fn lists_split_on_whitespace_and_commas_and_keep_order() {
    let base = wmf();
    let cases: Vec<(&str, Outcome)> = vec![
        ("3 1 2", Ok(vec![n(3), n(1), n(2)])),
        ("3,1,2", Ok(vec![n(3), n(1), n(2)])),
        (" 3 ,\n1\t, ,2,", Ok(vec![n(3), n(1), n(2)])),
        ("https://gerrit.wikimedia.org/r/5, 6", Ok(vec![n(5), n(6)])),
        ("", Err(PolicyError::NoChanges)),
        (" , ,\n", Err(PolicyError::NoChanges)),
        ("1 2 1", Err(PolicyError::DuplicateChange(n(1)))),
        (
            "7 https://gerrit.wikimedia.org/r/c/x/+/7/1",
            Err(PolicyError::DuplicateChange(n(7))),
        ),
        ("1 2 0", Err(PolicyError::ChangeZero)),
        ("1 -h", Err(PolicyError::OptionLike)),
        ("1 １２３", Err(PolicyError::NonAsciiDigits)),
    ];
    for (input, want) in cases {
        assert_eq!(parse_change_list(input, &base), want, "{input:?}");
    }
}

#[test]
fn more_than_ten_changes_are_refused() {
    let ten: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(
        parse_change_list(&ten.join(" "), &wmf()).map(|v| v.len()),
        Ok(10)
    );
    let hundred: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    assert_eq!(
        parse_change_list(&hundred.join(","), &wmf()),
        Err(PolicyError::TooManyChanges { max: 10, got: 100 })
    );
}

#[test]
fn validate_change_list_checks_numbers_from_grpc() {
    use PolicyError::*;
    let cases: Vec<(Vec<u64>, Outcome)> = vec![
        (vec![5, 3], Ok(vec![n(5), n(3)])),
        (vec![u64::MAX], Ok(vec![n(u64::MAX)])),
        (vec![], Err(NoChanges)),
        (vec![1, 0], Err(ChangeZero)),
        (vec![4, 4], Err(DuplicateChange(n(4)))),
        ((1..=11).collect(), Err(TooManyChanges { max: 10, got: 11 })),
        (
            (1..=100).collect(),
            Err(TooManyChanges { max: 10, got: 100 }),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(validate_change_list(&input), want, "{input:?}");
    }
}

#[test]
fn change_number_serializes_as_a_number_and_refuses_zero() {
    assert_eq!(serde_json::to_string(&n(42)).unwrap(), "42");
    assert_eq!(serde_json::from_str::<ChangeNumber>("42").unwrap(), n(42));
    assert!(serde_json::from_str::<ChangeNumber>("0").is_err());
    assert!(serde_json::from_str::<ChangeNumber>("-1").is_err());
    assert!(serde_json::from_str::<ChangeNumber>("\"42\"").is_err());
}

#[test]
fn change_number_from_str_takes_bare_digits_only() {
    use PolicyError::*;
    let cases = [
        ("42", Ok(n(42))),
        ("", Err(NoChanges)),
        ("0", Err(ChangeZero)),
        ("-1", Err(ChangeNegative)),
        ("１", Err(NonAsciiDigits)),
        (" 42", Err(NotAChange)),
        ("18446744073709551616", Err(ChangeTooLarge)),
    ];
    for (input, want) in cases {
        assert_eq!(input.parse::<ChangeNumber>(), want, "{input:?}");
    }
}

#[test]
fn error_messages_echo_little_and_escape_controls() {
    let long = format!("https://{}.evil.com/r/1", "a".repeat(200));
    let err = parse_change_ref(&long, &wmf()).unwrap_err();
    assert!(
        err.to_string().chars().filter(|c| *c == 'a').count() <= 70,
        "{err}"
    );
    let err = parse_change_ref("https://evil\u{1b}[2J.com/r/1", &wmf()).unwrap_err();
    assert!(!err.to_string().contains('\u{1b}'), "{err}");
}

proptest! {
    #[test]
    fn parsers_never_panic_and_errors_are_printable(input in "\\PC{0,80}|[-0-9a-z:/.@,; ]{0,60}") {
        let base = wmf();
        for result in [parse_change_ref(&input, &base).map(|c| vec![c]), parse_change_list(&input, &base)] {
            match result {
                Ok(changes) => {
                    prop_assert!(!changes.is_empty() && changes.len() <= MAX_CHANGES);
                    prop_assert!(changes.iter().all(|c| c.get() > 0 && input.contains(&c.to_string())));
                    prop_assert!(!input.chars().any(is_shell_metacharacter));
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(!message.chars().any(char::is_control), "{message:?}");
                    prop_assert!(message.chars().count() < 300, "{message:?}");
                }
            }
        }
    }

    #[test]
    fn every_accepted_form_round_trips(
        number in 1u64..,
        project in proptest::collection::vec("[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}", 1..4),
        patchset in proptest::option::of(1u32..100),
        slash in any::<bool>(),
        form in 0usize..4,
    ) {
        let base = wmf();
        let tail = if slash { "/" } else { "" };
        let input = match form {
            0 => number.to_string(),
            1 => format!("{}/r/{number}{tail}", base.as_str()),
            2 => format!("{}/r/c/{number}{tail}", base.as_str()),
            _ => {
                let ps = patchset.map(|p| format!("/{p}")).unwrap_or_default();
                format!("{}/r/c/{}/+/{number}{ps}{tail}", base.as_str(), project.join("/"))
            }
        };
        prop_assert_eq!(parse_change_ref(&input, &base), Ok(n(number)));
    }

    #[test]
    fn lists_of_valid_numbers_round_trip(
        numbers in proptest::collection::btree_set(1u64.., 1..=MAX_CHANGES),
        separator in prop_oneof![Just(" "), Just(","), Just(", "), Just("\n"), Just(" ,\t")],
    ) {
        let numbers: Vec<u64> = numbers.into_iter().collect();
        let text = numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(separator);
        let parsed = parse_change_list(&text, &wmf()).unwrap();
        prop_assert_eq!(parsed.iter().map(|c| c.get()).collect::<Vec<_>>(), numbers.clone());
        prop_assert_eq!(validate_change_list(&numbers), Ok(parsed));
    }

    #[test]
    fn urls_on_other_hosts_are_never_accepted(
        host in "[a-z0-9.-]{1,30}",
        path in "(/r|/r/c)/[0-9]{1,5}",
    ) {
        prop_assume!(host != "gerrit.wikimedia.org");
        let result = parse_change_ref(&format!("https://{host}{path}"), &wmf());
        prop_assert!(result.is_err());
    }
}
