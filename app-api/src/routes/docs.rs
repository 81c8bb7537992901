//! The OpenAPI document (generated from the handlers' annotations) and an interactive page.

use axum::{
    response::{Html, IntoResponse},
    routing::get,
    Json, Router,
};
use utoipa::OpenApi;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "amm-sniper API", description = "Read API over the keeper's mirror: pools, discoveries, tokens with risk reports, trades and positions, quotes on our AMM."),
    paths(
        super::health::health,
        super::pools::pools,
        super::pools::discoveries,
        super::pools::pool,
        super::pools::events,
        super::tokens::tokens,
        super::tokens::token,
        super::tokens::reports,
        super::trades::trades,
        super::trades::positions,
        super::trades::position_events,
        super::trades::force_exit,
        super::performance::performances,
        super::performance::overview,
        super::audit::audit,
        super::backtests::backtests,
        super::backtests::backtest,
        super::quote::quote,
        super::auth::register,
        super::auth::login,
        super::auth::logout,
        super::auth::me,
        super::keeper::controls,
        super::keeper::pause,
        super::keeper::resume,
        super::keeper::limits,
        crate::metrics::metrics,
        super::stream::stream,
        super::tx::swap::swap,
        super::tx::liquidity::deposit,
        super::tx::liquidity::withdraw,
        super::tx::create_pool::create_pool,
        super::tx::transfer::transfer,
        super::tx::evm_swap::evm_swap,
        super::wallets::balances,
        super::wallets::liquidity,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "health"), (name = "pools"), (name = "tokens"), (name = "trading"), (name = "quote"), (name = "wallets"), (name = "auth"), (name = "keeper"))
)]
pub struct ApiDoc;

/// Declares the bearer session scheme the secured paths refer to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// RapiDoc, loaded by the browser from its CDN, pointed at the document above.
async fn page() -> Html<&'static str> {
    Html(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>amm-sniper API</title>
<script type="module" src="https://unpkg.com/rapidoc@9.3.8/dist/rapidoc-min.js"></script></head>
<body><rapi-doc spec-url="/api/v1/openapi.json" render-style="read" allow-try="true"></rapi-doc></body></html>"#,
    )
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi)).route("/docs", get(page))
}
