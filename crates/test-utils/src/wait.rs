//! Bounded waits: a test waits on the event that proves what it asserts, never on a sleep.

use std::time::Duration;

/// Every wait is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Waits (bounded by [`TIMEOUT`]) until `check` returns `Some`, polling every 20 ms.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
