//! A micro-cache for anonymous GETs of the read endpoints: the same URL within `ttl` is answered
//! from memory. The mirror changes asynchronously anyway (the websocket stream is the real-time
//! path), and a short TTL turns a burst of identical dashboard requests into one query.

use std::{collections::HashMap, sync::Mutex, time::Duration};

// tokio's clock: the system's, except that tests can move it past the TTL.
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use tokio::time::Instant;

use crate::AppState;

const MAX_ENTRIES: usize = 10_000;
const MAX_BODY: usize = 1 << 20;

pub struct ResponseCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Bytes)>>,
}

impl ResponseCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().ok()?;
        let (at, body) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| body.clone())
    }

    fn put(&self, key: String, body: Bytes) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (Instant::now(), body));
        }
    }
}

fn cacheable(req: &Request) -> bool {
    // Inside the nested /api/v1 router the prefix is already stripped.
    let path = req.uri().path();
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    req.method() == Method::GET
        && !req.headers().contains_key(header::AUTHORIZATION)
        && ["/pools", "/discoveries", "/tokens"].iter().any(|p| path.starts_with(p))
}

pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.cache.ttl.is_zero() || !cacheable(&req) {
        return next.run(req).await;
    }
    let key = req.uri().to_string(); // path (without the prefix) and query
    if let Some(body) = state.cache.get(&key) {
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    match body.collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            if bytes.len() <= MAX_BODY {
                state.cache.put(key, bytes.clone());
            }
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
