//! Unsigned transactions for wallets, the way aggregator swap APIs hand them over: a v0 message
//! with the wallet as fee payer, a compute-unit limit measured by simulating it, and a priority
//! fee. Every transaction is simulated against the configured Solana RPC before it is returned;
//! a failed simulation is answered 422 `simulation_failed` with the program logs, never hidden.

use anchor_lang::{prelude::Pubkey, solana_program::instruction::Instruction};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;
use serde_json::{json, Value};
use solana_sdk::{
    hash::Hash,
    message::{v0, VersionedMessage},
    signature::Signature,
    transaction::VersionedTransaction,
};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ApiResult},
    solana_rpc,
};

const COMPUTE_BUDGET: Pubkey = anchor_lang::pubkey!("ComputeBudget111111111111111111111111111111");
/// The most compute a transaction may ask for.
const MAX_COMPUTE_UNITS: u32 = 1_400_000;

/// The transaction and what it costs, in Jupiter's field names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletTransaction {
    /// The unsigned v0 transaction, bincode then base64: the wallet signs and sends it.
    pub transaction: String,
    /// The blockhash is valid until this block height.
    pub last_valid_block_height: u64,
    /// The compute-unit limit set in the transaction: what the simulation used, plus a margin.
    pub compute_unit_limit: u32,
    /// The priority fee at that limit, in lamports (on top of 5,000 per signature).
    pub prioritization_fee_lamports: u64,
    /// What the simulation consumed.
    pub simulated_units: u64,
}

/// `SetComputeUnitLimit` (tag 2) and `SetComputeUnitPrice` (tag 3) of the compute-budget program.
fn compute_budget(limit: u32, micro_lamports: u64) -> [Instruction; 2] {
    let ix = |data: Vec<u8>| Instruction { program_id: COMPUTE_BUDGET, accounts: vec![], data };
    [ix([&[2u8][..], &limit.to_le_bytes()].concat()), ix([&[3u8][..], &micro_lamports.to_le_bytes()].concat())]
}

fn unsigned(payer: &Pubkey, ixs: &[Instruction], blockhash: Hash) -> ApiResult<VersionedTransaction> {
    let message = v0::Message::try_compile(payer, ixs, &[], blockhash)
        .map_err(|e| ApiError::Internal(format!("compile message: {e}")))?;
    let signers = usize::from(message.header.num_required_signatures);
    Ok(VersionedTransaction { signatures: vec![Signature::default(); signers], message: VersionedMessage::V0(message) })
}

fn encode(tx: &VersionedTransaction) -> ApiResult<String> {
    bincode::serialize(tx).map(|b| STANDARD.encode(b)).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Simulates `tx` (signatures unchecked) and returns the units it consumed.
async fn simulate(url: &str, tx: &VersionedTransaction) -> ApiResult<u64> {
    let config = json!({ "encoding": "base64", "sigVerify": false, "commitment": "confirmed" });
    let r = solana_rpc::call(url, "simulateTransaction", json!([encode(tx)?, config])).await?;
    let value = &r["value"];
    if !value["err"].is_null() {
        let logs = value["logs"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
        return Err(ApiError::SimulationFailed { message: value["err"].to_string(), logs });
    }
    Ok(value["unitsConsumed"].as_u64().unwrap_or(u64::from(MAX_COMPUTE_UNITS)))
}

/// The median compute-unit price recently paid for the accounts `ixs` write, in micro-lamports.
async fn recent_price(url: &str, ixs: &[Instruction]) -> ApiResult<u64> {
    let mut writable: Vec<String> =
        ixs.iter().flat_map(|ix| ix.accounts.iter()).filter(|a| a.is_writable).map(|a| a.pubkey.to_string()).collect();
    writable.sort();
    writable.dedup();
    writable.truncate(128);
    let r = solana_rpc::call(url, "getRecentPrioritizationFees", json!([writable])).await?;
    let mut fees: Vec<u64> =
        r.as_array().into_iter().flatten().filter_map(|f| f["prioritizationFee"].as_u64()).collect();
    fees.sort_unstable();
    Ok(fees.get(fees.len() / 2).copied().unwrap_or(0))
}

/// Builds `ixs` into an unsigned v0 transaction paid by `payer`, at `micro_lamports` per compute
/// unit (the recent median for its accounts when `None`), with the compute-unit limit measured
/// by a first simulation; the final transaction is simulated again before it is returned.
pub async fn build(
    url: &str,
    payer: &Pubkey,
    ixs: &[Instruction],
    micro_lamports: Option<u64>,
) -> ApiResult<WalletTransaction> {
    let (blockhash, last_valid_block_height) = solana_rpc::latest_blockhash(url).await?;
    let price = match micro_lamports {
        Some(p) => p,
        None => recent_price(url, ixs).await?,
    };
    let with_budget = |limit: u32| [&compute_budget(limit, price)[..], ixs].concat();
    let probe = unsigned(payer, &with_budget(MAX_COMPUTE_UNITS), blockhash)?;
    let used = simulate(url, &probe).await?;
    // 10% over what the simulation used (state can move before the wallet sends), at least 1,000.
    let limit =
        u32::try_from(used.saturating_add((used / 10).max(1_000))).unwrap_or(MAX_COMPUTE_UNITS).min(MAX_COMPUTE_UNITS);
    let tx = unsigned(payer, &with_budget(limit), blockhash)?;
    let simulated_units = simulate(url, &tx).await?;
    let fee = (u128::from(limit) * u128::from(price)).div_ceil(1_000_000);
    Ok(WalletTransaction {
        transaction: encode(&tx)?,
        last_valid_block_height,
        compute_unit_limit: limit,
        prioritization_fee_lamports: u64::try_from(fee).unwrap_or(u64::MAX),
        simulated_units,
    })
}
