//! Prometheus metrics: request counts and latency histograms per route (recorded by a
//! middleware), plus gauges read at scrape time: database pool, process CPU and memory, active
//! sessions, and what the mirror holds (pools and their liquidity state, events per kind).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::AppState;

/// Latency buckets, in microseconds (rendered in seconds).
const BUCKETS_US: [u64; 12] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS_US.len()],
    count: u64,
    sum_us: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_string()).or_default();
            for (i, b) in BUCKETS_US.iter().enumerate() {
                if us <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum_us = h.sum_us.saturating_add(us);
        }
    }
}

fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    state.metrics.record(&method, &route, resp.status().as_u16(), started.elapsed());
    resp
}

/// CPU seconds (user + system) and resident bytes of this process, from /proc (Linux).
fn process_stats() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    // Clock ticks are 100 per second on Linux; pages are 4 KiB on x86-64.
    Some((utime + stime, 100, rss_pages * 4096))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE app_api_requests_total counter");
    if let Ok(r) = state.metrics.requests.lock() {
        for ((method, route, status), n) in r.iter() {
            let _ = writeln!(
                out,
                "app_api_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    let _ = writeln!(out, "# TYPE app_api_request_duration_seconds histogram");
    if let Ok(l) = state.metrics.latency.lock() {
        for (route, h) in l.iter() {
            for (i, b) in BUCKETS_US.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "app_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{}\"}} {}",
                    secs(*b),
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "app_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "app_api_request_duration_seconds_sum{{route=\"{route}\"}} {}", secs(h.sum_us));
            let _ = writeln!(out, "app_api_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
    }
    let _ = writeln!(out, "# TYPE app_api_db_connections gauge");
    let idle = u32::try_from(state.db.num_idle()).unwrap_or(u32::MAX);
    let _ = writeln!(out, "app_api_db_connections{{state=\"idle\"}} {idle}");
    let _ = writeln!(out, "app_api_db_connections{{state=\"active\"}} {}", state.db.size().saturating_sub(idle));
    if let Some((ticks, hz, rss)) = process_stats() {
        let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
        let _ = writeln!(out, "process_cpu_seconds_total {}.{:02}", ticks / hz, ticks % hz);
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    if let Ok(n) = mirror::api::active_sessions(&state.writer).await {
        let _ = writeln!(out, "# TYPE app_api_active_sessions gauge");
        let _ = writeln!(out, "app_api_active_sessions {n}");
    }
    if let Ok(rows) = mirror::api::pools_by_chain(&state.db).await {
        let _ = writeln!(out, "# TYPE mirror_pools gauge");
        for (chain, total, liquid) in rows {
            let _ = writeln!(out, "mirror_pools{{chain=\"{chain}\",liquidity=\"funded\"}} {liquid}");
            let _ = writeln!(out, "mirror_pools{{chain=\"{chain}\",liquidity=\"empty\"}} {}", total - liquid);
        }
    }
    if let Ok(rows) = mirror::api::events_by_kind(&state.db).await {
        let _ = writeln!(out, "# TYPE mirror_transactions_total counter");
        for (chain, kind, n) in rows {
            let _ = writeln!(out, "mirror_transactions_total{{chain=\"{chain}\",kind=\"{kind}\"}} {n}");
        }
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}
