use std::{
    net::SocketAddr,
    str::FromStr,
    sync::{Arc, Mutex, MutexGuard},
};

use anchor_lang::prelude::Pubkey;
use anchor_spl::token::spl_token;
use axum::{body::Bytes, extract::State, routing::post, Json, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};
use solana_account_decoder_client_types::{token::UiTokenAmount, UiAccountEncoding};
use solana_rpc_client_api::{
    config::{
        RpcAccountInfoConfig, RpcBlockConfig, RpcEncodingConfigWrapper, RpcSendTransactionConfig,
        RpcSignaturesForAddressConfig, RpcSimulateTransactionConfig, RpcTransactionConfig,
    },
    response::{
        Response, RpcBlockhash, RpcConfirmedTransactionStatusWithSignature, RpcResponseContext,
        RpcSimulateTransactionResult, RpcTokenAccountBalance, RpcVersionInfo,
    },
};
use solana_sdk::{
    account::Account,
    message::VersionedMessage,
    signature::Signature,
    signer::Signer,
    transaction::{Transaction, VersionedTransaction},
};
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, EncodedTransaction, EncodedTransactionWithStatusMeta,
    TransactionBinaryEncoding, TransactionConfirmationStatus, TransactionDetails, TransactionStatus,
    TransactionStatusMeta, TransactionTokenBalance, UiAddressTableLookup, UiCompiledInstruction, UiConfirmedBlock,
    UiMessage, UiRawMessage, UiTransaction, UiTransactionEncoding, UiTransactionStatusMeta,
};

use super::{
    chain::{Chain, TxRecord},
    encoding::ui_account,
    filters::{compile_filters, ProgramAccountsConfig},
};

/// JSON-RPC error codes used by Solana validators.
mod code {
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const SEND_TRANSACTION_PREFLIGHT_FAILURE: i64 = -32002;
    pub const TRANSACTION_SIGNATURE_VERIFICATION_FAILURE: i64 = -32003;
    pub const BLOCK_NOT_AVAILABLE: i64 = -32004;
}

#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
}

fn invalid_params(message: impl Into<String>) -> RpcError {
    RpcError { code: code::INVALID_PARAMS, message: message.into(), data: None }
}

type RpcResult = Result<Value, RpcError>;

/// A running localnet: the chain and the address of its JSON-RPC server. Dropping it stops the server.
pub struct Localnet {
    pub url: String,
    pub addr: SocketAddr,
    /// Websocket endpoint for subscriptions (the next port after `addr` when that is free).
    pub ws_url: String,
    pub chain: Arc<Mutex<Chain>>,
    ws: super::ws::WsState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Localnet {
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        lock(&self.chain)
    }

    /// Closes every open websocket connection (clients must reconnect and catch up).
    pub fn drop_websockets(&self) {
        self.ws.generation.send_modify(|g| *g += 1);
    }

    /// `logsSubscribe` subscriptions open right now.
    pub fn log_subscriptions(&self) -> usize {
        self.ws.log_subscriptions.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn lock(chain: &Mutex<Chain>) -> MutexGuard<'_, Chain> {
    // A panic while holding the lock leaves a usable chain: every mutation is one LiteSVM call.
    chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves JSON-RPC for `chain` on `addr` (port 0 picks a free port) and websocket
/// subscriptions on the next port (or any free one when `addr` has port 0).
pub async fn serve(mut chain: Chain, addr: SocketAddr) -> std::io::Result<Localnet> {
    let (notices, _) = tokio::sync::broadcast::channel(4_096);
    chain.set_notices(notices.clone());
    let ws = super::ws::WsState {
        notices,
        generation: tokio::sync::watch::channel(0).0,
        log_subscriptions: Default::default(),
    };
    let chain = Arc::new(Mutex::new(chain));
    let app = Router::new().route("/", post(handle)).with_state(chain.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let ws_bind = SocketAddr::new(addr.ip(), if addr.port() == 0 { 0 } else { addr.port().saturating_add(1) });
    let ws_listener = match tokio::net::TcpListener::bind(ws_bind).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?,
    };
    let ws_addr = ws_listener.local_addr()?;
    let ws_app = Router::new().route("/", axum::routing::get(super::ws::upgrade)).with_state(ws.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (ws_tx, ws_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
                let _ = ws_tx.send(());
            })
            .await;
    });
    tokio::spawn(async move {
        let _ = axum::serve(ws_listener, ws_app)
            .with_graceful_shutdown(async {
                let _ = ws_rx.await;
            })
            .await;
    });
    Ok(Localnet {
        url: format!("http://{addr}"),
        addr,
        ws_url: format!("ws://{ws_addr}"),
        chain,
        ws,
        shutdown: Some(tx),
    })
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    id: Value,
    method: String,
    #[serde(default)]
    params: Value,
}

fn reply(id: Value, result: RpcResult) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => {
            let mut error = json!({"code": e.code, "message": e.message});
            if let Some(data) = e.data {
                error["data"] = data;
            }
            json!({"jsonrpc": "2.0", "id": id, "error": error})
        }
    }
}

async fn handle(State(chain): State<Arc<Mutex<Chain>>>, body: Bytes) -> Json<Value> {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let Ok(value) = parsed else {
        return Json(reply(Value::Null, Err(RpcError { code: -32700, message: "Parse error".into(), data: None })));
    };
    let one = |v: Value| match serde_json::from_value::<Request>(v) {
        Ok(req) => reply(req.id.clone(), dispatch(&chain, &req.method, req.params)),
        Err(e) => reply(Value::Null, Err(RpcError { code: code::INVALID_REQUEST, message: e.to_string(), data: None })),
    };
    Json(match value {
        Value::Array(batch) => Value::Array(batch.into_iter().map(one).collect()),
        other => one(other),
    })
}

fn param<T: DeserializeOwned>(params: &Value, i: usize, name: &str) -> Result<T, RpcError> {
    let v = params.get(i).cloned().ok_or_else(|| invalid_params(format!("missing parameter {i} ({name})")))?;
    serde_json::from_value(v).map_err(|e| invalid_params(format!("invalid {name}: {e}")))
}

fn config<T: DeserializeOwned + Default>(params: &Value, i: usize) -> Result<T, RpcError> {
    match params.get(i) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| invalid_params(format!("invalid config: {e}"))),
    }
}

fn pubkey(params: &Value, i: usize) -> Result<Pubkey, RpcError> {
    let s: String = param(params, i, "pubkey")?;
    Pubkey::from_str(&s).map_err(|_| invalid_params("Invalid param: WrongSize"))
}

fn signature(s: &str) -> Result<Signature, RpcError> {
    Signature::from_str(s).map_err(|_| invalid_params("Invalid param: not a signature"))
}

fn to_value<T: Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v).map_err(|e| RpcError { code: -32603, message: e.to_string(), data: None })
}

fn with_context<T: Serialize>(chain: &Chain, value: T) -> RpcResult {
    to_value(Response { context: RpcResponseContext::new(chain.slot()), value })
}

fn decode_transaction(
    encoded: &str,
    encoding: Option<UiTransactionEncoding>,
) -> Result<VersionedTransaction, RpcError> {
    let bytes = match encoding.unwrap_or(UiTransactionEncoding::Base58) {
        UiTransactionEncoding::Base58 => {
            bs58::decode(encoded).into_vec().map_err(|e| invalid_params(format!("invalid base58: {e}")))?
        }
        UiTransactionEncoding::Base64 => {
            B64.decode(encoded).map_err(|e| invalid_params(format!("invalid base64: {e}")))?
        }
        other => {
            return Err(invalid_params(format!("unsupported encoding: {other}. Supported encodings: base58, base64")))
        }
    };
    bincode::deserialize(&bytes).map_err(|e| invalid_params(format!("failed to deserialize VersionedTransaction: {e}")))
}

fn status_meta(record: &TxRecord) -> UiTransactionStatusMeta {
    TransactionStatusMeta {
        status: record.result.clone(),
        fee: record.meta.fee,
        pre_balances: record.pre_balances.clone(),
        post_balances: record.post_balances.clone(),
        inner_instructions: Some(record.inner_instructions()),
        log_messages: Some(record.meta.logs.clone()),
        compute_units_consumed: Some(record.meta.compute_units_consumed),
        pre_token_balances: Some(token_balances(&record.pre_token_balances)),
        post_token_balances: Some(token_balances(&record.post_token_balances)),
        ..Default::default()
    }
    .into()
}

fn token_balances(balances: &[super::chain::TokenBalance]) -> Vec<TransactionTokenBalance> {
    balances
        .iter()
        .map(|b| TransactionTokenBalance {
            account_index: b.index,
            mint: b.mint.to_string(),
            ui_token_amount: token_amount(b.amount, b.decimals),
            owner: b.owner.to_string(),
            program_id: b.program.to_string(),
        })
        .collect()
}

fn simulation_result(chain: &Chain, record: &TxRecord) -> RpcSimulateTransactionResult {
    let meta = status_meta(record);
    RpcSimulateTransactionResult {
        err: record.result.clone().err().map(Into::into),
        logs: Some(record.meta.logs.clone()),
        accounts: None,
        units_consumed: Some(record.meta.compute_units_consumed),
        loaded_accounts_data_size: None,
        return_data: None,
        inner_instructions: Option::from(meta.inner_instructions),
        replacement_blockhash: Some(RpcBlockhash {
            blockhash: chain.svm.latest_blockhash().to_string(),
            last_valid_block_height: chain.slot() + 150,
        }),
        fee: Some(record.meta.fee),
        pre_balances: Some(record.pre_balances.clone()),
        post_balances: Some(record.post_balances.clone()),
        pre_token_balances: None,
        post_token_balances: None,
        loaded_addresses: None,
    }
}

fn dispatch(shared: &Mutex<Chain>, method: &str, params: Value) -> RpcResult {
    let mut chain = lock(shared);
    let chain = &mut *chain;
    match method {
        "getHealth" => Ok(json!("ok")),
        "getVersion" => to_value(RpcVersionInfo { solana_core: "3.1.12".into(), feature_set: Some(FEATURE_SET) }),
        "getGenesisHash" => Ok(json!(solana_sdk::hash::Hash::default().to_string())),
        "getSlot" | "getBlockHeight" => Ok(json!(chain.slot())),
        "getLatestBlockhash" => with_context(
            chain,
            RpcBlockhash {
                blockhash: chain.svm.latest_blockhash().to_string(),
                last_valid_block_height: chain.slot() + 150,
            },
        ),
        "isBlockhashValid" => {
            let hash: String = param(&params, 0, "blockhash")?;
            let valid = hash == chain.svm.latest_blockhash().to_string();
            with_context(chain, valid)
        }
        "getMinimumBalanceForRentExemption" => {
            let size: usize = param(&params, 0, "data length")?;
            Ok(json!(chain.svm.minimum_balance_for_rent_exemption(size)))
        }
        "getBalance" => {
            let key = pubkey(&params, 0)?;
            let lamports = chain.svm.get_account(&key).map(|a| a.lamports).unwrap_or(0);
            with_context(chain, lamports)
        }
        "getAccountInfo" => {
            let key = pubkey(&params, 0)?;
            let cfg: RpcAccountInfoConfig = config(&params, 1)?;
            let account = chain.svm.get_account(&key).filter(|a| a.lamports > 0).map(|a| ui_account(&a, cfg.encoding));
            with_context(chain, account)
        }
        "getMultipleAccounts" => {
            let keys: Vec<String> = param(&params, 0, "pubkeys")?;
            if keys.len() > 100 {
                return Err(invalid_params("Too many inputs provided; max 100"));
            }
            let cfg: RpcAccountInfoConfig = config(&params, 1)?;
            let mut accounts = Vec::with_capacity(keys.len());
            for k in keys {
                let key = Pubkey::from_str(&k).map_err(|_| invalid_params("Invalid param: WrongSize"))?;
                accounts
                    .push(chain.svm.get_account(&key).filter(|a| a.lamports > 0).map(|a| ui_account(&a, cfg.encoding)));
            }
            with_context(chain, accounts)
        }
        "requestAirdrop" => {
            let key = pubkey(&params, 0)?;
            let lamports: u64 = param(&params, 1, "lamports")?;
            let faucet = chain.faucet();
            let ix = anchor_lang::solana_program::system_instruction::transfer(&faucet.pubkey(), &key, lamports);
            let tx = Transaction::new_signed_with_payer(
                &[ix],
                Some(&faucet.pubkey()),
                &[&faucet],
                chain.svm.latest_blockhash(),
            );
            match chain.execute(tx.into(), false) {
                Ok(sig) => Ok(json!(sig.to_string())),
                Err(r) => {
                    Err(RpcError { code: -32603, message: format!("airdrop failed: {:?}", r.result), data: None })
                }
            }
        }
        "sendTransaction" => {
            let encoded: String = param(&params, 0, "transaction")?;
            let cfg: RpcSendTransactionConfig = config(&params, 1)?;
            let tx = decode_transaction(&encoded, cfg.encoding)?;
            if tx.verify_with_results().iter().any(|ok| !ok) {
                return Err(RpcError {
                    code: code::TRANSACTION_SIGNATURE_VERIFICATION_FAILURE,
                    message: "Transaction signature verification failure".into(),
                    data: None,
                });
            }
            let signature = tx.signatures.first().copied().unwrap_or_default();
            if !cfg.skip_preflight {
                let sim = chain.simulate(tx.clone());
                if let Err(err) = &sim.result {
                    return Err(RpcError {
                        code: code::SEND_TRANSACTION_PREFLIGHT_FAILURE,
                        message: format!("Transaction simulation failed: {err}"),
                        data: Some(to_value(simulation_result(chain, &sim))?),
                    });
                }
            }
            match chain.execute(tx, cfg.skip_preflight) {
                Ok(sig) => Ok(json!(sig.to_string())),
                // Recorded on the ledger with its error, like a validator does without preflight.
                Err(_) if cfg.skip_preflight => Ok(json!(signature.to_string())),
                Err(record) => {
                    let err = record.result.clone().err().map(|e| e.to_string()).unwrap_or_default();
                    Err(RpcError {
                        code: code::SEND_TRANSACTION_PREFLIGHT_FAILURE,
                        message: format!("Transaction simulation failed: {err}"),
                        data: Some(to_value(simulation_result(chain, &record))?),
                    })
                }
            }
        }
        "simulateTransaction" => {
            let encoded: String = param(&params, 0, "transaction")?;
            let cfg: RpcSimulateTransactionConfig = config(&params, 1)?;
            let mut tx = decode_transaction(&encoded, cfg.encoding)?;
            if cfg.replace_recent_blockhash {
                if cfg.sig_verify {
                    return Err(invalid_params("sigVerify may not be used with replaceRecentBlockhash"));
                }
                let hash = chain.svm.latest_blockhash();
                match &mut tx.message {
                    VersionedMessage::Legacy(m) => m.recent_blockhash = hash,
                    VersionedMessage::V0(m) => m.recent_blockhash = hash,
                }
            }
            let wanted: Vec<Pubkey> = match &cfg.accounts {
                Some(a) => a
                    .addresses
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()
                    .map_err(|_| invalid_params("Invalid param: accounts"))?,
                None => Vec::new(),
            };
            let (record, after) = chain.simulate_with_accounts(tx, &wanted, cfg.sig_verify);
            let mut result = simulation_result(chain, &record);
            if let Some(a) = &cfg.accounts {
                result.accounts = Some(
                    after
                        .iter()
                        .map(|acc| {
                            acc.as_ref()
                                .map(|acc| ui_account(acc, Some(a.encoding.unwrap_or(UiAccountEncoding::Base64))))
                        })
                        .collect(),
                );
            }
            with_context(chain, result)
        }
        "getSignatureStatuses" => {
            let sigs: Vec<String> = param(&params, 0, "signatures")?;
            if sigs.len() > 256 {
                return Err(invalid_params("Too many inputs provided; max 256"));
            }
            // The only option, searchTransactionHistory, changes nothing here: all history is kept.
            let mut statuses = Vec::with_capacity(sigs.len());
            for s in sigs {
                let sig = signature(&s)?;
                statuses.push(chain.transaction(&sig).map(|r| TransactionStatus {
                    slot: r.slot,
                    confirmations: None,
                    status: r.result.clone(),
                    err: r.result.clone().err(),
                    confirmation_status: Some(TransactionConfirmationStatus::Finalized),
                }));
            }
            with_context(chain, statuses)
        }
        "getSignaturesForAddress" => {
            let key = pubkey(&params, 0)?;
            let cfg: RpcSignaturesForAddressConfig = config(&params, 1)?;
            let limit = cfg.limit.unwrap_or(1_000);
            if limit == 0 || limit > 1_000 {
                return Err(invalid_params("Invalid limit; max 1000"));
            }
            let before = cfg.before.as_deref().map(signature).transpose()?;
            let until = cfg.until.as_deref().map(signature).transpose()?;
            let items: Vec<RpcConfirmedTransactionStatusWithSignature> = chain
                .signatures_for_address(&key, before.as_ref(), until.as_ref(), limit)
                .into_iter()
                .map(|r| RpcConfirmedTransactionStatusWithSignature {
                    signature: r.signature.to_string(),
                    slot: r.slot,
                    err: r.result.clone().err().map(Into::into),
                    memo: None,
                    block_time: Some(r.block_time),
                    confirmation_status: Some(TransactionConfirmationStatus::Finalized),
                })
                .collect();
            to_value(items)
        }
        "getTransaction" => {
            let sig = signature(&param::<String>(&params, 0, "signature")?)?;
            // Like a validator, accept the legacy bare-encoding form ("json") as well as the object.
            let cfg: RpcTransactionConfig = match params.get(1) {
                Some(Value::String(_)) => {
                    let legacy: RpcEncodingConfigWrapper<RpcTransactionConfig> = param(&params, 1, "config")?;
                    legacy.convert_to_current()
                }
                _ => config(&params, 1)?,
            };
            let Some(record) = chain.transaction(&sig) else { return Ok(Value::Null) };
            to_value(EncodedConfirmedTransactionWithStatusMeta {
                slot: record.slot,
                transaction: encoded_transaction(record, cfg.encoding, cfg.max_supported_transaction_version)?,
                block_time: Some(record.block_time),
            })
        }
        "getBlock" => {
            let slot: u64 = param(&params, 0, "slot")?;
            let cfg: RpcBlockConfig = match params.get(1) {
                Some(Value::String(_)) => {
                    let legacy: RpcEncodingConfigWrapper<RpcBlockConfig> = param(&params, 1, "config")?;
                    legacy.convert_to_current()
                }
                _ => config(&params, 1)?,
            };
            let Some(block_time) = chain.block_time_at(slot) else {
                return Err(RpcError {
                    code: code::BLOCK_NOT_AVAILABLE,
                    message: format!("Block not available for slot {slot}"),
                    data: None,
                });
            };
            let records: Vec<&TxRecord> = chain.ledger().iter().filter(|r| r.slot == slot).collect();
            let (transactions, signatures) = match cfg.transaction_details.unwrap_or_default() {
                TransactionDetails::Full => (
                    Some(
                        records
                            .iter()
                            .map(|r| encoded_transaction(r, cfg.encoding, cfg.max_supported_transaction_version))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    None,
                ),
                TransactionDetails::Signatures => {
                    (None, Some(records.iter().map(|r| r.signature.to_string()).collect()))
                }
                TransactionDetails::None => (None, None),
                TransactionDetails::Accounts => {
                    return Err(invalid_params("transactionDetails \"accounts\" is not served by the localnet"))
                }
            };
            to_value(UiConfirmedBlock {
                previous_blockhash: block_hash(chain, slot.saturating_sub(1)).to_string(),
                blockhash: block_hash(chain, slot).to_string(),
                parent_slot: slot.saturating_sub(1),
                transactions,
                signatures,
                rewards: cfg.rewards.unwrap_or(true).then(Vec::new),
                num_reward_partitions: None,
                block_time: Some(block_time),
                block_height: Some(slot),
            })
        }
        "getTokenLargestAccounts" => {
            let mint = pubkey(&params, 0)?;
            let mint_account =
                chain.svm.get_account(&mint).ok_or_else(|| invalid_params("Invalid param: could not find mint"))?;
            let decimals = super::chain::unpack_mint(&mint_account.owner, &mint_account.data)
                .ok_or_else(|| invalid_params("Invalid param: not a Token mint"))?
                .decimals;
            let balances: Vec<RpcTokenAccountBalance> = chain
                .largest_token_accounts(&mint, 20)
                .into_iter()
                .map(|(address, amount)| RpcTokenAccountBalance {
                    address: address.to_string(),
                    amount: token_amount(amount, decimals),
                })
                .collect();
            with_context(chain, balances)
        }
        "getEpochInfo" => {
            let slot = chain.slot();
            to_value(json!({
                "absoluteSlot": slot,
                "blockHeight": slot,
                "epoch": slot / SLOTS_PER_EPOCH,
                "slotIndex": slot % SLOTS_PER_EPOCH,
                "slotsInEpoch": SLOTS_PER_EPOCH,
                "transactionCount": chain.ledger().len(),
            }))
        }
        "getEpochSchedule" => to_value(json!({
            "slotsPerEpoch": SLOTS_PER_EPOCH,
            "leaderScheduleSlotOffset": SLOTS_PER_EPOCH,
            "warmup": false,
            "firstNormalEpoch": 0,
            "firstNormalSlot": 0,
        })),
        "getTokenAccountBalance" => {
            let key = pubkey(&params, 0)?;
            let account = chain.svm.get_account(&key).filter(|a| a.lamports > 0);
            let token = account
                .as_ref()
                .and_then(|a| super::chain::unpack_token_account(&a.owner, &a.data))
                .ok_or_else(|| invalid_params("Invalid param: could not find account"))?;
            let decimals = mint_decimals(chain, &token.mint)?;
            with_context(chain, token_amount(token.amount, decimals))
        }
        "getTokenSupply" => {
            let mint = pubkey(&params, 0)?;
            let account =
                chain.svm.get_account(&mint).ok_or_else(|| invalid_params("Invalid param: could not find mint"))?;
            let m = super::chain::unpack_mint(&account.owner, &account.data)
                .ok_or_else(|| invalid_params("Invalid param: not a Token mint"))?;
            with_context(chain, token_amount(m.supply, m.decimals))
        }
        "getTokenAccountsByOwner" | "getTokenAccountsByDelegate" => {
            let who = pubkey(&params, 0)?;
            let filter: TokenAccountsFilter = param(&params, 1, "filter")?;
            let cfg: RpcAccountInfoConfig = config(&params, 2)?;
            let by_delegate = method == "getTokenAccountsByDelegate";
            let (mint, program) = match (&filter.mint, &filter.program_id) {
                (Some(m), None) => (Some(parse_key(m)?), None),
                (None, Some(p)) => {
                    let p = parse_key(p)?;
                    if p != spl_token::ID && p != super::chain::TOKEN_2022 {
                        return Err(invalid_params("Invalid param: unrecognized Token program id"));
                    }
                    (None, Some(p))
                }
                _ => return Err(invalid_params("Invalid param: expected exactly one of mint or programId")),
            };
            let mut out = Vec::new();
            for (key, account) in chain.accounts() {
                if account.lamports == 0 || program.is_some_and(|p| p != account.owner) {
                    continue;
                }
                let Some(token) = super::chain::unpack_token_account(&account.owner, &account.data) else { continue };
                let matches_who =
                    if by_delegate { Option::<Pubkey>::from(token.delegate) == Some(who) } else { token.owner == who };
                if !matches_who || mint.is_some_and(|m| m != token.mint) {
                    continue;
                }
                out.push(keyed(chain, key, &account, &cfg)?);
            }
            with_context(chain, out)
        }
        "getProgramAccounts" => {
            let program = pubkey(&params, 0)?;
            let cfg: ProgramAccountsConfig = config(&params, 1)?;
            let filters = compile_filters(cfg.filters.unwrap_or_default()).map_err(invalid_params)?;
            let mut out = Vec::new();
            for (key, account) in chain.accounts() {
                if account.owner != program || account.lamports == 0 {
                    continue;
                }
                if filters.iter().all(|f| f.matches(&account.data)) {
                    out.push(keyed(chain, key, &account, &cfg.account)?);
                }
            }
            if cfg.with_context.unwrap_or(false) {
                with_context(chain, out)
            } else {
                to_value(out)
            }
        }
        "getFeeForMessage" => {
            let encoded: String = param(&params, 0, "message")?;
            let bytes = B64.decode(encoded).map_err(|e| invalid_params(format!("invalid base64: {e}")))?;
            let message: VersionedMessage =
                bincode::deserialize(&bytes).map_err(|e| invalid_params(format!("invalid message: {e}")))?;
            let known = match &message {
                VersionedMessage::Legacy(m) => m.recent_blockhash,
                VersionedMessage::V0(m) => m.recent_blockhash,
            } == chain.svm.latest_blockhash();
            // A validator answers null for a message whose blockhash it no longer knows.
            let fee = known.then(|| {
                LAMPORTS_PER_SIGNATURE * u64::from(message.header().num_required_signatures) + priority_fee(&message)
            });
            with_context(chain, fee)
        }
        "getRecentPrioritizationFees" => {
            let keys: Vec<String> = match params.get(0) {
                None | Some(Value::Null) => Vec::new(),
                Some(_) => param(&params, 0, "addresses")?,
            };
            if keys.len() > 128 {
                return Err(invalid_params("Too many inputs provided; max 128"));
            }
            let keys: Vec<Pubkey> = keys.iter().map(|k| parse_key(k)).collect::<Result<_, _>>()?;
            // Per recent slot (the last 150), the lowest compute-unit price paid by a transaction
            // locking any of the accounts (any transaction when none is given).
            let from = chain.slot().saturating_sub(150);
            let mut per_slot: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
            for r in chain.ledger().iter().rev().take_while(|r| r.slot >= from) {
                let m = &r.transaction.message;
                if !keys.is_empty() && !m.static_account_keys().iter().any(|k| keys.contains(k)) {
                    continue;
                }
                let (price, _) = compute_budget(m);
                per_slot.entry(r.slot).and_modify(|p| *p = (*p).min(price)).or_insert(price);
            }
            let fees: Vec<Value> =
                per_slot.into_iter().map(|(slot, fee)| json!({ "slot": slot, "prioritizationFee": fee })).collect();
            to_value(fees)
        }
        "getBlockTime" => {
            let slot: u64 = param(&params, 0, "slot")?;
            match chain.block_time_at(slot) {
                Some(t) => Ok(json!(t)),
                None => Err(RpcError {
                    code: code::BLOCK_NOT_AVAILABLE,
                    message: format!("Block not available for slot {slot}"),
                    data: None,
                }),
            }
        }
        _ => Err(RpcError { code: code::METHOD_NOT_FOUND, message: format!("Method not found: {method}"), data: None }),
    }
}

/// Slots per epoch, as on mainnet (the localnet never leaves epoch 0 in practice).
const SLOTS_PER_EPOCH: u64 = 432_000;
/// What each signature of a transaction costs.
const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// The feature-set id `getVersion` reports: clients (web3.js) require a number.
const FEATURE_SET: u32 = 3_294_202_862;
const COMPUTE_BUDGET: Pubkey = anchor_lang::pubkey!("ComputeBudget111111111111111111111111111111");

/// `getTokenAccountsByOwner`'s second parameter: exactly one of the two.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenAccountsFilter {
    mint: Option<String>,
    program_id: Option<String>,
}

/// A ledger transaction in the requested encoding, with its status meta and version.
fn encoded_transaction(
    record: &TxRecord,
    encoding: Option<UiTransactionEncoding>,
    max_supported_version: Option<u8>,
) -> Result<EncodedTransactionWithStatusMeta, RpcError> {
    let bytes = bincode::serialize(&record.transaction).map_err(|e| RpcError {
        code: -32603,
        message: e.to_string(),
        data: None,
    })?;
    let transaction = match encoding.unwrap_or(UiTransactionEncoding::Json) {
        UiTransactionEncoding::Base64 => {
            EncodedTransaction::Binary(B64.encode(&bytes), TransactionBinaryEncoding::Base64)
        }
        UiTransactionEncoding::Base58 => {
            EncodedTransaction::Binary(bs58::encode(&bytes).into_string(), TransactionBinaryEncoding::Base58)
        }
        UiTransactionEncoding::Binary => EncodedTransaction::LegacyBinary(bs58::encode(&bytes).into_string()),
        // `jsonParsed` is answered with the raw JSON message too (UiMessage is untagged, so
        // parsed-message readers accept it); the localnet parses no instructions.
        UiTransactionEncoding::Json | UiTransactionEncoding::JsonParsed => json_transaction(&record.transaction),
    };
    let version = match &record.transaction.message {
        VersionedMessage::Legacy(_) => {
            max_supported_version.map(|_| solana_sdk::transaction::TransactionVersion::LEGACY)
        }
        VersionedMessage::V0(_) => {
            if max_supported_version.is_none() {
                return Err(RpcError {
                    code: -32015,
                    message: "Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: \"maxSupportedTransactionVersion\": 0".into(),
                    data: None,
                });
            }
            Some(solana_sdk::transaction::TransactionVersion::Number(0))
        }
    };
    Ok(EncodedTransactionWithStatusMeta { transaction, meta: Some(status_meta(record)), version })
}

/// The hash `getBlock` reports for `slot`: the live blockhash for the current slot, and a hash
/// derived from the slot number for earlier ones (the localnet keeps no per-slot bank hashes).
fn block_hash(chain: &Chain, slot: u64) -> solana_sdk::hash::Hash {
    if slot == chain.slot() {
        chain.svm.latest_blockhash()
    } else {
        solana_sdk::hash::hashv(&[b"localnet-block", &slot.to_le_bytes()])
    }
}

fn parse_key(s: &str) -> Result<Pubkey, RpcError> {
    Pubkey::from_str(s).map_err(|_| invalid_params("Invalid param: WrongSize"))
}

fn mint_decimals(chain: &Chain, mint: &Pubkey) -> Result<u8, RpcError> {
    let account = chain.svm.get_account(mint).ok_or_else(|| invalid_params("Invalid param: could not find mint"))?;
    Ok(super::chain::unpack_mint(&account.owner, &account.data)
        .ok_or_else(|| invalid_params("Invalid param: not a Token mint"))?
        .decimals)
}

/// The `jsonParsed` shape of an SPL Token (or Token-2022) account, as validators give it.
fn parsed_token_account(chain: &Chain, account: &Account) -> Option<Value> {
    let t = super::chain::unpack_token_account(&account.owner, &account.data)?;
    let decimals = mint_decimals(chain, &t.mint).ok()?;
    let state = match t.state {
        spl_token::state::AccountState::Initialized => "initialized",
        spl_token::state::AccountState::Frozen => "frozen",
        spl_token::state::AccountState::Uninitialized => "uninitialized",
    };
    let mut info = json!({
        "isNative": t.is_native.is_some(),
        "mint": t.mint.to_string(),
        "owner": t.owner.to_string(),
        "state": state,
        "tokenAmount": token_amount(t.amount, decimals),
    });
    if let Some(delegate) = Option::<Pubkey>::from(t.delegate) {
        info["delegate"] = json!(delegate.to_string());
        info["delegatedAmount"] = json!(token_amount(t.delegated_amount, decimals));
    }
    if let Some(reserve) = Option::<u64>::from(t.is_native) {
        info["rentExemptReserve"] = json!(token_amount(reserve, decimals));
    }
    if let Some(close) = Option::<Pubkey>::from(t.close_authority) {
        info["closeAuthority"] = json!(close.to_string());
    }
    let program = if account.owner == spl_token::ID { "spl-token" } else { "spl-token-2022" };
    Some(json!({ "program": program, "parsed": { "info": info, "type": "account" }, "space": account.data.len() }))
}

/// `{pubkey, account}` with the configured encoding and data slice (`jsonParsed` for token
/// accounts; binary otherwise, as validators fall back).
fn keyed(chain: &Chain, key: Pubkey, account: &Account, cfg: &RpcAccountInfoConfig) -> RpcResult {
    let parsed = match cfg.encoding {
        Some(UiAccountEncoding::JsonParsed) => parsed_token_account(chain, account),
        _ => None,
    };
    let mut ui = match &cfg.data_slice {
        Some(s) => {
            let mut sliced = account.clone();
            sliced.data = account.data.iter().skip(s.offset).take(s.length).copied().collect();
            ui_account(&sliced, cfg.encoding)
        }
        None => ui_account(account, cfg.encoding),
    };
    ui.space = Some(account.data.len() as u64);
    let mut ui = to_value(ui)?;
    if let Some(p) = parsed {
        ui["data"] = p;
    }
    Ok(json!({ "pubkey": key.to_string(), "account": ui }))
}

/// A message's compute-unit price (micro-lamports) and limit, from its ComputeBudget
/// instructions (the limit defaults to 200,000 per other instruction, at most 1.4M).
fn compute_budget(message: &VersionedMessage) -> (u64, u64) {
    let keys = message.static_account_keys();
    let (mut price, mut limit, mut others) = (0u64, None, 0u64);
    for ix in message.instructions() {
        if keys.get(usize::from(ix.program_id_index)) != Some(&COMPUTE_BUDGET) {
            others += 1;
            continue;
        }
        match ix.data.first() {
            Some(2) => {
                limit = ix.data.get(1..5).and_then(|b| b.try_into().ok()).map(|b| u64::from(u32::from_le_bytes(b)))
            }
            Some(3) => price = ix.data.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0),
            _ => {}
        }
    }
    (price, limit.unwrap_or((others * 200_000).min(1_400_000)))
}

/// The prioritization fee a message pays, in lamports (price x limit, rounded up).
fn priority_fee(message: &VersionedMessage) -> u64 {
    let (price, limit) = compute_budget(message);
    u64::try_from((u128::from(price) * u128::from(limit)).div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// The `json` encoding of a transaction: its raw message with base58 instruction data.
fn json_transaction(tx: &VersionedTransaction) -> EncodedTransaction {
    let message = &tx.message;
    let instructions = message.instructions().iter().map(|ix| UiCompiledInstruction::from(ix, None)).collect();
    let address_table_lookups =
        message.address_table_lookups().map(|lookups| lookups.iter().map(UiAddressTableLookup::from).collect());
    EncodedTransaction::Json(UiTransaction {
        signatures: tx.signatures.iter().map(ToString::to_string).collect(),
        message: UiMessage::Raw(UiRawMessage {
            header: *message.header(),
            account_keys: message.static_account_keys().iter().map(ToString::to_string).collect(),
            recent_blockhash: message.recent_blockhash().to_string(),
            instructions,
            address_table_lookups,
        }),
    })
}

/// Solana's token amount shape. `uiAmountString` is exact; `uiAmount` is the display float the
/// API documents, derived from it.
fn token_amount(amount: u64, decimals: u8) -> UiTokenAmount {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    let ui_amount_string = if d == 0 {
        digits.clone()
    } else {
        let padded = format!("{digits:0>width$}", width = d + 1);
        let (int, frac) = padded.split_at(padded.len() - d);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    };
    UiTokenAmount { ui_amount: ui_amount_string.parse().ok(), decimals, amount: digits, ui_amount_string }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_amounts_render_exactly() {
        let t = super::token_amount(1_234_500, 6);
        assert_eq!((t.amount.as_str(), t.ui_amount_string.as_str()), ("1234500", "1.2345"));
        assert_eq!(super::token_amount(5, 9).ui_amount_string, "0.000000005");
        assert_eq!(super::token_amount(7, 0).ui_amount_string, "7");
        assert_eq!(super::token_amount(0, 6).ui_amount_string, "0");
    }
}
