//! A person's browser for tests: an HTTPS client with a cookie jar that
//! trusts only the test certificate, follows no redirects, and signs in
//! like a person would (the IDP's forms, the TOTP page).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use spiderpig_executor::clock::ManualClock;

use super::{Enrolled, Secrets, WsClient, catch_up, fresh_code};
use crate::idp::login_via_forms;

/// What signing in showed, for the cookie tests.
#[derive(Debug, Clone)]
pub struct LoginTrace {
    /// `Set-Cookie` values of the OIDC callback's answer.
    pub callback_cookies: Vec<String>,
    /// `Set-Cookie` values of the TOTP form's answer.
    pub totp_cookies: Vec<String>,
    /// The session cookie before TOTP, and after.
    pub pre_totp_token: String,
    pub token: String,
    /// The TOTP page was the enrolment page.
    pub enrolled_now: bool,
}

/// A person's browser: cookie jar, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub origin: String,
    tls: Arc<rustls::ClientConfig>,
    clock: ManualClock,
    secrets: Secrets,
    pub user: Option<String>,
}

/// `Set-Cookie` values of a response.
pub fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// The value of cookie `name` in a list of `Set-Cookie` values.
pub fn cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        let (k, rest) = c.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
    })
}

fn location(res: &reqwest::Response) -> anyhow::Result<String> {
    Ok(res
        .headers()
        .get(reqwest::header::LOCATION)
        .with_context(|| format!("{} without Location", res.status()))?
        .to_str()?
        .to_string())
}

/// The `content` of `<meta name="csrf-token">`.
pub fn meta_csrf(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"<meta name="csrf-token" content="([^"]*)""#).unwrap();
    re.captures(html).map(|c| c[1].to_string())
}

impl Browser {
    pub(super) fn new(
        origin: &str,
        cert_pem: &str,
        tls: Arc<rustls::ClientConfig>,
        clock: ManualClock,
        secrets: Secrets,
    ) -> Browser {
        let jar = Arc::new(Jar::default());
        let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("PEM");
        let client = reqwest::Client::builder()
            .add_root_certificate(root)
            .tls_built_in_root_certs(false)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Browser {
            client,
            jar,
            origin: origin.to_string(),
            tls,
            clock,
            secrets,
            user: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The value of a cookie the jar would send to the web.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&self.origin).ok()?;
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// The session token (`__Host-spiderpig`).
    pub fn session(&self) -> Option<String> {
        self.cookie("__Host-spiderpig")
    }

    /// The CSRF token (`__Host-spiderpig-csrf`; pages carry it in a meta).
    pub fn csrf(&self) -> Option<String> {
        self.cookie("__Host-spiderpig-csrf")
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client.get(self.url(path)).send().await
    }

    /// GET with extra headers.
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(self.url(path))
            .headers(header_map(headers)?)
            .send()
            .await?)
    }

    /// POST JSON as the page script does: Origin, X-CSRF-Token, JSON.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<reqwest::Response> {
        let csrf = self
            .csrf()
            .context("no CSRF cookie yet: load a page first")?;
        self.post_json_with(
            path,
            body,
            &[("origin", &self.origin), ("x-csrf-token", &csrf)],
        )
        .await
    }

    /// POST JSON with exactly these extra headers (for the CSRF tests).
    pub async fn post_json_with(
        &self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(self.url(path))
            .headers(header_map(headers)?)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?)
    }

    /// POST a page form with the CSRF field and Origin.
    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let csrf = self
            .csrf()
            .context("no CSRF cookie yet: load a page first")?;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        Ok(self
            .client
            .post(self.url(path))
            .header("origin", &self.origin)
            .form(&all)
            .send()
            .await?)
    }

    /// Up to the OIDC callback: `/login/start`, the IDP's forms, and the
    /// callback itself. Returns the callback's answer (303 to `/totp`, or to
    /// `/not-authorized`).
    pub async fn oidc(&self, user: &str, password: &str) -> anyhow::Result<reqwest::Response> {
        let start = self.get("/login/start").await?;
        if !start.status().is_redirection() {
            bail!("/login/start answered {}", start.status());
        }
        let authorize = location(&start)?;
        let callback = self.url("/oidc/callback");
        let back = login_via_forms(&authorize, user, password, &callback).await?;
        catch_up(&self.clock);
        let path = format!("/oidc/callback?{}", back.query().unwrap_or(""));
        Ok(self.get(&path).await?)
    }

    /// Sign in: the IDP's forms, the callback, the TOTP page (enrolment the
    /// first time: the secret is read from `#totp-secret`), a code posted
    /// with the page's CSRF token, and the dashboard.
    pub async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<LoginTrace> {
        let callback = self.oidc(user, password).await?;
        let callback_cookies = set_cookies(&callback);
        if location(&callback)? != "/totp" {
            bail!("the callback sent {user} to {}", location(&callback)?);
        }
        let pre_totp_token = self
            .session()
            .context("no session cookie after the callback")?;

        let page = self.get("/totp").await?;
        if page.status() != 200 {
            bail!("/totp answered {}", page.status());
        }
        let html = page.text().await?;
        let secret_re = regex::Regex::new(r#"id="totp-secret"[^>]*>([A-Z2-7=]+)<"#).unwrap();
        let enrolled_now = match secret_re.captures(&html) {
            Some(c) => {
                let mut s = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
                let enrolled = Enrolled {
                    secret: c[1].to_string(),
                    last_step: None,
                };
                s.insert(user.to_string(), enrolled);
                true
            }
            None => false,
        };
        let csrf = meta_csrf(&html).context("no csrf-token meta on /totp")?;
        let code = fresh_code(&self.clock, &self.secrets, user)
            .context("no enrolment page and no known secret")?;
        let done = self
            .client
            .post(self.url("/totp"))
            .header("origin", &self.origin)
            .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
            .send()
            .await?;
        let totp_cookies = set_cookies(&done);
        if done.status() != 303 || location(&done)? != "/" {
            let status = done.status();
            bail!("TOTP refused ({status}): {}", done.text().await?);
        }
        let dashboard = self.get("/").await?;
        if dashboard.status() != 200 {
            bail!("the dashboard answered {}", dashboard.status());
        }
        self.user = Some(user.to_string());
        Ok(LoginTrace {
            callback_cookies,
            totp_cookies,
            pre_totp_token,
            token: self.session().context("no session after TOTP")?,
            enrolled_now,
        })
    }

    /// A TOTP code the signed-in user has not used yet.
    pub fn totp(&self) -> anyhow::Result<String> {
        let user = self.user.as_deref().context("not signed in")?;
        fresh_code(&self.clock, &self.secrets, user)
    }

    /// Open `/ws` as this browser's page would: its session cookie and the
    /// public origin.
    pub async fn ws(&self) -> anyhow::Result<WsClient> {
        let token = self.session().context("not signed in")?;
        let cookie = format!("__Host-spiderpig={token}");
        let addr: SocketAddr = self
            .origin
            .trim_start_matches("https://")
            .parse()
            .context("origin")?;
        Ok(WsClient::connect(
            addr,
            self.tls.clone(),
            &[("origin", &self.origin), ("cookie", &cookie)],
            None,
        )
        .await?)
    }
}

fn header_map(headers: &[(&str, &str)]) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes())?,
            HeaderValue::from_str(v)?,
        );
    }
    Ok(map)
}
