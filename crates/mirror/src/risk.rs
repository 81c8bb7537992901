//! `risk_reports`: written by the risk stage only, append-only history per token and pool.

use sqlx::SqlitePool;

use crate::{i64_of, now_ms, PoolRecord, Result, Verdict};

/// A report to append.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    pub pool: &'a PoolRecord,
    pub token: &'a str,
    pub score: u8,
    pub verdict: Verdict,
    pub tradeable: bool,
    pub summary: &'a str,
    /// JSON array of findings.
    pub findings: &'a str,
    pub measured_slot: Option<u64>,
    pub elapsed_us: u64,
    /// What the report rests on (the engine's JSON), to tell when it is due again.
    pub watch: Option<&'a str>,
}

/// Appends a report and returns its id. Fails (foreign key) if a reorg removed the pool meanwhile.
pub async fn insert(db: &SqlitePool, r: &NewReport<'_>) -> Result<i64> {
    let score = i64::from(r.score);
    let verdict = r.verdict.as_str();
    let measured = r.measured_slot.map(i64_of);
    let now = now_ms();
    let elapsed = i64_of(r.elapsed_us);
    Ok(sqlx::query_scalar!(
        "INSERT INTO risk_reports (pool_id, chain, pool_address, token, score, verdict, tradeable, summary, findings,
            measured_slot, discovered_at_ms, created_at_ms, elapsed_us, watch)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS \"id!\"",
        r.pool.id,
        r.pool.chain,
        r.pool.address,
        r.token,
        score,
        verdict,
        r.tradeable,
        r.summary,
        r.findings,
        measured,
        r.pool.first_seen_at_ms,
        now,
        elapsed,
        r.watch
    )
    .fetch_one(db)
    .await?)
}

/// The pool at `address` on `chain`, if mirrored.
pub async fn pool(db: &SqlitePool, chain: &str, address: &str) -> Result<Option<PoolRecord>> {
    Ok(sqlx::query_as!(
        PoolRecord,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, base_token, created_slot, created_tx,
                created_block_time, first_seen_at_ms
         FROM pools WHERE chain = ? AND address = ?"#,
        chain,
        address
    )
    .fetch_optional(db)
    .await?)
}

/// Pools on `chain` that have no report yet, oldest first: what a restarted keeper still has to
/// score (and evaluations that failed).
pub async fn unscored(db: &SqlitePool, chain: &str, limit: i64) -> Result<Vec<PoolRecord>> {
    Ok(sqlx::query_as!(
        PoolRecord,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, base_token, created_slot, created_tx,
                created_block_time, first_seen_at_ms
         FROM pools p WHERE chain = ? AND NOT EXISTS (SELECT 1 FROM risk_reports r WHERE r.pool_id = p.id)
         ORDER BY id LIMIT ?"#,
        chain,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Pools on `chain` not tradeable yet, discovered less than `max_age_ms` ago, whose latest report
/// is older than `after_ms` or a quarter of the pool's age, whichever is longer (so a pair that
/// never opens costs a few dozen evaluations, not one every round). Not tradeable yet: still
/// empty in the mirror (created first, funded later), or its latest report says buying reverts
/// (`buy_reverts`: trading opened later by an owner call).
pub async fn empty_and_due(
    db: &SqlitePool,
    chain: &str,
    after_ms: i64,
    max_age_ms: i64,
    limit: i64,
) -> Result<Vec<PoolRecord>> {
    let now = now_ms();
    let min_seen = now.saturating_sub(max_age_ms);
    Ok(sqlx::query_as!(
        PoolRecord,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, base_token, created_slot, created_tx,
                created_block_time, first_seen_at_ms
         FROM pools p WHERE chain = ?1 AND first_seen_at_ms > ?2
           AND ((reserve_a = '0' AND reserve_b = '0')
                OR EXISTS (SELECT 1 FROM json_each((SELECT findings FROM risk_reports r WHERE r.pool_id = p.id
                                                    ORDER BY r.id DESC LIMIT 1))
                           WHERE json_extract(value, '$.check') = 'buy_reverts'))
           AND (SELECT max(created_at_ms) FROM risk_reports r WHERE r.pool_id = p.id)
               < ?3 - max(?4, (?3 - first_seen_at_ms) / 4)
         ORDER BY id LIMIT ?5"#,
        chain,
        min_seen,
        now,
        after_ms,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Funded pools on `chain` discovered less than `max_age_ms` ago whose latest report says a buy
/// reverts (`buy_reverts`: trading not open yet), newest first: the pending transactions sent to
/// their tokens are simulated, since one may open trading.
pub async fn not_buyable(db: &SqlitePool, chain: &str, max_age_ms: i64, limit: i64) -> Result<Vec<PoolRecord>> {
    let min_seen = now_ms().saturating_sub(max_age_ms);
    Ok(sqlx::query_as!(
        PoolRecord,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, base_token, created_slot, created_tx,
                created_block_time, first_seen_at_ms
         FROM pools p WHERE chain = ?1 AND first_seen_at_ms > ?2
           AND EXISTS (SELECT 1 FROM json_each((SELECT findings FROM risk_reports r WHERE r.pool_id = p.id
                                                ORDER BY r.id DESC LIMIT 1))
                       WHERE json_extract(value, '$.check') = 'buy_reverts')
         ORDER BY id DESC LIMIT ?3"#,
        chain,
        min_seen,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Pools on `chain` discovered less than `max_age_ms` ago whose latest report has a watch, with
/// it: the risk stage reads each watch again and scores the pool again when it changed.
pub async fn watched(db: &SqlitePool, chain: &str, max_age_ms: i64, limit: i64) -> Result<Vec<(PoolRecord, String)>> {
    let min_seen = now_ms().saturating_sub(max_age_ms);
    let rows = sqlx::query!(
        r#"SELECT p.id AS "id!", p.chain, p.venue, p.address, p.token_a, p.token_b, p.base_token, p.created_slot,
                p.created_tx, p.created_block_time, p.first_seen_at_ms, r.watch AS "watch!"
         FROM pools p JOIN risk_reports r ON r.id = (SELECT max(id) FROM risk_reports x WHERE x.pool_id = p.id)
         WHERE p.chain = ?1 AND p.first_seen_at_ms > ?2 AND r.watch IS NOT NULL
         ORDER BY p.id DESC LIMIT ?3"#,
        chain,
        min_seen,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let pool = PoolRecord {
                id: r.id,
                chain: r.chain,
                venue: r.venue,
                address: r.address,
                token_a: r.token_a,
                token_b: r.token_b,
                base_token: r.base_token,
                created_slot: r.created_slot,
                created_tx: r.created_tx,
                created_block_time: r.created_block_time,
                first_seen_at_ms: r.first_seen_at_ms,
            };
            (pool, r.watch)
        })
        .collect())
}

/// Reports per verdict, for `keeper status`.
pub async fn count_by_verdict(db: &SqlitePool) -> Result<Vec<(String, i64)>> {
    let rows =
        sqlx::query!(r#"SELECT verdict, count(*) AS "n!: i64" FROM risk_reports GROUP BY verdict ORDER BY verdict"#)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|r| (r.verdict, r.n)).collect())
}
