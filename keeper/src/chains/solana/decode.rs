//! Our AMM's events, read back from a confirmed transaction's inner instructions (`emit_cpi!`).

use std::str::FromStr;

use amm::client::{self, AmmEvent};
use anchor_lang::prelude::Pubkey;
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, EncodedConfirmedTransactionWithStatusMeta, UiInstruction,
};

/// The AMM events of one transaction with the index of the outer instruction they belong to.
pub fn decode_events(
    tx: &EncodedConfirmedTransactionWithStatusMeta,
    program_id: &Pubkey,
) -> Result<Vec<(u32, AmmEvent)>, String> {
    let decoded = tx.transaction.transaction.decode().ok_or_else(|| "undecodable transaction".to_string())?;
    let meta = tx.transaction.meta.as_ref().ok_or_else(|| "transaction without meta".to_string())?;
    let mut keys: Vec<Pubkey> = decoded.message.static_account_keys().to_vec();
    if let OptionSerializer::Some(loaded) = &meta.loaded_addresses {
        for k in loaded.writable.iter().chain(&loaded.readonly) {
            keys.push(Pubkey::from_str(k).map_err(|_| format!("bad loaded address {k}"))?);
        }
    }
    let OptionSerializer::Some(groups) = &meta.inner_instructions else { return Ok(Vec::new()) };
    let mut events = Vec::new();
    for group in groups {
        for ix in &group.instructions {
            let UiInstruction::Compiled(ix) = ix else { continue };
            if keys.get(usize::from(ix.program_id_index)) != Some(program_id) {
                continue;
            }
            let data = bs58::decode(&ix.data).into_vec().map_err(|e| e.to_string())?;
            if let Some(event) = client::decode_event_cpi(&data) {
                events.push((u32::from(group.index), event));
            }
        }
    }
    Ok(events)
}
