use anchor_lang::prelude::*;

/// Every way an AMM instruction can be refused. Codes are stable: indexers and clients match on them.
#[error_code]
#[derive(PartialEq, Eq)]
pub enum AmmError {
    #[msg("Arithmetic overflow or underflow")]
    MathOverflow,
    #[msg("Division by zero")]
    DivideByZero,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Trade fee exceeds the maximum allowed")]
    InvalidTradeFee,
    #[msg("Protocol fee share exceeds 100% of the trade fee")]
    InvalidProtocolFeeShare,
    #[msg("Pool status has unknown bits set")]
    InvalidStatus,
    #[msg("The two mints are identical")]
    IdenticalMints,
    #[msg("Mints must be passed in canonical order (mint_a < mint_b)")]
    MintsNotSorted,
    #[msg("Only classic SPL Token mints are supported; Token-2022 mints are rejected")]
    UnsupportedTokenProgram,
    #[msg("Initial liquidity is below the permanently locked minimum")]
    InsufficientInitialLiquidity,
    #[msg("The pool has no liquidity")]
    EmptyPool,
    #[msg("Vault does not belong to this pool")]
    InvalidVault,
    #[msg("LP mint does not belong to this pool")]
    InvalidLpMint,
    #[msg("Config does not belong to this pool")]
    InvalidConfig,
    #[msg("Token account mint does not match the vault")]
    InvalidTokenMint,
    #[msg("Signer is not the config admin")]
    Unauthorized,
    #[msg("Swaps are disabled for this pool")]
    SwapDisabled,
    #[msg("Deposits are disabled for this pool")]
    DepositDisabled,
    #[msg("Withdrawals are disabled for this pool")]
    WithdrawDisabled,
    #[msg("The pool is not open for trading yet")]
    PoolNotOpen,
    #[msg("Slippage tolerance exceeded")]
    SlippageExceeded,
    #[msg("Requested output is not less than the output reserve")]
    InsufficientReserve,
    #[msg("The constant product k decreased")]
    InvariantViolated,
    #[msg("Operation would move zero tokens")]
    ZeroTradingTokens,
    #[msg("Not enough LP tokens")]
    InsufficientLpTokens,
}
