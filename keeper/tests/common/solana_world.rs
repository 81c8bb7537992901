//! The Solana localnet every trading test starts from: a served chain, a launcher (`payer`)
//! holding most of a 6-decimal quote mint, the keeper's wallet with 1000 `MIN_QUOTE` of it and
//! some SOL, and a migrated mirror; plus the risk worker and the trading limits those tests share.

use std::time::Duration;

use alloy::primitives::U256;
use amm::client::PoolAddresses;
use keeper::{
    app::{App, AppBuilder, Secrets},
    config::{Commitment, Config, QuoteMint},
    risk::worker::Recovery,
    trade::{keys::SolanaKey, ChainBudget, TradingConfig},
};
use localnet::{
    serve,
    sim::{Launcher, SolLaunch},
    Chain, Localnet,
};
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signer},
};
use sqlx::SqlitePool;

/// Base units of the quote mint: the buy size and the least liquidity traded.
pub const MIN_QUOTE: u64 = 1_000_000_000;

pub struct SolWorld {
    pub net: Localnet,
    pub payer: Keypair,
    pub wallet: Keypair,
    pub quote_mint: Pubkey,
    pub quote_ata: Pubkey,
    pub db: SqlitePool,
    _dir: tempfile::TempDir,
}

impl SolWorld {
    pub async fn start() -> Self {
        let (payer, wallet) = (Keypair::new(), Keypair::new());
        let mut chain = Chain::new(&payer.pubkey()).await;
        chain.svm.airdrop(&payer.pubkey(), 1_000 * 1_000_000_000).unwrap();
        chain.svm.airdrop(&wallet.pubkey(), 10 * 1_000_000_000).unwrap();
        let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let launcher = Launcher { net: &net, payer: &payer };
        launcher.ensure_config().unwrap();
        let quote_mint = launcher.mint(false).unwrap();
        let quote_ata = launcher.mint_to(&quote_mint, &payer.pubkey(), u64::MAX / 4).unwrap();
        launcher.mint_to(&quote_mint, &wallet.pubkey(), 1_000 * MIN_QUOTE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
        mirror::migrate(&db).await.unwrap();
        Self { net, payer, wallet, quote_mint, quote_ata, db, _dir: dir }
    }

    pub fn launcher(&self) -> Launcher<'_> {
        Launcher { net: &self.net, payer: &self.payer }
    }

    /// A token launched by the payer in a new pool of our AMM against the quote mint.
    pub fn launch(&self, l: SolLaunch) -> (Pubkey, PoolAddresses) {
        self.launcher().launch(&self.quote_mint, &self.quote_ata, l).unwrap()
    }

    /// What the keeper's wallet holds of `mint`.
    pub fn balance(&self, mint: &Pubkey) -> u64 {
        self.launcher().balance(&self.wallet.pubkey(), mint)
    }

    /// The keeper over this chain as `keeper run` builds it (`MIN_QUOTE` of the quote mint
    /// wanted in a pool), trading with `t` (keyed with the wallet), its trader's RPC at
    /// `trade_rpc`. No EVM chain.
    pub fn keeper(&self, t: TradingConfig, trade_rpc: &str) -> AppBuilder {
        let mut config = Config::default();
        config.database.path = self._dir.path().join("keeper.db");
        let sol = &mut config.solana;
        sol.rpc_url = self.net.url.clone();
        sol.ws_url = self.net.ws_url.clone();
        sol.commitment = Commitment::Confirmed;
        sol.poll_interval_ms = 100;
        sol.quote_mints = vec![QuoteMint { mint: self.quote_mint, min_reserve: MIN_QUOTE }];
        config.evm.clear();
        config.risk.concurrency = 2;
        config.trading = t;
        let secrets = Secrets { solana: Some(SolanaKey(self.wallet.insecure_clone())), ..Secrets::default() };
        App::builder(&config, secrets)
            .database(self.db.clone())
            .trade_rpc("solana", trade_rpc)
            .recovery(Recovery { recovery_every: Duration::from_millis(200), ..Recovery::default() })
    }

    /// Trading on "solana": buys of `MIN_QUOTE`, scores up to 60, exits checked every 100 ms.
    pub fn trading(live: bool) -> TradingConfig {
        let mut t = TradingConfig { enabled: true, live, max_risk_score: 60, exit_poll_ms: 100, ..Default::default() };
        t.solana.confirm_poll_ms = 50;
        t.chains.insert(
            "solana".into(),
            ChainBudget {
                buy_amount: U256::from(MIN_QUOTE),
                max_buy: U256::from(10 * MIN_QUOTE),
                daily_budget: U256::from(100 * MIN_QUOTE),
                min_liquidity: U256::from(MIN_QUOTE),
                quote_tokens: vec![],
            },
        );
        t
    }
}
