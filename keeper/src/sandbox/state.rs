//! The sandbox's view of the chain: accounts, code and storage at one block, read lazily from any
//! node's ordinary JSON-RPC (`eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`,
//! `eth_getStorageAt`, `eth_getBlockByNumber`) and cached, so every slot costs one round trip at
//! most; the slots earlier states of the chain read come in one batch ([`StateMemory`]). No debug
//! or trace methods: it works against any node.

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

/// What earlier simulations on a chain learnt, shared by every report and watch of that chain:
/// runtime code by address (routers, pairs and wrapped native tokens are read once per keeper
/// run; code is immutable for an address except through SELFDESTRUCT + CREATE2, which the
/// sandbox's inspector reports), and which storage slots each contract, and each code shape
/// ([`shape_hash`]: the code with its immutables blanked), had read. A new state fetches those
/// slots in one JSON-RPC batch when its accounts are prefetched ([`RpcState::prefetch`]): the
/// values are always its own block's, only the choice of slots is learnt, so a report on
/// contracts seen before (or on a new deployment of a known token template, whose immutables
/// differ) costs one round trip for them instead of one per slot, one after another; and the watchdog's
/// state at each new block fetches what the last block's needed at once.
#[derive(Debug, Default, Clone)]
pub struct StateMemory(Arc<Mutex<Memory>>);

#[derive(Debug, Default)]
struct Memory {
    code: HashMap<Address, Bytes>,
    slots_by_address: HashMap<Address, Vec<U256>>,
    /// By the code's shape ([`shape_hash`]), not its hash: every copy of a token template has
    /// its own code (its immutables) but reads the same slots.
    slots_by_code: HashMap<B256, Vec<U256>>,
    /// Code hash -> shape hash, for the codes seen.
    shapes: HashMap<B256, B256>,
}

/// The hash of `code` with every `PUSH32` immediate zeroed: its shape. Solidity writes a
/// contract's `immutable` values (the pair, router or owner a token fixes at deployment) into
/// its runtime code as `PUSH32` immediates, so every deployment of one token template has a
/// code hash of its own and the same shape. Used only to choose which slots to prefetch (the
/// values are always read): never to reuse a search's findings, which a different immutable
/// could change.
pub fn shape_hash(code: &[u8]) -> B256 {
    const PUSH1: u8 = 0x60;
    const PUSH32: u8 = 0x7f;
    let mut shape = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        shape.push(op);
        i += 1;
        if (PUSH1..=PUSH32).contains(&op) {
            let end = (i + usize::from(op - PUSH1 + 1)).min(code.len());
            if op == PUSH32 {
                shape.resize(shape.len() + (end - i), 0);
            } else {
                shape.extend_from_slice(&code[i..end]);
            }
            i = end;
        }
    }
    keccak256(shape)
}

/// Contracts whose slots are remembered; past it the slot memory starts again (code stays).
const REMEMBERED_CONTRACTS: usize = 4096;
/// Slots remembered per contract or code: enough for a token's flags, fees, roles and our own
/// entries in its mappings; a contract read more widely keeps its lowest-numbered ones (its
/// plain variables).
const REMEMBERED_SLOTS: usize = 128;
/// Calls per JSON-RPC batch.
const BATCH_READS: usize = 100;

impl StateMemory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn code(&self, a: &Address) -> Option<Bytes> {
        self.lock().code.get(a).cloned()
    }
    fn put_code(&self, a: Address, code: Bytes) {
        self.lock().code.insert(a, code);
    }

    /// Remembers the shape of a code (computed once per code).
    fn put_shape(&self, code_hash: B256, code: &[u8]) {
        if !self.lock().shapes.contains_key(&code_hash) {
            let shape = shape_hash(code);
            let mut m = self.lock();
            if m.shapes.len() >= REMEMBERED_CONTRACTS * 4 {
                m.shapes.clear();
            }
            m.shapes.insert(code_hash, shape);
        }
    }

    /// The slots read before at `a`, or in a contract with the shape of `a`'s code.
    fn slots(&self, a: Address, code_hash: B256) -> Vec<U256> {
        let m = self.lock();
        let mut out: Vec<U256> = m.slots_by_address.get(&a).cloned().unwrap_or_default();
        if let Some(shape) = m.shapes.get(&code_hash).filter(|_| code_hash != KECCAK_EMPTY) {
            out.extend(m.slots_by_code.get(shape).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Remembers the slots one state read, by contract and by code.
    fn learn(&self, read: HashMap<Address, (B256, Vec<U256>)>) {
        let mut m = self.lock();
        if m.slots_by_address.len() + read.len() > REMEMBERED_CONTRACTS {
            m.slots_by_address.clear();
            m.slots_by_code.clear();
        }
        for (a, (code_hash, mut slots)) in read {
            slots.sort_unstable();
            slots.truncate(REMEMBERED_SLOTS);
            if let Some(shape) = m.shapes.get(&code_hash).copied().filter(|_| code_hash != KECCAK_EMPTY) {
                m.slots_by_code.insert(shape, slots.clone());
            }
            m.slots_by_address.insert(a, slots);
        }
    }
}

#[derive(Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountInfo>>,
    code: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    /// The slots simulations asked for (prefetched ones only once used): what is learnt.
    used: std::collections::HashSet<(Address, U256)>,
    hashes: HashMap<u64, B256>,
}

struct Inner {
    rpc: DynProvider,
    block: u64,
    memory: StateMemory,
    runtime: tokio::runtime::Handle,
    cache: Mutex<Cache>,
    reads: AtomicU64,
    round_trips: AtomicU64,
}

/// Chain state at `block`, fetched on first use. Cheap to clone (shared cache). Its reads block
/// the calling thread on the runtime: use it from `spawn_blocking`, never from async code.
#[derive(Clone)]
pub struct RpcState(Arc<Inner>);

impl RpcState {
    pub fn new(rpc: DynProvider, block: u64, memory: StateMemory) -> Self {
        Self(Arc::new(Inner {
            rpc,
            block,
            memory,
            runtime: tokio::runtime::Handle::current(),
            cache: Mutex::new(Cache::default()),
            reads: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
        }))
    }

    pub fn block(&self) -> u64 {
        self.0.block
    }

    /// JSON-RPC reads made so far.
    pub fn reads(&self) -> u64 {
        self.0.reads.load(Ordering::Relaxed)
    }

    /// Round trips to the node made so far, the calling thread waiting on each: one per lazy
    /// read, one per prefetched batch. Against a remote node these, not the reads, are the time.
    pub fn round_trips(&self) -> u64 {
        self.0.round_trips.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        self.0.round_trips.fetch_add(1, Ordering::Relaxed);
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

    /// Fetches the accounts not yet cached, concurrently (one batch of round trips), then the
    /// storage slots earlier states read in them (see [`StateMemory`]), in JSON-RPC batches sent
    /// together. Nothing fetched here is required: a slot the node did not answer (or a node that
    /// refuses batches) is read lazily when a simulation needs it.
    pub fn prefetch(&self, addresses: &[Address]) -> Result<(), StateError> {
        let missing: Vec<Address> = {
            let c = self.cache();
            addresses.iter().filter(|a| !c.accounts.contains_key(*a)).copied().collect()
        };
        if !missing.is_empty() {
            self.trip();
            let fetched =
                self.0.runtime.block_on(futures::future::join_all(missing.iter().map(|a| self.fetch_account(*a))));
            for (a, r) in missing.into_iter().zip(fetched) {
                let info = r?;
                self.remember(a, info);
            }
        }
        let wanted: Vec<(Address, U256)> = {
            let c = self.cache();
            addresses
                .iter()
                .filter_map(|a| Some((*a, c.accounts.get(a)?.as_ref()?.code_hash)))
                .filter(|(_, h)| *h != KECCAK_EMPTY)
                .flat_map(|(a, h)| self.0.memory.slots(a, h).into_iter().map(move |s| (a, s)))
                .filter(|k| !c.storage.contains_key(k))
                .collect()
        };
        if wanted.is_empty() {
            return Ok(());
        }
        self.0.reads.fetch_add(wanted.len() as u64, Ordering::Relaxed);
        self.trip();
        // JSON-RPC batches of at most BATCH_READS calls (the size public nodes accept), sent
        // together: one round trip, however many slots.
        let at = self.at();
        let client = self.0.rpc.client();
        let wanted_ref = &wanted;
        let fetched: Vec<Option<U256>> = self.0.runtime.block_on(async move {
            let chunks = wanted_ref.chunks(BATCH_READS).map(|chunk| async move {
                let mut batch = alloy::rpc::client::BatchRequest::new(client);
                let waiters: Vec<_> =
                    chunk.iter().map(|(a, s)| batch.add_call::<_, U256>("eth_getStorageAt", &(*a, *s, at))).collect();
                if batch.send().await.is_err() {
                    return vec![None; chunk.len()];
                }
                let mut out = Vec::with_capacity(chunk.len());
                for w in waiters {
                    out.push(match w {
                        Ok(w) => w.await.ok(),
                        Err(_) => None,
                    });
                }
                out
            });
            futures::future::join_all(chunks).await.into_iter().flatten().collect()
        });
        let mut c = self.cache();
        for (k, v) in wanted.into_iter().zip(fetched) {
            // A slot the node did not answer is read again, lazily, when a simulation needs it.
            if let Some(v) = v {
                c.storage.entry(k).or_insert(v);
            }
        }
        Ok(())
    }

    async fn fetch_account(&self, a: Address) -> Result<(U256, u64, Bytes), StateError> {
        let rpc = &self.0.rpc;
        let cached = self.0.memory.code(&a);
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
            self.0.memory.put_code(a, code.clone());
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
            self.0.memory.put_shape(hash, &code);
            let bytecode = Bytecode::new_raw(code);
            self.cache().code.insert(hash, bytecode.clone());
            AccountInfo { balance, nonce, code_hash: hash, code: Some(bytecode), ..Default::default() }
        };
        self.cache().accounts.insert(a, Some(info.clone()));
        Some(info)
    }
}

impl Drop for Inner {
    /// The slots this state read go to the chain's memory, for the next state to prefetch.
    fn drop(&mut self) {
        let c = self.cache.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut read: HashMap<Address, (B256, Vec<U256>)> = HashMap::new();
        for (a, slot) in &c.used {
            let Some(Some(info)) = c.accounts.get(a) else { continue };
            read.entry(*a).or_insert_with(|| (info.code_hash, Vec::new())).1.push(*slot);
        }
        if !read.is_empty() {
            self.memory.learn(read);
        }
    }
}

impl DatabaseRef for RpcState {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(info) = self.cache().accounts.get(&address) {
            return Ok(info.clone());
        }
        self.trip();
        tracing::trace!(block = self.0.block, %address, "lazy account read");
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
        {
            let mut c = self.cache();
            c.used.insert((address, index));
            if let Some(v) = c.storage.get(&(address, index)) {
                return Ok(*v);
            }
        }
        self.0.reads.fetch_add(1, Ordering::Relaxed);
        self.trip();
        tracing::trace!(block = self.0.block, %address, index = %format_args!("{index:#x}"), "lazy storage read");
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
        self.trip();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codes_shape_ignores_push32_immediates_only() {
        // PUSH32 <immutable>, PUSH20 <constant address>, PUSH1 0, SSTORE
        let code = |immutable: u8, constant: u8| {
            let mut c = vec![0x7f];
            c.extend([immutable; 32]);
            c.push(0x73);
            c.extend([constant; 20]);
            c.extend([0x60, 0x00, 0x55]);
            c
        };
        assert_eq!(shape_hash(&code(1, 9)), shape_hash(&code(2, 9)), "another immutable, the same shape");
        assert_ne!(shape_hash(&code(1, 9)), shape_hash(&code(1, 8)), "another constant is another code");
        assert_ne!(shape_hash(&code(1, 9)), keccak256(code(1, 9)));
        // An opcode byte inside an immediate is not an opcode; a truncated PUSH at the end is fine.
        assert_ne!(shape_hash(&[0x60, 0x7f, 0x00]), shape_hash(&[0x60, 0x7e, 0x00]));
        assert_eq!(shape_hash(&[0x7f, 0x01]), shape_hash(&[0x7f, 0x02]));
    }
}
