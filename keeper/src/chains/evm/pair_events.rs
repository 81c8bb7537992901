//! A V2 pair's reserve changes, read from its logs: every `Sync` (the reserves after it), with
//! what caused it, which a pair logs right after it in the same transaction: `Swap` (the amounts
//! in and out), `Mint` (liquidity added) or `Burn` (liquidity removed). A `Sync` alone (a
//! `sync()` call, a donation) is a `status_changed`. Pure: logs in, mirror rows out.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, B256, U256},
    rpc::types::Log,
    sol_types::SolEvent,
};
use mirror::{EventKind, PoolEventRow, ReservesUpdate};
use serde_json::json;

use super::{
    abi::IUniswapV2Pair::{Burn, Mint, Swap, Sync},
    addr,
};

/// The events the pair filter asks for.
pub fn signatures() -> Vec<B256> {
    vec![Sync::SIGNATURE_HASH, Swap::SIGNATURE_HASH, Mint::SIGNATURE_HASH, Burn::SIGNATURE_HASH]
}

fn position(l: &Log) -> (u64, u64) {
    (l.block_number.unwrap_or(0), l.log_index.unwrap_or(0))
}

/// The pool events of `logs` (any order; logs not from a pair, or removed, are ignored), in chain
/// order, and each pair's newest reserves.
pub fn rows(chain: &str, logs: &[Log]) -> (Vec<PoolEventRow>, Vec<ReservesUpdate>) {
    let mut sorted: Vec<&Log> = logs.iter().filter(|l| !l.removed).collect();
    sorted.sort_by_key(|l| position(l));
    let at: BTreeMap<(Option<B256>, u64), &Log> =
        sorted.iter().map(|l| ((l.transaction_hash, l.log_index.unwrap_or(0)), *l)).collect();
    let mut events = Vec::new();
    let mut newest: BTreeMap<Address, ReservesUpdate> = BTreeMap::new();
    for log in &sorted {
        let Ok(sync) = log.log_decode::<Sync>() else { continue };
        let (r0, r1) = (U256::from(sync.inner.data.reserve0), U256::from(sync.inner.data.reserve1));
        let (block, index) = position(log);
        let pair = log.address();
        let next = at.get(&(log.transaction_hash, index + 1)).filter(|n| n.address() == pair);
        let mut row = PoolEventRow {
            chain: chain.to_string(),
            pool_address: Some(addr(pair)),
            tx_id: log.transaction_hash.map(|h| h.to_string()).unwrap_or_default(),
            ix_index: u32::try_from(index).unwrap_or(u32::MAX),
            event_index: 0,
            slot: block,
            block_time: log.block_timestamp.and_then(|t| i64::try_from(t).ok()),
            kind: Some(EventKind::StatusChanged),
            reserve_a_after: Some(r0.to_string()),
            reserve_b_after: Some(r1.to_string()),
            data: json!({ "event": "Sync", "reserve0": r0.to_string(), "reserve1": r1.to_string() }).to_string(),
            ..PoolEventRow::default()
        };
        if let Some(swap) = next.and_then(|n| n.log_decode::<Swap>().ok()) {
            let s = swap.inner.data;
            // token0 in, token1 out (a to b), or the other way.
            let a_to_b = s.amount0In > U256::ZERO && s.amount1Out > U256::ZERO;
            let (amount_in, amount_out) =
                if a_to_b { (s.amount0In, s.amount1Out) } else { (s.amount1In, s.amount0Out) };
            row.kind = Some(EventKind::Swap);
            row.actor = Some(addr(s.to));
            row.a_to_b = Some(a_to_b);
            row.amount_in = Some(amount_in.to_string());
            row.amount_out = Some(amount_out.to_string());
            row.data = json!({
                "event": "Swap", "sender": addr(s.sender), "to": addr(s.to),
                "amount0In": s.amount0In.to_string(), "amount1In": s.amount1In.to_string(),
                "amount0Out": s.amount0Out.to_string(), "amount1Out": s.amount1Out.to_string(),
                "reserve0": r0.to_string(), "reserve1": r1.to_string(),
            })
            .to_string();
        } else if let Some(mint) = next.and_then(|n| n.log_decode::<Mint>().ok()) {
            let m = mint.inner.data;
            row.kind = Some(EventKind::LiquidityAdded);
            row.actor = Some(addr(m.sender));
            row.amount_a = Some(m.amount0.to_string());
            row.amount_b = Some(m.amount1.to_string());
            row.data = json!({ "event": "Mint", "sender": addr(m.sender), "amount0": m.amount0.to_string(),
                "amount1": m.amount1.to_string(), "reserve0": r0.to_string(), "reserve1": r1.to_string() })
            .to_string();
        } else if let Some(burn) = next.and_then(|n| n.log_decode::<Burn>().ok()) {
            let b = burn.inner.data;
            row.kind = Some(EventKind::LiquidityRemoved);
            row.actor = Some(addr(b.to));
            row.amount_a = Some(b.amount0.to_string());
            row.amount_b = Some(b.amount1.to_string());
            row.data = json!({ "event": "Burn", "sender": addr(b.sender), "to": addr(b.to),
                "amount0": b.amount0.to_string(), "amount1": b.amount1.to_string(),
                "reserve0": r0.to_string(), "reserve1": r1.to_string() })
            .to_string();
        }
        newest.insert(
            pair,
            ReservesUpdate {
                chain: chain.to_string(),
                address: addr(pair),
                reserve_a: r0.to_string(),
                reserve_b: r1.to_string(),
                lp_supply: None,
                slot: block,
            },
        );
        events.push(row);
    }
    (events, newest.into_values().collect())
}
