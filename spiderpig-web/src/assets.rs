//! Static assets embedded in the binary: our own script and styles, and the
//! front-end packages from npm (assets/package-lock.json). Nothing is loaded
//! from a CDN. Trust: internal.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// Our files under `assets/src/`, and the npm packages' files we serve.
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

/// Public names → embedded paths.
fn resolve(name: &str) -> Option<&'static str> {
    Some(match name {
        "app.js" => "src/app.js",
        "app.css" => "src/app.css",
        "xterm.js" => "node_modules/@xterm/xterm/lib/xterm.js",
        "xterm.css" => "node_modules/@xterm/xterm/css/xterm.css",
        "addon-fit.js" => "node_modules/@xterm/addon-fit/lib/addon-fit.js",
        "codex-tokens.css" => "node_modules/@wikimedia/codex-design-tokens/dist/theme-wikimedia-ui.css",
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
