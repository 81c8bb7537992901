//! A keeper in the test process: the same `App` that `keeper run` builds, through its builder,
//! plus what a test waits on (the reports and decisions it publishes, the mirror).
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use keeper::{
    app::AppBuilder,
    pipeline::{Decision, RiskReport},
    tasks::TaskFailed,
};
use sqlx::SqlitePool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Running {
    cancel: CancellationToken,
    join: JoinHandle<Result<(), TaskFailed>>,
    /// Every report the risk stage published, in order.
    pub reports: Arc<Mutex<Vec<RiskReport>>>,
    pub db: SqlitePool,
    /// The running trader (when trading is on): what its anti-rug watch concludes, for one.
    pub trader: Option<Arc<keeper::trade::trader::Trader>>,
}

/// Builds the app and runs it until [`Running::stop`].
pub async fn start(builder: AppBuilder) -> Running {
    let app = builder.build().await.expect("the keeper builds");
    let db = app.db().clone();
    let trader = app.trader();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let mut rx = app.reports();
    let tap = reports.clone();
    tokio::spawn(async move {
        while let Ok(r) = rx.recv().await {
            tap.lock().unwrap().push(r);
        }
    });
    let cancel = CancellationToken::new();
    let join = tokio::spawn(app.run(cancel.clone()));
    Running { cancel, join, reports, db, trader }
}

impl Running {
    /// Stops every task in order; the keeper must stop cleanly.
    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.join)
            .await
            .expect("the keeper stops within 20 s")
            .expect("the keeper's task")
            .expect("the keeper stops without a task failure");
    }

    /// The report published for `token`.
    pub fn report(&self, token: &str) -> Option<RiskReport> {
        self.reports.lock().unwrap().iter().find(|r| r.token.eq_ignore_ascii_case(token)).cloned()
    }
}

/// Waits for the trader's first decision on `token` (recorded in the mirror).
pub async fn decision(db: &SqlitePool, chain: &str, token: &str) -> Decision {
    let token = token.to_string();
    test_utils::wait_for(&format!("a decision on {token}"), || async {
        let rows = mirror::decisions::for_token(db, chain, &token).await.unwrap();
        rows.into_iter().next().map(|d| Decision {
            report_id: d.report_id,
            pool_id: d.pool_id,
            chain: d.chain,
            token: d.token,
            action: d.action,
            reason: d.reason,
            detail: d.detail,
            position_id: d.position_id,
            trade_id: d.trade_id,
            decided_at_ms: d.decided_at_ms,
        })
    })
    .await
}

/// Waits until the source's checkpoint exists: it has started following its chain.
pub async fn following(db: &SqlitePool, source: &str) {
    test_utils::wait_for(&format!("{source} to start"), || async {
        mirror::checkpoint(db, source).await.unwrap().map(|_| ())
    })
    .await;
}

/// Waits until a `keeper run` process on the mirror at `db` has its task `task` running (its
/// signal handlers are registered before any task starts).
pub async fn process_running(db: &std::path::Path, task: &str, since: std::time::SystemTime) {
    // A row left "running" by an earlier (killed) process of the same mirror does not count: the
    // state must have been written by a process started at `since` or later.
    let since_ms =
        since.duration_since(std::time::UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_millis()).ok()).unwrap_or(0);
    test_utils::wait_for(&format!("the keeper's {task} task to run"), || async {
        if !db.exists() {
            return None;
        }
        let reader = mirror::open_reader(db, Duration::from_secs(1), 1).await.ok()?;
        let tasks = mirror::tasks::all(&reader).await.ok()?;
        reader.close().await;
        tasks.iter().any(|t| t.name == task && t.state == "running" && t.updated_at_ms >= since_ms).then_some(())
    })
    .await;
}

/// One entry of a position's health history (`trapped`, `exit_blocked`, `recovered`).
#[derive(Debug, sqlx::FromRow)]
pub struct PositionEvent {
    pub kind: String,
    pub block: Option<i64>,
    pub finding: String,
}

/// A position's health history, oldest first.
pub async fn position_events(db: &SqlitePool, position_id: i64) -> Vec<PositionEvent> {
    sqlx::query_as("SELECT kind, block, finding FROM position_events WHERE position_id = ? ORDER BY id")
        .bind(position_id)
        .fetch_all(db)
        .await
        .unwrap()
}

/// The first `kind` event in a position's history, once there is one.
pub async fn wait_position_event(db: &SqlitePool, position_id: i64, kind: &str) -> PositionEvent {
    test_utils::wait_for(&format!("position {position_id}: {kind}"), || async {
        position_events(db, position_id).await.into_iter().find(|e| e.kind == kind)
    })
    .await
}
