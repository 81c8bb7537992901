//! The Solana indexer against the JSON-RPC localnet: random pool operations are mirrored with
//! every event exactly once and reserves equal to the vaults; re-indexing adds nothing; and the
//! keeper binary, SIGKILLed at random points of a backfill twenty times, ends with the same
//! database as an uninterrupted run.

#[path = "common/keeper.rs"]
mod keeper_run;

use std::{
    collections::BTreeSet,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use amm::client::{self, PoolAddresses, UserAccounts};
use anchor_lang::solana_program::{instruction::Instruction, program_pack::Pack, system_instruction};
use anchor_spl::{associated_token, token::spl_token};
use keeper::sources::solana_indexer::SolanaIndexer;
use localnet::{serve, Chain, Localnet};
use mirror::WriterConfig;
use rand::{rngs::StdRng, Rng, SeedableRng};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signature, Signer},
    transaction::Transaction,
};
use test_utils::wait_for;
use tokio_util::sync::CancellationToken;

/// A localnet with one config (no protocol fee, so vaults hold exactly the reserves), `pools`
/// pools and a trader holding every token.
struct World {
    net: Localnet,
    payer: Keypair,
    pools: Vec<PoolAddresses>,
    trader: Vec<UserAccounts>,
}

fn send(net: &Localnet, payer: &Keypair, ixs: &[Instruction], extra: &[&Keypair]) -> Result<Signature, String> {
    let mut chain = net.chain();
    let mut signers = vec![payer];
    signers.extend_from_slice(extra);
    let tx = Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &signers, chain.svm.latest_blockhash());
    chain.execute(tx.into(), false).map_err(|r| format!("{:?}", r.result))
}

async fn world(pools: usize) -> World {
    let payer = Keypair::new();
    let mut chain = Chain::new(&payer.pubkey()).await;
    chain.svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
    let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = payer.pubkey();
    send(&net, &payer, &[client::create_config(me, 0, 30, 0)], &[]).unwrap();
    let mut out = Vec::new();
    let mut trader = Vec::new();
    for _ in 0..pools {
        let mut mints = Vec::new();
        for _ in 0..2 {
            let mint = Keypair::new();
            let space = spl_token::state::Mint::LEN;
            let rent = net.chain().svm.minimum_balance_for_rent_exemption(space);
            let ixs = [
                system_instruction::create_account(&me, &mint.pubkey(), rent, space as u64, &spl_token::ID),
                spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &me, None, 6).unwrap(),
            ];
            send(&net, &payer, &ixs, &[&mint]).unwrap();
            mints.push(mint.pubkey());
        }
        let (a, b) = client::sort_mints(mints[0], mints[1]).unwrap();
        let p = PoolAddresses::derive(client::config_address(0), a, b);
        let mut atas = Vec::new();
        for mint in [a, b] {
            let ata = associated_token::get_associated_token_address(&me, &mint);
            let create =
                associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                    &me,
                    &me,
                    &mint,
                    &spl_token::ID,
                );
            let mint_to =
                spl_token::instruction::mint_to(&spl_token::ID, &mint, &ata, &me, &[], 1_000_000_000_000).unwrap();
            send(&net, &payer, &[create, mint_to], &[]).unwrap();
            atas.push(ata);
        }
        send(&net, &payer, &[client::initialize_pool(me, &p, atas[0], atas[1], 50_000_000, 80_000_000, 0)], &[])
            .unwrap();
        let lp = associated_token::get_associated_token_address(&me, &p.lp_mint);
        trader.push(UserAccounts { owner: me, token_a: atas[0], token_b: atas[1], lp });
        out.push(p);
    }
    World { net, payer, pools: out, trader }
}

/// Random swaps, deposits and withdrawals; refused ones leave no trace on the ledger.
fn random_ops(w: &World, rng: &mut StdRng, n: usize) {
    for _ in 0..n {
        let i = rng.gen_range(0..w.pools.len());
        let (p, u) = (&w.pools[i], &w.trader[i]);
        let a_to_b = rng.gen::<bool>();
        let (src, dst) = if a_to_b { (u.token_a, u.token_b) } else { (u.token_b, u.token_a) };
        let ix = match rng.gen_range(0..10) {
            0..=5 => client::swap_exact_in(p, u.owner, a_to_b, src, dst, rng.gen_range(1_000..2_000_000), 1),
            6 => client::swap_exact_out(p, u.owner, a_to_b, src, dst, rng.gen_range(1_000..1_000_000), u64::MAX),
            7..=8 => client::deposit(p, u, rng.gen_range(1_000..1_000_000), u64::MAX, u64::MAX),
            _ => client::withdraw(p, u, rng.gen_range(1_000..500_000), 0, 0),
        };
        let _ = send(&w.net, &w.payer, &[ix], &[]);
    }
}

/// The natural keys of every AMM event on the ledger, decoded straight from the chain.
fn chain_event_keys(net: &Localnet) -> BTreeSet<(String, i64, i64)> {
    let chain = net.chain();
    let mut keys = BTreeSet::new();
    for record in chain.ledger() {
        let account_keys = record.transaction.message.static_account_keys();
        for group in record.inner_instructions() {
            let mut n = 0;
            for ix in group.instructions {
                if account_keys[usize::from(ix.instruction.program_id_index)] == amm::ID
                    && client::decode_event_cpi(&ix.instruction.data).is_some()
                {
                    keys.insert((record.signature.to_string(), i64::from(group.index), n));
                    n += 1;
                }
            }
        }
    }
    keys
}

fn vault_balance(net: &Localnet, vault: &Pubkey) -> u64 {
    let acc = net.chain().svm.get_account(vault).unwrap();
    spl_token::state::Account::unpack(&acc.data).unwrap().amount
}

async fn check_mirror(w: &World, db: &sqlx::SqlitePool) {
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT tx_id, ix_index, event_index FROM pool_events").fetch_all(db).await.unwrap();
    let mirrored: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), mirrored.len(), "an event is mirrored twice");
    assert_eq!(mirrored, chain_event_keys(&w.net), "mirror and chain disagree on events");
    for p in &w.pools {
        let (ra, rb): (String, String) = sqlx::query_as("SELECT reserve_a, reserve_b FROM pools WHERE address = ?")
            .bind(p.pool.to_string())
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(ra, vault_balance(&w.net, &p.vault_a).to_string(), "reserve A of {}", p.pool);
        assert_eq!(rb, vault_balance(&w.net, &p.vault_b).to_string(), "reserve B of {}", p.pool);
    }
}

/// A fresh mirror with its writer task running.
struct Mirror {
    _dir: tempfile::TempDir,
    db: sqlx::SqlitePool,
    handle: mirror::WriterHandle,
    cancel: CancellationToken,
    writer: tokio::task::JoinHandle<Result<mirror::WriteStats, mirror::MirrorError>>,
}

async fn mirror_with_writer() -> Mirror {
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("m.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    let (handle, rx) = mirror::writer_channel(16);
    let cancel = CancellationToken::new();
    let config = WriterConfig { max_rows: 500, max_delay: Duration::from_millis(5) };
    let writer = tokio::spawn(mirror::run_writer(db.clone(), rx, config, None, cancel.clone()));
    Mirror { _dir: dir, db, handle, cancel, writer }
}

fn new_indexer(w: &World, m: &Mirror, page_size: usize, concurrency: usize) -> SolanaIndexer {
    SolanaIndexer::new(
        &w.net.url,
        amm::ID,
        "solana",
        CommitmentConfig::confirmed(),
        page_size,
        concurrency,
        m.handle.clone(),
        m.db.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_are_mirrored_exactly_once_with_exact_reserves() {
    // A failing run prints its seed; TEST_SEED=<seed> replays it.
    let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    println!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let w = world(3).await;
    random_ops(&w, &mut rng, 120);

    let m = mirror_with_writer().await;
    let (db, cancel) = (m.db.clone(), m.cancel.clone());
    // A small page size exercises getSignaturesForAddress pagination.
    let mut indexer = new_indexer(&w, &m, 7, 4);
    let first = indexer.catch_up(&cancel).await.unwrap();
    assert!(first > 100);
    // More activity arrives while the keeper runs: the next pass picks up exactly the new part.
    random_ops(&w, &mut rng, 60);
    let second = indexer.catch_up(&cancel).await.unwrap();
    assert!(second > 0 && second <= 60, "{second}");
    assert_eq!(indexer.catch_up(&cancel).await.unwrap(), 0);

    // A second indexer that starts from scratch (as after losing its checkpoint) replays the
    // whole history: every row already exists, nothing is added.
    // The indexer hands its batches to the writer without waiting; a committed batch after them
    // proves they are in (the writer commits in order), so the checkpoint deleted is the last.
    m.handle.commit(mirror::Batch::of(Vec::new())).await.unwrap();
    sqlx::query("DELETE FROM checkpoints").execute(&db).await.unwrap();
    let mut replay = new_indexer(&w, &m, 50, 8);
    // (How many of the random operations succeed depends on the seed; the replay sees them all.)
    assert_eq!(replay.catch_up(&cancel).await.unwrap(), first + second);
    drop((indexer, replay));
    let Mirror { handle, writer, .. } = m;
    drop(handle);
    let stats = writer.await.unwrap().unwrap();
    assert!(stats.events_duplicate > 0, "the replay hit existing rows");
    check_mirror(&w, &db).await;
    let pools: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pools").fetch_one(&db).await.unwrap();
    let tokens: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE decimals = 6").fetch_one(&db).await.unwrap();
    assert_eq!((pools, tokens), (3, 6));
}

fn keeper(db: &std::path::Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keeper"));
    c.arg("run")
        .env_remove("RUST_LOG")
        .env("KEEPER_DATABASE__PATH", db)
        .env("KEEPER_METRICS__LISTEN", "")
        .env("KEEPER_SOLANA__RPC_URL", url)
        .env("KEEPER_SOLANA__POLL_INTERVAL_MS", "50")
        .env("KEEPER_SOLANA__BACKFILL_PAGE_SIZE", "100")
        .env("KEEPER_SOLANA__BACKFILL_CONCURRENCY", "4")
        .env("KEEPER_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

async fn cursor(db: &std::path::Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    let pool = mirror::open_reader(db, Duration::from_secs(5), 1).await.ok()?;
    let c = mirror::checkpoints(&pool).await.ok()?.into_iter().next().and_then(|c| c.cursor);
    pool.close().await;
    c
}

/// Runs the keeper until its checkpoint reaches `newest`, then stops it with SIGTERM.
async fn run_to_completion(db: &std::path::Path, url: &str, newest: &str) {
    let spawned = std::time::SystemTime::now();
    let mut child = keeper(db, url).env("KEEPER_LOG__FILTER", "info").stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    // Started (signal handlers registered) even if there is nothing left to do.
    keeper_run::process_running(db, "solana-indexer", spawned).await;
    while cursor(db).await.as_deref() != Some(newest) {
        assert!(start.elapsed() < Duration::from_secs(120), "the keeper did not catch up");
        assert!(child.try_wait().unwrap().is_none(), "the keeper exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}

/// Everything in the mirror except the keeper's own wall-clock columns.
async fn dump(db: &std::path::Path) -> Vec<String> {
    let pool = mirror::open_reader(db, Duration::from_secs(5), 1).await.unwrap();
    let mut out = Vec::new();
    for q in [
        "SELECT chain || '|' || IFNULL(pool_address,'') || '|' || tx_id || '|' || ix_index || '|' || event_index || '|' || slot || '|' || IFNULL(block_time,'') || '|' || kind || '|' || data FROM pool_events ORDER BY tx_id, ix_index, event_index",
        "SELECT chain || '|' || address || '|' || token_a || '|' || token_b || '|' || reserve_a || '|' || reserve_b || '|' || IFNULL(lp_supply,'') || '|' || IFNULL(fee_bps,'') || '|' || IFNULL(created_slot,'') || '|' || IFNULL(created_tx,'') || '|' || reserves_slot FROM pools ORDER BY address",
        "SELECT chain || '|' || address || '|' || IFNULL(decimals,'') || '|' || IFNULL(total_supply,'') FROM tokens ORDER BY address",
        "SELECT source || '|' || slot || '|' || IFNULL(cursor,'') FROM checkpoints ORDER BY source",
    ] {
        out.extend(sqlx::query_scalar::<_, String>(q).fetch_all(&pool).await.unwrap());
    }
    pool.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_of_a_backfill_loses_and_doubles_nothing() {
    // A failing run prints its seed; TEST_SEED=<seed> replays it.
    let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    println!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let w = world(4).await;
    random_ops(&w, &mut rng, 1_200);
    let newest = w
        .net
        .chain()
        .ledger()
        .iter()
        .rev()
        .find(|r| r.result.is_ok() && r.transaction.message.static_account_keys().contains(&amm::ID))
        .unwrap()
        .signature
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    let started = Instant::now();
    run_to_completion(&reference, &w.net.url, &newest).await;
    let full_run = started.elapsed();
    println!("uninterrupted backfill took {full_run:?}");

    let crashed = dir.path().join("crashed.db");
    // Short lives, so that most of the kills land in the middle of the backfill.
    let window = u64::try_from(full_run.as_millis() / 4).unwrap().clamp(100, 2_000);
    let mut progress = Vec::new();
    for _ in 0..20 {
        let mut child = keeper(&crashed, &w.net.url).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..window))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        progress.push(cursor(&crashed).await);
    }
    let mid = progress.iter().filter(|c| c.as_deref() != Some(newest.as_str())).count();
    println!("{mid} of 20 kills landed mid-backfill");
    assert!(mid >= 3, "most kills must land mid-backfill, only {mid} did");
    run_to_completion(&crashed, &w.net.url, &newest).await;

    let (a, b) = (dump(&reference).await, dump(&crashed).await);
    assert!(a.len() > 1_000, "{} rows", a.len());
    assert_eq!(a, b, "the crashed-and-resumed mirror differs from the uninterrupted one");
    let db = mirror::open_reader(&crashed, Duration::from_secs(5), 1).await.unwrap();
    check_mirror(&w, &db).await;
}

/// With polling effectively off, new transactions reach the mirror through the websocket
/// notification alone; when the websocket is dropped, what happened meanwhile is backfilled on
/// reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_notifications_and_a_dropped_websocket() {
    let mut rng = StdRng::seed_from_u64(rand::random());
    let w = world(2).await;
    let m = mirror_with_writer().await;
    let (db, cancel) = (m.db.clone(), m.cancel.clone());
    let mut indexer = new_indexer(&w, &m, 100, 4);
    let ws_url = Some(w.net.ws_url.clone());
    let stop = cancel.child_token();
    let stop_indexer = stop.clone();
    let indexer_task = tokio::spawn(async move { indexer.run(ws_url, Duration::from_secs(3_600), stop_indexer).await });

    let caught_up = |expected: BTreeSet<(String, i64, i64)>| {
        let db = db.clone();
        async move {
            let start = Instant::now();
            loop {
                let rows: Vec<(String, i64, i64)> =
                    sqlx::query_as("SELECT tx_id, ix_index, event_index FROM pool_events")
                        .fetch_all(&db)
                        .await
                        .unwrap();
                if rows.into_iter().collect::<BTreeSet<_>>() == expected {
                    return start.elapsed();
                }
                assert!(start.elapsed() < Duration::from_secs(20), "the mirror never caught up");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    caught_up(chain_event_keys(&w.net)).await;
    wait_for("the indexer's logs subscription", || async { (w.net.log_subscriptions() > 0).then_some(()) }).await;
    random_ops(&w, &mut rng, 30);
    let live = caught_up(chain_event_keys(&w.net)).await;
    println!("live: mirrored {live:?} after the last transaction");

    w.net.drop_websockets();
    random_ops(&w, &mut rng, 30); // while the keeper is disconnected: no notification reaches it
    let after_drop = caught_up(chain_event_keys(&w.net)).await;
    println!("after a dropped websocket: gap backfilled in {after_drop:?}");

    stop.cancel();
    indexer_task.await.unwrap().unwrap();
    cancel.cancel();
    m.writer.await.unwrap().unwrap();
    check_mirror(&w, &db).await;
}
