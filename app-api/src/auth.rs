//! Passwords (argon2id), sessions (random 256-bit bearer tokens, stored as SHA-256, 24 hours,
//! revocable) and the extractors that guard routes: [`CurrentUser`] (401 without a live session)
//! and [`Operator`] (403 for non-operators).

use std::net::{IpAddr, SocketAddr};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{error::ApiError, AppState};

/// Password hashing off the async workers: argon2 is deliberately slow (tens of milliseconds of
/// CPU), so each hash runs on a blocking thread, and at most `permits` run at once. A burst of
/// logins then queues here instead of taking every core from the reads.
pub struct Hasher {
    permits: tokio::sync::Semaphore,
}

impl Default for Hasher {
    /// Half the cores (at least one), so reads always keep a core.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new((cores / 2).max(1))
    }
}

impl Hasher {
    pub fn new(permits: usize) -> Self {
        Self { permits: tokio::sync::Semaphore::new(permits.max(1)) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(format!("hashing: {e}")))
    }

    /// A new argon2id hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_string();
        self.run(move || hash_password(&password)).await?
    }

    /// Whether `password` matches `hash`.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, ApiError> {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move || verify_password(&password, &hash)).await
    }
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// A new session token (shown to the client once) and its hash (stored).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client's IP (from the connection; tests without one get 0.0.0.0).
pub fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The signed-in user of a request with a live session (`Authorization: Bearer <token>`).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub token_hash: String,
    pub ip: IpAddr,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header.and_then(|h| h.strip_prefix("Bearer ")).ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(token.trim());
        let row = mirror::api::session_user(&state.writer, &hash).await?;
        let (id, username, role) = row.ok_or(ApiError::Unauthorized)?;
        Ok(CurrentUser { id, username, role, token_hash: hash, ip: client_ip(&parts.extensions) })
    }
}

/// A [`CurrentUser`] with the operator role.
#[derive(Debug, Clone)]
pub struct Operator(pub CurrentUser);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role != "operator" {
            crate::audit(
                state,
                Some((user.id, &user.username)),
                user.ip,
                "forbidden",
                serde_json::json!({"path": parts.uri.path()}),
            )
            .await;
            return Err(ApiError::Forbidden);
        }
        Ok(Operator(user))
    }
}

/// The client's IP, for handlers without a session (register, login).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}
