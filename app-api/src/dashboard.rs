//! The dashboard's built files (`dashboard/dist`, built by `scripts/`), served at `/`: the page
//! itself with `no-cache` (a new build is picked up at once) and a content security policy that
//! allows only its own scripts, and the content-hashed files under `/assets/` as immutable
//! (cached for a year). The API stays under `/api/v1`.

use std::path::Path;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// Scripts and styles from the dashboard's own origin only (React sets inline `style`
/// attributes, never inline scripts), the API and its websocket on the same origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let index = dir.join("index.html");
    let page = move || {
        let index = index.clone();
        async move {
            match tokio::fs::read(&index).await {
                Ok(html) => page_response(html),
                Err(_) => (StatusCode::NOT_FOUND, "the dashboard is not built (scripts/localnet.sh builds it)")
                    .into_response(),
            }
        }
    };
    let assets = Router::new().nest_service("/assets", ServeDir::new(dir.join("assets"))).layer(
        SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    );
    Router::new().route("/", get(page.clone())).route("/index.html", get(page)).merge(assets)
}

fn page_response(html: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        ],
        html,
    )
        .into_response()
}
