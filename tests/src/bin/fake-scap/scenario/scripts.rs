//! The scenario scripts: scap's output, shortened from the two recorded
//! transcripts of a real backport (train-dev, March 2025) but keeping their lines,
//! colours, statuses, progress bars and order. Waits are the realistic pace
//! (about 65 s for a whole successful run, the canary wait cut to 5 s).

use super::script::{Bar, BarStyle, Step, Step::*};

const fn count(total: u64, secs: f64) -> Bar {
    Bar {
        total,
        secs,
        style: BarStyle::Count,
    }
}

const fn in_flight(total: u64, secs: f64) -> Bar {
    Bar {
        total,
        secs,
        style: BarStyle::InFlight,
    }
}

const fn late(total: u64, secs: f64) -> Bar {
    Bar {
        total,
        secs,
        style: BarStyle::LateInFlight,
    }
}

/// The live MediaWiki versions, with the core commit each is checked out at.
pub const VERSIONS: [(&str, &str); 2] = [
    ("1.44.0-wmf.6", "7ec4b816cd749910d1c46aef7f9c76c6a4b09361"),
    ("1.44.0-wmf.8", "6ac8917433a9985c6308ee341c6fe28cd3a5439d"),
];

pub const PREP_START: &[Step] = &[
    Start("scap prep auto"),
    Status("Checking out mediawiki-config"),
    Info(
        "Update https://gerrit.wikimedia.org/r/operations/mediawiki-config (master branch) in /srv/mediawiki-staging",
    ),
    Wait(1.0),
    Info(
        "https://gerrit.wikimedia.org/r/operations/mediawiki-config checked out at commit c652bf2b5da3551449faa0e98c4019ff0418a824",
    ),
];

/// Per version (`{v}`, `{sha}`): the security patches are re-applied, and scap
/// marks their output sensitive.
pub const PREP_VERSION: &[Step] = &[
    Status("Checking out {v}"),
    Info(
        "Update https://gerrit.wikimedia.org/r/mediawiki/core (wmf/{v} branch) in /srv/mediawiki-staging/php-{v}",
    ),
    Wait(1.0),
    Info("https://gerrit.wikimedia.org/r/mediawiki/core checked out at commit {sha}"),
    Wait(2.5),
    Sensitive(
        "Applying patch /srv/patches/{v}/core/01-T999999.patch in /srv/mediawiki-staging/php-{v}",
    ),
    Sensitive(
        "Applying patch /srv/patches/{v}/extensions/GrowthExperiments/01-T999997.patch in /srv/mediawiki-staging/php-{v}",
    ),
    Sensitive(
        "Applying patch /srv/patches/{v}/extensions/GrowthExperiments/01-T999998.patch in /srv/mediawiki-staging/php-{v}",
    ),
    Sensitive("[APPLIED] /srv/patches/{v}/core/01-T999999.patch"),
    Sensitive("[APPLIED] /srv/patches/{v}/extensions/GrowthExperiments/01-T999997.patch"),
    Sensitive("[APPLIED] /srv/patches/{v}/extensions/GrowthExperiments/01-T999998.patch"),
    Wait(0.5),
    InfoAfterReset("MediaWiki wmf/{v} successfully checked out."),
    ClearStatus,
];

pub const PREP_END: &[Step] = &[Finish("scap prep auto")];

/// `print(ansi.logo())` at the start of sync-world; note the BEL on its first line.
pub const LOGO: &[Step] = &[
    Print(
        "\u{1b}[0m\u{7}           \u{1b}[0m\u{1b}[36m___\u{1b}[0m \u{1b}[0m\u{1b}[36m____\u{1b}[0m",
    ),
    Print("         \u{1b}[0m\u{1b}[36m\u{239b}   \u{239b} ,----\u{1b}[0m"),
    Print("          \u{1b}[0m\u{1b}[36m\\  //==--'\u{1b}[0m"),
    Print(
        "     \u{1b}[0m\u{1b}[1;35m_//|,.\u{b7}\u{1b}[0m\u{1b}[36m//==--'\u{1b}[0m    \u{1b}[0m\u{1b}[37m______\u{1b}[0m\u{1b}[32m____\u{1b}[0m\u{1b}[37m_\u{1b}[0m\u{1b}[32m____\u{1b}[0m\u{1b}[37m___\u{1b}[0m\u{1b}[32m____\u{1b}[0m\u{1b}[37m__\u{1b}[0m\u{1b}[32m____\u{1b}[0m",
    ),
    Print(
        "    \u{1b}[0m\u{1b}[1;35m_\u{1b}[0m\u{1b}[33mOO\u{2263}=-\u{1b}[0m\u{1b}[1;35m  \u{1b}[0m\u{1b}[36m\u{fe36}\u{1b}[0m\u{1b}[1;35m \u{1b}[0m\u{1d39}w\u{1b}[0m\u{1b}[1;35m \u{239e}_\u{a7}\u{1b}[0m \u{1b}[0m\u{1b}[37m______\u{1b}[0m\u{1b}[32m  ___\\ ___\\ ,\\__ \\/ __ \\\u{1b}[0m",
    ),
    Print(
        "   \u{1b}[0m\u{1b}[1;35m(\u{1b}[0m\u{1b}[1;35m\u{221e}\u{1b}[0m\u{1b}[1;35m)\u{1b}[0m\u{1b}[1;35m_,\u{1b}[0m\u{1b}[1;35m )  (     |\u{1b}[0m  \u{1b}[0m\u{1b}[37m______\u{1b}[0m\u{1b}[32m/__  \\/ /__ / /_/ / /_/ /\u{1b}[0m",
    ),
    Print(
        "     \u{1b}[0m\u{1b}[1;35m\u{a8}--\u{a8}|| |- (  /\u{1b}[0m \u{1b}[0m\u{1b}[37m______\u{1b}[0m\u{1b}[32m\\____/ \\___/ \\__^_/  .__/\u{1b}[0m",
    ),
    Print(
        "         \u{1b}[0m\u{1b}[34m\u{ab}\u{ab}\u{1b}[0m\u{1b}[1;35m_/\u{1b}[0m  \u{1b}[0m\u{1b}[34m\u{ab}\u{1b}[0m\u{1b}[1;35m_/\u{1b}[0m \u{1b}[0m\u{1b}[34mjgs/bd808\u{1b}[0m                \u{1b}[0m\u{1b}[32m/_/\u{1b}[0m",
    ),
    Print(""),
];

pub const SYNC_START: &[Step] = &[
    Info("Started scap sync-world: {sal}"),
    Status("Starting scap sync-world"),
    Start("cache_git_info"),
    Wait(1.0),
    Finish("cache_git_info"),
    Start("l10n-update"),
    Status("Updating l10n files"),
];

/// Per version (`{v}`).
pub const L10N_VERSION: &[Step] = &[
    Info("Updating ExtensionMessages-{v}.php"),
    Wait(1.0),
    Info("Updating LocalisationCache for {v} using 10 thread(s)"),
    Info("Running rebuildLocalisationCache.php"),
    Wait(1.0),
    Info("0 languages rebuilt out of 1"),
    Info("Use --force to rebuild the caches which are still fresh."),
    Info("Generating JSON versions and md5 files (as www-data)"),
    Wait(1.0),
];

pub const SYNC_IMAGES: &[Step] = &[
    ClearStatus,
    Finish("l10n-update"),
    Info("Checking for new runtime errors locally"),
    Wait(2.0),
    Status("Building container images"),
    Start("build-and-push-container-images"),
    Info("K8s images build/push output redirected to /home/{user}/scap-image-build-and-push-log"),
    Wait(8.0),
    Finish("build-and-push-container-images"),
    ClearStatus,
];

/// The k8s part of a stage (`{stage}`, `{k8s_timer}`).
pub const K8S_STAGE: &[Step] = &[
    Start("{k8s_timer}"),
    Status("Sync k8s {stage}"),
    Progress("K8s deployment progress", count(20, 4.0)),
    ClearStatus,
    Finish("{k8s_timer}"),
];

pub const TESTSERVERS_BAREMETAL: &[Step] = &[
    Status("Sync baremetal testservers"),
    Start("sync-testservers"),
    Progress("sync-testservers", in_flight(1, 3.0)),
    Info("Per-host sync duration: average 3.7s, median 3.7s"),
    Info("rsync transfer: average 364,670 bytes/host, total 364,670 bytes"),
    Start("scap-cdb-rebuild"),
    Progress("scap-cdb-rebuild", in_flight(1, 1.0)),
    Finish("scap-cdb-rebuild"),
    Start("sync_wikiversions"),
    Progress("sync_wikiversions", in_flight(1, 0.5)),
    Finish("sync_wikiversions"),
    Start("php-fpm-restarts"),
    Status("Restarting php-fpm"),
    Info(
        "Running '/usr/local/sbin/check-and-restart-php php7.4-fpm 9223372036854775807' on 1 host(s)",
    ),
    Progress("php-fpm-restart", late(1, 0.5)),
    ClearStatus,
    Finish("php-fpm-restarts"),
    Finish("sync-testservers"),
    ClearStatus,
];

pub const CHECK_TESTSERVERS: &[Step] = &[
    Start("check-testservers"),
    Status("Checking testservers"),
    Info("Executing check 'check_testservers_baremetal-1_of_1'"),
    Info("Executing check 'check_testservers_k8s-1_of_1'"),
    Wait(2.5),
];

pub const CHECK_TESTSERVERS_PASSED: &[Step] = &[ClearStatus, Finish("check-testservers")];

/// httpbb's report, logged as one (multi-line) record.
pub const CHECK_TESTSERVERS_FAILED: &[Step] = &[
    Error(
        "Check 'check_testservers_k8s-1_of_1' failed: Sending to mwdebug1001.eqiad.wmnet...\n\
         https://test.wikipedia.org/wiki/Special:BlankPage (/srv/deployment/httpbb-tests/appserver/test_main.yaml:4)\n\
         \x20   Status code: expected 200, got 500.\n\
         ===\n\
         FAIL: 106 requests sent to mwdebug1001.eqiad.wmnet. 1 request with failed assertions.",
    ),
    ClearStatus,
    Finish("check-testservers"),
];

pub const TESTSERVERS_SYNCED: &[Step] = &[
    Info(
        "{user}: {sal} synced to the testservers (see https://wikitech.wikimedia.org/wiki/Mwdebug). Changes can now be verified there.",
    ),
    Status("Waiting user to confirm testservers deployment"),
];

pub const CONTINUING: &[Step] = &[
    Info("{user}: Continuing with sync"),
    Status("Continuing with sync"),
];

pub const CANARY_WAIT: &[Step] = &[
    Info("Waiting 20 seconds for canary traffic..."),
    Status("Waiting 20 seconds for canary traffic..."),
    Wait(5.0),
];

pub const CANARY_OK: &[Step] = &[Info(
    "Logstash checker Counted 9 error(s) in the last 20 seconds. OK.",
)];

/// scap's `LogstashChecker.check` over its threshold, then its top errors as one record.
pub const CANARY_SPIKE: &[Step] = &[
    Error("Logstash checker Counted 57 error(s) in the last 20 seconds. The threshold is 10."),
    Error(
        "Top 5 errors:\n\
         [23 hits] PHP Warning: Undefined array key \"title\" in /srv/mediawiki/php-1.44.0-wmf.8/includes/Title/Title.php on line 3052\n\
         [14 hits] Error: Call to a member function getId() on null in /srv/mediawiki/php-1.44.0-wmf.8/includes/page/WikiPage.php:1121\n\
         [11 hits] Wikimedia\\Rdbms\\DBQueryError: Error 1054: Unknown column 'page_fake_flag' in 'field list'\n\
         [6 hits] PHP Deprecated: Use of MessageCache::get with a non-string key was deprecated in MediaWiki 1.44\n\
         [3 hits] TypeError: GrowthExperiments\\Mentorship\\MentorManager::getMentorForUser(): Argument #1 must be of type UserIdentity, null given",
    ),
];

pub const PRODUCTION_BAREMETAL: &[Step] = &[
    Status("Sync baremetal production"),
    Start("sync-apaches"),
    Progress("sync-apaches", in_flight(1, 3.0)),
    Info("Per-host sync duration: average 3.7s, median 3.7s"),
    Info("rsync transfer: average 364,670 bytes/host, total 364,670 bytes"),
    Finish("sync-apaches"),
    ClearStatus,
    Start("scap-cdb-rebuild"),
    Progress("scap-cdb-rebuild", in_flight(2, 1.0)),
    Finish("scap-cdb-rebuild"),
    Start("sync_wikiversions"),
    Progress("sync_wikiversions", in_flight(2, 0.5)),
    Finish("sync_wikiversions"),
    Start("php-fpm-restarts"),
    Status("Restarting php-fpm"),
    Info(
        "Running '/usr/local/sbin/check-and-restart-php php7.4-fpm 9223372036854775807' on 1 host(s)",
    ),
    Progress("php-fpm-restart", late(1, 0.5)),
    ClearStatus,
    Finish("php-fpm-restarts"),
    Info("Running purgeMessageBlobStore.php"),
    Wait(1.0),
];

/// Rolling back one stage (`{stage}`).
pub const ROLLBACK_STAGE: &[Step] = &[
    Warn("Rolling back stage {stage}"),
    Status("Rollback deployment for stage {stage}"),
    Start("rollback-{stage}-k8s"),
    Progress("K8s rollback progress", count(20, 3.0)),
    Finish("rollback-{stage}-k8s"),
    ClearStatus,
];
