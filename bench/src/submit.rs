//! Submit round trip over gRPC (the executor's `Deployer` service, as the
//! web calls it): `SubmitJob` with a fresh TOTP code, timed; the job is then
//! cancelled (not timed). A TOTP step can be spent once per user, and only
//! steps T−1, T and T+1 of the real clock are accepted, so the submissions
//! are spread over many users signed in beforehand.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, stream};
use spiderpig_executor::auth::totp::{TotpSecret, code_at, step_at};
use spiderpig_executor::clock::{Clock, SystemClock};
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::Harness;

use crate::stack::password;
use crate::stats::nanos;

struct User {
    driver: Driver,
    secret: TotpSecret,
    last_step: u64,
}

/// Sign in `users` over gRPC (IDP forms, TOTP enrolment and a code of step
/// T−1, so T and T+1 are left for submissions).
async fn sign_in(h: &Harness, users: &[String]) -> anyhow::Result<Vec<User>> {
    // One connection for all (the executor allows `limits.max_connections`
    // per socket, 256 by default), as the web has.
    let client = h.client();
    stream::iter(users)
        .map(|u| {
            let client = client.clone();
            async move {
                h.clock.set_ms(SystemClock.now_ms() - 30_000);
                let s = h
                    .login(u, &password(u))
                    .await
                    .with_context(|| format!("login {u}"))?;
                anyhow::Ok(User {
                    driver: Driver::new(client, &s.token),
                    last_step: step_at(SystemClock.now_ms() - 30_000),
                    secret: s.secret,
                })
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// `count` timed submissions; returns each round trip in nanoseconds and
/// the time the sign-ins took.
pub async fn run(
    h: &Harness,
    users: &[String],
    count: usize,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let started = Instant::now();
    let mut users = sign_in(h, users).await?;
    let signed_in = started.elapsed();
    let mut times = Vec::with_capacity(count);
    let mut next = 0;
    let mut refused = 0;
    while times.len() < count {
        let now = step_at(SystemClock.now_ms());
        // The next user with a step left in the window T−1..=T+1.
        let Some(i) = (0..users.len())
            .map(|k| (next + k) % users.len())
            .find(|&k| users[k].last_step < now + 1)
        else {
            // All spent: wait for the next step.
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        next = i + 1;
        let u = &mut users[i];
        let step = (u.last_step + 1).max(now.saturating_sub(1));
        u.last_step = step;
        let code = code_at(&u.secret, step);
        let t = Instant::now();
        match u.driver.submit(&[42], &code).await {
            Ok(job) => {
                times.push(nanos(t.elapsed()));
                u.driver.cancel(job.id).await.context("cancel")?;
            }
            // The step moved on between choosing the code and the call.
            Err(e) if refused < 20 => {
                refused += 1;
                eprintln!(
                    "bench: a submission was refused ({}); going on",
                    e.message()
                );
            }
            Err(e) => bail!("submissions keep failing: {e}"),
        }
    }
    Ok((times, signed_in))
}

/// The disk's floor under a durable commit: `count` times, overwrite 4 KiB
/// of a file in `dir` (the store's file system) and `fdatasync` it. redb's
/// two-phase Immediate commit syncs at least twice.
pub fn fsync_floor(dir: &std::path::Path, count: usize) -> anyhow::Result<Vec<u64>> {
    use std::io::{Seek, SeekFrom, Write};
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&block)?;
        f.sync_data()?;
        times.push(nanos(t.elapsed()));
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(times)
}
