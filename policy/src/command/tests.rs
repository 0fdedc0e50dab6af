//! The allowlist's golden argv and environment (SECURITY-TESTS 31); trust level:
//! test code.

use proptest::prelude::*;

use super::*;

fn n(x: u64) -> ChangeNumber {
    ChangeNumber::new(x).unwrap()
}

fn key() -> IoKey {
    IoKey::from_bytes([0xab; 32])
}

fn environment(ssh: Option<&str>) -> ScapEnvironment {
    ScapEnvironment {
        io_key: key(),
        real_user: Username::parse("alice").unwrap(),
        path: "/usr/local/bin:/usr/bin:/bin".into(),
        home: "/home/deploy".into(),
        lang: "C.UTF-8".into(),
        ssh_auth_sock: ssh.map(str::to_owned),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn backport_invocation_is_exactly_the_template() {
    let scap = ScapPath::new("/usr/bin/scap").unwrap();
    let cmd = ScapCommand::backport(vec![n(42), n(7)]).unwrap();
    let inv = cmd.invocation(&scap, &environment(Some("/run/keyholder/proxy.sock")));
    let k = "abababababababababababababababababababababababababababababababab";
    let want = Invocation {
        program: "/usr/bin/scap".into(),
        args: strings(&["backport", "42", "7"]),
        env: pairs(&[
            ("FORCE_COLOR", "1"),
            ("HOME", "/home/deploy"),
            ("LANG", "C.UTF-8"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("SPIDERPIG_IO_KEY", k),
            ("SPIDERPIG_REAL_USER", "alice"),
            ("SSH_AUTH_SOCK", "/run/keyholder/proxy.sock"),
        ]),
    };
    assert_eq!(inv, want);
}

#[test]
fn revert_invocation_is_exactly_the_template() {
    let scap = ScapPath::new("/usr/bin/scap").unwrap();
    let cmd = ScapCommand::revert(vec![n(42)]).unwrap();
    let inv = cmd.invocation(&scap, &environment(None));
    let k = "abababababababababababababababababababababababababababababababab";
    let want = Invocation {
        program: "/usr/bin/scap".into(),
        args: strings(&["backport", "--revert", "42"]),
        env: pairs(&[
            ("FORCE_COLOR", "1"),
            ("HOME", "/home/deploy"),
            ("LANG", "C.UTF-8"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("SPIDERPIG_IO_KEY", k),
            ("SPIDERPIG_REAL_USER", "alice"),
        ]),
    };
    assert_eq!(inv, want);
}

#[test]
fn commands_refuse_bad_change_lists() {
    use PolicyError::*;
    let cases: Vec<(Vec<ChangeNumber>, PolicyError)> = vec![
        (vec![], NoChanges),
        (
            (1..=11).map(n).collect(),
            TooManyChanges { max: 10, got: 11 },
        ),
        (vec![n(1), n(2), n(1)], DuplicateChange(n(1))),
    ];
    for (changes, want) in cases {
        assert_eq!(ScapCommand::backport(changes.clone()), Err(want.clone()));
        assert_eq!(ScapCommand::revert(changes), Err(want));
    }
}

#[test]
fn scap_path_must_be_absolute_and_plain() {
    assert_eq!(
        ScapPath::new("/usr/bin/scap").map(|p| p.as_str().to_owned()),
        Ok("/usr/bin/scap".into())
    );
    let bad = [
        "scap",
        "./scap",
        "",
        "/usr/../bin/scap",
        "/usr/bin/..",
        "/usr/bin/scap\0",
        "/usr/bin/sc\nap",
        "/usr/bin/",
    ];
    for path in bad {
        assert!(
            matches!(ScapPath::new(path), Err(PolicyError::BadScapPath { .. })),
            "{path:?}"
        );
    }
}

#[test]
fn io_key_is_hex_and_hidden_from_debug() {
    let k = IoKey::from_bytes([
        0x01, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0x10,
    ]);
    assert_eq!(k.as_str().len(), 64);
    assert!(k.as_str().starts_with("01fe00") && k.as_str().ends_with("10"));
    assert_eq!(IoKey::parse(k.as_str()), Ok(k.clone()));
    assert_eq!(format!("{k:?}"), "IoKey(..)");
    let inv = ScapCommand::backport(vec![n(1)])
        .unwrap()
        .invocation(&ScapPath::new("/s").unwrap(), &environment(None));
    assert!(!format!("{inv:?}").contains(key().as_str()));
    for bad in [
        "",
        &"A".repeat(64),
        &"a".repeat(63),
        &"a".repeat(65),
        &"g".repeat(64),
    ] {
        assert_eq!(
            IoKey::parse(bad),
            Err(PolicyError::IoKeyMalformed),
            "{bad:?}"
        );
    }
}

proptest! {
    #[test]
    fn argv_holds_only_the_template_and_decimal_numbers(
        numbers in proptest::collection::btree_set(1u64.., 1..=10),
        revert in any::<bool>(),
    ) {
        let changes: Vec<ChangeNumber> = numbers.iter().copied().map(n).collect();
        let cmd = if revert { ScapCommand::revert(changes) } else { ScapCommand::backport(changes) }.unwrap();
        let inv = cmd.invocation(&ScapPath::new("/usr/bin/scap").unwrap(), &environment(None));
        let fixed = if revert { 2 } else { 1 };
        prop_assert_eq!(&inv.args[0], "backport");
        prop_assert_eq!(inv.args.len(), fixed + numbers.len());
        prop_assert!(inv.args[fixed..].iter().all(|a| a.bytes().all(|b| b.is_ascii_digit())));
        prop_assert!(!inv.args.iter().any(|a| a == "--yes"));
    }
}
