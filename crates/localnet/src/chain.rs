use std::{
    collections::{BTreeSet, HashMap},
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use anchor_lang::{prelude::Pubkey, solana_program::program_pack::Pack};
use anchor_spl::token::spl_token;
use litesvm::{types::TransactionMetadata, LiteSVM};
use solana_sdk::{
    account::{Account, ReadableAccount},
    clock::Clock,
    signature::Signature,
    signature::{Keypair, Signer},
    transaction::{TransactionError, VersionedTransaction},
};
use solana_transaction_status_client_types::InnerInstructions;

/// One executed transaction as the ledger keeps it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TxRecord {
    pub signature: Signature,
    pub slot: u64,
    pub block_time: i64,
    pub transaction: VersionedTransaction,
    pub result: Result<(), TransactionError>,
    pub meta: TransactionMetadata,
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
    /// Token accounts among the transaction's keys, before and after (as RPC's
    /// `preTokenBalances` / `postTokenBalances`).
    pub pre_token_balances: Vec<TokenBalance>,
    pub post_token_balances: Vec<TokenBalance>,
}

/// A token account's balance at a transaction's account index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenBalance {
    pub index: u8,
    pub mint: Pubkey,
    pub owner: Pubkey,
    pub program: Pubkey,
    pub amount: u64,
    pub decimals: u8,
}

/// A ledger record as builds before token balances wrote it (still read, with none).
#[derive(serde::Deserialize)]
struct TxRecordV1 {
    signature: Signature,
    slot: u64,
    block_time: i64,
    transaction: VersionedTransaction,
    result: Result<(), TransactionError>,
    meta: TransactionMetadata,
    pre_balances: Vec<u64>,
    post_balances: Vec<u64>,
}

impl TxRecord {
    /// Decodes a ledger line of this build or of an older one.
    fn decode(bytes: &[u8]) -> bincode::Result<Self> {
        bincode::deserialize(bytes).or_else(|e| {
            let v1: TxRecordV1 = bincode::deserialize(bytes).map_err(|_| e)?;
            Ok(TxRecord {
                signature: v1.signature,
                slot: v1.slot,
                block_time: v1.block_time,
                transaction: v1.transaction,
                result: v1.result,
                meta: v1.meta,
                pre_balances: v1.pre_balances,
                post_balances: v1.post_balances,
                pre_token_balances: Vec::new(),
                post_token_balances: Vec::new(),
            })
        })
    }
}

impl TxRecord {
    /// Inner instructions grouped by outer instruction, as RPC returns them.
    pub fn inner_instructions(&self) -> Vec<InnerInstructions> {
        self.meta
            .inner_instructions
            .iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(i, list)| InnerInstructions {
                index: u8::try_from(i).unwrap_or(u8::MAX),
                instructions: list
                    .iter()
                    .map(|ix| solana_transaction_status_client_types::InnerInstruction {
                        instruction: ix.instruction.clone(),
                        stack_height: Some(u32::from(ix.stack_height)),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The chain behind the RPC server.
pub struct Chain {
    pub svm: LiteSVM,
    slot: u64,
    ledger: Vec<TxRecord>,
    by_signature: HashMap<Signature, usize>,
    by_address: HashMap<Pubkey, Vec<usize>>,
    token_accounts_by_mint: HashMap<Pubkey, BTreeSet<Pubkey>>,
    faucet: Keypair,
    notices: Option<tokio::sync::broadcast::Sender<std::sync::Arc<super::ws::Notice>>>,
    /// Where the chain is kept between runs, when it is (see [`Chain::open`]).
    store: Option<Store>,
}

/// The files of a chain kept on disk: `solana-accounts.bin`, a snapshot of every account the
/// programs own (the programs themselves are rebuilt at start), and `solana-ledger.log`, every
/// recorded transaction appended as it commits (a base64 bincode record per line).
struct Store {
    accounts: PathBuf,
    journal_path: PathBuf,
    journal: std::fs::File,
    /// The journal could not be written: the ledger is no longer saved (said once).
    broken: bool,
}

/// What `solana-accounts.bin` holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    slot: u64,
    unix_timestamp: i64,
    faucet: Vec<u8>,
    /// How many ledger records the accounts include; the journal is cut back to this on load.
    ledger_len: usize,
    accounts: Vec<(Pubkey, Account)>,
}

/// Owners of the accounts a snapshot keeps: wallets, token accounts and mints, AMM state.
fn kept(owner: &Pubkey) -> bool {
    *owner == anchor_lang::system_program::ID || *owner == spl_token::ID || *owner == TOKEN_2022 || *owner == amm::ID
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

fn wall_clock_secs() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Chain {
    /// A chain with the AMM deployed; `upgrade_authority` may create AMM configs.
    pub async fn new(upgrade_authority: &Pubkey) -> Self {
        let mut svm = crate::svm::new_svm(upgrade_authority).await;
        let faucet = Keypair::new();
        svm.airdrop(&faucet.pubkey(), 900_000 * 1_000_000_000).expect("fund the faucet");
        let mut chain = Self {
            notices: None,
            faucet,
            svm,
            slot: 0,
            ledger: Vec::new(),
            by_signature: HashMap::new(),
            by_address: HashMap::new(),
            token_accounts_by_mint: HashMap::new(),
            store: None,
        };
        chain.advance_slot();
        chain
    }

    /// The chain kept in `dir`: the accounts of its last [`Chain::save`] and the ledger up to
    /// that point, or a new chain when `dir` holds none. Returns whether it resumed. From then
    /// on every committed transaction is appended to the ledger file.
    ///
    /// Records written after the last snapshot (a crash between two saves) are dropped with
    /// their effects, so accounts and ledger always agree.
    pub async fn open(dir: &Path, upgrade_authority: &Pubkey) -> std::io::Result<(Self, bool)> {
        let accounts = dir.join("solana-accounts.bin");
        let journal_path = dir.join("solana-ledger.log");
        let mut chain = Self::new(upgrade_authority).await;
        let resumed = accounts.exists();
        let mut kept_bytes = 0u64;
        if resumed {
            let snapshot: Snapshot = bincode::deserialize(&std::fs::read(&accounts)?).map_err(io_error)?;
            for (key, account) in snapshot.accounts {
                chain.svm.set_account(key, account).map_err(|e| io_error(format!("restoring {key}: {e:?}")))?;
            }
            chain.faucet = Keypair::try_from(snapshot.faucet.as_slice()).map_err(io_error)?;
            let file = std::fs::File::open(&journal_path)?;
            let mut lines = std::io::BufReader::new(file);
            let mut line = String::new();
            while chain.ledger.len() < snapshot.ledger_len {
                line.clear();
                let n = lines.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    return Err(io_error(format!(
                        "{} ends after {} of {} transactions",
                        journal_path.display(),
                        chain.ledger.len(),
                        snapshot.ledger_len
                    )));
                }
                kept_bytes += n as u64;
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, line.trim_end())
                    .map_err(io_error)?;
                let record = TxRecord::decode(&bytes).map_err(io_error)?;
                chain.index(record);
            }
            let keys: Vec<Pubkey> = chain.svm.accounts_db().inner.keys().copied().collect();
            for key in keys {
                chain.index_token_account(&key);
            }
            chain.slot = snapshot.slot.max(chain.slot);
            chain.advance_slot();
            chain.set_unix_timestamp(snapshot.unix_timestamp.max(chain.block_time()));
        }
        let journal = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&journal_path)?;
        journal.set_len(kept_bytes)?;
        let mut journal = journal;
        std::io::Seek::seek(&mut journal, std::io::SeekFrom::End(0))?;
        chain.store = Some(Store { accounts, journal_path, journal, broken: false });
        Ok((chain, resumed))
    }

    /// Writes the snapshot of a chain made by [`Chain::open`] (atomically: a crash keeps the
    /// previous one). Accounts of the programs themselves are not kept: they are rebuilt.
    pub fn save(&mut self) -> std::io::Result<()> {
        let Some(store) = &mut self.store else { return Ok(()) };
        store.journal.sync_data()?;
        let snapshot = Snapshot {
            slot: self.slot,
            unix_timestamp: self.svm.get_sysvar::<Clock>().unix_timestamp,
            faucet: self.faucet.to_bytes().to_vec(),
            ledger_len: self.ledger.len(),
            accounts: self
                .svm
                .accounts_db()
                .inner
                .iter()
                .filter(|(_, a)| !a.executable() && kept(a.owner()))
                .map(|(k, a)| (*k, Account::from(a.clone())))
                .collect(),
        };
        let tmp = store.accounts.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bincode::serialize(&snapshot).map_err(io_error)?)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &store.accounts)
    }

    /// Appends a committed record to the ledger file, if the chain is kept on disk.
    fn journal(&mut self, record: &TxRecord) {
        let Some(store) = &mut self.store else { return };
        if store.broken {
            return;
        }
        let line = bincode::serialize(record)
            .map(|b| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b) + "\n");
        let written = line.map_err(io_error).and_then(|l| store.journal.write_all(l.as_bytes()));
        if let Err(e) = written {
            store.broken = true;
            eprintln!("{}: {e}; the ledger is no longer saved", store.journal_path.display());
        }
    }

    /// Adds a record to the ledger and its indices.
    fn index(&mut self, record: TxRecord) {
        let index = self.ledger.len();
        for key in record.transaction.message.static_account_keys() {
            self.by_address.entry(*key).or_default().push(index);
        }
        self.by_signature.insert(record.signature, index);
        self.ledger.push(record);
    }

    /// Where committed transactions are announced to websocket subscribers.
    pub(crate) fn set_notices(&mut self, tx: tokio::sync::broadcast::Sender<std::sync::Arc<super::ws::Notice>>) {
        self.notices = Some(tx);
    }

    /// The key that funds `requestAirdrop`.
    pub fn faucet(&self) -> Keypair {
        self.faucet.insecure_clone()
    }

    pub fn slot(&self) -> u64 {
        self.slot
    }

    pub fn block_time(&self) -> i64 {
        self.svm.get_sysvar::<Clock>().unix_timestamp
    }

    /// Moves to the next slot; the cluster clock follows the wall clock (never backwards).
    fn advance_slot(&mut self) {
        self.slot += 1;
        self.svm.warp_to_slot(self.slot);
        let mut clock = self.svm.get_sysvar::<Clock>();
        clock.slot = self.slot;
        clock.unix_timestamp = clock.unix_timestamp.max(wall_clock_secs());
        self.svm.set_sysvar(&clock);
    }

    /// Sets the cluster's unix time (tests use it for open times and the TWAP).
    pub fn set_unix_timestamp(&mut self, unix_timestamp: i64) {
        let mut clock = self.svm.get_sysvar::<Clock>();
        clock.unix_timestamp = unix_timestamp;
        self.svm.set_sysvar(&clock);
    }

    /// Makes every previously issued blockhash invalid, as if it had aged out.
    pub fn expire_blockhash(&mut self) {
        self.svm.expire_blockhash();
    }

    fn balances(&self, keys: &[Pubkey]) -> Vec<u64> {
        keys.iter().map(|k| self.svm.get_account(k).map(|a| a.lamports).unwrap_or(0)).collect()
    }

    /// The token accounts among `keys`, with their mints' decimals.
    fn token_balances(&self, keys: &[Pubkey]) -> Vec<TokenBalance> {
        keys.iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let acc = self.svm.get_account(k)?;
                let t = unpack_token_account(&acc.owner, &acc.data)?;
                let decimals = self.svm.get_account(&t.mint).and_then(|m| unpack_mint(&m.owner, &m.data))?.decimals;
                Some(TokenBalance {
                    index: u8::try_from(i).ok()?,
                    mint: t.mint,
                    owner: t.owner,
                    program: acc.owner,
                    amount: t.amount,
                    decimals,
                })
            })
            .collect()
    }

    /// Executes and records a transaction in a new slot. A failed transaction is recorded too
    /// (as validators do) when `record_failures` is set; otherwise it leaves no trace.
    /// Account keys, their lamports and the signature of a transaction about to run.
    fn preamble(&self, tx: &VersionedTransaction) -> (Vec<Pubkey>, Vec<u64>, Signature) {
        let keys: Vec<Pubkey> = tx.message.static_account_keys().to_vec();
        let pre_balances = self.balances(&keys);
        (keys, pre_balances, tx.signatures.first().copied().unwrap_or_default())
    }

    pub fn execute(&mut self, tx: VersionedTransaction, record_failures: bool) -> Result<Signature, Box<TxRecord>> {
        let (keys, pre_balances, signature) = self.preamble(&tx);
        let pre_token_balances = self.token_balances(&keys);
        let outcome = self.svm.send_transaction(tx.clone());
        let (result, meta) = match outcome {
            Ok(meta) => (Ok(()), meta),
            Err(failed) => (Err(failed.err), failed.meta),
        };
        let record = TxRecord {
            signature,
            slot: self.slot,
            block_time: self.block_time(),
            transaction: tx,
            result,
            meta,
            pre_balances,
            post_balances: self.balances(&keys),
            pre_token_balances,
            post_token_balances: self.token_balances(&keys),
        };
        if record.result.is_err() && !record_failures {
            return Err(Box::new(record));
        }
        for key in &keys {
            self.index_token_account(key);
        }
        let failed = record.result.is_err();
        if let Some(notices) = &self.notices {
            let _ = notices.send(std::sync::Arc::new(super::ws::Notice {
                signature,
                slot: record.slot,
                err: record.result.clone().err(),
                logs: record.meta.logs.clone(),
                accounts: keys.clone(),
                // The keys' states after the transaction (a closed account as empty).
                after: keys.iter().map(|k| (*k, self.svm.get_account(k).unwrap_or_default())).collect(),
            }));
        }
        self.journal(&record);
        self.index(record.clone());
        self.advance_slot();
        if failed {
            Err(Box::new(record))
        } else {
            Ok(signature)
        }
    }

    /// Runs a transaction against the current state without committing anything.
    pub fn simulate(&mut self, tx: VersionedTransaction) -> TxRecord {
        self.simulate_with_accounts(tx, &[], true).0
    }

    /// [`Chain::simulate`], with the state of `addresses` after the transaction (`None`: no
    /// such account), as `simulateTransaction`'s `accounts` option returns it; without
    /// `sig_verify` an unsigned transaction runs too (as `sigVerify: false` does on a validator).
    pub fn simulate_with_accounts(
        &mut self,
        tx: VersionedTransaction,
        addresses: &[Pubkey],
        sig_verify: bool,
    ) -> (TxRecord, Vec<Option<Account>>) {
        let (keys, pre_balances, signature) = self.preamble(&tx);
        let mut after: Vec<Option<Account>> = addresses.iter().map(|a| self.svm.get_account(a)).collect();
        let outcome = if sig_verify {
            self.svm.simulate_transaction(tx.clone())
        } else {
            // LiteSVM's switch consumes it: swap in an empty one for the moment.
            let svm = std::mem::take(&mut self.svm).with_sigverify(false);
            let outcome = svm.simulate_transaction(tx.clone());
            self.svm = svm.with_sigverify(true);
            outcome
        };
        let (result, meta, post_balances) = match outcome {
            Ok(info) => {
                let post: HashMap<Pubkey, u64> = info.post_accounts.iter().map(|(k, a)| (*k, a.lamports())).collect();
                let post_balances =
                    keys.iter().zip(&pre_balances).map(|(k, pre)| post.get(k).copied().unwrap_or(*pre)).collect();
                for (address, slot) in addresses.iter().zip(after.iter_mut()) {
                    if let Some((_, a)) = info.post_accounts.iter().find(|(k, _)| k == address) {
                        *slot = (a.lamports() > 0).then(|| Account::from(a.clone()));
                    }
                }
                (Ok(()), info.meta, post_balances)
            }
            Err(failed) => (Err(failed.err), failed.meta, pre_balances.clone()),
        };
        let record = TxRecord {
            signature,
            slot: self.slot,
            block_time: self.block_time(),
            transaction: tx,
            result,
            meta,
            pre_balances,
            post_balances,
            pre_token_balances: Vec::new(),
            post_token_balances: Vec::new(),
        };
        (record, after)
    }

    fn index_token_account(&mut self, key: &Pubkey) {
        let Some(acc) = self.svm.get_account(key) else { return };
        if let Some(token) = unpack_token_account(&acc.owner, &acc.data) {
            self.token_accounts_by_mint.entry(token.mint).or_default().insert(*key);
        }
    }

    /// Every recorded transaction, oldest first.
    pub fn ledger(&self) -> &[TxRecord] {
        &self.ledger
    }

    pub fn transaction(&self, signature: &Signature) -> Option<&TxRecord> {
        self.by_signature.get(signature).map(|&i| &self.ledger[i])
    }

    /// Signatures that touched `address`, newest first, strictly older than `before` and newer
    /// than `until` (both exclusive), at most `limit`.
    pub fn signatures_for_address(
        &self,
        address: &Pubkey,
        before: Option<&Signature>,
        until: Option<&Signature>,
        limit: usize,
    ) -> Vec<&TxRecord> {
        let Some(indices) = self.by_address.get(address) else { return Vec::new() };
        let before_index = before.and_then(|s| self.by_signature.get(s)).copied();
        let until_index = until.and_then(|s| self.by_signature.get(s)).copied();
        indices
            .iter()
            .rev()
            .copied()
            .filter(|&i| before_index.is_none_or(|b| i < b))
            .take_while(|&i| until_index.is_none_or(|u| i > u))
            .take(limit)
            .map(|i| &self.ledger[i])
            .collect()
    }

    /// Every account but the programs', for the account-query methods.
    pub fn accounts(&self) -> Vec<(Pubkey, Account)> {
        self.svm
            .accounts_db()
            .inner
            .iter()
            .filter(|(_, a)| !a.executable())
            .map(|(k, a)| (*k, Account::from(a.clone())))
            .collect()
    }

    /// The unix time of `slot`: now for the current slot, else that of the latest transaction at
    /// or before it (or now, when the ledger kept none); `None` for a slot not reached yet.
    pub fn block_time_at(&self, slot: u64) -> Option<i64> {
        if slot > self.slot {
            return None;
        }
        if slot == self.slot {
            return Some(self.block_time());
        }
        Some(self.ledger.iter().rev().find(|r| r.slot <= slot).map_or_else(|| self.block_time(), |r| r.block_time))
    }

    /// Token accounts of `mint` seen in any transaction, with their balances, largest first.
    pub fn largest_token_accounts(&self, mint: &Pubkey, limit: usize) -> Vec<(Pubkey, u64)> {
        let mut out: Vec<(Pubkey, u64)> = self
            .token_accounts_by_mint
            .get(mint)
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let acc = self.svm.get_account(k)?;
                let token = unpack_token_account(&acc.owner, &acc.data)?;
                (token.mint == *mint).then_some((*k, token.amount))
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }
}

/// The SPL Token-2022 program.
pub const TOKEN_2022: Pubkey = anchor_spl::token_2022::ID;

/// A token account of SPL Token or Token-2022 (whose accounts carry extensions after the
/// 165-byte base layout).
pub fn unpack_token_account(owner: &Pubkey, data: &[u8]) -> Option<spl_token::state::Account> {
    let len = spl_token::state::Account::LEN;
    let ok = (*owner == spl_token::ID && data.len() == len)
        || (*owner == TOKEN_2022 && data.len() >= len && (data.len() == len || data[len] == 2));
    if !ok {
        return None;
    }
    use anchor_lang::solana_program::program_pack::IsInitialized;
    spl_token::state::Account::unpack_from_slice(&data[..len]).ok().filter(|a| a.is_initialized())
}

/// A mint of SPL Token or Token-2022 (base layout only).
pub fn unpack_mint(owner: &Pubkey, data: &[u8]) -> Option<spl_token::state::Mint> {
    if *owner != spl_token::ID && *owner != TOKEN_2022 {
        return None;
    }
    spl_token::state::Mint::unpack_from_slice(data.get(..spl_token::state::Mint::LEN)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ledger lines written before token balances were recorded still load, with none.
    #[test]
    fn older_ledger_records_decode() {
        let signature = Signature::new_unique();
        let transaction = VersionedTransaction::default();
        let v1 = bincode::serialize(&(
            signature,
            7u64,
            9i64,
            &transaction,
            Ok::<(), TransactionError>(()),
            TransactionMetadata::default(),
            vec![5u64],
            vec![4u64],
        ))
        .unwrap();
        let r = TxRecord::decode(&v1).unwrap();
        assert_eq!((r.signature, r.slot, r.block_time), (signature, 7, 9));
        assert_eq!((r.pre_balances, r.post_balances), (vec![5], vec![4]));
        assert!(r.pre_token_balances.is_empty() && r.post_token_balances.is_empty());
        // And a record of this build round-trips with its token balances.
        let balance = TokenBalance {
            index: 1,
            mint: Pubkey::new_unique(),
            owner: Pubkey::new_unique(),
            program: Pubkey::new_unique(),
            amount: 42,
            decimals: 6,
        };
        let now = TxRecord { pre_token_balances: vec![balance.clone()], ..TxRecord::decode(&v1).unwrap() };
        let back = TxRecord::decode(&bincode::serialize(&now).unwrap()).unwrap();
        assert_eq!(back.pre_token_balances, vec![balance]);
        assert!(TxRecord::decode(&v1[..v1.len() - 3]).is_err(), "a cut line is refused");
    }
}
