//! The audit log (operators): every sign-in, pause, resume, limits change and force-exit, with
//! who did it, from where, and when.

use axum::{extract::State, routing::get, Json, Router};

use super::Page;
use crate::{
    auth::Operator,
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

pub use mirror::api::AuditEntry;

/// The audit log, newest first (operators).
#[utoipa::path(get, path = "/api/v1/audit", tag = "keeper",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(State(state): State<AppState>, _op: Operator, params: Params) -> ApiResult<Json<Page<AuditEntry>>> {
    params.only(&["limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let before_id = match params.cursor("audit", 1)? {
        Some(c) => Some(c[0].parse::<i64>().map_err(|_| ApiError::invalid("cursor", "malformed"))?),
        None => None,
    };
    let rows = mirror::api::audit_page(&state.writer, before_id, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| cursor("audit", &[e.id.to_string()]))))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}
