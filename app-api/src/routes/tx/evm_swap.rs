//! `POST /api/v1/tx/evm/swap`: calldata for the Uniswap V2-style router of a mirrored EVM pair,
//! the way aggregator APIs hand EVM transactions to wallets: `to`, `data`, `value` and a gas
//! estimate, with `amountOutMin` from the router's own exact quote (`getAmountsOut`) less the
//! slippage tolerance. The swap uses the fee-on-transfer-safe router functions, so a taxed
//! token fails on the minimum the wallet agreed to, never silently.
//!
//! Paying with an ERC-20 needs the router's allowance: when the wallet's is short, `approval`
//! carries the `approve` transaction to send first, and `gas` is absent (a swap cannot be
//! estimated before its allowance exists). Otherwise the swap is simulated by `eth_estimateGas`
//! from the wallet before it is returned, and a revert is a 422 with its reason.

#![allow(clippy::too_many_arguments)]

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ApiResult},
    json::ApiJson,
    routes::check_chain,
    AppState,
};

sol! {
    #[sol(rpc)]
    interface IUniswapV2Router02 {
        function WETH() external view returns (address);
        function getAmountsOut(uint256 amountIn, address[] path) external view returns (uint256[] amounts);
        function swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) external;
        function swapExactETHForTokensSupportingFeeOnTransferTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) external payable;
        function swapExactTokensForETHSupportingFeeOnTransferTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) external;
    }

    #[sol(rpc)]
    interface IERC20Allowance {
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// The longest deadline accepted, in seconds.
const MAX_DEADLINE_SECS: u64 = 3_600;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvmSwapRequest {
    /// The mirror's chain name (e.g. ethereum, bsc, local).
    pub chain: String,
    /// The pair (0x address), as mirrored.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub pool: String,
    /// The wallet that sends the transaction and receives the output.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub wallet: String,
    /// The token paid, one of the pair's two.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub token_in: String,
    /// Base units of `token_in`, a positive integer below 2^256, as a decimal string.
    #[schema(pattern = "^[1-9][0-9]{0,77}$")]
    pub amount_in: String,
    /// Slippage tolerance in basis points (default 50, at most 5000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5000)]
    pub slippage_bps: Option<u16>,
    /// Pay or receive the chain's native coin instead of its wrapped token, when that is one side.
    #[serde(default)]
    pub native: bool,
    /// Seconds after the latest block that the router accepts the swap (default 300, at most 3600).
    #[serde(default)]
    pub deadline_secs: Option<u64>,
}

/// An EVM transaction for the wallet to send.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvmTransaction {
    pub to: String,
    /// Calldata, 0x hex.
    pub data: String,
    /// Wei, a decimal string.
    pub value: String,
    /// The gas limit to send with: what `eth_estimateGas` measured from the wallet plus 30%
    /// (a decimal string), because the state can change before the block (a V2 pair's first
    /// swap in a new second also writes its price accumulators); absent when an approval must
    /// land first.
    pub gas: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvmSwapTransaction {
    pub chain: String,
    pub router: String,
    /// The swap itself.
    #[serde(flatten)]
    pub tx: EvmTransaction,
    /// The `approve` to send first when the router's allowance is short.
    pub approval: Option<EvmTransaction>,
    pub path: Vec<String>,
    pub amount_in: String,
    /// The router's exact quote for `amount_in` now.
    pub quoted_amount_out: String,
    /// The bound the router enforces: the quote less the slippage tolerance, rounded down.
    pub amount_out_min: String,
    /// Unix time after which the router refuses the swap.
    pub deadline: String,
    /// Whether the native coin is paid (`value`) or received instead of the wrapped token.
    pub native_in: bool,
    pub native_out: bool,
}

fn address(field: &str, v: &str) -> ApiResult<Address> {
    if v.len() != 42 || !v.starts_with("0x") {
        return Err(ApiError::invalid(field, "must be a 0x-prefixed 20-byte hex address"));
    }
    v.parse().map_err(|_| ApiError::invalid(field, "must be a 0x-prefixed 20-byte hex address"))
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("evm rpc: {e}"))
}

/// A revert from `eth_call` / `eth_estimateGas` as a simulation failure with its reason.
fn reverted(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::SimulationFailed { message: format!("{what}: {e}"), logs: vec![] }
}

/// Headroom over `eth_estimateGas`, in percent.
const GAS_HEADROOM_PCT: u64 = 30;

/// A gas limit for `tx` from `from` (the estimate plus [`GAS_HEADROOM_PCT`]), or the revert as
/// a 422.
async fn estimate(p: &DynProvider, from: Address, to: Address, data: &[u8], value: U256) -> ApiResult<u64> {
    let req = TransactionRequest::default().from(from).to(to).input(Bytes::copy_from_slice(data).into()).value(value);
    let gas = p.estimate_gas(req).await.map_err(|e| reverted("the transaction reverts", e))?;
    Ok(gas.saturating_add(gas.saturating_mul(GAS_HEADROOM_PCT) / 100))
}

/// Builds the router calldata for a swap on a mirrored EVM pair.
#[utoipa::path(post, path = "/api/v1/tx/evm/swap", tag = "wallets", request_body = EvmSwapRequest,
    responses((status = 200, body = EvmSwapTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn evm_swap(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EvmSwapRequest>,
) -> ApiResult<Json<EvmSwapTransaction>> {
    check_chain("chain", &req.chain)?;
    let pair = address("pool", &req.pool)?;
    let wallet = address("wallet", &req.wallet)?;
    let token_in = address("token_in", &req.token_in)?;
    let amount_in = U256::from_str_radix(&req.amount_in, 10)
        .ok()
        .filter(|a| !a.is_zero())
        .ok_or_else(|| ApiError::invalid("amount_in", "must be a positive integer below 2^256"))?;
    let slippage = super::slippage_bps(req.slippage_bps)?;
    let deadline_secs = req.deadline_secs.unwrap_or(300);
    if deadline_secs == 0 || deadline_secs > MAX_DEADLINE_SECS {
        return Err(ApiError::invalid("deadline_secs", format!("must be 1-{MAX_DEADLINE_SECS}")));
    }
    let mirrored = format!("{pair:#x}");
    let (venue, token_a, token_b) = state
        .direct
        .pool(&req.chain, &mirrored, |p| (p.venue.to_string(), p.token_a.to_string(), p.token_b.to_string()))?
        .ok_or_else(|| ApiError::NotFound("EVM pair".into()))?;
    let side =
        |t: &str| t.parse::<Address>().map_err(|_| ApiError::Unprocessable("malformed token in the mirror".into()));
    let (a, b) = (side(&token_a)?, side(&token_b)?);
    let token_out = match token_in {
        t if t == a => b,
        t if t == b => a,
        _ => return Err(ApiError::invalid("token_in", "is not one of the pair's tokens")),
    };
    let chain = state.evm.0.get(&req.chain);
    let url = chain
        .and_then(|c| c.rpc.as_deref())
        .ok_or_else(|| ApiError::Unavailable(format!("no EVM RPC is configured for {}", req.chain)))?;
    let router = chain.and_then(|c| c.routers.get(&venue).copied()).ok_or_else(|| {
        ApiError::Unprocessable(format!("no router is configured for venue {venue} on {}", req.chain))
    })?;
    let provider = crate::evm::provider(url).map_err(unavailable)?;
    let r = IUniswapV2Router02::new(router, &provider);
    let weth = r.WETH().call().await.map_err(unavailable)?;
    let native_in = req.native && token_in == weth;
    let native_out = req.native && token_out == weth;
    if req.native && !native_in && !native_out {
        return Err(ApiError::invalid("native", "neither side of the pair is the wrapped native token"));
    }
    let path = vec![token_in, token_out];
    let amounts = r.getAmountsOut(amount_in, path.clone()).call().await.map_err(|e| reverted("no quote", e))?;
    let quoted = amounts.last().copied().ok_or_else(|| ApiError::Unprocessable("the router gave no quote".into()))?;
    if quoted.is_zero() {
        return Err(ApiError::Unprocessable("the pair quotes nothing for this amount".into()));
    }
    let min_out = quoted * U256::from(10_000 - slippage) / U256::from(10_000u64);
    let latest = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("no latest block"))?;
    let deadline = U256::from(latest.header.timestamp + deadline_secs);
    let (data, value) = if native_in {
        let call = IUniswapV2Router02::swapExactETHForTokensSupportingFeeOnTransferTokensCall {
            amountOutMin: min_out,
            path: path.clone(),
            to: wallet,
            deadline,
        };
        (call.abi_encode(), amount_in)
    } else if native_out {
        let call = IUniswapV2Router02::swapExactTokensForETHSupportingFeeOnTransferTokensCall {
            amountIn: amount_in,
            amountOutMin: min_out,
            path: path.clone(),
            to: wallet,
            deadline,
        };
        (call.abi_encode(), U256::ZERO)
    } else {
        let call = IUniswapV2Router02::swapExactTokensForTokensSupportingFeeOnTransferTokensCall {
            amountIn: amount_in,
            amountOutMin: min_out,
            path: path.clone(),
            to: wallet,
            deadline,
        };
        (call.abi_encode(), U256::ZERO)
    };
    let approval = if native_in {
        None
    } else {
        let allowance =
            IERC20Allowance::new(token_in, &provider).allowance(wallet, router).call().await.map_err(unavailable)?;
        if allowance >= amount_in {
            None
        } else {
            let approve = IERC20Allowance::approveCall { spender: router, amount: amount_in }.abi_encode();
            let gas = estimate(&provider, wallet, token_in, &approve, U256::ZERO).await?;
            Some(EvmTransaction {
                to: format!("{token_in:#x}"),
                data: format!("0x{}", alloy::hex::encode(&approve)),
                value: "0".into(),
                gas: Some(gas.to_string()),
            })
        }
    };
    let gas = match approval {
        Some(_) => None,
        None => Some(estimate(&provider, wallet, router, &data, value).await?.to_string()),
    };
    Ok(Json(EvmSwapTransaction {
        chain: req.chain,
        router: format!("{router:#x}"),
        tx: EvmTransaction {
            to: format!("{router:#x}"),
            data: format!("0x{}", alloy::hex::encode(&data)),
            value: value.to_string(),
            gas,
        },
        approval,
        path: path.iter().map(|a| format!("{a:#x}")).collect(),
        amount_in: amount_in.to_string(),
        quoted_amount_out: quoted.to_string(),
        amount_out_min: min_out.to_string(),
        deadline: deadline.to_string(),
        native_in,
        native_out,
    }))
}
