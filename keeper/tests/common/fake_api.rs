//! A real HTTP server on 127.0.0.1 standing in for a third-party API that cannot be reached
//! from here. Each path answers from a script of replies (status, headers, body, delay), then a
//! default; every request is recorded (path, query, headers, arrival time).

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, response::IntoResponse};

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self { status, ..Self::json(body) }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Default)]
struct Inner {
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Handler>,
    seen: Vec<Seen>,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl FakeApi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api = Self { inner: Arc::default(), url };
        let app = axum::Router::new().fallback(answer).with_state(api.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        api
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Replies given in order to the next requests on `path`, before its default.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.lock().scripts.entry(path.into()).or_default().extend(replies);
    }

    /// The reply to `path` once its script is used up (404 without one).
    pub fn default(&self, path: &str, reply: Reply) {
        self.respond(path, move |_| reply.clone());
    }

    /// A reply computed from the request.
    pub fn respond(&self, path: &str, f: impl Fn(&Seen) -> Reply + Send + Sync + 'static) {
        self.lock().defaults.insert(path.into(), Arc::new(f));
    }

    /// A reply computed from the request, for every path starting with `prefix` that has no
    /// handler of its own (paths with parameters, e.g. `/tokens/v1/solana/`).
    pub fn respond_prefix(&self, prefix: &str, f: impl Fn(&Seen) -> Reply + Send + Sync + 'static) {
        self.lock().defaults.insert(format!("{prefix}*"), Arc::new(f));
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.lock().seen.iter().filter(|s| s.path == path).cloned().collect()
    }
}

async fn answer(
    State(api): State<FakeApi>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let query = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), urlencoding_decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let seen = Seen { path: uri.path().to_string(), query, headers, body, at: Instant::now() };
    let reply = {
        let mut inner = api.lock();
        inner.seen.push(seen.clone());
        let scripted = inner.scripts.get_mut(&seen.path).and_then(VecDeque::pop_front);
        match scripted {
            Some(r) => r,
            None => {
                let prefixed = || {
                    inner
                        .defaults
                        .iter()
                        .find_map(|(k, h)| k.strip_suffix('*').filter(|p| seen.path.starts_with(p)).map(|_| h))
                };
                match inner.defaults.get(&seen.path).or_else(prefixed) {
                    Some(h) => h(&seen),
                    None => Reply::status(404, r#"{"error":"not found"}"#),
                }
            }
        }
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (axum::http::StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.push(b'%'),
                }
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
