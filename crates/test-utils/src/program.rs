//! The AMM program under solana-program-test, next to the real SPL Token, Token-2022 and
//! Associated Token programs (SBF binaries shipped with solana-program-test), with helpers for
//! tokens, users, transactions and events.

use amm::client::{self, AmmEvent, PoolAddresses, UserAccounts};
use anchor_lang::{
    prelude::{Clock, Pubkey},
    solana_program::{bpf_loader_upgradeable, instruction::Instruction, program_pack::Pack, system_instruction},
    AccountDeserialize,
};
use anchor_spl::{associated_token, token::spl_token, token_2022::spl_token_2022};
use localnet::native::{amm_processor, program_data_bytes};
use solana_program_test::{processor, BanksClientError, ProgramTest, ProgramTestContext};
use solana_sdk::{
    account::{Account, AccountSharedData},
    signature::{Keypair, Signer},
    transaction::{Transaction, TransactionError},
};

/// `ComputeBudgetInstruction::SetComputeUnitLimit(units)`.
fn compute_unit_limit(units: u32) -> Instruction {
    let mut data = vec![2u8];
    data.extend_from_slice(&units.to_le_bytes());
    Instruction {
        program_id: "ComputeBudget111111111111111111111111111111".parse().unwrap_or_default(),
        accounts: vec![],
        data,
    }
}

/// What a committed transaction did.
#[derive(Debug, Clone)]
pub struct Executed {
    pub events: Vec<AmmEvent>,
    pub logs: Vec<String>,
}

/// A user with token accounts for one pool.
pub struct User {
    pub keypair: Keypair,
    pub accounts: UserAccounts,
}

impl User {
    pub fn pubkey(&self) -> Pubkey {
        self.keypair.pubkey()
    }
}

/// A solana-program-test bank hosting the AMM natively and the real SPL programs.
pub struct TestEnv {
    pub ctx: ProgramTestContext,
    /// The program's upgrade authority (allowed to create configs).
    pub upgrade_authority: Keypair,
    nonce: u32,
}

impl TestEnv {
    pub async fn start() -> Self {
        let upgrade_authority = Keypair::new();
        let mut pt = ProgramTest::new("amm", amm::ID, processor!(amm_processor));
        pt.prefer_bpf(false);
        pt.add_account(
            client::program_data_address(),
            Account {
                lamports: 1_000_000_000,
                data: program_data_bytes(&upgrade_authority.pubkey()),
                owner: bpf_loader_upgradeable::ID,
                executable: false,
                rent_epoch: 0,
            },
        );
        let ctx = pt.start_with_context().await;
        let mut env = Self { ctx, upgrade_authority, nonce: 0 };
        let (admin, payer) = (env.upgrade_authority.pubkey(), env.payer());
        env.execute(&[system_instruction::transfer(&payer, &admin, 10_000_000_000)], &[])
            .await
            .expect("fund upgrade authority");
        env
    }

    pub fn payer(&self) -> Pubkey {
        self.ctx.payer.pubkey()
    }

    fn build_tx(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        blockhash: solana_sdk::hash::Hash,
    ) -> Transaction {
        // A distinct compute-unit limit per transaction keeps otherwise identical transactions
        // (same instruction, same blockhash) from being rejected as duplicates.
        self.nonce = self.nonce.wrapping_add(1);
        let mut all = vec![compute_unit_limit(1_400_000 - (self.nonce % 100_000))];
        all.extend_from_slice(ixs);
        let mut keys: Vec<&Keypair> = vec![&self.ctx.payer];
        for s in signers {
            if s.pubkey() != self.ctx.payer.pubkey() {
                keys.push(s);
            }
        }
        Transaction::new_signed_with_payer(&all, Some(&self.ctx.payer.pubkey()), &keys, blockhash)
    }

    /// Simulates then commits a transaction paid by the test payer. On success returns the AMM
    /// events decoded from the `emit_cpi!` inner instructions; on failure the transaction error
    /// (after checking that committing fails the same way).
    pub async fn execute(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Result<Executed, TransactionError> {
        let blockhash = self.ctx.banks_client.get_latest_blockhash().await.expect("blockhash");
        let tx = self.build_tx(ixs, signers, blockhash);
        let keys = tx.message.account_keys.clone();
        let sim = self.ctx.banks_client.simulate_transaction(tx.clone()).await.expect("simulate");
        let details = sim.simulation_details.expect("simulation details");
        let sim_result = sim.result.expect("simulation result");
        let committed = match self.ctx.banks_client.process_transaction(tx).await {
            Ok(()) => Ok(()),
            Err(BanksClientError::TransactionError(e)) => Err(e),
            Err(BanksClientError::SimulationError { err, .. }) => Err(err),
            Err(other) => panic!("banks client: {other}"),
        };
        assert_eq!(sim_result, committed, "simulation and execution disagree");
        committed?;
        let mut events = Vec::new();
        for inner in details.inner_instructions.unwrap_or_default().iter().flatten() {
            if keys[inner.instruction.program_id_index as usize] == amm::ID {
                if let Some(e) = client::decode_event_cpi(&inner.instruction.data) {
                    events.push(e);
                }
            }
        }
        Ok(Executed { events, logs: details.logs })
    }

    /// Like [`execute`](Self::execute) but panics on failure.
    pub async fn ok(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Executed {
        match self.execute(ixs, signers).await {
            Ok(e) => e,
            Err(e) => panic!("transaction failed: {e:?}"),
        }
    }

    pub async fn account(&mut self, address: Pubkey) -> Option<Account> {
        self.ctx.banks_client.get_account(address).await.expect("get_account")
    }

    pub async fn anchor_account<T: AccountDeserialize>(&mut self, address: Pubkey) -> T {
        let acc = self.account(address).await.expect("account exists");
        T::try_deserialize(&mut acc.data.as_slice()).expect("deserialize")
    }

    pub async fn pool(&mut self, address: Pubkey) -> amm::Pool {
        self.anchor_account(address).await
    }

    /// Token balance of an SPL token account (0 if it does not exist).
    pub async fn balance(&mut self, token_account: Pubkey) -> u64 {
        match self.account(token_account).await {
            Some(a) => spl_token::state::Account::unpack(&a.data).expect("token account").amount,
            None => 0,
        }
    }

    pub async fn mint_supply(&mut self, mint: Pubkey) -> u64 {
        let a = self.account(mint).await.expect("mint exists");
        spl_token::state::Mint::unpack(&a.data).expect("mint").supply
    }

    /// Raw copies of accounts, to assert that a refused transaction changed nothing.
    pub async fn snapshot(&mut self, addresses: &[Pubkey]) -> Vec<Option<Account>> {
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(self.account(*a).await);
        }
        out
    }

    pub fn set_account(&mut self, address: Pubkey, account: Account) {
        self.ctx.set_account(&address, &AccountSharedData::from(account));
    }

    pub async fn clock(&mut self) -> Clock {
        self.ctx.banks_client.get_sysvar::<Clock>().await.expect("clock")
    }

    /// Moves the cluster's unix time to `unix_timestamp` (and the slot forward so new blockhashes appear).
    pub async fn set_time(&mut self, unix_timestamp: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp = unix_timestamp;
        self.ctx.set_sysvar(&clock);
    }

    pub async fn advance_time(&mut self, seconds: i64) -> i64 {
        let now = self.clock().await.unix_timestamp + seconds;
        self.set_time(now).await;
        now
    }

    fn rent(space: usize) -> u64 {
        anchor_lang::prelude::Rent::default().minimum_balance(space)
    }

    pub async fn create_mint_with(&mut self, program: Pubkey, decimals: u8, freeze: Option<&Pubkey>) -> Pubkey {
        let mint = Keypair::new();
        let payer = self.payer();
        let init = if program == spl_token_2022::ID {
            spl_token_2022::instruction::initialize_mint2(&program, &mint.pubkey(), &payer, freeze, decimals)
        } else {
            spl_token::instruction::initialize_mint2(&program, &mint.pubkey(), &payer, freeze, decimals)
        }
        .expect("initialize_mint2");
        let space = spl_token::state::Mint::LEN;
        let ixs = [
            system_instruction::create_account(&payer, &mint.pubkey(), Self::rent(space), space as u64, &program),
            init,
        ];
        self.ok(&ixs, &[&mint]).await;
        mint.pubkey()
    }

    /// A classic SPL Token mint whose mint authority is the test payer.
    pub async fn create_mint(&mut self, decimals: u8) -> Pubkey {
        self.create_mint_with(spl_token::ID, decimals, None).await
    }

    /// Two fresh classic mints in canonical order.
    pub async fn create_sorted_mints(&mut self) -> (Pubkey, Pubkey) {
        let x = self.create_mint(6).await;
        let y = self.create_mint(9).await;
        client::sort_mints(x, y).expect("distinct mints")
    }

    /// A (non-associated) token account of `mint` owned by `owner`.
    pub async fn create_token_account(&mut self, mint: Pubkey, owner: Pubkey) -> Pubkey {
        let acc = Keypair::new();
        let payer = self.payer();
        let space = spl_token::state::Account::LEN;
        let ixs = [
            system_instruction::create_account(&payer, &acc.pubkey(), Self::rent(space), space as u64, &spl_token::ID),
            spl_token::instruction::initialize_account3(&spl_token::ID, &acc.pubkey(), &mint, &owner)
                .expect("init account"),
        ];
        self.ok(&ixs, &[&acc]).await;
        acc.pubkey()
    }

    pub async fn create_ata(&mut self, mint: Pubkey, owner: Pubkey) -> Pubkey {
        let payer = self.payer();
        let ix =
            associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                &payer,
                &owner,
                &mint,
                &spl_token::ID,
            );
        self.ok(&[ix], &[]).await;
        associated_token::get_associated_token_address(&owner, &mint)
    }

    /// Mints `amount` of a mint whose authority is the test payer.
    pub async fn mint_to(&mut self, mint: Pubkey, to: Pubkey, amount: u64) {
        let payer = self.payer();
        let ix = spl_token::instruction::mint_to(&spl_token::ID, &mint, &to, &payer, &[], amount).expect("mint_to");
        self.ok(&[ix], &[]).await;
    }

    /// Plain SPL transfer between token accounts (e.g. a donation straight into a vault).
    pub async fn transfer(&mut self, from: Pubkey, to: Pubkey, owner: &Keypair, amount: u64) {
        let ix = spl_token::instruction::transfer(&spl_token::ID, &from, &to, &owner.pubkey(), &[], amount)
            .expect("transfer");
        self.ok(&[ix], &[owner]).await;
    }

    /// Creates config `index` signed by the upgrade authority.
    pub async fn create_config(&mut self, index: u16, trade_fee_bps: u16, protocol_fee_share_bps: u16) -> Pubkey {
        let admin = self.upgrade_authority.insecure_clone();
        self.ok(&[client::create_config(admin.pubkey(), index, trade_fee_bps, protocol_fee_share_bps)], &[&admin])
            .await;
        client::config_address(index)
    }

    /// A funded user holding `amount_a` / `amount_b` of the pool's tokens and an LP account.
    pub async fn new_user(&mut self, p: &PoolAddresses, amount_a: u64, amount_b: u64) -> User {
        let keypair = Keypair::new();
        let owner = keypair.pubkey();
        let payer = self.payer();
        self.ok(&[system_instruction::transfer(&payer, &owner, 1_000_000_000)], &[]).await;
        let token_a = self.create_ata(p.mint_a, owner).await;
        let token_b = self.create_ata(p.mint_b, owner).await;
        if amount_a > 0 {
            self.mint_to(p.mint_a, token_a, amount_a).await;
        }
        if amount_b > 0 {
            self.mint_to(p.mint_b, token_b, amount_b).await;
        }
        let lp = associated_token::get_associated_token_address(&owner, &p.lp_mint);
        User { keypair, accounts: UserAccounts { owner, token_a, token_b, lp } }
    }

    /// Creates the LP associated token account of a user (after the pool exists).
    pub async fn open_lp_account(&mut self, p: &PoolAddresses, user: &User) {
        self.create_ata(p.lp_mint, user.pubkey()).await;
    }

    /// Creates a pool funded by a new creator; returns its addresses and the creator (who holds LP).
    pub async fn create_pool(
        &mut self,
        config: Pubkey,
        amount_a: u64,
        amount_b: u64,
        open_time: i64,
    ) -> (PoolAddresses, User) {
        let (mint_a, mint_b) = self.create_sorted_mints().await;
        let p = PoolAddresses::derive(config, mint_a, mint_b);
        let creator = self.new_user(&p, amount_a, amount_b).await;
        let ix = client::initialize_pool(
            creator.pubkey(),
            &p,
            creator.accounts.token_a,
            creator.accounts.token_b,
            amount_a,
            amount_b,
            open_time,
        );
        self.ok(&[ix], &[&creator.keypair]).await;
        (p, creator)
    }
}

/// The custom error code a program error maps to.
pub fn amm_error_code(e: amm::AmmError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

/// The custom error code inside a failed transaction, if it has one.
pub fn custom_error(err: &TransactionError) -> Option<u32> {
    match err {
        TransactionError::InstructionError(_, solana_sdk::instruction::InstructionError::Custom(code)) => Some(*code),
        _ => None,
    }
}

/// A ready pool: config 0 (30 bps, 20% protocol share), a pool seeded 1_000_000 A / 4_000_000 B,
/// and two traders holding plenty of both tokens and an LP account.
pub struct Fixture {
    pub env: TestEnv,
    pub config: Pubkey,
    pub pool: PoolAddresses,
    pub creator: User,
    pub alice: User,
    pub bob: User,
}

pub const FIXTURE_A: u64 = 1_000_000;
pub const FIXTURE_B: u64 = 4_000_000;
pub const FIXTURE_USER_BALANCE: u64 = 1_000_000_000;

impl Fixture {
    pub async fn new() -> Self {
        let mut env = TestEnv::start().await;
        let config = env.create_config(0, 30, 2_000).await;
        let (pool, creator) = env.create_pool(config, FIXTURE_A, FIXTURE_B, 0).await;
        let alice = env.new_user(&pool, FIXTURE_USER_BALANCE, FIXTURE_USER_BALANCE).await;
        env.open_lp_account(&pool, &alice).await;
        let bob = env.new_user(&pool, FIXTURE_USER_BALANCE, FIXTURE_USER_BALANCE).await;
        env.open_lp_account(&pool, &bob).await;
        Self { env, config, pool, creator, alice, bob }
    }

    /// Every account a pool instruction could touch, for before/after comparisons.
    pub fn watched(&self) -> Vec<Pubkey> {
        let p = &self.pool;
        let mut v = vec![self.config, p.pool, p.vault_a, p.vault_b, p.lp_mint];
        for u in [&self.creator, &self.alice, &self.bob] {
            v.extend([u.accounts.token_a, u.accounts.token_b, u.accounts.lp]);
        }
        v
    }
}
