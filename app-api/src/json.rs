//! A JSON body extractor whose rejections use the API's error format, naming the field at fault.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    Json,
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

/// The field a serde error message names (`missing field `x``, `unknown field `x``), else "body".
fn field_of(message: &str) -> String {
    let mut parts = message.split('`');
    match (parts.next(), parts.next()) {
        (Some(_), Some(field)) if !field.is_empty() && field.len() <= 64 => field.to_string(),
        _ => "body".to_string(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type =
            req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return Err(ApiError::invalid("content-type", "must be application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::invalid("body", axum::response::IntoResponse::into_response(e).status().to_string())
        })?;
        // Every body of this API is an object (serde would also read a struct from an array).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("body", "must be a JSON object"));
        }
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| e.body_text());
                // serde_path_to_error style: "field: message" or a serde message naming the field.
                let field = match text.split_once(": ") {
                    Some((path, _)) if !path.contains(' ') && !path.is_empty() => path.to_string(),
                    _ => field_of(&text),
                };
                Err(ApiError::invalid(&field, text))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::invalid("content-type", "must be application/json"))
            }
            Err(e) => Err(ApiError::invalid("body", e.body_text())),
        }
    }
}
