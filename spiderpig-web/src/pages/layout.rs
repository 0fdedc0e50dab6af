//! The page frame shared by every page. Trust: every value is escaped by
//! maud; nothing from users or scap is ever inserted as raw HTML.

use maud::{DOCTYPE, Markup, html};

use crate::auth::Me;

/// What the frame needs to know.
pub struct Frame<'a> {
    pub title: &'a str,
    pub me: Option<&'a Me>,
    pub csrf: &'a str,
    /// A `data-page` name for the page script.
    pub page: &'a str,
}

/// The whole document.
pub fn document(frame: &Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(frame.csrf);
                meta name="color-scheme" content="light dark";
                // The page script's words, as data (never executed).
                (super::vocab::element())
                title { (frame.title) " · SpiderPig" }
                // No /favicon.ico request (a 404 the console would report).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                // The page scripts: classic, deferred, so they run in this
                // order once the document is parsed (assets/src/vocab.js says
                // what each holds and why they are not ES modules).
                @for name in crate::assets::PAGE_SCRIPTS {
                    script src={ "/assets/" (name) } defer {}
                }
            }
            body data-page=(frame.page) data-user=[frame.me.map(|m| m.username.as_str())] {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "SpiderPig" }
                    @if let Some(me) = frame.me.filter(|m| m.totp_passed) {
                        nav aria-label="Main" {
                            a href="/" { "Dashboard" }
                            a href="/deploy/new" { "New deployment" }
                            a href="/history" { "History" }
                        }
                        div class="who" {
                            span { (me.username) @if me.is_admin { " (admin)" } }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(frame.csrf);
                                button type="submit" class="link" { "Sign out" }
                            }
                        }
                    }
                }
                div id="connection" class="banner warn" role="status" aria-live="polite" hidden {
                    "Lost contact with SpiderPig's executor. Reconnecting…"
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A simple page with a heading and a message.
pub fn message(frame: &Frame<'_>, heading: &str, text: &str) -> Markup {
    document(
        frame,
        html! {
            section class="card" {
                h1 { (heading) }
                p { (text) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_loads_the_page_scripts_deferred_in_order() {
        let frame = Frame {
            title: "t",
            me: None,
            csrf: "c",
            page: "message",
        };
        let page = document(&frame, html! {}).into_string();
        let mut from = 0;
        for name in crate::assets::PAGE_SCRIPTS {
            let tag = format!(r#"<script src="/assets/{name}" defer></script>"#);
            let at = page[from..]
                .find(&tag)
                .unwrap_or_else(|| panic!("{tag} missing or out of order"));
            from += at + tag.len();
        }
        assert_eq!(
            page.matches("<script src=").count(),
            crate::assets::PAGE_SCRIPTS.len()
        );
    }
}
