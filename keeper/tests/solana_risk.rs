//! Solana risk checks against the JSON-RPC localnet with the real SPL Token and Token-2022
//! programs: every check has a token that trips it and a clean one that does not, and pools of
//! our AMM discovered by the indexer get a risk report from the risk worker's sweep.

#[path = "common/keeper.rs"]
mod keeper_run;

use std::collections::HashMap;

use amm::client::{self, PoolAddresses};
use anchor_lang::solana_program::{instruction::Instruction, program_pack::Pack, system_instruction};
use anchor_spl::{
    associated_token::{get_associated_token_address_with_program_id, spl_associated_token_account},
    token::spl_token,
    token_2022::spl_token_2022::{
        self,
        extension::{transfer_fee, transfer_hook, ExtensionType},
        instruction::AuthorityType,
    },
};
use keeper::{
    app::{App, Secrets},
    chains::solana::probe::SolanaRiskEngine,
    config::{Commitment, Config, QuoteMint},
    pipeline::PoolRecord,
    risk::{rules::solana::assess, worker::Recovery, RiskPolicy, Severity},
};
use localnet::{
    native::{hook_validation, hook_validation_seeded, HOOK_ALLOW, HOOK_BLOCK, HOOK_BLOCK_ERROR, HOOK_SEEDED},
    serve,
    sim::{Launcher, SolLaunch},
    Chain, Localnet,
};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::{
    account::Account,
    pubkey::Pubkey,
    signature::{Keypair, Signer},
    transaction::Transaction,
};
use test_utils::wait_for;

const MIN_QUOTE: u64 = 1_000_000;

struct Net {
    net: Localnet,
    payer: Keypair,
}

impl Net {
    fn me(&self) -> Pubkey {
        self.payer.pubkey()
    }

    fn send(&self, ixs: &[Instruction], extra: &[&Keypair]) {
        let mut chain = self.net.chain();
        let mut signers = vec![&self.payer];
        signers.extend_from_slice(extra);
        let tx = Transaction::new_signed_with_payer(ixs, Some(&self.me()), &signers, chain.svm.latest_blockhash());
        chain.execute(tx.into(), false).map_err(|r| format!("{:?}", r.result)).expect("transaction");
    }

    /// A mint of `program` with the given extension (initialised before the mint) and authorities.
    fn mint(&self, program: Pubkey, ext: Option<(ExtensionType, Instruction)>, freeze: bool, mint: &Keypair) -> Pubkey {
        let key = mint.pubkey();
        let space = match &ext {
            Some((t, _)) => ExtensionType::try_calculate_account_len::<spl_token_2022::state::Mint>(&[*t]).unwrap(),
            None if program == spl_token::ID => spl_token::state::Mint::LEN,
            None => ExtensionType::try_calculate_account_len::<spl_token_2022::state::Mint>(&[]).unwrap(),
        };
        let rent = self.net.chain().svm.minimum_balance_for_rent_exemption(space);
        let mut ixs = vec![system_instruction::create_account(&self.me(), &key, rent, space as u64, &program)];
        ixs.extend(ext.map(|(_, ix)| ix));
        let me = self.me();
        ixs.push(spl_token_2022::instruction::initialize_mint2(&program, &key, &me, freeze.then_some(&me), 6).unwrap());
        self.send(&ixs, &[mint]);
        key
    }

    fn ata(&self, owner: &Pubkey, mint: &Pubkey, program: &Pubkey) -> (Pubkey, Instruction) {
        let ata = get_associated_token_address_with_program_id(owner, mint, program);
        let create = spl_associated_token_account::instruction::create_associated_token_account_idempotent(
            &self.me(),
            owner,
            mint,
            program,
        );
        (ata, create)
    }

    fn mint_to(&self, mint: &Pubkey, owner: &Pubkey, amount: u64) -> Pubkey {
        let (ata, create) = self.ata(owner, mint, &spl_token::ID);
        let mint_to = spl_token::instruction::mint_to(&spl_token::ID, mint, &ata, &self.me(), &[], amount).unwrap();
        self.send(&[create, mint_to], &[]);
        ata
    }

    fn revoke_mint_authority(&self, mint: &Pubkey, program: &Pubkey) {
        let ix =
            spl_token_2022::instruction::set_authority(program, mint, None, AuthorityType::MintTokens, &self.me(), &[])
                .unwrap();
        self.send(&[ix], &[]);
    }
}

fn pending(p: &PoolAddresses) -> PoolRecord {
    PoolRecord {
        id: 0,
        chain: "solana".into(),
        venue: "amm".into(),
        address: p.pool.to_string(),
        token_a: p.mint_a.to_string(),
        token_b: p.mint_b.to_string(),
        base_token: None,
        created_slot: None,
        created_tx: None,
        created_block_time: None,
        first_seen_at_ms: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_solana_check_trips_once_and_indexed_pools_get_reports() {
    let payer = Keypair::new();
    let mut chain = Chain::new(&payer.pubkey()).await;
    chain.svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
    let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let n = Net { net, payer };
    let me = n.me();
    n.send(&[client::create_config(me, 0, 30, 0)], &[]);
    let quote_mint = n.mint(spl_token::ID, None, false, &Keypair::new());
    let quote_ata = n.mint_to(&quote_mint, &me, u64::MAX / 2);
    let engine = SolanaRiskEngine::new(
        &n.net.url,
        CommitmentConfig::confirmed(),
        HashMap::from([(quote_mint, MIN_QUOTE)]),
        RiskPolicy::default(),
    );
    let policy = RiskPolicy::default();

    // Mint-level checks on Token-2022 mints, one extension each (no supply, authority revoked).
    let t22 = spl_token_2022::ID;
    let someone = Pubkey::new_unique();
    type InitExtension = Option<(ExtensionType, Box<dyn Fn(&Pubkey) -> Instruction>)>;
    let cases: Vec<(&str, InitExtension)> = vec![
        ("", None),
        (
            "transfer_fee",
            Some((
                ExtensionType::TransferFeeConfig,
                Box::new(move |m| {
                    transfer_fee::instruction::initialize_transfer_fee_config(
                        &t22,
                        m,
                        Some(&someone),
                        Some(&someone),
                        300,
                        u64::MAX,
                    )
                    .unwrap()
                }),
            )),
        ),
        (
            "transfer_hook",
            Some((
                ExtensionType::TransferHook,
                Box::new(move |m| {
                    transfer_hook::instruction::initialize(&t22, m, Some(someone), Some(someone)).unwrap()
                }),
            )),
        ),
        (
            "permanent_delegate",
            Some((
                ExtensionType::PermanentDelegate,
                Box::new(move |m| {
                    spl_token_2022::instruction::initialize_permanent_delegate(&t22, m, &someone).unwrap()
                }),
            )),
        ),
        (
            "non_transferable",
            Some((
                ExtensionType::NonTransferable,
                Box::new(move |m| spl_token_2022::instruction::initialize_non_transferable_mint(&t22, m).unwrap()),
            )),
        ),
    ];
    for (check, ext) in cases {
        let kp = Keypair::new();
        let mint = n.mint(t22, ext.map(|(t, f)| (t, f(&kp.pubkey()))), false, &kp);
        n.revoke_mint_authority(&mint, &t22);
        let facts = engine.measure_mint(&mint, &[]).await.unwrap();
        assert!(facts.token_2022);
        let a = assess(&facts, &policy);
        let want: Vec<&str> = if check.is_empty() { vec![] } else { vec![check] };
        assert_eq!(a.tripped(), want, "{}", a.summary);
        if check == "transfer_fee" {
            assert_eq!(facts.extensions.transfer_fee_bps, Some(300));
        }
        if matches!(check, "permanent_delegate" | "non_transferable") {
            assert!(!a.tradeable);
        }
    }

    // Authorities are run, not read: one that can act on our account now is critical, one
    // whose instruction fails (a mint already at the u64 cap) is medium, and one a program
    // holds (it decides when it signs) cannot be simulated and stays high.
    let authority = |facts: &keeper::risk::rules::solana::SolanaFacts| {
        let a = assess(facts, &policy);
        let f = a.findings.iter().find(|f| f.check == "mint_authority").cloned().expect("a mint_authority finding");
        (f.severity, f.measured["simulation"]["outcome"].as_str().unwrap_or("").to_string(), a.tradeable)
    };
    let live = n.mint(spl_token::ID, None, false, &Keypair::new());
    let facts = engine.measure_mint(&live, &[]).await.unwrap();
    assert_eq!(authority(&facts), (Severity::Critical, "effective".into(), false));
    let capped = n.mint(spl_token::ID, None, false, &Keypair::new());
    n.mint_to(&capped, &me, u64::MAX);
    let facts = engine.measure_mint(&capped, &[]).await.unwrap();
    assert_eq!(authority(&facts), (Severity::Medium, "refused".into(), true));
    let pda_held = n.mint(spl_token::ID, None, false, &Keypair::new());
    let pda = Pubkey::find_program_address(&[b"mint-authority"], &amm::ID).0;
    n.send(
        &[spl_token::instruction::set_authority(
            &spl_token::ID,
            &pda_held,
            Some(&pda),
            spl_token::instruction::AuthorityType::MintTokens,
            &me,
            &[],
        )
        .unwrap()],
        &[],
    );
    let facts = engine.measure_mint(&pda_held, &[]).await.unwrap();
    assert_eq!(authority(&facts), (Severity::High, "unsimulated".into(), true));
    assert_eq!(n.net.chain().svm.get_account(&live).unwrap().data[36..44], [0u8; 8], "simulated, nothing minted");

    // Transfer hooks are run by a simulated transfer from a holder into our token account: a
    // hook that fails it is critical, one that lets it through stays high (it can change). A
    // hook whose extra account is a PDA of seeds (the mint's and the sender's keys) passes once
    // that account is derived; with a validation list that leaves it out, the same hook fails.
    for (hook, validation_data, want, outcome) in [
        (HOOK_ALLOW, hook_validation(&[]), Severity::High, "passed"),
        (HOOK_BLOCK, hook_validation(&[]), Severity::Critical, "blocked"),
        (HOOK_SEEDED, hook_validation_seeded(), Severity::High, "passed"),
        (HOOK_SEEDED, hook_validation(&[]), Severity::Critical, "blocked"),
    ] {
        let kp = Keypair::new();
        let init = transfer_hook::instruction::initialize(&t22, &kp.pubkey(), Some(me), Some(hook)).unwrap();
        let mint = n.mint(t22, Some((ExtensionType::TransferHook, init)), false, &kp);
        let (holder, create) = n.ata(&me, &mint, &t22);
        let supply = spl_token_2022::instruction::mint_to(&t22, &mint, &holder, &me, &[], 1_000_000).unwrap();
        n.send(&[create, supply], &[]);
        n.revoke_mint_authority(&mint, &t22);
        let validation = keeper::chains::solana::hook::validation_address(&mint, &hook);
        let state = Account { lamports: 1_000_000_000, data: validation_data, owner: hook, ..Default::default() };
        n.net.chain().svm.set_account(validation, state).unwrap();
        let a = assess(&engine.measure_mint(&mint, &[]).await.unwrap(), &policy);
        let f = a.findings.iter().find(|f| f.check == "transfer_hook").expect("a transfer_hook finding");
        assert_eq!(
            (f.severity, f.measured["simulation"]["outcome"].as_str()),
            (want, Some(outcome)),
            "{}",
            f.explanation
        );
        assert_eq!(a.tradeable, want != Severity::Critical);
        if hook == HOOK_BLOCK {
            assert!(
                f.explanation.contains(&format!("{HOOK_BLOCK_ERROR:#x}")),
                "names the hook's error: {}",
                f.explanation
            );
        }
        let balance = |k: &Pubkey| n.net.chain().svm.get_account(k).map(|a| a.data[64..72].to_vec());
        assert_eq!(balance(&holder), Some(1_000_000u64.to_le_bytes().to_vec()), "simulated, nothing moved");
    }

    // Pool-level checks on classic SPL tokens in our AMM's pools.
    let clean = SolLaunch::clean(10 * MIN_QUOTE);
    let pools: Vec<(&str, SolLaunch)> = vec![
        ("", clean),
        ("mint_authority", SolLaunch { revoke_mint_authority: false, ..clean }),
        ("freeze_authority", SolLaunch { freeze_authority: true, ..clean }),
        ("lp_not_burned", SolLaunch { burn_lp: false, ..clean }),
        ("holder_concentration", SolLaunch { whale: true, ..clean }),
        ("thin_liquidity", SolLaunch::clean(MIN_QUOTE / 10)),
    ];
    let launcher = Launcher { net: &n.net, payer: &n.payer };
    let mut launched = Vec::new();
    for (check, l) in &pools {
        let (_, p) = launcher.launch(&quote_mint, &quote_ata, *l).unwrap();
        let (token, a, _) = engine.evaluate(&pending(&p)).await.unwrap();
        assert_ne!(token, quote_mint.to_string(), "the quote side is not the token evaluated");
        let want: Vec<&str> = if check.is_empty() { vec![] } else { vec![check] };
        assert_eq!(a.tripped(), want, "{}", a.summary);
        if matches!(*check, "mint_authority" | "freeze_authority") {
            let f = a.findings.iter().find(|f| f.check == *check).unwrap();
            assert_eq!((f.severity, a.tradeable), (Severity::Critical, false), "{}", f.explanation);
        }
        launched.push((p, a.tripped().iter().map(|s| s.to_string()).collect::<Vec<_>>()));
    }

    // Discovery through the keeper as `keeper run` builds it: the pools' creations are
    // indexed, and every new pool the writer announces is scored.
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.path = dir.path().join("keeper.db");
    config.evm.clear();
    let sol = &mut config.solana;
    (sol.rpc_url, sol.ws_url, sol.commitment) = (n.net.url.clone(), n.net.ws_url.clone(), Commitment::Confirmed);
    sol.quote_mints = vec![QuoteMint { mint: quote_mint, min_reserve: MIN_QUOTE }];
    let builder = App::builder(&config, Secrets::default()).recovery(Recovery::default());
    let k = keeper_run::start(builder).await;
    let db = k.db.clone();
    wait_for("a report for every indexed pool", || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(DISTINCT pool_id) FROM risk_reports").fetch_one(&db).await.unwrap();
        (n == launched.len() as i64).then_some(())
    })
    .await;
    for (p, tripped) in &launched {
        let findings: String = sqlx::query_scalar("SELECT findings FROM risk_reports WHERE pool_address = ?")
            .bind(p.pool.to_string())
            .fetch_one(&db)
            .await
            .unwrap();
        let findings: Vec<keeper::risk::Finding> = serde_json::from_str(&findings).unwrap();
        let mut got: Vec<String> =
            findings.iter().filter(|f| f.severity > keeper::risk::Severity::Info).map(|f| f.check.clone()).collect();
        got.sort();
        assert_eq!(&got, tripped, "the stored report matches the direct evaluation");
    }
    k.stop().await;
}
