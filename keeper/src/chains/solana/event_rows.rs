//! Turns the program crate's own event types into mirror rows.

use amm::{client::AmmEvent, Reserves};
use serde_json::{json, Value};

use mirror::{EventKind, PoolEventRow};

fn reserves_json(r: &Reserves) -> Value {
    json!({
        "reserve_a": r.reserve_a.to_string(),
        "reserve_b": r.reserve_b.to_string(),
        "lp_supply": r.lp_supply.to_string(),
    })
}

struct Liquidity {
    pool: anchor_lang::prelude::Pubkey,
    owner: anchor_lang::prelude::Pubkey,
    lp: u64,
    a: u64,
    b: u64,
}

fn liquidity(
    row: &mut PoolEventRow,
    kind: EventKind,
    name: &str,
    l: &Liquidity,
    before: &Reserves,
    after: &Reserves,
) -> Value {
    row.kind = Some(kind);
    row.actor = Some(l.owner.to_string());
    row.amount_a = Some(l.a.to_string());
    row.amount_b = Some(l.b.to_string());
    row.lp_amount = Some(l.lp.to_string());
    json!({"type": name, "pool": l.pool.to_string(), "owner": l.owner.to_string(), "lp_amount": l.lp.to_string(),
           "amount_a": l.a.to_string(), "amount_b": l.b.to_string(),
           "before": reserves_json(before), "after": reserves_json(after)})
}

/// Where an event was found on chain: its natural key and position.
#[derive(Debug, Clone, Copy)]
pub struct EventPosition<'a> {
    pub chain: &'a str,
    pub tx_id: &'a str,
    pub ix_index: u32,
    pub event_index: u32,
    pub slot: u64,
    pub block_time: Option<i64>,
}

/// The mirror row of one AMM event. Amounts become exact decimal strings; `data` keeps the
/// whole event as JSON (keys are base58, amounts decimal strings).
pub fn event_row(pos: EventPosition<'_>, event: &AmmEvent) -> PoolEventRow {
    let mut row = PoolEventRow {
        chain: pos.chain.to_string(),
        pool_address: event.pool().map(|p| p.to_string()),
        tx_id: pos.tx_id.to_string(),
        ix_index: pos.ix_index,
        event_index: pos.event_index,
        slot: pos.slot,
        block_time: pos.block_time,
        ..Default::default()
    };
    if let Some(after) = event.reserves_after() {
        row.reserve_a_after = Some(after.reserve_a.to_string());
        row.reserve_b_after = Some(after.reserve_b.to_string());
        row.lp_supply_after = Some(after.lp_supply.to_string());
    }
    let data = match event {
        AmmEvent::ConfigCreated(e) => {
            row.kind = Some(EventKind::ConfigCreated);
            row.actor = Some(e.admin.to_string());
            json!({"type": "config_created", "config": e.config.to_string(), "index": e.index, "admin": e.admin.to_string(),
                   "trade_fee_bps": e.trade_fee_bps, "protocol_fee_share_bps": e.protocol_fee_share_bps})
        }
        AmmEvent::ConfigUpdated(e) => {
            row.kind = Some(EventKind::ConfigUpdated);
            row.actor = Some(e.old_admin.to_string());
            json!({"type": "config_updated", "config": e.config.to_string(), "old_admin": e.old_admin.to_string(),
                   "new_admin": e.new_admin.to_string(), "old_trade_fee_bps": e.old_trade_fee_bps,
                   "new_trade_fee_bps": e.new_trade_fee_bps, "old_protocol_fee_share_bps": e.old_protocol_fee_share_bps,
                   "new_protocol_fee_share_bps": e.new_protocol_fee_share_bps})
        }
        AmmEvent::PoolCreated(e) => {
            row.kind = Some(EventKind::PoolCreated);
            row.actor = Some(e.creator.to_string());
            row.amount_a = Some(e.after.reserve_a.to_string());
            row.amount_b = Some(e.after.reserve_b.to_string());
            row.lp_amount = Some(e.lp_to_creator.to_string());
            json!({"type": "pool_created", "pool": e.pool.to_string(), "config": e.config.to_string(),
                   "creator": e.creator.to_string(), "mint_a": e.mint_a.to_string(), "mint_b": e.mint_b.to_string(),
                   "vault_a": e.vault_a.to_string(), "vault_b": e.vault_b.to_string(), "lp_mint": e.lp_mint.to_string(),
                   "open_time": e.open_time, "lp_to_creator": e.lp_to_creator.to_string(),
                   "before": reserves_json(&e.before), "after": reserves_json(&e.after)})
        }
        AmmEvent::LiquidityAdded(e) => {
            let l = Liquidity { pool: e.pool, owner: e.owner, lp: e.lp_amount, a: e.amount_a, b: e.amount_b };
            liquidity(&mut row, EventKind::LiquidityAdded, "liquidity_added", &l, &e.before, &e.after)
        }
        AmmEvent::LiquidityRemoved(e) => {
            let l = Liquidity { pool: e.pool, owner: e.owner, lp: e.lp_amount, a: e.amount_a, b: e.amount_b };
            liquidity(&mut row, EventKind::LiquidityRemoved, "liquidity_removed", &l, &e.before, &e.after)
        }
        AmmEvent::Swapped(e) => {
            row.kind = Some(EventKind::Swap);
            row.actor = Some(e.trader.to_string());
            row.a_to_b = Some(e.a_to_b);
            row.amount_in = Some(e.amount_in.to_string());
            row.amount_out = Some(e.amount_out.to_string());
            json!({"type": "swap", "pool": e.pool.to_string(), "trader": e.trader.to_string(), "a_to_b": e.a_to_b,
                   "exact_in": e.exact_in, "amount_in": e.amount_in.to_string(), "amount_out": e.amount_out.to_string(),
                   "trade_fee": e.trade_fee.to_string(), "protocol_fee": e.protocol_fee.to_string(),
                   "before": reserves_json(&e.before), "after": reserves_json(&e.after)})
        }
        AmmEvent::PoolStatusChanged(e) => {
            row.kind = Some(EventKind::StatusChanged);
            json!({"type": "status_changed", "pool": e.pool.to_string(), "old_status": e.old_status,
                   "new_status": e.new_status, "before": reserves_json(&e.before), "after": reserves_json(&e.after)})
        }
        AmmEvent::ProtocolFeesCollected(e) => {
            row.kind = Some(EventKind::FeesCollected);
            row.amount_a = Some(e.amount_a.to_string());
            row.amount_b = Some(e.amount_b.to_string());
            json!({"type": "fees_collected", "pool": e.pool.to_string(), "recipient_a": e.recipient_a.to_string(),
                   "recipient_b": e.recipient_b.to_string(), "amount_a": e.amount_a.to_string(),
                   "amount_b": e.amount_b.to_string(), "remaining_a": e.remaining_a.to_string(),
                   "remaining_b": e.remaining_b.to_string(), "before": reserves_json(&e.before), "after": reserves_json(&e.after)})
        }
    };
    row.data = data.to_string();
    row
}
