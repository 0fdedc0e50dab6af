//! Static assets embedded in the binary: our own script and styles, and the
//! front-end packages from npm (assets/package-lock.json). Nothing is loaded
//! from a CDN. Trust: internal.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// Our files under `assets/src/`, and the npm packages' files we serve
/// (paths checked against the pinned versions in `assets/package-lock.json`;
/// `npm ci` in `assets/` before building). xterm.js and its fit addon are UMD
/// builds that set the globals `Terminal` and `FitAddon.FitAddon`; uPlot's
/// IIFE build sets `uPlot`. `app.css` imports the Codex token files (the dark
/// set under `prefers-color-scheme: dark`); every page loads
/// [`PAGE_SCRIPTS`], the last of which, `app.js`, loads `dashboard.js` on
/// the dashboard and xterm.js, its fit addon, `terminal.js` and `job.js` on a
/// job page only; uPlot and `monitor.js` (the monitoring panels) on both.
#[derive(RustEmbed)]
#[folder = "assets/"]
#[include = "src/*"]
#[include = "node_modules/@xterm/xterm/lib/xterm.js"]
#[include = "node_modules/@xterm/xterm/css/xterm.css"]
#[include = "node_modules/@xterm/addon-fit/lib/addon-fit.js"]
#[include = "node_modules/@wikimedia/codex-design-tokens/dist/theme-wikimedia-ui.css"]
#[include = "node_modules/@wikimedia/codex-design-tokens/dist/theme-wikimedia-ui-mode-dark.css"]
#[include = "node_modules/uplot/dist/uPlot.iife.min.js"]
#[include = "node_modules/uplot/dist/uPlot.min.css"]
pub struct Assets;

/// The scripts every page loads, in the order they must run (each uses the
/// ones before it through `globalThis.SpiderPig`; see `assets/src/vocab.js`).
pub const PAGE_SCRIPTS: [&str; 7] = [
    "vocab.js",
    "dom.js",
    "api.js",
    "socket.js",
    "notify.js",
    "live.js",
    "app.js",
];

/// Public names → embedded paths.
fn resolve(name: &str) -> Option<&'static str> {
    Some(match name {
        "vocab.js" => "src/vocab.js",
        "dom.js" => "src/dom.js",
        "api.js" => "src/api.js",
        "socket.js" => "src/socket.js",
        "notify.js" => "src/notify.js",
        "live.js" => "src/live.js",
        "app.js" => "src/app.js",
        "app.css" => "src/app.css",
        "dashboard.js" => "src/dashboard.js",
        "job.js" => "src/job.js",
        "terminal.js" => "src/terminal.js",
        "monitor.js" => "src/monitor.js",
        "xterm.js" => "node_modules/@xterm/xterm/lib/xterm.js",
        "xterm.css" => "node_modules/@xterm/xterm/css/xterm.css",
        "addon-fit.js" => "node_modules/@xterm/addon-fit/lib/addon-fit.js",
        "codex-tokens.css" => {
            "node_modules/@wikimedia/codex-design-tokens/dist/theme-wikimedia-ui.css"
        }
        "codex-tokens-dark.css" => {
            "node_modules/@wikimedia/codex-design-tokens/dist/theme-wikimedia-ui-mode-dark.css"
        }
        "uplot.js" => "node_modules/uplot/dist/uPlot.iife.min.js",
        "uplot.css" => "node_modules/uplot/dist/uPlot.min.css",
        _ => return None,
    })
}

/// `GET /assets/{name}`
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(file) = resolve(&name).and_then(Assets::get) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mime = file.metadata.mimetype().to_string();
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
        ],
        file.data,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public name and the media type it must be served with.
    const PUBLIC: [(&str, &str); 19] = [
        ("vocab.js", "javascript"),
        ("dom.js", "javascript"),
        ("api.js", "javascript"),
        ("socket.js", "javascript"),
        ("notify.js", "javascript"),
        ("live.js", "javascript"),
        ("app.js", "javascript"),
        ("dashboard.js", "javascript"),
        ("job.js", "javascript"),
        ("terminal.js", "javascript"),
        ("monitor.js", "javascript"),
        ("app.css", "text/css"),
        ("xterm.js", "javascript"),
        ("xterm.css", "text/css"),
        ("addon-fit.js", "javascript"),
        ("codex-tokens.css", "text/css"),
        ("codex-tokens-dark.css", "text/css"),
        ("uplot.js", "javascript"),
        ("uplot.css", "text/css"),
    ];

    #[test]
    fn every_public_asset_is_embedded_with_its_media_type() {
        for (name, kind) in PUBLIC {
            let file = resolve(name).and_then(Assets::get).unwrap_or_else(|| {
                panic!("{name} is not embedded: run `npm ci` in spiderpig-web/assets")
            });
            assert!(!file.data.is_empty(), "{name} is empty");
            assert!(
                file.metadata.mimetype().contains(kind),
                "{name}: {}",
                file.metadata.mimetype()
            );
        }
    }

    #[test]
    fn every_page_script_is_public() {
        for name in PAGE_SCRIPTS {
            assert!(
                PUBLIC.iter().any(|(n, _)| *n == name),
                "{name} is not in PUBLIC"
            );
        }
    }

    #[test]
    fn only_listed_names_are_served() {
        for name in [
            "",
            "app",
            "../Cargo.toml",
            "src/app.js",
            "node_modules/@xterm/xterm/lib/xterm.js",
            "xterm.js.map",
            "package.json",
        ] {
            assert!(resolve(name).is_none(), "{name:?} resolved");
        }
        // Files under node_modules that were not listed are not embedded at all.
        assert!(Assets::get("node_modules/@xterm/xterm/lib/xterm.mjs").is_none());
        assert!(Assets::get("package-lock.json").is_none());
    }
}
