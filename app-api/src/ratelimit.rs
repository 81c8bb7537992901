//! Per-IP rate limiting: a token bucket per client address, refilled continuously. Over the
//! limit, a 429 with `Retry-After`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, AppState};

pub struct RateLimiter {
    /// Requests allowed per minute (the bucket size) per IP.
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: per_minute.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `ip`; `Err(wait)` when the bucket is empty.
    #[allow(clippy::float_arithmetic)] // token-bucket timing, not money
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(120));
        }
        let (tokens, at) = buckets.entry(ip).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.limiter.check(crate::auth::client_ip(req.extensions())) {
        Ok(()) => next.run(req).await,
        Err(wait) => ApiError::RateLimited(wait.as_secs().max(1)).into_response(),
    }
}
