//! The Solana localnet's JSON-RPC server, driven by `solana-rpc-client` exactly as the keeper and
//! ordinary clients use a real validator.

use std::time::Duration;

use amm::client::{self, AmmEvent, PoolAddresses};
use anchor_lang::{solana_program::program_pack::Pack, AccountDeserialize};
use anchor_spl::{associated_token, token::spl_token};
use localnet::{serve, Chain};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::{nonblocking::rpc_client::RpcClient, rpc_client::GetConfirmedSignaturesForAddress2Config};
use solana_rpc_client_api::{
    client_error::ErrorKind,
    config::RpcTransactionConfig,
    request::{RpcError, RpcResponseErrorData},
};
use solana_sdk::{
    instruction::Instruction,
    pubkey::Pubkey,
    signature::{Keypair, Signature, Signer},
    transaction::Transaction,
};
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, UiInstruction, UiTransactionEncoding,
};

struct Client {
    rpc: RpcClient,
    payer: Keypair,
}

impl Client {
    async fn send(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Signature {
        let mut signers = vec![&self.payer];
        signers.extend_from_slice(extra);
        let blockhash = self.rpc.get_latest_blockhash().await.unwrap();
        let tx = Transaction::new_signed_with_payer(ixs, Some(&self.payer.pubkey()), &signers, blockhash);
        self.rpc.send_and_confirm_transaction(&tx).await.unwrap()
    }

    async fn token_balance(&self, account: Pubkey) -> u64 {
        let acc = self.rpc.get_account(&account).await.unwrap();
        spl_token::state::Account::unpack(&acc.data).unwrap().amount
    }
}

async fn start() -> (localnet::Localnet, Client) {
    let payer = Keypair::new();
    let net = serve(Chain::new(&payer.pubkey()).await, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let rpc = RpcClient::new_with_commitment(net.url.clone(), CommitmentConfig::confirmed());
    let sig = rpc.request_airdrop(&payer.pubkey(), 50_000_000_000).await.unwrap();
    assert!(rpc.confirm_transaction(&sig).await.unwrap());
    (net, Client { rpc, payer })
}

async fn create_mint(c: &Client) -> Pubkey {
    let mint = Keypair::new();
    let space = spl_token::state::Mint::LEN;
    let rent = c.rpc.get_minimum_balance_for_rent_exemption(space).await.unwrap();
    let ixs = [
        anchor_lang::solana_program::system_instruction::create_account(
            &c.payer.pubkey(),
            &mint.pubkey(),
            rent,
            space as u64,
            &spl_token::ID,
        ),
        spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &c.payer.pubkey(), None, 6).unwrap(),
    ];
    c.send(&ixs, &[&mint]).await;
    mint.pubkey()
}

/// Builds a pool through RPC; returns its addresses and the payer's token accounts.
async fn pool(c: &Client) -> (PoolAddresses, Pubkey, Pubkey) {
    let me = c.payer.pubkey();
    c.send(&[client::create_config(me, 0, 30, 0)], &[]).await;
    let (mint_a, mint_b) = client::sort_mints(create_mint(c).await, create_mint(c).await).unwrap();
    let mut atas = Vec::new();
    for mint in [mint_a, mint_b] {
        let ata = associated_token::get_associated_token_address(&me, &mint);
        c.send(
            &[
                associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                    &me,
                    &me,
                    &mint,
                    &spl_token::ID,
                ),
                spl_token::instruction::mint_to(&spl_token::ID, &mint, &ata, &me, &[], 100_000_000).unwrap(),
            ],
            &[],
        )
        .await;
        atas.push(ata);
    }
    let p = PoolAddresses::derive(client::config_address(0), mint_a, mint_b);
    c.send(&[client::initialize_pool(me, &p, atas[0], atas[1], 10_000_000, 40_000_000, 0)], &[]).await;
    (p, atas[0], atas[1])
}

#[tokio::test]
async fn accounts_balances_blockhash_and_slots() {
    let (_net, c) = start().await;
    assert_eq!(c.rpc.get_balance(&c.payer.pubkey()).await.unwrap(), 50_000_000_000);
    let slot = c.rpc.get_slot().await.unwrap();
    let (p, ata_a, ata_b) = pool(&c).await;
    assert!(c.rpc.get_slot().await.unwrap() > slot, "every transaction advances the slot");

    let pool_account = c.rpc.get_account(&p.pool).await.unwrap();
    assert_eq!(pool_account.owner, amm::ID);
    let state = amm::Pool::try_deserialize(&mut pool_account.data.as_slice()).unwrap();
    assert_eq!((state.reserve_a, state.reserve_b), (10_000_000, 40_000_000));

    let accounts = c.rpc.get_multiple_accounts(&[p.vault_a, p.vault_b, Pubkey::new_unique()]).await.unwrap();
    let amount = |a: &Option<solana_sdk::account::Account>| {
        spl_token::state::Account::unpack(&a.as_ref().unwrap().data).unwrap().amount
    };
    assert_eq!((amount(&accounts[0]), amount(&accounts[1])), (10_000_000, 40_000_000));
    assert!(accounts[2].is_none(), "a missing account is null");

    let largest = c.rpc.get_token_largest_accounts(&p.mint_b).await.unwrap();
    let got: Vec<(String, String)> = largest.iter().map(|b| (b.address.clone(), b.amount.amount.clone())).collect();
    assert_eq!(got, vec![(ata_b.to_string(), "60000000".to_string()), (p.vault_b.to_string(), "40000000".to_string())]);
    assert_eq!(largest[0].amount.ui_amount_string, "60");
    assert_eq!(c.token_balance(ata_a).await, 90_000_000);
}

#[tokio::test]
async fn history_by_address_with_pagination_and_transactions_with_inner_instructions() {
    let (_net, c) = start().await;
    let (p, ata_a, ata_b) = pool(&c).await;
    let me = c.payer.pubkey();
    let mut swaps = Vec::new();
    for i in 0..5u64 {
        swaps.push(
            c.send(
                &[client::swap_exact_in(
                    &p,
                    me,
                    i % 2 == 0,
                    if i % 2 == 0 { ata_a } else { ata_b },
                    if i % 2 == 0 { ata_b } else { ata_a },
                    10_000 + i,
                    1,
                )],
                &[],
            )
            .await,
        );
    }
    // Newest first; config + pool + 5 swaps touched the program.
    let all = c.rpc.get_signatures_for_address(&amm::ID).await.unwrap();
    assert_eq!(all.len(), 7);
    let newest: Vec<String> = swaps.iter().rev().map(ToString::to_string).collect();
    assert_eq!(all[..5].iter().map(|s| s.signature.clone()).collect::<Vec<_>>(), newest);
    assert!(all.windows(2).all(|w| w[0].slot > w[1].slot));
    assert!(all.iter().all(|s| s.err.is_none() && s.block_time.is_some()));

    // Pagination: two at a time, then `until` stops before a known signature.
    let page = |before: Option<Signature>, until: Option<Signature>| GetConfirmedSignaturesForAddress2Config {
        before,
        until,
        limit: Some(2),
        commitment: None,
    };
    let first = c.rpc.get_signatures_for_address_with_config(&amm::ID, page(None, None)).await.unwrap();
    let second = c
        .rpc
        .get_signatures_for_address_with_config(&amm::ID, page(Some(first[1].signature.parse().unwrap()), None))
        .await
        .unwrap();
    assert_eq!(
        [&first[..], &second[..]].concat().iter().map(|s| &s.signature).collect::<Vec<_>>(),
        all[..4].iter().map(|s| &s.signature).collect::<Vec<_>>()
    );
    let until = c.rpc.get_signatures_for_address_with_config(&amm::ID, page(None, Some(swaps[3]))).await.unwrap();
    assert_eq!(until.len(), 1);
    assert_eq!(until[0].signature, swaps[4].to_string());

    // getTransaction carries logs and the emit_cpi! inner instruction with the event.
    let cfg = RpcTransactionConfig {
        encoding: Some(UiTransactionEncoding::Base64),
        commitment: None,
        max_supported_transaction_version: Some(0),
    };
    let tx = c.rpc.get_transaction_with_config(&swaps[0], cfg).await.unwrap();
    let decoded = tx.transaction.transaction.decode().unwrap();
    let keys = decoded.message.static_account_keys();
    let meta = tx.transaction.meta.unwrap();
    let OptionSerializer::Some(logs) = meta.log_messages else { panic!("logs") };
    // Natively `msg!` prints to stdout, so logs hold the runtime's invoke/success lines only.
    assert!(logs.iter().any(|l| l == &format!("Program {} success", amm::ID)), "{logs:?}");
    let OptionSerializer::Some(inner) = meta.inner_instructions else { panic!("inner instructions") };
    let mut events = Vec::new();
    for group in inner {
        for ix in group.instructions {
            let UiInstruction::Compiled(ix) = ix else { panic!("compiled") };
            if keys[usize::from(ix.program_id_index)] == amm::ID {
                let data = bs58::decode(&ix.data).into_vec().unwrap();
                events.extend(client::decode_event_cpi(&data));
            }
        }
    }
    let [AmmEvent::Swapped(ev)] = events.as_slice() else { panic!("one Swapped event, got {events:?}") };
    assert_eq!((ev.amount_in, ev.a_to_b, ev.before.reserve_a), (10_000, true, 10_000_000));
    // Token balances before and after, per account index, as validators report them: the
    // payer's two accounts move by exactly the swap's amounts.
    let balance = |b: &OptionSerializer<Vec<solana_transaction_status_client_types::UiTransactionTokenBalance>>,
                   ata: &Pubkey| {
        let OptionSerializer::Some(b) = b else { panic!("token balances") };
        let i = keys.iter().position(|k| k == ata).unwrap();
        let e = b.iter().find(|e| usize::from(e.account_index) == i).expect("the account is listed");
        assert_eq!(Option::<&String>::from(e.owner.as_ref()), Some(&me.to_string()));
        assert_eq!(Option::<&String>::from(e.program_id.as_ref()), Some(&spl_token::ID.to_string()));
        e.ui_token_amount.amount.parse::<u64>().unwrap()
    };
    let (pre, post) = (&meta.pre_token_balances, &meta.post_token_balances);
    assert_eq!(balance(pre, &ata_a) - balance(post, &ata_a), ev.amount_in);
    assert_eq!(balance(post, &ata_b) - balance(pre, &ata_b), ev.amount_out);
    assert_eq!(tx.slot, all[4].slot);
    assert!(c.rpc.get_transaction_with_config(&Signature::default(), cfg).await.is_err(), "unknown signature is null");

    // The default `json` encoding, as most clients request it: the raw message as JSON.
    let json = c.rpc.get_transaction(&swaps[0], UiTransactionEncoding::Json).await.unwrap();
    let solana_transaction_status_client_types::EncodedTransaction::Json(ui) = json.transaction.transaction else {
        panic!("json encoding")
    };
    assert_eq!(ui.signatures, vec![swaps[0].to_string()]);
    let solana_transaction_status_client_types::UiMessage::Raw(raw) = ui.message else { panic!("raw message") };
    assert_eq!(raw.account_keys, keys.iter().map(ToString::to_string).collect::<Vec<_>>());
    assert_eq!(raw.instructions.len(), decoded.message.instructions().len());
}

#[tokio::test]
async fn simulation_preflight_and_statuses() {
    let (net, c) = start().await;
    let (p, ata_a, ata_b) = pool(&c).await;
    let me = c.payer.pubkey();
    let blockhash = c.rpc.get_latest_blockhash().await.unwrap();
    let ok = Transaction::new_signed_with_payer(
        &[client::swap_exact_in(&p, me, true, ata_a, ata_b, 5_000, 1)],
        Some(&me),
        &[&c.payer],
        blockhash,
    );
    let sim = c.rpc.simulate_transaction(&ok).await.unwrap().value;
    assert!(sim.err.is_none(), "{sim:?}");
    assert!(sim.inner_instructions.is_some_and(|i| !i.is_empty()));
    assert_eq!(c.token_balance(ata_b).await, 60_000_000, "simulation changes nothing");

    // Slippage: the program's named error comes back through preflight.
    let bad = Transaction::new_signed_with_payer(
        &[client::swap_exact_in(&p, me, true, ata_a, ata_b, 5_000, u64::MAX)],
        Some(&me),
        &[&c.payer],
        blockhash,
    );
    let sim = c.rpc.simulate_transaction(&bad).await.unwrap().value;
    assert_eq!(
        sim.err.map(solana_sdk::transaction::TransactionError::from),
        Some(solana_sdk::transaction::TransactionError::InstructionError(
            0,
            solana_sdk::instruction::InstructionError::Custom(test_utils::amm_error_code(
                amm::AmmError::SlippageExceeded
            ))
        ))
    );
    let err = c.rpc.send_transaction(&bad).await.unwrap_err();
    match err.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            code,
            data: RpcResponseErrorData::SendTransactionPreflightFailure(r),
            ..
        }) => {
            assert_eq!(*code, -32002);
            let expected = test_utils::amm_error_code(amm::AmmError::SlippageExceeded);
            assert_eq!(
                r.err.clone().map(solana_sdk::transaction::TransactionError::from),
                Some(solana_sdk::transaction::TransactionError::InstructionError(
                    0,
                    solana_sdk::instruction::InstructionError::Custom(expected)
                ))
            );
            assert!(r.logs.as_ref().is_some_and(|l| l.iter().any(|l| l.contains(&format!("{expected:#x}")))), "{r:?}");
        }
        other => panic!("expected a preflight failure, got {other:?}"),
    }
    let slot = c.rpc.get_slot().await.unwrap();
    let sig = c.rpc.send_and_confirm_transaction(&ok).await.unwrap();
    let statuses = c.rpc.get_signature_statuses(&[sig, bad.signatures[0]]).await.unwrap().value;
    assert_eq!(statuses[0].as_ref().map(|s| (s.slot, s.err.clone())), Some((slot, None)));
    assert!(statuses[1].is_none(), "a transaction refused by preflight never reached the ledger");

    // After the blockhash expires, a transaction built on it is refused.
    net.chain().expire_blockhash();
    let stale = Transaction::new_signed_with_payer(
        &[client::swap_exact_in(&p, me, true, ata_a, ata_b, 4_000, 1)],
        Some(&me),
        &[&c.payer],
        blockhash,
    );
    assert!(c.rpc.send_transaction(&stale).await.is_err());
}

/// `logsSubscribe`, `signatureSubscribe`, `accountSubscribe`, `programSubscribe` (filtered) and
/// `slotSubscribe` through
/// `solana-pubsub-client`.
#[tokio::test]
async fn websocket_subscriptions() {
    use futures::StreamExt;
    use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
    use solana_rpc_client_api::{
        config::{RpcSignatureSubscribeConfig, RpcTransactionLogsConfig, RpcTransactionLogsFilter},
        response::RpcSignatureResult,
    };

    let (net, c) = start().await;
    let (p, ata_a, ata_b) = pool(&c).await;
    let me = c.payer.pubkey();
    let pubsub = PubsubClient::new(net.ws_url.as_str()).await.unwrap();
    let (mut logs, _unsub_logs) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::Mentions(vec![amm::ID.to_string()]),
            RpcTransactionLogsConfig { commitment: None },
        )
        .await
        .unwrap();
    let blockhash = c.rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[client::swap_exact_in(&p, me, true, ata_a, ata_b, 7_000, 1)],
        Some(&me),
        &[&c.payer],
        blockhash,
    );
    let config = RpcSignatureSubscribeConfig { commitment: None, enable_received_notification: None };
    let (mut status, _unsub_sig) = pubsub.signature_subscribe(&tx.signatures[0], Some(config)).await.unwrap();
    let account_config = solana_rpc_client_api::config::RpcAccountInfoConfig {
        encoding: Some(solana_account_decoder_client_types::UiAccountEncoding::Base64),
        ..Default::default()
    };
    let (mut account, _unsub_account) = pubsub.account_subscribe(&ata_b, Some(account_config.clone())).await.unwrap();
    let (mut slots, _unsub_slots) = pubsub.slot_subscribe().await.unwrap();
    // Token accounts of the output mint only (memcmp on the mint at offset 0), as wallets watch them.
    let program_config = solana_rpc_client_api::config::RpcProgramAccountsConfig {
        filters: Some(vec![
            solana_rpc_client_api::filter::RpcFilterType::DataSize(spl_token::state::Account::LEN as u64),
            solana_rpc_client_api::filter::RpcFilterType::Memcmp(
                solana_rpc_client_api::filter::Memcmp::new_base58_encoded(0, p.mint_b.as_ref()),
            ),
        ]),
        account_config: account_config.clone(),
        ..Default::default()
    };
    let (mut program, _unsub_program) = pubsub.program_subscribe(&spl_token::ID, Some(program_config)).await.unwrap();
    let before = c.token_balance(ata_b).await;
    // A transfer that does not mention the program is not notified to the logs subscription.
    let other = Transaction::new_signed_with_payer(
        &[anchor_lang::solana_program::system_instruction::transfer(&me, &Pubkey::new_unique(), 1_000_000)],
        Some(&me),
        &[&c.payer],
        blockhash,
    );
    c.rpc.send_and_confirm_transaction(&other).await.unwrap();
    let sig = c.rpc.send_and_confirm_transaction(&tx).await.unwrap();

    let wait = Duration::from_secs(5);
    let note = tokio::time::timeout(wait, logs.next()).await.expect("logs notification").unwrap();
    assert_eq!(note.value.signature, sig.to_string());
    assert!(note.value.err.is_none());
    let done = tokio::time::timeout(wait, status.next()).await.expect("signature notification").unwrap();
    assert!(matches!(done.value, RpcSignatureResult::ProcessedSignature(ref r) if r.err.is_none()), "{done:?}");
    // The output account, as it is after the swap (the transfer before it did not touch it).
    let changed = tokio::time::timeout(wait, account.next()).await.expect("account notification").unwrap();
    let data = changed.value.data.decode().expect("base64 account data");
    let after = spl_token::state::Account::unpack(&data).unwrap().amount;
    assert!(after > before, "{before} -> {after}");
    assert_eq!(after, c.token_balance(ata_b).await);
    // The swap moved mint B between our account and the vault: both are notified, nothing of mint A.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let n = tokio::time::timeout(wait, program.next()).await.expect("program notification").unwrap();
        let data = n.value.account.data.decode().expect("base64 account data");
        assert_eq!(spl_token::state::Account::unpack(&data).unwrap().mint, p.mint_b, "filtered by mint");
        seen.insert(n.value.pubkey);
    }
    assert_eq!(seen, [ata_b.to_string(), p.vault_b.to_string()].into_iter().collect());
    let slot = tokio::time::timeout(wait, slots.next()).await.expect("slot notification").unwrap();
    assert!(slot.slot > 0 && slot.parent + 1 == slot.slot, "{slot:?}");

    // Dropping the server's connections ends the client's streams.
    net.drop_websockets();
    assert!(tokio::time::timeout(wait, logs.next()).await.expect("stream ends").is_none());
}

/// A localnet kept on disk resumes where its last save left it: accounts, slot, the ledger up to
/// that save (served over RPC as before) and the token-holder index. What ran after the save (a
/// crash) is gone from accounts and ledger alike, and a ledger file cut short is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_localnet_resumes_from_its_last_save() {
    use localnet::sim::{Launcher, SolLaunch};
    let dir = tempfile::tempdir().unwrap();
    let payer = Keypair::new();
    let (mut chain, resumed) = Chain::open(dir.path(), &payer.pubkey()).await.unwrap();
    assert!(!resumed);
    chain.svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
    let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let sol = Launcher { net: &net, payer: &payer };
    sol.ensure_config().unwrap();
    let quote = sol.mint(false).unwrap();
    let quote_ata = sol.mint_to(&quote, &payer.pubkey(), 1_000_000_000_000).unwrap();
    let (token, pool) = sol.launch(&quote, &quote_ata, SolLaunch::clean(10_000_000_000)).unwrap();
    net.chain().save().unwrap();
    let (saved_slot, saved_ledger, saved_amm, saved_pool, holders) = {
        let c = net.chain();
        let ledger: Vec<Signature> = c.ledger().iter().map(|r| r.signature).collect();
        let amm_history: Vec<String> = c
            .ledger()
            .iter()
            .rev()
            .filter(|r| r.transaction.message.static_account_keys().contains(&amm::ID))
            .map(|r| r.signature.to_string())
            .collect();
        (c.slot(), ledger, amm_history, c.svm.get_account(&pool.pool).unwrap(), c.largest_token_accounts(&token, 50))
    };
    assert_eq!(saved_amm.len(), 2, "config and pool");
    assert!(holders.len() > 40, "the launch spread the supply: {}", holders.len());
    // After the save: a swap, then the process dies without saving again.
    sol.swap(&pool, &token, true, 1_000_000_000).unwrap();
    let lost = net.chain().ledger().last().unwrap().signature;
    assert_ne!(net.chain().svm.get_account(&pool.pool).unwrap(), saved_pool);
    drop(net);

    let (chain, resumed) = Chain::open(dir.path(), &payer.pubkey()).await.unwrap();
    assert!(resumed);
    assert!(chain.slot() > saved_slot, "slots move on: {} after {saved_slot}", chain.slot());
    assert_eq!(chain.ledger().iter().map(|r| r.signature).collect::<Vec<_>>(), saved_ledger);
    assert!(chain.transaction(&lost).is_none(), "the unsaved swap is gone from the ledger");
    assert_eq!(chain.svm.get_account(&pool.pool).unwrap(), saved_pool, "and from the accounts");
    assert_eq!(chain.largest_token_accounts(&token, 50), holders);

    // Over RPC: the old history as before, and new transactions on the resumed state.
    let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let rpc = RpcClient::new_with_commitment(net.url.clone(), CommitmentConfig::confirmed());
    let launched = saved_ledger.last().unwrap();
    let tx = rpc.get_transaction_with_config(launched, RpcTransactionConfig::default()).await.unwrap();
    assert!(tx.slot <= saved_slot);
    let history = rpc.get_signatures_for_address(&amm::ID).await.unwrap();
    assert_eq!(history.into_iter().map(|s| s.signature).collect::<Vec<_>>(), saved_amm);
    let sol = Launcher { net: &net, payer: &payer };
    sol.swap(&pool, &token, true, 1_000_000_000).unwrap();
    assert!(sol.balance(&payer.pubkey(), &token) > 0);
    net.chain().save().unwrap();
    drop(net);

    // A ledger file shorter than what the snapshot counts is refused, naming the file.
    let path = dir.path().join("solana-ledger.log");
    let cut: String = std::fs::read_to_string(&path).unwrap().lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, cut).unwrap();
    match Chain::open(dir.path(), &payer.pubkey()).await {
        Ok(_) => panic!("a cut ledger must be refused"),
        Err(e) => assert!(e.to_string().contains("solana-ledger.log ends after 3 of"), "{e}"),
    }
}

/// What wallets ask of a validator, answered in a validator's shapes: the version with a numeric
/// feature set, epoch info and schedule, token balances and supply, token accounts by owner and
/// by delegate (parsed, as wallets list them), program accounts filtered by size and memcmp with a
/// data slice and a context, message fees, recent priority fees and block times.
#[tokio::test]
async fn wallet_methods_answer_like_a_validator() {
    use solana_account_decoder_client_types::{UiAccountData, UiAccountEncoding, UiDataSliceConfig};
    use solana_rpc_client_api::{
        config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
        filter::{Memcmp, RpcFilterType},
        request::TokenAccountsFilter,
    };

    let (_net, c) = start().await;
    let me = c.payer.pubkey();
    assert!(c.rpc.get_version().await.unwrap().feature_set.is_some(), "a numeric feature set");
    let slot = c.rpc.get_slot().await.unwrap();
    let epoch = c.rpc.get_epoch_info().await.unwrap();
    assert_eq!((epoch.epoch, epoch.absolute_slot, epoch.slots_in_epoch), (0, slot, 432_000));
    assert_eq!(c.rpc.get_epoch_schedule().await.unwrap().slots_per_epoch, 432_000);

    // A mint, our associated account with 1.5 tokens, and a delegate for a third of them.
    let mint = create_mint(&c).await;
    let ata = associated_token::get_associated_token_address(&me, &mint);
    let delegate = Keypair::new();
    c.send(
        &[
            associated_token::spl_associated_token_account::instruction::create_associated_token_account(
                &me,
                &me,
                &mint,
                &spl_token::ID,
            ),
            spl_token::instruction::mint_to(&spl_token::ID, &mint, &ata, &me, &[], 1_500_000).unwrap(),
            spl_token::instruction::approve(&spl_token::ID, &ata, &delegate.pubkey(), &me, &[], 500_000).unwrap(),
        ],
        &[],
    )
    .await;
    let balance = c.rpc.get_token_account_balance(&ata).await.unwrap();
    assert_eq!((balance.amount.as_str(), balance.ui_amount_string.as_str(), balance.decimals), ("1500000", "1.5", 6));
    assert_eq!(c.rpc.get_token_supply(&mint).await.unwrap().amount, "1500000");

    // Token accounts as wallets list them: parsed.
    let mine = c.rpc.get_token_accounts_by_owner(&me, TokenAccountsFilter::Mint(mint)).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].pubkey, ata.to_string());
    let UiAccountData::Json(parsed) = &mine[0].account.data else { panic!("parsed: {:?}", mine[0].account.data) };
    assert_eq!(parsed.program, "spl-token");
    let info = &parsed.parsed["info"];
    assert_eq!(
        (info["mint"].as_str(), info["owner"].as_str()),
        (Some(mint.to_string().as_str()), Some(me.to_string().as_str()))
    );
    assert_eq!(info["tokenAmount"]["uiAmountString"], "1.5");
    assert_eq!(info["delegate"], delegate.pubkey().to_string());
    assert_eq!(info["delegatedAmount"]["amount"], "500000");
    assert_eq!(info["state"], "initialized");
    let by_program =
        c.rpc.get_token_accounts_by_owner(&me, TokenAccountsFilter::ProgramId(spl_token::ID)).await.unwrap();
    assert_eq!(by_program.len(), 1);
    // solana-rpc-client 3.1's get_token_accounts_by_delegate sends getTokenAccountsByOwner: ask
    // for the method itself, as other clients do.
    let delegated: solana_rpc_client_api::response::Response<Vec<solana_rpc_client_api::response::RpcKeyedAccount>> = c
        .rpc
        .send(
            solana_rpc_client_api::request::RpcRequest::GetTokenAccountsByDelegate,
            serde_json::json!([delegate.pubkey().to_string(), { "mint": mint.to_string() }, { "encoding": "jsonParsed" }]),
        )
        .await
        .unwrap();
    assert_eq!(delegated.value.len(), 1);
    assert_eq!(delegated.value[0].pubkey, ata.to_string());
    let none = c.rpc.get_token_accounts_by_owner(&delegate.pubkey(), TokenAccountsFilter::Mint(mint)).await.unwrap();
    assert!(none.is_empty());

    // Program accounts: the mint's token accounts, by size and by the mint at offset 0, with only
    // the amount (bytes 64..72) returned, with a context.
    let config = |mint: Pubkey| RpcProgramAccountsConfig {
        filters: Some(vec![
            RpcFilterType::DataSize(165),
            RpcFilterType::Memcmp(Memcmp::new_base58_encoded(0, mint.as_ref())),
        ]),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            data_slice: Some(UiDataSliceConfig { offset: 64, length: 8 }),
            ..Default::default()
        },
        with_context: Some(true),
        sort_results: None,
    };
    let found = c.rpc.get_program_ui_accounts_with_config(&spl_token::ID, config(mint)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, ata);
    assert_eq!(found[0].1.data.decode(), Some(1_500_000u64.to_le_bytes().to_vec()), "the data slice");
    assert_eq!(found[0].1.space, Some(165), "the account's whole size");
    let other = c.rpc.get_program_ui_accounts_with_config(&spl_token::ID, config(Pubkey::new_unique())).await.unwrap();
    assert!(other.is_empty(), "a memcmp on another mint matches nothing");

    // Fees: 5,000 lamports a signature, plus the priority fee (price x limit, rounded up).
    let blockhash = c.rpc.get_latest_blockhash().await.unwrap();
    let transfer = anchor_lang::solana_program::system_instruction::transfer(&me, &delegate.pubkey(), 10_000_000);
    let plain =
        solana_sdk::message::Message::new_with_blockhash(std::slice::from_ref(&transfer), Some(&me), &blockhash);
    assert_eq!(c.rpc.get_fee_for_message(&plain).await.unwrap(), 5_000);
    let mut limit = vec![2u8];
    limit.extend_from_slice(&100_000u32.to_le_bytes());
    let mut price = vec![3u8];
    price.extend_from_slice(&25_000u64.to_le_bytes());
    let budget = anchor_lang::pubkey!("ComputeBudget111111111111111111111111111111");
    let ixs = [
        Instruction { program_id: budget, accounts: vec![], data: limit },
        Instruction { program_id: budget, accounts: vec![], data: price },
        transfer,
    ];
    let priced = solana_sdk::message::Message::new_with_blockhash(&ixs, Some(&me), &blockhash);
    assert_eq!(c.rpc.get_fee_for_message(&priced).await.unwrap(), 5_000 + 2_500);
    c.send(&ixs, &[]).await;
    let fees = c.rpc.get_recent_prioritization_fees(&[me]).await.unwrap();
    assert!(fees.iter().any(|f| f.prioritization_fee == 25_000), "{fees:?}");

    let now = c.rpc.get_slot().await.unwrap();
    assert!(c.rpc.get_block_time(now).await.unwrap() > 0);
    assert!(c.rpc.get_block_time(slot).await.unwrap() > 0, "an earlier slot has a time too");
    assert!(c.rpc.get_block_time(now + 1_000).await.is_err(), "no time for a slot not reached yet");
    // getBlock: the transaction of a slot, in full (v0-capable) and as signatures.
    let sig = c
        .send(&[anchor_lang::solana_program::system_instruction::transfer(&me, &Pubkey::new_unique(), 5_000_000)], &[])
        .await;
    let at = c.rpc.get_signature_statuses(&[sig]).await.unwrap().value[0].clone().unwrap().slot;
    let block = c
        .rpc
        .get_block_with_config(
            at,
            solana_rpc_client_api::config::RpcBlockConfig {
                encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
                max_supported_transaction_version: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((block.parent_slot, block.block_height), (at - 1, Some(at)));
    let txs = block.transactions.expect("full transaction details");
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].transaction.decode().unwrap().signatures[0], sig);
    assert!(txs[0].meta.as_ref().unwrap().err.is_none());
    let signatures = c
        .rpc
        .get_block_with_config(
            at,
            solana_rpc_client_api::config::RpcBlockConfig {
                transaction_details: Some(solana_transaction_status_client_types::TransactionDetails::Signatures),
                max_supported_transaction_version: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(signatures.signatures, Some(vec![sig.to_string()]));
    assert!(c.rpc.get_block(at + 1_000).await.is_err(), "no block for a slot not reached yet");
}
