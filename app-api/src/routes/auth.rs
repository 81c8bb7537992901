//! Register, login, logout, and who am I.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    audit,
    auth::{new_token, ClientIp, CurrentUser},
    error::{ApiError, ApiResult},
    json::ApiJson,
    now_ms, AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3-32 characters of a-z, 0-9, '_' or '-'.
    #[schema(pattern = "^[a-z0-9_-]{3,32}$")]
    pub username: String,
    /// 12-256 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// viewer or operator.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// Send as `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
    pub expires_at_ms: i64,
    pub username: String,
    pub role: String,
}

fn validate(c: &Credentials) -> ApiResult<()> {
    let u = &c.username;
    if !(3..=32).contains(&u.len())
        || !u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid("username", "must be 3-32 characters of a-z, 0-9, '_' or '-'"));
    }
    if !(12..=256).contains(&c.password.chars().count()) {
        return Err(ApiError::invalid("password", "must be 12 to 256 characters"));
    }
    Ok(())
}

/// Creates a viewer account (operators are made with `app-api make-operator USERNAME`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses((status = 201, body = User), (status = 400, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<User>)> {
    validate(&c)?;
    let hash = state.hasher.hash(&c.password).await?;
    let Some(id) = mirror::api::register(&state.writer, &c.username, &hash).await? else {
        return Err(ApiError::Conflict(format!("username `{}` is taken", c.username)));
    };
    audit(&state, Some((id, &c.username)), ip, "register", json!({})).await;
    Ok((StatusCode::CREATED, Json(User { id, username: c.username, role: "viewer".into() })))
}

/// Exchanges a username and password for a 24-hour session token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = SessionToken), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Json<SessionToken>> {
    let row = mirror::api::credentials(&state.writer, &c.username).await?;
    // Verify against a real hash even for unknown users, so timing does not reveal which exist.
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let dummy = DUMMY.get_or_try_init(|| state.hasher.hash("not the password of anyone")).await?;
    let ok = state.hasher.verify(&c.password, row.as_ref().map(|r| r.1.as_str()).unwrap_or(dummy)).await?;
    let Some((id, _, role)) = row.filter(|_| ok) else {
        audit(&state, None, ip, "login_failed", json!({ "username": c.username })).await;
        return Err(ApiError::Unauthorized);
    };
    // Expired and long-revoked sessions are cleaned up as new ones are made.
    let (token, hash) = new_token();
    let expires_at_ms = now_ms() + i64::try_from(state.session_ttl.as_millis()).unwrap_or(i64::MAX / 2);
    mirror::api::open_session(&state.writer, &hash, id, expires_at_ms, &ip.to_string()).await?;
    audit(&state, Some((id, &c.username)), ip, "login", json!({})).await;
    Ok(Json(SessionToken { token, expires_at_ms, username: c.username, role }))
}

/// Revokes the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    mirror::api::revoke_session(&state.writer, &user.token_hash).await?;
    audit(&state, Some((user.id, &user.username)), user.ip, "logout", json!({})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn me(user: CurrentUser) -> Json<User> {
    Json(User { id: user.id, username: user.username, role: user.role })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}
