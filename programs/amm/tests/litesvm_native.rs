//! The AMM hosted natively inside LiteSVM (the engine under the Solana localnet), next to the
//! real SPL Token program LiteSVM ships: a CPI that silently did nothing would fail the balance
//! checks, and events arrive as inner instructions.

use amm::client::{self, AmmEvent, PoolAddresses};
use anchor_lang::solana_program::{program_pack::Pack, system_instruction};
use anchor_spl::{associated_token, token::spl_token};
use solana_sdk::{
    signature::{Keypair, Signer},
    transaction::Transaction,
};

#[tokio::test]
async fn amm_runs_natively_in_litesvm_with_real_spl_token() {
    let admin = Keypair::new();
    let mut svm = localnet::svm::new_svm(&admin.pubkey()).await;
    svm.airdrop(&admin.pubkey(), 100_000_000_000).unwrap();
    let send = |svm: &mut litesvm::LiteSVM,
                ixs: &[anchor_lang::solana_program::instruction::Instruction],
                signers: &[&Keypair]| {
        let tx = Transaction::new_signed_with_payer(ixs, Some(&admin.pubkey()), signers, svm.latest_blockhash());
        svm.send_transaction(tx).map_err(|e| format!("{:?}\n{}", e.err, e.meta.pretty_logs()))
    };

    send(&mut svm, &[client::create_config(admin.pubkey(), 0, 30, 0)], &[&admin]).unwrap();
    let mut mints = Vec::new();
    for _ in 0..2 {
        let mint = Keypair::new();
        let space = spl_token::state::Mint::LEN;
        let ixs = [
            system_instruction::create_account(
                &admin.pubkey(),
                &mint.pubkey(),
                svm.minimum_balance_for_rent_exemption(space),
                space as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &admin.pubkey(), None, 6).unwrap(),
        ];
        send(&mut svm, &ixs, &[&admin, &mint]).unwrap();
        mints.push(mint.pubkey());
    }
    let (mint_a, mint_b) = client::sort_mints(mints[0], mints[1]).unwrap();
    let p = PoolAddresses::derive(client::config_address(0), mint_a, mint_b);
    let mut atas = Vec::new();
    for mint in [mint_a, mint_b] {
        let ata = associated_token::get_associated_token_address(&admin.pubkey(), &mint);
        let ixs = [
            associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                &admin.pubkey(),
                &admin.pubkey(),
                &mint,
                &spl_token::ID,
            ),
            spl_token::instruction::mint_to(&spl_token::ID, &mint, &ata, &admin.pubkey(), &[], 10_000_000).unwrap(),
        ];
        send(&mut svm, &ixs, &[&admin]).unwrap();
        atas.push(ata);
    }
    let init = client::initialize_pool(admin.pubkey(), &p, atas[0], atas[1], 1_000_000, 4_000_000, 0);
    send(&mut svm, &[init], &[&admin]).unwrap();
    let balance = |svm: &litesvm::LiteSVM, a| {
        spl_token::state::Account::unpack(&svm.get_account(&a).unwrap().data).unwrap().amount
    };
    assert_eq!((balance(&svm, p.vault_a), balance(&svm, p.vault_b)), (1_000_000, 4_000_000));

    let swap = client::swap_exact_in(&p, admin.pubkey(), true, atas[0], atas[1], 10_000, 1);
    let meta = send(&mut svm, &[swap], &[&admin]).unwrap();
    let fees = amm::math::Fees { trade_fee_bps: 30, protocol_fee_share_bps: 0 };
    let out = amm::math::get_amount_out(10_000, 1_000_000, 4_000_000, fees).unwrap();
    assert_eq!(out, 39_486);
    assert_eq!(balance(&svm, p.vault_b), 4_000_000 - out);
    assert_eq!(balance(&svm, atas[1]), 6_000_000 + out);
    let events: Vec<AmmEvent> = meta
        .inner_instructions
        .iter()
        .flatten()
        .filter_map(|ix| client::decode_event_cpi(&ix.instruction.data))
        .collect();
    let [AmmEvent::Swapped(ev)] = events.as_slice() else { panic!("expected one Swapped event, got {events:?}") };
    assert_eq!((ev.amount_in, ev.amount_out, ev.after.reserve_b), (10_000, out, 4_000_000 - out));
}
