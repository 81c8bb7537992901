//! The sandbox's chain state on a real anvil: what one state read is remembered by the chain's
//! [`StateMemory`], and the next state fetches those slots in one concurrent batch, with the
//! values of its own block, never the earlier state's.

use alloy::{
    primitives::{Address, U256},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};
use keeper::{
    chains::evm::abi::IERC20,
    sandbox::{RpcState, Sandbox, StateMemory},
};
use localnet::evm::{e18, EvmEnv, TokenKind};

sol! {
    function transfer(address to, uint256 amount) external returns (bool);
}

/// `who`'s token balance in `sb`, by a view call.
fn balance(sb: &mut Sandbox, token: Address, who: Address) -> U256 {
    let out = sb.call(Address::ZERO, token, IERC20::balanceOfCall { owner: who }.abi_encode().into()).unwrap();
    assert!(out.success, "balanceOf reverted");
    IERC20::balanceOfCall::abi_decode_returns(&out.output).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_prefetches_the_slots_an_earlier_one_read_with_its_own_blocks_values() {
    let env = EvmEnv::start().await;
    let token = env.deploy_token(TokenKind::Standard, "mem", e18(1_000_000)).await;
    let holder = Address::repeat_byte(0x42);
    let memory = StateMemory::default();
    let rpc = env.provider.clone();
    let block = |rpc: alloy::providers::DynProvider| async move {
        use alloy::providers::Provider;
        rpc.get_block_number().await.unwrap()
    };

    // The first state reads the holder's balance (nothing yet) lazily, one slot at a time.
    let first = block(rpc.clone()).await;
    let (memory1, rpc1) = (memory.clone(), rpc.clone());
    let lazy = tokio::task::spawn_blocking(move || {
        let state = RpcState::new(rpc1, first, memory1);
        let mut sb = Sandbox::new(state.clone(), 31337, 0);
        let b = balance(&mut sb, token, holder);
        (b, state.reads())
    })
    .await
    .unwrap();
    assert_eq!(lazy.0, U256::ZERO);
    assert!(lazy.1 >= 3, "the account and at least one slot were read: {}", lazy.1);

    // The holder receives tokens on chain: a later block holds a different value in that slot.
    env.send(
        TransactionRequest::default().to(token).input(transferCall { to: holder, amount: e18(7) }.abi_encode().into()),
    )
    .await;
    let second = block(rpc.clone()).await;
    assert!(second > first);

    // The next state prefetches the token: the remembered slots come in one batch, and the view
    // call that follows needs no round trip of its own, and sees the new block's balance.
    let (memory2, rpc2) = (memory.clone(), rpc.clone());
    let (b, after_prefetch, after_call) = tokio::task::spawn_blocking(move || {
        let state = RpcState::new(rpc2, second, memory2);
        let mut sb = Sandbox::new(state.clone(), 31337, 0);
        sb.prefetch(&[token, Address::ZERO]).unwrap();
        let after_prefetch = state.reads();
        let b = balance(&mut sb, token, holder);
        (b, after_prefetch, state.reads())
    })
    .await
    .unwrap();
    assert_eq!(b, e18(7), "the value is the second block's, not the first state's");
    assert!(after_prefetch >= 3, "the learnt slots were fetched with the account: {after_prefetch}");
    assert_eq!(after_call, after_prefetch, "every slot the call needed was prefetched");

    // A state with a fresh memory knows nothing to prefetch: the call reads lazily again.
    let rpc3 = rpc.clone();
    let (after_prefetch, after_call) = tokio::task::spawn_blocking(move || {
        let state = RpcState::new(rpc3, second, StateMemory::default());
        let mut sb = Sandbox::new(state.clone(), 31337, 0);
        sb.prefetch(&[token, Address::ZERO]).unwrap();
        let after_prefetch = state.reads();
        assert_eq!(balance(&mut sb, token, holder), e18(7));
        (after_prefetch, state.reads())
    })
    .await
    .unwrap();
    assert!(after_call > after_prefetch, "without the memory the balance slot is read lazily");
}

/// A sandbox runs in the lane of the task that made it: urgent inside an urgent job (a pending
/// launch's report), background elsewhere, and it keeps that lane on a blocking thread and in
/// its forks. (That a background transaction waits while urgent work is in flight is
/// `sandbox::priority`'s own test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_keeps_the_lane_of_the_task_that_made_it() {
    use alloy::providers::Provider;
    use keeper::sandbox::priority::{urgently, Lane};

    let env = EvmEnv::start().await;
    let token = env.deploy_token(TokenKind::Standard, "lane", e18(1_000)).await;
    let rpc = env.provider.clone();
    let block = rpc.get_block_number().await.unwrap();
    let made = move |rpc: alloy::providers::DynProvider| {
        Sandbox::new(RpcState::new(rpc, block, StateMemory::default()), 31337, 0)
    };

    assert_eq!(made(rpc.clone()).lane(), Lane::Background);
    let urgent = urgently(async { made(rpc.clone()) }).await;
    assert_eq!(urgent.lane(), Lane::Urgent);
    let (lane, fork, balance_of_nobody) = urgently(async move {
        tokio::task::spawn_blocking(move || {
            let mut fork = urgent.fork();
            (urgent.lane(), fork.lane(), balance(&mut fork, token, Address::repeat_byte(0x42)))
        })
        .await
        .unwrap()
    })
    .await;
    assert_eq!((lane, fork), (Lane::Urgent, Lane::Urgent));
    assert_eq!(balance_of_nobody, U256::ZERO, "an urgent fork simulates while its own job is in flight");

    // Made on a blocking thread (no task's lane there), a sandbox is background unless told.
    let rpc2 = rpc.clone();
    let lanes = urgently(async move {
        tokio::task::spawn_blocking(move || {
            let sb = made(rpc2);
            (sb.lane(), sb.in_lane(Lane::Urgent).lane())
        })
        .await
        .unwrap()
    })
    .await;
    assert_eq!(lanes, (Lane::Background, Lane::Urgent));
}
