//! The whole deployment flow over HTTPS, as people use it: spiderpig-web in
//! front of a real executor, the real OpenID Provider's forms, the Gerrit
//! stand-in and fake-scap. Every request goes through a cookie-keeping
//! HTTPS client; nothing talks to the executor behind the web's back
//! except where a test checks that nothing happened.

use serde_json::json;
use spiderpig_tests::gerrit::SCRIPT_SUBJECT;
use spiderpig_tests::web::Browser;
use spiderpig_tests::web::{WebHarness, WebOptions, assert_only_page_scripts, id_of};

const SECRET_FRAGMENT: &str = "/srv/patches/";
const PLACEHOLDER: &str = "<sensitive information hidden>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployers_queue_deploy_and_hand_over_through_the_web() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;

    // deployer1 signs in through the IDP's forms and enrols TOTP.
    let mut d1 = web.browser();
    let trace = d1.login("deployer1", "deployer1-pass").await?;
    assert!(trace.enrolled_now, "first sign-in shows the enrolment page");
    let (status, me) = d1.json("/api/me").await?;
    assert_eq!(status, 200);
    assert_eq!(me, json!({"username": "deployer1", "role": "deployer"}));

    // Preview: Gerrit's details, in the order given.
    let (status, rows) = d1.json("/api/changes?input=42%0A43").await?;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["number"], 42);
    assert_eq!(rows[0]["project"], "mediawiki/core");
    assert_eq!(rows[0]["branch"], "wmf/1.44.0-wmf.8");
    assert_eq!(rows[0]["status"], "NEW");
    assert_eq!(
        rows[0]["owner"], "ann",
        "the username, not the display name"
    );
    assert!(rows[0]["subject"].as_str().unwrap().starts_with("ApiMain:"));
    assert_eq!(
        rows[1]["subject"], SCRIPT_SUBJECT,
        "JSON carries the text as it is"
    );
    assert!(web.gerrit.requests() >= 2);
    // A change Gerrit does not know is a row with the reason, not a failure.
    let (status, rows) = d1.json("/api/changes?input=44,999").await?;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows[0]["status"], "MERGED");
    assert_eq!(rows[1]["number"], 999);
    assert!(
        rows[1]["error"].as_str().unwrap().contains("not found"),
        "{rows}"
    );
    // A list that does not parse is refused before anyone is asked.
    let asked = web.gerrit.requests();
    let (status, err) = d1.json("/api/changes?input=42%3B%20rm%20-rf%20%2F").await?;
    assert_eq!((status, &err["error"]), (400, &json!("bad_request")));
    assert_eq!(web.gerrit.requests(), asked);

    // The same check as a page: the subject is text, never markup.
    let page = d1.get("/deploy/new?changes=42%0A43").await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await?;
    assert!(html.contains("ApiMain: Fix the maxlag header"), "{html}");
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "unescaped subject"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The page's own script and its vocabulary (a JSON data block, not run).
    assert_only_page_scripts(&html);
    assert_eq!(
        html.matches(r#"<script type="application/json" id="vocab">"#)
            .count(),
        1
    );

    // Submit with a fresh code: the lock is free, so deployer1 is asked at once.
    let job1 = d1.submit(json!("42\n43")).await?;
    let id1 = id_of(&job1);
    assert_eq!(job1["owner"], "deployer1");
    assert_eq!(job1["changes"], json!([42, 43]));
    assert_eq!(job1["state"], "awaiting_ready");

    // deployer2 queues behind and sees their place.
    let mut d2 = web.browser();
    d2.login("deployer2", "deployer2-pass").await?;
    let job2 = d2.submit(json!([44])).await?;
    let id2 = id_of(&job2);
    assert_eq!(job2["state"], "queued");
    let (status, queue) = d2.json("/api/queue").await?;
    assert_eq!(status, 200);
    assert_eq!(queue["active"]["id"], id1);
    assert_eq!(queue["queued"][0]["id"], id2);
    assert_eq!(queue["queued"][0]["queue_position"], 1);
    // ... and cannot press Ready for deployer1.
    let refused = d2
        .post_json(&format!("/api/jobs/{id1}/ready"), &json!({}))
        .await?;
    assert_eq!(refused.status(), 403);

    // deployer1: Ready, then scap's prompts, answered over the API.
    d1.act(id1, "ready").await?;
    d1.answer(id1, "Backport the changes?", "y").await?;
    d1.answer(id1, "Continue with deployment?", "y").await?;
    let done = d1.wait_state(id1, "awaiting_finish").await?;
    assert_eq!(done["exit_code"], 0);
    assert_eq!(done["stage"], "complete");

    // Redaction, everywhere a browser can read the log.
    let records = d2.log_records(id1).await?;
    assert!(!records.is_empty());
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1, "gap or duplicate");
        let text = r["text"].as_str().unwrap();
        assert!(!text.contains(SECRET_FRAGMENT), "leaked over /api: {text}");
    }
    assert!(records.iter().any(|r| r["kind"] == "redacted"));
    let page = d2.get(&format!("/jobs/{id1}")).await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await?;
    assert!(!html.contains(SECRET_FRAGMENT), "leaked on the job page");
    assert!(html.contains("&lt;sensitive information hidden&gt;"));
    let log = d2.get(&format!("/jobs/{id1}/log.txt")).await?;
    assert_eq!(log.status(), 200);
    let disposition = log.headers()["content-disposition"].to_str()?.to_string();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"spiderpig-job-{id1}.log\"")
    );
    assert!(
        log.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    let text = log.text().await?;
    assert!(!text.contains(SECRET_FRAGMENT), "leaked in log.txt");
    assert!(text.contains(PLACEHOLDER));
    assert!(text.contains("[scap asks] "), "prompts are marked");

    // The lock stays with deployer1 until Finish; then deployer2 is asked.
    assert_eq!(
        d2.json(&format!("/api/jobs/{id2}")).await?.1["state"],
        "queued"
    );
    let finished = d1.act(id1, "finish").await?;
    assert_eq!(finished["state"], "done");
    assert_eq!(finished["finished_by"], "deployer1");
    d2.wait_state(id2, "awaiting_ready").await?;
    let (_, queue) = d2.json("/api/queue").await?;
    assert_eq!(queue["active"]["id"], id2);
    assert_eq!(queue["queued"], json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_in_no_group_gets_the_not_authorized_page() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let b = web.browser();
    let callback = b.oidc("outsider", "outsider-pass").await?;
    assert_eq!(callback.status(), 303);
    assert_eq!(callback.headers()["location"], "/not-authorized");
    assert_eq!(b.session(), None, "no session for an outsider");
    let page = b.get("/not-authorized").await?;
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await?
            .contains("not in a group that may use SpiderPig")
    );
    let (status, body) = b.json("/api/me").await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthenticated");
    let dashboard = b.get("/").await?;
    assert_eq!(dashboard.status(), 303);
    assert_eq!(dashboard.headers()["location"], "/login");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sign_in_asks_for_a_code_not_a_new_secret() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut first = web.browser();
    assert!(
        first
            .login("deployer1", "deployer1-pass")
            .await?
            .enrolled_now
    );
    let mut second = web.browser();
    let trace = second.login("deployer1", "deployer1-pass").await?;
    assert!(!trace.enrolled_now, "the secret is shown only once");
    assert_ne!(first.session(), second.session());
    // Both sessions are live: signing in elsewhere ends nothing.
    assert_eq!(first.json("/api/me").await?.0, 200);
    assert_eq!(second.json("/api/me").await?.0, 200);
    Ok(())
}

/// The job page's pending prompt id (`section#prompt[data-prompt]`).
async fn prompt_on_page(b: &Browser, id: u64, needle: &str) -> anyhow::Result<String> {
    b.wait_job(id, needle, |j| {
        j["prompt"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(needle))
    })
    .await?;
    let html = b.get(&format!("/jobs/{id}")).await?.text().await?;
    let re = regex::Regex::new(r#"id="prompt"[^>]*data-prompt="(\d+)""#)?;
    let prompt = re.captures(&html).map(|c| c[1].to_string());
    assert!(html.contains(r#"name="key" value="y""#), "no button for y");
    Ok(prompt.expect("no pending prompt on the page"))
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_alone_queue_run_and_finish_a_deployment() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;

    let check = b.get("/deploy/new?changes=44").await?.text().await?;
    assert!(
        check.contains(r#"id="queue-form""#),
        "no queue form after a check"
    );
    let code = b.totp()?;
    let res = b
        .post_form("/deploy/new", &[("changes", "44"), ("totp", &code)])
        .await?;
    assert_eq!(res.status(), 303);
    let page = location(&res);
    let id: u64 = page.trim_start_matches("/jobs/").parse()?;

    let html = b.get(&page).await?.text().await?;
    assert!(html.contains(&format!(r#"action="/jobs/{id}/ready""#)));
    let res = b.post_form(&format!("/jobs/{id}/ready"), &[]).await?;
    assert_eq!((res.status().as_u16(), location(&res)), (303, page.clone()));
    for needle in ["Backport the changes?", "Continue with deployment?"] {
        let prompt = prompt_on_page(&b, id, needle).await?;
        let res = b
            .post_form(
                &format!("/jobs/{id}/respond"),
                &[("prompt_id", &prompt), ("key", "y")],
            )
            .await?;
        assert_eq!(res.status(), 303, "{needle}");
    }
    b.wait_state(id, "awaiting_finish").await?;

    // A refused action: the job page again, with the reason and its status.
    let res = b.post_form(&format!("/jobs/{id}/ready"), &[]).await?;
    assert_eq!(res.status(), 409);
    assert!(res.text().await?.contains(r#"id="page-error""#));

    let res = b.post_form(&format!("/jobs/{id}/finish"), &[]).await?;
    assert_eq!(res.status(), 303);
    assert_eq!(b.json(&format!("/api/jobs/{id}")).await?.1["state"], "done");
    let history = b.get("/history?user=deployer1").await?.text().await?;
    assert!(history.contains(&format!(r#"data-job="{id}""#)));
    Ok(())
}
