//! The sandbox's view of the chain: accounts, code and storage at one block, read lazily from any
//! node's ordinary JSON-RPC (`eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`,
//! `eth_getStorageAt`, `eth_getBlockByNumber`) and cached, so every slot costs one round trip at
//! most. No debug or trace methods: it works against any node.

use std::{
    collections::HashMap,
    future::IntoFuture,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use alloy::{
    eips::BlockId,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

/// A read the node could not answer; the simulation that needed it fails with this.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state read at block {block}: {what}: {error}")]
pub struct StateError {
    pub block: u64,
    pub what: String,
    pub error: String,
}

impl DBErrorMarker for StateError {}

/// Runtime code by address, shared by every report of a chain: routers, pairs and wrapped native
/// tokens are read once per keeper run. Code is immutable for an address except through
/// SELFDESTRUCT + CREATE2, which the sandbox's inspector reports.
#[derive(Debug, Default, Clone)]
pub struct CodeCache(Arc<Mutex<HashMap<Address, Bytes>>>);

impl CodeCache {
    fn get(&self, a: &Address) -> Option<Bytes> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(a).cloned()
    }
    fn put(&self, a: Address, code: Bytes) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(a, code);
    }
}

#[derive(Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountInfo>>,
    code: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    hashes: HashMap<u64, B256>,
}

struct Inner {
    rpc: DynProvider,
    block: u64,
    codes: CodeCache,
    runtime: tokio::runtime::Handle,
    cache: Mutex<Cache>,
    reads: AtomicU64,
}

/// Chain state at `block`, fetched on first use. Cheap to clone (shared cache). Its reads block
/// the calling thread on the runtime: use it from `spawn_blocking`, never from async code.
#[derive(Clone)]
pub struct RpcState(Arc<Inner>);

impl RpcState {
    pub fn new(rpc: DynProvider, block: u64, codes: CodeCache) -> Self {
        Self(Arc::new(Inner {
            rpc,
            block,
            codes,
            runtime: tokio::runtime::Handle::current(),
            cache: Mutex::new(Cache::default()),
            reads: AtomicU64::new(0),
        }))
    }

    pub fn block(&self) -> u64 {
        self.0.block
    }

    /// JSON-RPC round trips made so far.
    pub fn reads(&self) -> u64 {
        self.0.reads.load(Ordering::Relaxed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.0.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, what: String, e: impl std::fmt::Display) -> StateError {
        StateError { block: self.0.block, what, error: e.to_string() }
    }

    fn at(&self) -> BlockId {
        BlockId::number(self.0.block)
    }

    /// Fetches the accounts not yet cached, concurrently (one batch of round trips).
    pub fn prefetch(&self, addresses: &[Address]) -> Result<(), StateError> {
        let missing: Vec<Address> = {
            let c = self.cache();
            addresses.iter().filter(|a| !c.accounts.contains_key(*a)).copied().collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let fetched =
            self.0.runtime.block_on(futures::future::join_all(missing.iter().map(|a| self.fetch_account(*a))));
        for (a, r) in missing.into_iter().zip(fetched) {
            let info = r?;
            self.remember(a, info);
        }
        Ok(())
    }

    async fn fetch_account(&self, a: Address) -> Result<(U256, u64, Bytes), StateError> {
        let rpc = &self.0.rpc;
        let cached = self.0.codes.get(&a);
        let code = async {
            match &cached {
                Some(c) => Ok(c.clone()),
                None => {
                    self.0.reads.fetch_add(1, Ordering::Relaxed);
                    rpc.get_code_at(a).block_id(self.at()).await
                }
            }
        };
        self.0.reads.fetch_add(2, Ordering::Relaxed);
        let (balance, nonce, code) = tokio::join!(
            rpc.get_balance(a).block_id(self.at()),
            rpc.get_transaction_count(a).block_id(self.at()),
            code
        );
        let code = code.map_err(|e| self.err(format!("eth_getCode {a}"), e))?;
        if cached.is_none() && !code.is_empty() {
            self.0.codes.put(a, code.clone());
        }
        Ok((
            balance.map_err(|e| self.err(format!("eth_getBalance {a}"), e))?,
            nonce.map_err(|e| self.err(format!("eth_getTransactionCount {a}"), e))?,
            code,
        ))
    }

    fn remember(&self, a: Address, (balance, nonce, code): (U256, u64, Bytes)) -> Option<AccountInfo> {
        let info = if code.is_empty() {
            AccountInfo { balance, nonce, code_hash: KECCAK_EMPTY, ..Default::default() }
        } else {
            let hash = keccak256(&code);
            let bytecode = Bytecode::new_raw(code);
            self.cache().code.insert(hash, bytecode.clone());
            AccountInfo { balance, nonce, code_hash: hash, code: Some(bytecode), ..Default::default() }
        };
        self.cache().accounts.insert(a, Some(info.clone()));
        Some(info)
    }
}

impl DatabaseRef for RpcState {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(info) = self.cache().accounts.get(&address) {
            return Ok(info.clone());
        }
        let fetched = self.0.runtime.block_on(self.fetch_account(address))?;
        Ok(self.remember(address, fetched))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.cache()
            .code
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| self.err(format!("code {code_hash}"), "not loaded with its account"))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(v) = self.cache().storage.get(&(address, index)) {
            return Ok(*v);
        }
        self.0.reads.fetch_add(1, Ordering::Relaxed);
        let v = self
            .0
            .runtime
            .block_on(self.0.rpc.get_storage_at(address, index).block_id(self.at()).into_future())
            .map_err(|e| self.err(format!("eth_getStorageAt {address} {index:#x}"), e))?;
        self.cache().storage.insert((address, index), v);
        Ok(v)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        if let Some(h) = self.cache().hashes.get(&number) {
            return Ok(*h);
        }
        self.0.reads.fetch_add(1, Ordering::Relaxed);
        let block = self
            .0
            .runtime
            .block_on(self.0.rpc.get_block_by_number(number.into()).into_future())
            .map_err(|e| self.err(format!("eth_getBlockByNumber {number}"), e))?;
        let h = block.map(|b| b.header.hash).unwrap_or_default();
        self.cache().hashes.insert(number, h);
        Ok(h)
    }
}
