//! One error type for every handler: a stable code, a message, the offending field when there is
//! one, and the right status. Database and internal causes are logged, never returned.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, for 400s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {message}")]
    InvalidParameter { field: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("mirror: {0}")]
    Mirror(#[from] mirror::MirrorError),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    #[error("internal: {0}")]
    Internal(String),
    /// A transaction built for a wallet fails its simulation: the error and the program logs.
    #[error("simulation failed: {message}")]
    SimulationFailed { message: String, logs: Vec<String> },
    /// A websocket route called without a websocket handshake.
    #[error("upgrade required: {0}")]
    UpgradeRequired(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidParameter { field: field.to_string(), message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::InvalidParameter { field, message } => (
                StatusCode::BAD_REQUEST,
                ErrorBody { code: "invalid_parameter", message: format!("`{field}`: {message}"), field: Some(field) },
            ),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                ErrorBody { code: "not_found", message: format!("{what} not found"), field: None },
            ),
            ApiError::Unprocessable(message) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorBody { code: "unprocessable", message, field: None })
            }
            ApiError::Mirror(mirror::MirrorError::Database(e)) | ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody { code: "internal", message: "internal error".into(), field: None },
                )
            }
            ApiError::Mirror(mirror::MirrorError::Busy) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody { code: "unavailable", message: "the database is busy; retry".into(), field: None },
            ),
            ApiError::Mirror(e) => {
                tracing::error!(error = %e, "mirror error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody { code: "internal", message: "internal error".into(), field: None },
                )
            }
            ApiError::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorBody { code: "unavailable", message, field: None })
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorBody { code: "unauthorized", message: "a valid session is required".into(), field: None },
            ),
            ApiError::Forbidden => {
                (StatusCode::FORBIDDEN, ErrorBody { code: "forbidden", message: "operators only".into(), field: None })
            }
            ApiError::Conflict(message) => (StatusCode::CONFLICT, ErrorBody { code: "conflict", message, field: None }),
            ApiError::UpgradeRequired(message) => {
                (StatusCode::UPGRADE_REQUIRED, ErrorBody { code: "upgrade_required", message, field: None })
            }
            ApiError::SimulationFailed { message, logs } => {
                let body = serde_json::json!({
                    "code": "simulation_failed",
                    "message": format!("the transaction fails in simulation: {message}"),
                    "logs": logs,
                });
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            ApiError::RateLimited(secs) => {
                let body = ErrorBody {
                    code: "rate_limited",
                    message: format!("too many requests; retry in {secs} s"),
                    field: None,
                };
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, secs.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody { code: "internal", message: "internal error".into(), field: None },
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
