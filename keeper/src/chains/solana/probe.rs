//! Measures an SPL token in one of our AMM's pools for the risk scorer: mint and freeze
//! authorities (run against our own token account by simulation), Token-2022 extensions (a
//! transfer hook run by a simulated transfer), holder concentration from the largest token accounts, the
//! share of LP burned or held by the pool's creator, and the pool's quote liquidity.

use std::collections::HashMap;

use amm::state::Pool;
use anchor_lang::{prelude::Pubkey, solana_program::program_pack::Pack, AccountDeserialize};
use anchor_spl::token::spl_token;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

use futures::{future::BoxFuture, FutureExt};

use super::{
    authority::{simulate_authority, Power, PROBE_OWNER},
    hook::simulate_hook,
    AMM_VENUE,
};
use crate::{
    pipeline::PoolRecord,
    risk::{
        engine::{Evaluation, RiskEngine, RiskError},
        rules::solana::{assess, Extensions, SolanaFacts},
        Assessment, RiskPolicy,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum SolanaRiskError {
    #[error("rpc: {0}")]
    Rpc(#[from] solana_rpc_client_api::client_error::Error),
    #[error("account {0} is missing or not what it should be")]
    BadAccount(String),
}

/// The SPL Token-2022 program.
pub const TOKEN_2022: Pubkey = anchor_lang::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

/// Extension type numbers of SPL Token-2022 (`ExtensionType`).
fn extension_name(t: u16) -> &'static str {
    match t {
        1 => "transfer_fee_config",
        3 => "mint_close_authority",
        4 => "confidential_transfer_mint",
        6 => "default_account_state",
        9 => "non_transferable",
        10 => "interest_bearing_config",
        12 => "permanent_delegate",
        14 => "transfer_hook",
        16 => "confidential_transfer_fee_config",
        18 => "metadata_pointer",
        19 => "token_metadata",
        20 => "group_pointer",
        21 => "token_group",
        22 => "group_member_pointer",
        23 => "token_group_member",
        24 => "confidential_mint_burn",
        25 => "scaled_ui_amount",
        26 => "pausable",
        _ => "unknown",
    }
}

fn optional_key(bytes: &[u8]) -> Option<String> {
    let key: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
    (key != [0u8; 32]).then(|| Pubkey::new_from_array(key).to_string())
}

/// Parses the TLV extensions of a Token-2022 mint account (data beyond the 165-byte base
/// account size, after the account-type byte). Malformed tails are ignored.
pub fn parse_mint_extensions(data: &[u8]) -> Extensions {
    let mut ext = Extensions::default();
    // Base mint (82 bytes) padded to the token-account size (165), then AccountType (1 = Mint).
    if data.len() <= 166 || data[165] != 1 {
        return ext;
    }
    let mut at = 166;
    while at + 4 <= data.len() {
        let t = u16::from_le_bytes([data[at], data[at + 1]]);
        let len = usize::from(u16::from_le_bytes([data[at + 2], data[at + 3]]));
        let Some(value) = data.get(at + 4..at + 4 + len) else { break };
        if t == 0 {
            break;
        }
        ext.present.push(extension_name(t).to_string());
        match t {
            // TransferFeeConfig: 2 authorities, withheld u64, older fee, newer fee
            // (epoch u64, maximum_fee u64, basis_points u16).
            1 if len >= 108 => ext.transfer_fee_bps = Some(u16::from_le_bytes([value[106], value[107]])),
            9 => ext.non_transferable = true,
            12 => ext.permanent_delegate = optional_key(value),
            // TransferHook: authority, program id.
            14 if len >= 64 => ext.transfer_hook_program = optional_key(&value[32..]),
            _ => {}
        }
        at += 4 + len;
    }
    ext
}

pub struct SolanaRiskEngine {
    rpc: RpcClient,
    commitment: CommitmentConfig,
    quote_mints: HashMap<Pubkey, u64>,
    policy: RiskPolicy,
    /// Whose token account the authorities and hooks are run against.
    wallet: Pubkey,
}

impl SolanaRiskEngine {
    pub fn new(
        rpc_url: &str,
        commitment: CommitmentConfig,
        quote_mints: HashMap<Pubkey, u64>,
        policy: RiskPolicy,
    ) -> Self {
        Self {
            rpc: RpcClient::new_with_commitment(rpc_url.to_string(), commitment),
            commitment,
            quote_mints,
            policy,
            wallet: PROBE_OWNER,
        }
    }

    /// Runs the authorities and hooks against this wallet's token account (the keeper's own,
    /// when it trades live) instead of [`PROBE_OWNER`]'s.
    pub fn with_wallet(mut self, wallet: Pubkey) -> Self {
        self.wallet = wallet;
        self
    }

    /// Measures and scores the pool's non-quote token. Returns (token mint, assessment, slot).
    pub async fn evaluate(&self, p: &PoolRecord) -> Result<(String, Assessment, u64), SolanaRiskError> {
        let facts = self.measure(p).await?;
        let slot = self.rpc.get_slot().await?;
        Ok((facts.mint.clone(), assess(&facts, &self.policy), slot))
    }

    pub async fn measure(&self, p: &PoolRecord) -> Result<SolanaFacts, SolanaRiskError> {
        if p.venue != AMM_VENUE {
            return self.measure_foreign(p).await;
        }
        let bad = |what: &str| SolanaRiskError::BadAccount(what.to_string());
        let pool_key: Pubkey = p.address.parse().map_err(|_| bad(&p.address))?;
        let pool_account = self.rpc.get_account(&pool_key).await?;
        let pool = Pool::try_deserialize(&mut pool_account.data.as_slice()).map_err(|_| bad(&p.address))?;
        let (mint, quote_reserve, min_quote) = if let Some(min) = self.quote_mints.get(&pool.mint_a) {
            (pool.mint_b, Some(pool.reserve_a), *min)
        } else if let Some(min) = self.quote_mints.get(&pool.mint_b) {
            (pool.mint_a, Some(pool.reserve_b), *min)
        } else {
            (pool.mint_a, None, 0)
        };
        let vaults = [pool.vault_a, pool.vault_b];
        let mint_facts = self.measure_mint(&mint, &vaults);
        let lp = self.rpc.get_token_largest_accounts(&pool.lp_mint);
        let lp_mint_account = self.rpc.get_account(&pool.lp_mint);
        let (mint_facts, lp_holders, lp_mint_account) = tokio::join!(mint_facts, lp, lp_mint_account);
        let mut facts = mint_facts?;
        let lp_mint = spl_token::state::Mint::unpack_from_slice(lp_mint_account?.data.get(..82).unwrap_or_default())
            .map_err(|_| bad(&pool.lp_mint.to_string()))?;
        // LP held by the creator: the largest LP accounts whose owner is the pool's creator.
        let keys: Vec<Pubkey> = lp_holders?.iter().filter_map(|h| h.address.parse().ok()).collect();
        let lp_accounts = if keys.is_empty() { vec![] } else { self.rpc.get_multiple_accounts(&keys).await? };
        facts.lp_creator = lp_accounts
            .iter()
            .flatten()
            .filter_map(|a| spl_token::state::Account::unpack_from_slice(a.data.get(..165)?).ok())
            .filter(|a| a.owner == pool.creator)
            .map(|a| a.amount)
            .sum();
        facts.lp_total = pool.lp_supply;
        facts.lp_outstanding = lp_mint.supply;
        facts.quote_reserve = quote_reserve;
        facts.min_quote_reserve = min_quote;
        Ok(facts)
    }

    /// A pool on another venue (found by DexScreener, traded through Jupiter): the token's mint
    /// facts, with the token accounts owned by the pool address or by program-derived addresses
    /// (venues' vault authorities, lockers) left out of the holders. Its LP and reserves are not
    /// read from chain (each venue has its own layout); the trader checks liquidity against the
    /// mirror's reserves.
    async fn measure_foreign(&self, p: &PoolRecord) -> Result<SolanaFacts, SolanaRiskError> {
        let bad = |what: &str| SolanaRiskError::BadAccount(what.to_string());
        let base = p.base_token.as_deref().unwrap_or(&p.token_a);
        let mint: Pubkey = base.parse().map_err(|_| bad(base))?;
        let pool: Pubkey = p.address.parse().map_err(|_| bad(&p.address))?;
        let mut facts = self.measure_mint(&mint, &[]).await?;
        let keys: Vec<Pubkey> = facts.top_holders.iter().filter_map(|(a, _)| a.parse().ok()).collect();
        let accounts = if keys.is_empty() { vec![] } else { self.rpc.get_multiple_accounts(&keys).await? };
        let pools: Vec<String> = keys
            .iter()
            .zip(&accounts)
            .filter(|(_, a)| {
                a.as_ref()
                    .and_then(|a| spl_token::state::Account::unpack_from_slice(a.data.get(..165)?).ok())
                    .is_some_and(|t| t.owner == pool || !t.owner.is_on_curve())
            })
            .map(|(k, _)| k.to_string())
            .collect();
        facts.top_holders.retain(|(a, _)| !pools.contains(a));
        facts.venue = p.venue.clone();
        Ok(facts)
    }

    /// Mint-level measurements (authorities, Token-2022 extensions, largest holders outside
    /// `exclude`), for any SPL Token or Token-2022 mint, in or out of our pools.
    pub async fn measure_mint(&self, mint: &Pubkey, exclude: &[Pubkey]) -> Result<SolanaFacts, SolanaRiskError> {
        let bad = || SolanaRiskError::BadAccount(mint.to_string());
        let (account, holders) = tokio::join!(self.rpc.get_account(mint), self.rpc.get_token_largest_accounts(mint));
        let account = account?;
        if account.owner != spl_token::ID && account.owner != TOKEN_2022 {
            return Err(bad());
        }
        let base =
            spl_token::state::Mint::unpack_from_slice(account.data.get(..82).unwrap_or_default()).map_err(|_| bad())?;
        let token_2022 = account.owner == TOKEN_2022;
        let (mint_authority, freeze_authority) =
            (Option::<Pubkey>::from(base.mint_authority), Option::<Pubkey>::from(base.freeze_authority));
        let run = |authority: Option<Pubkey>, power| {
            let rpc = &self.rpc;
            let (owner, wallet, commitment) = (&account.owner, &self.wallet, self.commitment);
            async move {
                match authority {
                    Some(a) => simulate_authority(rpc, commitment, mint, owner, &a, wallet, power).await.map(Some),
                    None => Ok(None),
                }
            }
        };
        let exclude: Vec<String> = exclude.iter().map(|k| k.to_string()).collect();
        let top_holders: Vec<(String, u64)> = holders?
            .into_iter()
            .filter(|h| !exclude.contains(&h.address))
            .map(|h| {
                let amount = h.amount.amount.parse::<u64>().unwrap_or(0);
                (h.address, amount)
            })
            .collect();
        let extensions = if token_2022 { parse_mint_extensions(&account.data) } else { Extensions::default() };
        let hook = async {
            let Some(program) = extensions.transfer_hook_program.as_deref().and_then(|p| p.parse::<Pubkey>().ok())
            else {
                return Ok(None);
            };
            let sources: Vec<Pubkey> = top_holders.iter().filter_map(|(a, _)| a.parse().ok()).collect();
            simulate_hook(&self.rpc, self.commitment, mint, base.decimals, &program, &sources, &self.wallet)
                .await
                .map(Some)
        };
        let (mint_simulation, freeze_simulation, hook_simulation) =
            tokio::join!(run(mint_authority, Power::Mint), run(freeze_authority, Power::Freeze), hook);
        Ok(SolanaFacts {
            mint: mint.to_string(),
            token_2022,
            mint_authority: mint_authority.map(|k| k.to_string()),
            freeze_authority: freeze_authority.map(|k| k.to_string()),
            mint_simulation: mint_simulation?,
            freeze_simulation: freeze_simulation?,
            supply: base.supply,
            decimals: base.decimals,
            hook_simulation: hook_simulation?,
            extensions,
            top_holders,
            ..Default::default()
        })
    }
}

impl RiskEngine for SolanaRiskEngine {
    fn evaluate<'a>(&'a self, p: &'a PoolRecord) -> BoxFuture<'a, Result<Evaluation, RiskError>> {
        async move {
            let (token, assessment, slot) =
                SolanaRiskEngine::evaluate(self, p).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
            Ok(Evaluation { token, assessment, measured_slot: slot, rows: Vec::new(), watch: None })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(t: u16, value: &[u8]) -> Vec<u8> {
        let mut v = t.to_le_bytes().to_vec();
        v.extend_from_slice(&u16::try_from(value.len()).unwrap().to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn token_2022_extensions_parse() {
        let mut data = vec![0u8; 165];
        data.push(1); // AccountType::Mint
        let mut fee = vec![0u8; 108];
        fee[106..108].copy_from_slice(&250u16.to_le_bytes());
        data.extend(tlv(1, &fee));
        data.extend(tlv(12, &[7u8; 32]));
        let mut hook = vec![0u8; 64];
        hook[32..].copy_from_slice(&[9u8; 32]);
        data.extend(tlv(14, &hook));
        data.extend(tlv(9, &[]));
        let ext = parse_mint_extensions(&data);
        assert_eq!(ext.transfer_fee_bps, Some(250));
        assert_eq!(ext.permanent_delegate, Some(Pubkey::new_from_array([7u8; 32]).to_string()));
        assert_eq!(ext.transfer_hook_program, Some(Pubkey::new_from_array([9u8; 32]).to_string()));
        assert!(ext.non_transferable);
        assert_eq!(ext.present, ["transfer_fee_config", "permanent_delegate", "transfer_hook", "non_transferable"]);
        // A classic 82-byte mint has none; a truncated TLV stops parsing without panicking.
        assert_eq!(parse_mint_extensions(&[0u8; 82]), Extensions::default());
        let mut cut = data.clone();
        cut.truncate(200);
        let _ = parse_mint_extensions(&cut);
    }
}
