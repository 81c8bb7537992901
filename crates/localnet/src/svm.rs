//! A LiteSVM instance hosting the AMM program natively, with the SPL programs LiteSVM ships and
//! three native Token-2022 transfer hooks (one allows, one blocks, one wants an extra account
//! derived from seeds).

use amm::client;
use anchor_lang::{prelude::Pubkey, solana_program::bpf_loader_upgradeable};
use litesvm::LiteSVM;
use solana_program_runtime::invoke_context::BuiltinFunctionWithContext;
use solana_sdk::account::Account;

use crate::native::{
    amm_processor, hook_allow, hook_block, hook_seeded, program_data_bytes, HOOK_ALLOW, HOOK_BLOCK, HOOK_SEEDED,
};

/// Installs solana-program-test's syscall stubs once. Native programs reach CPIs and sysvars
/// through them; a LiteSVM on the same agave line uses them unchanged.
async fn install_syscall_stubs() {
    static STUBS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    STUBS
        .get_or_init(|| async {
            let _ = solana_program_test::ProgramTest::default().start().await;
        })
        .await;
}

/// A fresh LiteSVM with the AMM registered as a native builtin and a ProgramData account that
/// names `upgrade_authority` (the only key allowed to create configs).
pub async fn new_svm(upgrade_authority: &Pubkey) -> LiteSVM {
    install_syscall_stubs().await;
    let mut svm = LiteSVM::new();
    let entrypoint: Option<BuiltinFunctionWithContext> = solana_program_test::processor!(amm_processor);
    svm.add_builtin(amm::ID, entrypoint.expect("builtin entrypoint"));
    // Token-2022 transfer hooks: one allows every transfer, one blocks every transfer, one wants
    // an extra account derived from seeds.
    let allow: Option<BuiltinFunctionWithContext> = solana_program_test::processor!(hook_allow);
    svm.add_builtin(HOOK_ALLOW, allow.expect("hook entrypoint"));
    let block: Option<BuiltinFunctionWithContext> = solana_program_test::processor!(hook_block);
    svm.add_builtin(HOOK_BLOCK, block.expect("hook entrypoint"));
    let seeded: Option<BuiltinFunctionWithContext> = solana_program_test::processor!(hook_seeded);
    svm.add_builtin(HOOK_SEEDED, seeded.expect("hook entrypoint"));
    svm.set_account(
        client::program_data_address(),
        Account {
            lamports: 1_000_000_000,
            data: program_data_bytes(upgrade_authority),
            owner: bpf_loader_upgradeable::ID,
            executable: false,
            rent_epoch: 0,
        },
    )
    .expect("program data account");
    svm
}
