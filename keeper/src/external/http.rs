//! The HTTP core every external client shares: per-service base URL, API key, timeout, retries
//! with exponential backoff and jitter (honouring `Retry-After`), a client-side rate limit and a
//! circuit breaker; failures come back as [`ExternalError`], naming the service and the cause.

use std::{fmt, sync::Mutex, time::Duration};

// tokio's clock: the same as the system's, except that tests can pause and move it (the
// breaker's open period, the rate limit's spacing and the caches' TTL follow it).
use tokio::time::Instant;

use rand::Rng;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The third-party services the keeper talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Jupiter,
    DexScreener,
    CoinGecko,
    ZeroEx,
    OneInch,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jupiter => "jupiter",
            Self::DexScreener => "dexscreener",
            Self::CoinGecko => "coingecko",
            Self::ZeroEx => "0x",
            Self::OneInch => "1inch",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call to a service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("disabled in the config")]
    Disabled,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("rate limited (HTTP 429){}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("circuit open after {failures} consecutive failures; next try in {retry_in:?}")]
    CircuitOpen { failures: u32, retry_in: Duration },
    /// The answer parsed but is not what was asked for (a quote for other tokens, a
    /// transaction that does not match its quote, ...).
    #[error("{0}")]
    Rejected(String),
}

impl Failure {
    /// Worth another attempt: the service may answer next time.
    fn retryable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Transport(_) | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Counts against the service's health (a 4xx other than 429 is our request's fault).
    fn trips_breaker(&self) -> bool {
        self.retryable() || matches!(self, Self::Malformed(_))
    }

    fn outcome(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Timeout(_) => "timeout",
            Self::Transport(_) => "transport",
            Self::RateLimited { .. } => "rate_limited",
            Self::Status { .. } => "status",
            Self::Malformed(_) => "malformed",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Rejected(_) => "rejected",
        }
    }
}

/// A failed call: which service, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service}: {failure}")]
pub struct ExternalError {
    pub service: Service,
    pub failure: Failure,
}

/// `[external.<service>]`: where a service is and how hard to try.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub enabled: bool,
    pub base_url: String,
    /// The API key, if the service needs one. Prefer `api_key_env`: the key then stays out of
    /// the file. Never logged.
    pub api_key: String,
    /// An environment variable holding the API key; it wins over `api_key` when set.
    pub api_key_env: String,
    pub timeout_ms: u64,
    /// Attempts after the first, on timeouts, transport errors, 429 and 5xx.
    pub max_retries: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Client-side rate limit: requests are spaced to stay under this many per minute.
    pub requests_per_minute: u32,
    /// The breaker opens after this many consecutive failed calls (0 disables it)...
    pub breaker_failures: u32,
    /// ...and lets one trial call through after this long.
    pub breaker_open_ms: u64,
    /// How long a price stays fresh in the cache (services that serve prices).
    pub cache_ttl_ms: u64,
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("enabled", &self.enabled)
            .field("base_url", &self.base_url)
            .field("api_key", &if self.api_key.is_empty() { "" } else { "<redacted>" })
            .field("api_key_env", &self.api_key_env)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("breaker_failures", &self.breaker_failures)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// Defaults shared by every service; `base_url`, `api_key_env` and the rate differ.
    pub fn new(base_url: &str, api_key_env: &str, requests_per_minute: u32) -> Self {
        Self {
            enabled: false,
            base_url: base_url.into(),
            api_key: String::new(),
            api_key_env: api_key_env.into(),
            timeout_ms: 3_000,
            max_retries: 2,
            backoff_initial_ms: 200,
            backoff_max_ms: 5_000,
            requests_per_minute,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            cache_ttl_ms: 30_000,
        }
    }

    /// What is wrong with it, as (field, reason); `name` is the service's config key.
    pub fn invalid_field(&self, name: &str) -> Option<(String, String)> {
        let field = |f: &str| format!("external.{name}.{f}");
        if !self.enabled {
            return None;
        }
        match reqwest::Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Some((field("base_url"), "must be an http(s) URL".into())),
        }
        if self.timeout_ms == 0 || self.timeout_ms > 120_000 {
            return Some((field("timeout_ms"), "must be between 1 and 120000".into()));
        }
        if self.max_retries > 10 {
            return Some((field("max_retries"), "must be at most 10".into()));
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return Some((field("backoff_max_ms"), "needs 0 < backoff_initial_ms <= backoff_max_ms".into()));
        }
        if self.requests_per_minute == 0 {
            return Some((field("requests_per_minute"), "must be at least 1".into()));
        }
        if self.breaker_failures > 0 && self.breaker_open_ms == 0 {
            return Some((field("breaker_open_ms"), "must be at least 1 when the breaker is on".into()));
        }
        None
    }

    /// The API key: the environment variable named by `api_key_env`, else `api_key`.
    pub fn key(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let from_env = (!self.api_key_env.is_empty()).then(|| env(&self.api_key_env)).flatten();
        from_env.filter(|k| !k.is_empty()).or_else(|| (!self.api_key.is_empty()).then(|| self.api_key.clone()))
    }
}

/// How an API key is sent.
#[derive(Debug, Clone, Copy)]
pub enum KeyStyle {
    /// `<header>: <key>`.
    Header(&'static str),
    /// `Authorization: Bearer <key>`.
    Bearer,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// A trial call is in flight while half-open.
    trial: bool,
}

/// One service's HTTP client.
pub struct Http {
    service: Service,
    client: reqwest::Client,
    base: String,
    headers: reqwest::header::HeaderMap,
    cfg: ServiceConfig,
    next_slot: tokio::sync::Mutex<Instant>,
    breaker: Mutex<Breaker>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http").field("service", &self.service).field("base", &self.base).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Http {
    /// A client for `service`; `extra` headers go on every request (e.g. `0x-version: v2`).
    pub fn new(
        service: Service,
        cfg: &ServiceConfig,
        key: Option<String>,
        style: KeyStyle,
        extra: &[(&'static str, &'static str)],
    ) -> Result<Self, ExternalError> {
        let err = |m: String| ExternalError { service, failure: Failure::Transport(m) };
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in extra {
            headers.insert(*k, reqwest::header::HeaderValue::from_static(v));
        }
        if let Some(key) = key {
            let (name, value) = match style {
                KeyStyle::Header(h) => (reqwest::header::HeaderName::from_static(h), key),
                KeyStyle::Bearer => (reqwest::header::AUTHORIZATION, format!("Bearer {key}")),
            };
            let mut value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| err("the API key is not a valid header".into()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .user_agent(concat!("amm-sniper-keeper/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            service,
            client,
            base: cfg.base_url.trim_end_matches('/').to_string(),
            headers,
            cfg: cfg.clone(),
            next_slot: tokio::sync::Mutex::new(Instant::now()),
            breaker: Mutex::new(Breaker::default()),
        })
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.cfg
    }

    pub(crate) fn error(&self, failure: Failure) -> ExternalError {
        ExternalError { service: self.service, failure }
    }

    /// `GET {base}{path}?{query}` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ExternalError> {
        let url = format!("{}{path}", self.base);
        self.call(|| self.client.get(&url).headers(self.headers.clone()).query(query)).await
    }

    /// `POST {base}{path}` with a JSON body, answered with JSON.
    pub async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ExternalError> {
        let url = format!("{}{path}", self.base);
        self.call(|| self.client.post(&url).headers(self.headers.clone()).json(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ExternalError> {
        if !self.cfg.enabled {
            return Err(self.error(Failure::Disabled));
        }
        self.admit()?;
        let started = Instant::now();
        let mut attempt = 0u32;
        let result = loop {
            self.pace().await;
            let failure = match self.once::<T>(request()).await {
                Ok(v) => break Ok(v),
                Err(f) => f,
            };
            if !failure.retryable() || attempt >= self.cfg.max_retries {
                break Err(failure);
            }
            let mut wait = self.backoff(attempt);
            if let Failure::RateLimited { retry_after: Some(after) } = failure {
                // The service says when; waiting longer than our own ceiling is giving up.
                if after > Duration::from_millis(self.cfg.backoff_max_ms) {
                    break Err(failure);
                }
                wait = wait.max(after);
            }
            tracing::debug!(service = %self.service, attempt, ?wait, %failure, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(f) => f.outcome(),
        };
        metrics::counter!("keeper_external_requests_total", "service" => self.service.as_str(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("keeper_external_request_seconds", "service" => self.service.as_str())
            .record(started.elapsed().as_secs_f64());
        self.settle(result.as_ref().err());
        result.map_err(|f| self.error(f))
    }

    async fn once<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, Failure> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| retry_after(v.to_str().ok()?));
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::RateLimited { retry_after });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(Failure::Status { status: status.as_u16(), body: text });
        }
        serde_json::from_slice(&body).map_err(|e| Failure::Malformed(e.to_string()))
    }

    fn transport(&self, e: reqwest::Error) -> Failure {
        if e.is_timeout() {
            Failure::Timeout(Duration::from_millis(self.cfg.timeout_ms))
        } else {
            // Without the URL: query strings may carry keys on some services.
            Failure::Transport(e.without_url().to_string())
        }
    }

    /// Exponential backoff with equal jitter: half the step fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self.cfg.backoff_initial_ms.saturating_mul(1u64 << attempt.min(20)).min(self.cfg.backoff_max_ms);
        let half = step / 2;
        Duration::from_millis(half + rand::thread_rng().gen_range(0..=step - half))
    }

    /// Waits for this request's slot under the rate limit.
    async fn pace(&self) {
        let interval = Duration::from_millis(60_000 / u64::from(self.cfg.requests_per_minute.max(1)));
        let at = {
            let mut next = self.next_slot.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// Refuses a call while the breaker is open; lets one trial through once it may close.
    fn admit(&self) -> Result<(), ExternalError> {
        let mut b = lock(&self.breaker);
        let Some(until) = b.open_until else { return Ok(()) };
        let now = Instant::now();
        if now < until || b.trial {
            let retry_in = until.saturating_duration_since(now);
            metrics::counter!("keeper_external_requests_total", "service" => self.service.as_str(), "outcome" => "circuit_open")
                .increment(1);
            return Err(self.error(Failure::CircuitOpen { failures: b.failures, retry_in }));
        }
        b.trial = true;
        Ok(())
    }

    fn settle(&self, failure: Option<&Failure>) {
        let mut b = lock(&self.breaker);
        b.trial = false;
        match failure {
            Some(f) if f.trips_breaker() => {
                b.failures = b.failures.saturating_add(1);
                let threshold = self.cfg.breaker_failures;
                if threshold > 0 && b.failures >= threshold {
                    b.open_until = Some(Instant::now() + Duration::from_millis(self.cfg.breaker_open_ms));
                    tracing::warn!(service = %self.service, failures = b.failures, "circuit open: {f}");
                }
            }
            Some(_) => {}
            None => {
                if b.open_until.is_some() {
                    tracing::info!(service = %self.service, "circuit closed");
                }
                *b = Breaker::default();
            }
        }
    }

    /// Whether the breaker currently refuses calls.
    pub fn circuit_open(&self) -> bool {
        let b = lock(&self.breaker);
        b.open_until.is_some_and(|u| Instant::now() < u)
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate(value.trim())?;
    let now = std::time::SystemTime::now();
    Some(at.duration_since(now).unwrap_or_default())
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP servers send.
fn httpdate(s: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.iter().position(|m| m == month)? as u64 + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let secs = days * 86_400 + h * 3_600 + m * 60 + sec;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// A small TTL cache (prices, lookups): fresh entries are served without a call.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<std::collections::HashMap<K, (Instant, V)>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(std::collections::HashMap::new()) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = lock(&self.entries);
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO), "a past date: now");
        assert_eq!(
            httpdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_within_its_bounds() {
        let mut cfg = ServiceConfig::new("http://127.0.0.1:1", "", 600);
        cfg.backoff_initial_ms = 100;
        cfg.backoff_max_ms = 1_000;
        let http = Http::new(Service::CoinGecko, &cfg, None, KeyStyle::Bearer, &[]).unwrap();
        for _ in 0..50 {
            let first = http.backoff(0).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = http.backoff(2).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let capped = http.backoff(30).as_millis();
            assert!((500..=1_000).contains(&capped), "{capped}");
        }
    }

    #[test]
    fn the_key_comes_from_the_environment_first_and_is_never_printed() {
        let mut cfg = ServiceConfig::new("https://api.example", "EXAMPLE_KEY", 60);
        cfg.api_key = "from-file".into();
        assert_eq!(cfg.key(&|_| Some("from-env".into())).as_deref(), Some("from-env"));
        assert_eq!(cfg.key(&|_| None).as_deref(), Some("from-file"));
        assert!(!format!("{cfg:?}").contains("from-file"));
    }
}
