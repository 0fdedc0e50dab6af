//! Properties of the `ctl` module as a whole.

/// Every source file of `ctl` except this one.
const SOURCES: &[(&str, &str)] = &[
    ("mod.rs", include_str!("mod.rs")),
    ("args.rs", include_str!("args.rs")),
    ("args_tests.rs", include_str!("args_tests.rs")),
    ("errors.rs", include_str!("errors.rs")),
    ("escape.rs", include_str!("escape.rs")),
    ("log.rs", include_str!("log.rs")),
    ("render.rs", include_str!("render.rs")),
    ("table.rs", include_str!("table.rs")),
    ("time.rs", include_str!("time.rs")),
    ("verbs.rs", include_str!("verbs.rs")),
    ("view.rs", include_str!("view.rs")),
];

/// Security test 42: `ctl` talks to the admin socket and has no way to open
/// the database: it names neither the store, nor redb, nor the configuration
/// that says where the database is. (The end-to-end test runs it against a
/// live executor; this keeps a later edit from adding a shortcut.)
#[test]
fn ctl_has_no_path_to_the_database() {
    let forbidden = [
        "redb::",
        "crate::store",
        "store::",
        "crate::config",
        "database_path",
        "state_dir",
    ];
    for (file, text) in SOURCES {
        for word in forbidden {
            assert!(!text.contains(word), "ctl/{file} mentions {word}");
        }
    }
}

#[test]
fn every_source_file_is_checked() {
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/ctl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".rs") && name != "tests.rs")
        .count();
    assert_eq!(on_disk, SOURCES.len());
}
