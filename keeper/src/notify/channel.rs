//! Delivery: each channel follows the `notifications` outbox from its own cursor, in its own
//! task, so a slow or dead channel delays nothing but itself (never a buy or an exit, which
//! never wait on notifications). A channel further behind than `notify.queue` drops the oldest
//! notifications it has not sent; drops, sends and failures are counted per channel.

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use mirror::notify::{self as store, NotificationRow};

use crate::config::notify::{Level, Types};

/// One way of delivering a notification.
pub trait Channel: Send + Sync {
    /// Its name in metrics, logs and its cursor (`telegram`, `webhook:<name>`, `email`).
    fn name(&self) -> String;
    /// Delivers one notification (retrying as the channel does); `Err` once it gives up.
    fn send<'a>(&'a self, n: &'a NotificationRow, level: Level) -> BoxFuture<'a, Result<(), String>>;
}

/// Follows the outbox for one channel until cancelled.
pub async fn run(
    db: SqlitePool,
    channel: std::sync::Arc<dyn Channel>,
    types: Types,
    queue: usize,
    poll: Duration,
    cancel: CancellationToken,
) {
    let name = channel.name();
    let key = format!("channel:{name}");
    let queue = i64::try_from(queue).unwrap_or(i64::MAX);
    let mut delivered = loop {
        let start = async {
            match store::state(&db, &key).await? {
                Some(v) => Ok::<i64, mirror::MirrorError>(v.parse().unwrap_or(0)),
                // A new channel starts with what is built from now on.
                None => {
                    let newest = store::newest(&db).await?;
                    store::set_state(&db, &key, &newest.to_string()).await?;
                    Ok(newest)
                }
            }
        };
        match start.await {
            Ok(d) => break d,
            Err(e) => {
                tracing::warn!(channel = %name, error = %e, "notification cursor unreadable; retrying");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
        }
        // A hanging channel must not hold up the keeper's shutdown: a delivery cut short here is
        // sent again after the restart (its cursor had not moved).
        tokio::select! {
            () = cancel.cancelled() => return,
            r = round(&db, channel.as_ref(), &types, queue, &key, &mut delivered, &cancel) => {
                if let Err(e) = r {
                    tracing::warn!(channel = %name, error = %e, "notification delivery round failed");
                }
            }
        }
    }
}

async fn round(
    db: &SqlitePool,
    channel: &dyn Channel,
    types: &Types,
    queue: i64,
    key: &str,
    delivered: &mut i64,
    cancel: &CancellationToken,
) -> mirror::Result<()> {
    let name = channel.name();
    let newest = store::newest(db).await?;
    if newest - *delivered > queue {
        let dropped = newest - queue - *delivered;
        metrics::counter!("keeper_notify_dropped_total", "channel" => name.clone())
            .increment(u64::try_from(dropped).unwrap_or(0));
        tracing::warn!(channel = %name, dropped, "channel too far behind: oldest notifications dropped");
        *delivered = newest - queue;
        store::set_state(db, key, &delivered.to_string()).await?;
    }
    loop {
        let rows = store::after(db, *delivered, 100).await?;
        if rows.is_empty() {
            return Ok(());
        }
        for n in rows {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let level = types.level(&n.kind);
            if level != Level::Off {
                match channel.send(&n, level).await {
                    Ok(()) => metrics::counter!("keeper_notify_sent_total", "channel" => name.clone(), "kind" => n.kind.clone())
                        .increment(1),
                    Err(e) => {
                        metrics::counter!("keeper_notify_failed_total", "channel" => name.clone()).increment(1);
                        tracing::warn!(channel = %name, notification = n.id, error = %e, "notification not delivered");
                    }
                }
            }
            *delivered = n.id;
            store::set_state(db, key, &delivered.to_string()).await?;
        }
    }
}
