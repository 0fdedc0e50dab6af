//! What a deployer pastes as changes: any text. The parser must never panic,
//! and what it accepts is 1 to 10 distinct change numbers above zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiderpig_policy::{GerritBase, parse_change_list};

fuzz_target!(|input: &str| {
    let base = GerritBase::new("https://gerrit.wikimedia.org/r").expect("a valid base");
    if let Ok(changes) = parse_change_list(input, &base) {
        assert!(
            (1..=10).contains(&changes.len()),
            "{} changes",
            changes.len()
        );
        let mut numbers: Vec<u64> = changes.iter().map(|c| c.get()).collect();
        assert!(numbers.iter().all(|n| *n > 0));
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), changes.len(), "duplicates accepted");
    }
});
