//! A real local EVM for tests: anvil (npm `@foundry-rs/anvil-linux-amd64`) on a free 127.0.0.1
//! port with the real Uniswap V2 factory, router and WETH9 deployed from the npm build artifacts,
//! plus launches of the project's Solidity test tokens (compiled by `scripts/evm/compile.mjs`).
//! Every wait has a timeout, so a missing receipt fails instead of hanging.

#![allow(clippy::too_many_arguments)]

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    node_bindings::{Anvil, AnvilInstance},
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{ext::AnvilApi, DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolValue},
};

/// Every wait on the chain is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(30);

sol! {
    #[sol(rpc)]
    interface ITestRouter {
        function addLiquidityETH(address token, uint amountTokenDesired, uint amountTokenMin, uint amountETHMin, address to, uint deadline)
            external payable returns (uint amountToken, uint amountETH, uint liquidity);
        function addLiquidity(address tokenA, address tokenB, uint amountADesired, uint amountBDesired, uint amountAMin, uint amountBMin, address to, uint deadline)
            external returns (uint amountA, uint amountB, uint liquidity);
        function swapExactETHForTokensSupportingFeeOnTransferTokens(uint amountOutMin, address[] calldata path, address to, uint deadline) external payable;
        function swapExactTokensForETHSupportingFeeOnTransferTokens(uint amountIn, uint amountOutMin, address[] calldata path, address to, uint deadline) external;
        function removeLiquidityETH(address token, uint liquidity, uint amountTokenMin, uint amountETHMin, address to, uint deadline)
            external returns (uint amountToken, uint amountETH);
    }
    #[sol(rpc)]
    interface ITestFactory {
        function createPair(address tokenA, address tokenB) external returns (address pair);
        function getPair(address tokenA, address tokenB) external view returns (address pair);
    }
    #[sol(rpc)]
    interface ITestToken {
        function approve(address spender, uint256 value) external returns (bool);
        function transfer(address to, uint256 value) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
        function renounceOwnership() external;
        function initialize(string n, string s, uint256 supply, address holder) external;
    }
}

/// Gas for another trader's swap through the router (well above what one costs).
const TRADER_GAS: u64 = 1_000_000;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require_file(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh once (it installs the npm dev tools and compiles the test tokens)",
        path.display()
    );
    path
}

/// The anvil binary installed by npm.
pub fn anvil_path() -> PathBuf {
    require_file(root().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
}

/// Creation bytecode of a contract from the npm Uniswap artifacts or our compiled test tokens.
pub fn bytecode(name: &str) -> Bytes {
    let candidates = [
        root().join(format!("crates/localnet/evm/build/{name}.json")),
        root().join(format!("node_modules/@uniswap/v2-core/build/{name}.json")),
        root().join(format!("node_modules/@uniswap/v2-periphery/build/{name}.json")),
    ];
    let path = candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| require_file(candidates[0].clone()));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read artifact")).expect("json");
    let hex = json["bytecode"].as_str().expect("bytecode field");
    alloy::primitives::hex::decode(hex.trim_start_matches("0x")).expect("hex").into()
}

/// Uniswap V2's pair init-code hash on mainnet; the npm pair bytecode must match it.
pub const MAINNET_INIT_CODE_HASH: B256 =
    alloy::primitives::b256!("0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f");

pub fn e18(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u8))
}

/// One anvil with Uniswap V2 deployed. Dropping it stops anvil.
pub struct EvmEnv {
    pub anvil: AnvilInstance,
    /// Signs with every anvil dev account; `deployer` by default.
    pub provider: DynProvider,
    pub deployer: Address,
    pub weth: Address,
    pub factory: Address,
    pub router: Address,
}

/// The Uniswap V2 contracts of an [`EvmEnv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contracts {
    pub weth: Address,
    pub factory: Address,
    pub router: Address,
}

/// What kind of token a launch deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Standard,
    Tax {
        buy_bps: u64,
        sell_bps: u64,
    },
    Honeypot,
    TinySell,
    MaxTx,
    Blacklist,
    Mintable,
    Pausable,
    Proxy,
    /// A contract of `Latent.sol` by name: a latent scam or a legitimate control, constructed
    /// with the same arguments as the standard token.
    Zoo(&'static str),
}

/// How a token is launched.
#[derive(Debug, Clone)]
pub struct Launch {
    pub kind: TokenKind,
    pub supply: U256,
    /// Share of the supply put in the pool, in basis points.
    pub pool_share_bps: u64,
    pub eth: U256,
    /// Send the deployer's LP tokens to 0x…dEaD.
    pub burn_lp: bool,
    /// Spread the rest of the supply over 50 wallets (1% each at 50% in the pool).
    pub distribute: bool,
    pub renounce: bool,
}

impl Launch {
    /// A clean launch: half the supply and 10 ETH in the pool, LP burned, supply spread out,
    /// ownership renounced where the token has it.
    pub fn clean(kind: TokenKind) -> Self {
        Self {
            kind,
            supply: e18(1_000_000),
            pool_share_bps: 5_000,
            eth: e18(10),
            burn_lp: true,
            distribute: true,
            renounce: kind == TokenKind::Standard,
        }
    }
}

/// A launched token and its pool.
#[derive(Debug, Clone)]
pub struct Launched {
    pub token: Address,
    pub pair: Address,
    /// The block and transaction that created the pair (addLiquidityETH).
    pub block: u64,
    pub tx: B256,
}

impl EvmEnv {
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// Starts anvil on `port` (a free one when `None`).
    pub async fn start_on(port: Option<u16>) -> Self {
        Self::start_with(port, None, None).await
    }

    /// anvil on `port` (a free one when `None`). With `state`, anvil keeps its chain in that
    /// file: loaded at start when present, written every few seconds and when anvil stops (on
    /// SIGTERM or SIGINT; dropping the instance sends SIGTERM). The Uniswap contracts are
    /// deployed unless `deployed` names them (a chain resumed from `state`).
    pub async fn start_with(port: Option<u16>, state: Option<&Path>, deployed: Option<Contracts>) -> Self {
        // A 1G-gas block limit lets a benchmark put a hundred launches in one block.
        let mut anvil = Anvil::at(anvil_path()).args(["--gas-limit", "1000000000"]);
        if let Some(port) = port {
            anvil = anvil.port(port);
        }
        if let Some(state) = state {
            anvil = anvil.arg("--state").arg(state.display().to_string()).args(["--state-interval", "5"]);
        }
        let anvil = anvil.try_spawn().expect("spawn anvil");
        let keys = anvil.keys().to_vec();
        let deployer_key: PrivateKeySigner = keys[0].clone().into();
        let deployer = deployer_key.address();
        let mut wallet = EthereumWallet::from(deployer_key);
        for k in &keys[1..] {
            wallet.register_signer(PrivateKeySigner::from(k.clone()));
        }
        // Simple nonce management: the cached nonce manager hangs after evm_revert.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet)
            .connect_http(anvil.endpoint_url())
            .erased();
        let mut env =
            Self { anvil, provider, deployer, weth: Address::ZERO, factory: Address::ZERO, router: Address::ZERO };
        if let Some(c) = deployed {
            (env.weth, env.factory, env.router) = (c.weth, c.factory, c.router);
            return env;
        }
        env.weth = env.deploy("WETH9", Bytes::new()).await;
        env.factory = env.deploy("UniswapV2Factory", deployer.abi_encode().into()).await;
        env.router = env.deploy("UniswapV2Router02", (env.factory, env.weth).abi_encode_params().into()).await;
        env
    }

    /// The deployed Uniswap contracts.
    pub fn contracts(&self) -> Contracts {
        Contracts { weth: self.weth, factory: self.factory, router: self.router }
    }

    /// Whether every contract of [`Self::contracts`] has code on the chain.
    pub async fn contracts_deployed(&self) -> bool {
        for a in [self.weth, self.factory, self.router] {
            match self.provider.get_code_at(a).await {
                Ok(code) if !code.is_empty() => {}
                _ => return false,
            }
        }
        true
    }

    pub fn http_url(&self) -> String {
        self.anvil.endpoint()
    }

    pub fn ws_url(&self) -> String {
        self.anvil.ws_endpoint()
    }

    /// Sends a transaction from the deployer and waits (bounded) for a successful receipt.
    pub async fn send(&self, tx: TransactionRequest) -> TransactionReceipt {
        self.try_send(tx).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::send`], with a failure (refused, timed out, reverted) as an error.
    pub async fn try_send(&self, tx: TransactionRequest) -> Result<TransactionReceipt, String> {
        let tx = if tx.from.is_none() { tx.with_from(self.deployer) } else { tx };
        let pending = tokio::time::timeout(TIMEOUT, self.provider.send_transaction(tx))
            .await
            .map_err(|_| "send timed out".to_string())?
            .map_err(|e| format!("send: {e}"))?;
        let receipt = pending.with_timeout(Some(TIMEOUT)).get_receipt().await.map_err(|e| format!("receipt: {e}"))?;
        if !receipt.status() {
            return Err(format!("transaction reverted: {receipt:?}"));
        }
        Ok(receipt)
    }

    pub async fn call(&self, to: Address, data: Vec<u8>, value: U256) -> TransactionReceipt {
        self.send(TransactionRequest::default().with_to(to).with_input(data).with_value(value)).await
    }

    pub async fn deploy(&self, name: &str, args: Bytes) -> Address {
        let mut code = bytecode(name).to_vec();
        code.extend_from_slice(&args);
        let receipt = self.send(TransactionRequest::default().with_deploy_code(code)).await;
        receipt.contract_address.expect("contract address")
    }

    /// The CREATE2 address of the WETH pair of `token` (what the tokens compute in their constructor).
    pub fn pair_for(&self, token: Address) -> Address {
        let (a, b) = if token < self.weth { (token, self.weth) } else { (self.weth, token) };
        self.factory.create2(keccak256([a.as_slice(), b.as_slice()].concat()), MAINNET_INIT_CODE_HASH)
    }

    /// Deploys a token without a pool.
    pub async fn deploy_token(&self, kind: TokenKind, name: &str, supply: U256) -> Address {
        let base = (name.to_string(), name.to_uppercase(), supply, self.factory, self.weth);
        match kind {
            TokenKind::Standard => self.deploy("StandardToken", base.abi_encode_params().into()).await,
            TokenKind::Tax { buy_bps, sell_bps } => {
                let args = (base.0, base.1, base.2, base.3, base.4, U256::from(buy_bps), U256::from(sell_bps));
                self.deploy("TaxToken", args.abi_encode_params().into()).await
            }
            TokenKind::Honeypot => self.deploy("HoneypotToken", base.abi_encode_params().into()).await,
            TokenKind::TinySell => self.deploy("TinySellToken", base.abi_encode_params().into()).await,
            TokenKind::MaxTx => self.deploy("MaxTxToken", base.abi_encode_params().into()).await,
            TokenKind::Blacklist => self.deploy("BlacklistToken", base.abi_encode_params().into()).await,
            TokenKind::Mintable => self.deploy("MintableToken", base.abi_encode_params().into()).await,
            TokenKind::Pausable => self.deploy("PausableToken", base.abi_encode_params().into()).await,
            TokenKind::Zoo(contract) => self.deploy(contract, base.abi_encode_params().into()).await,
            TokenKind::Proxy => {
                let implementation = self.deploy("UpgradeableToken", Bytes::new()).await;
                let init =
                    ITestToken::initializeCall { n: base.0, s: base.1, supply, holder: self.deployer }.abi_encode();
                self.deploy("TokenProxy", (implementation, Bytes::from(init)).abi_encode_params().into()).await
            }
        }
    }

    /// Deploys a 1M-supply token and approves the router for the deployer: all a launch needs
    /// beforehand, so that [`Self::add_liquidity_tx`] alone is the launch.
    pub async fn deploy_approved(&self, kind: TokenKind, name: &str) -> Address {
        let t = self.deploy_token(kind, name, e18(1_000_000)).await;
        self.call(t, ITestToken::approveCall { spender: self.router, value: U256::MAX }.abi_encode(), U256::ZERO).await;
        t
    }

    /// The launch transaction of a token from [`Self::deploy_approved`]: half its supply and
    /// 10 ETH through `addLiquidityETH`, which creates the pair.
    pub fn add_liquidity_tx(&self, token: Address) -> TransactionRequest {
        let call = ITestRouter::addLiquidityETHCall {
            token,
            amountTokenDesired: e18(500_000),
            amountTokenMin: U256::ZERO,
            amountETHMin: U256::ZERO,
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        TransactionRequest::default()
            .with_from(self.deployer)
            .with_to(self.router)
            .with_input(call.abi_encode())
            .with_value(e18(10))
    }

    /// Deploys a token and launches it the way real launches do: spread the supply (optional),
    /// addLiquidityETH (which creates the pair), burn the LP (optional), renounce (optional).
    pub async fn launch(&self, name: &str, l: &Launch) -> Launched {
        let token = self.deploy_token(l.kind, name, l.supply).await;
        self.fund(token, l).await
    }

    /// Spreads the supply, adds liquidity (creating the pair if needed), burns LP and renounces,
    /// as `l` says, for an already deployed token.
    pub async fn fund(&self, token: Address, l: &Launch) -> Launched {
        let add = self.prepare_launch(token, l).await;
        let receipt = self.send(add).await;
        self.finish_launch(token, l, receipt).await
    }

    /// [`Self::launch`], with the launch itself (`addLiquidityETH`) sent to the mempool and mined
    /// `block_time` later together with whatever reached the mempool meanwhile (a sniper's buy),
    /// as a chain with that block time would mine it. Everything else is mined at once.
    pub async fn launch_through_mempool(&self, name: &str, l: &Launch, block_time: Duration) -> Launched {
        let token = self.deploy_token(l.kind, name, l.supply).await;
        let add = self.prepare_launch(token, l).await;
        let receipt = self.mine_after(add, block_time).await;
        self.finish_launch(token, l, receipt).await
    }

    /// Sends `tx` to the mempool and mines it in a block `block_time` later, with everything
    /// else that reached the mempool meanwhile; anvil mines at once again afterwards.
    pub async fn mine_after(&self, tx: TransactionRequest, block_time: Duration) -> TransactionReceipt {
        let tx = if tx.from.is_none() { tx.with_from(self.deployer) } else { tx };
        self.provider.anvil_set_auto_mine(false).await.expect("automine off");
        let sent = self.provider.send_transaction(tx).await;
        tokio::time::sleep(block_time).await;
        self.provider.anvil_mine(Some(1), None).await.expect("mine a block");
        self.provider.anvil_set_auto_mine(true).await.expect("automine on");
        let receipt = sent.expect("sent to the mempool").with_timeout(Some(TIMEOUT)).get_receipt().await;
        receipt.expect("the block holds it")
    }

    /// The owner's rug of a launch whose LP it kept: the router approved for its LP (mined at
    /// once), then, returned unsent, `removeLiquidityETH` of all of it.
    pub async fn pull_liquidity_tx(&self, token: Address) -> TransactionRequest {
        let pair = self.pair_for(token);
        let lp = ITestToken::new(pair, &self.provider).balanceOf(self.deployer).call().await.expect("lp balance");
        self.call(pair, ITestToken::approveCall { spender: self.router, value: U256::MAX }.abi_encode(), U256::ZERO)
            .await;
        let call = ITestRouter::removeLiquidityETHCall {
            token,
            liquidity: lp,
            amountTokenMin: U256::ZERO,
            amountETHMin: U256::ZERO,
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        TransactionRequest::default().with_from(self.deployer).with_to(self.router).with_input(call.abi_encode())
    }

    /// After a launch's liquidity: burns the LP and renounces, as `l` says.
    async fn finish_launch(&self, token: Address, l: &Launch, receipt: TransactionReceipt) -> Launched {
        let pair = self.pair_for(token);
        if l.burn_lp {
            let lp = ITestToken::new(pair, &self.provider).balanceOf(self.deployer).call().await.expect("lp balance");
            let dead = alloy::primitives::address!("0x000000000000000000000000000000000000dEaD");
            self.call(pair, ITestToken::transferCall { to: dead, value: lp }.abi_encode(), U256::ZERO).await;
        }
        if l.renounce {
            self.call(token, ITestToken::renounceOwnershipCall {}.abi_encode(), U256::ZERO).await;
        }
        Launched { token, pair, block: receipt.block_number.expect("block number"), tx: receipt.transaction_hash }
    }

    /// Everything a launch of `token` does before its liquidity: spreads the supply (when `l`
    /// says so) and approves the router. Returns the launch itself, not sent: `addLiquidityETH`
    /// of the pool's share of the supply and `l.eth`, the LP to the deployer.
    pub async fn prepare_launch(&self, token: Address, l: &Launch) -> TransactionRequest {
        let in_pool = l.supply * U256::from(l.pool_share_bps) / U256::from(10_000u64);
        if l.distribute {
            let rest = l.supply - in_pool;
            let each = rest / U256::from(50u8);
            for i in 0..50u64 {
                let to = Address::from_word(keccak256([token.as_slice(), &i.to_be_bytes()].concat()));
                self.call(token, ITestToken::transferCall { to, value: each }.abi_encode(), U256::ZERO).await;
            }
        }
        self.call(token, ITestToken::approveCall { spender: self.router, value: U256::MAX }.abi_encode(), U256::ZERO)
            .await;
        let add = ITestRouter::addLiquidityETHCall {
            token,
            amountTokenDesired: in_pool,
            amountTokenMin: U256::ZERO,
            amountETHMin: U256::ZERO,
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        TransactionRequest::default()
            .with_from(self.deployer)
            .with_to(self.router)
            .with_input(add.abi_encode())
            .with_value(l.eth)
    }

    /// Pairs `token` with another ERC-20 `quote` (a stablecoin) through the router's
    /// `addLiquidity`, which creates the pair; the deployer holds both and keeps the LP.
    pub async fn pair_with(&self, token: Address, quote: Address, token_amount: U256, quote_amount: U256) -> Launched {
        for t in [token, quote] {
            self.call(t, ITestToken::approveCall { spender: self.router, value: U256::MAX }.abi_encode(), U256::ZERO)
                .await;
        }
        let add = ITestRouter::addLiquidityCall {
            tokenA: token,
            tokenB: quote,
            amountADesired: token_amount,
            amountBDesired: quote_amount,
            amountAMin: U256::ZERO,
            amountBMin: U256::ZERO,
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        let receipt = self.call(self.router, add.abi_encode(), U256::ZERO).await;
        let pair = ITestFactory::new(self.factory, &self.provider).getPair(token, quote).call().await.expect("getPair");
        Launched { token, pair, block: receipt.block_number.expect("block number"), tx: receipt.transaction_hash }
    }

    /// Another trader (the deployer) buys `token` with `eth` through the router.
    pub async fn trader_buy(&self, token: Address, eth: U256) -> TransactionReceipt {
        self.try_trader_buy(token, eth).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn try_trader_buy(&self, token: Address, eth: U256) -> Result<TransactionReceipt, String> {
        let call = ITestRouter::swapExactETHForTokensSupportingFeeOnTransferTokensCall {
            amountOutMin: U256::ZERO,
            path: vec![self.weth, token],
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        // A fixed gas limit: an estimate taken a block earlier can fall short of the swap's cost
        // once another transaction has changed the pair in between.
        let tx = TransactionRequest::default()
            .with_to(self.router)
            .with_input(call.abi_encode())
            .with_value(eth)
            .with_gas_limit(TRADER_GAS);
        self.try_send(tx).await
    }

    /// Another trader (the deployer) sells `amount` of `token` through the router.
    pub async fn trader_sell(&self, token: Address, amount: U256) -> TransactionReceipt {
        self.try_trader_sell(token, amount).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn try_trader_sell(&self, token: Address, amount: U256) -> Result<TransactionReceipt, String> {
        let approve = ITestToken::approveCall { spender: self.router, value: U256::MAX }.abi_encode();
        self.try_send(TransactionRequest::default().with_to(token).with_input(approve)).await?;
        let call = ITestRouter::swapExactTokensForETHSupportingFeeOnTransferTokensCall {
            amountIn: amount,
            amountOutMin: U256::ZERO,
            path: vec![token, self.weth],
            to: self.deployer,
            deadline: U256::from(u64::MAX),
        };
        self.try_send(
            TransactionRequest::default().with_to(self.router).with_input(call.abi_encode()).with_gas_limit(TRADER_GAS),
        )
        .await
    }

    /// `owner`'s balance of `token`.
    pub async fn balance_of(&self, token: Address, owner: Address) -> U256 {
        ITestToken::new(token, &self.provider).balanceOf(owner).call().await.expect("balanceOf")
    }

    /// Creates an empty pair of two fresh addresses through the factory (a `PairCreated` log and
    /// nothing else). Returns the receipt.
    pub async fn create_pair(&self, a: Address, b: Address) -> TransactionReceipt {
        self.call(self.factory, ITestFactory::createPairCall { tokenA: a, tokenB: b }.abi_encode(), U256::ZERO).await
    }

    /// A keeper config table for this chain (TOML), e.g. for `[evm.local]`.
    pub fn keeper_toml(&self, name: &str) -> String {
        format!(
            "[evm.{name}]\nenabled = true\nchain_id = 31337\nhttp_url = \"{}\"\nws_url = \"{}\"\nwrapped_native = \"{}\"\nstart_block = 1\nfactories = [{{ name = \"uniswap_v2\", kind = \"v2\", address = \"{}\", router = \"{}\" }}]\n",
            self.http_url(),
            self.ws_url(),
            self.weth,
            self.factory,
            self.router
        )
    }
}
