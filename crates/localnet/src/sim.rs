//! Launches on the Solana localnet: classic SPL tokens paired with a quote mint in our AMM, the
//! way real launches look (supply spread or not, mint authority revoked or kept, LP burned or
//! kept, deep or thin quote liquidity). Used by the localnet launch simulator and the tests.

use amm::{
    client::{self, PoolAddresses},
    state::{AmmConfig, Pool},
};
use anchor_lang::solana_program::{instruction::Instruction, program_pack::Pack, system_instruction};
use anchor_spl::{associated_token, token::spl_token};
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signer},
    transaction::Transaction,
};

use super::{Chain, Localnet};

/// How a token is launched.
#[derive(Debug, Clone, Copy)]
pub struct SolLaunch {
    pub revoke_mint_authority: bool,
    pub freeze_authority: bool,
    pub burn_lp: bool,
    /// One holder gets half the supply instead of 40 holders.
    pub whale: bool,
    pub supply: u64,
    pub quote: u64,
}

impl SolLaunch {
    pub fn clean(quote: u64) -> Self {
        Self {
            revoke_mint_authority: true,
            freeze_authority: false,
            burn_lp: true,
            whale: false,
            supply: 1_000_000_000,
            quote,
        }
    }
}

/// A payer on the localnet that launches tokens.
pub struct Launcher<'a> {
    pub net: &'a Localnet,
    pub payer: &'a Keypair,
}

impl Launcher<'_> {
    pub fn me(&self) -> Pubkey {
        self.payer.pubkey()
    }

    pub fn send(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Result<(), String> {
        let mut chain = self.net.chain();
        let mut signers = vec![self.payer];
        signers.extend_from_slice(extra);
        let tx = Transaction::new_signed_with_payer(ixs, Some(&self.me()), &signers, chain.svm.latest_blockhash());
        chain.execute(tx.into(), false).map(|_| ()).map_err(|r| format!("{:?}", r.result))
    }

    /// A classic SPL mint (6 decimals) with the payer as mint authority.
    pub fn mint(&self, freeze: bool) -> Result<Pubkey, String> {
        let kp = Keypair::new();
        let key = kp.pubkey();
        let space = spl_token::state::Mint::LEN;
        let rent = self.net.chain().svm.minimum_balance_for_rent_exemption(space);
        let me = self.me();
        let ixs = [
            system_instruction::create_account(&me, &key, rent, space as u64, &spl_token::ID),
            spl_token::instruction::initialize_mint2(&spl_token::ID, &key, &me, freeze.then_some(&me), 6)
                .map_err(|e| e.to_string())?,
        ];
        self.send(&ixs, &[&kp])?;
        Ok(key)
    }

    /// Mints `amount` to `owner`'s associated account (created if needed); returns the account.
    pub fn mint_to(&self, mint: &Pubkey, owner: &Pubkey, amount: u64) -> Result<Pubkey, String> {
        let ata = associated_token::get_associated_token_address(owner, mint);
        let create =
            associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                &self.me(),
                owner,
                mint,
                &spl_token::ID,
            );
        let mint_to = spl_token::instruction::mint_to(&spl_token::ID, mint, &ata, &self.me(), &[], amount)
            .map_err(|e| e.to_string())?;
        self.send(&[create, mint_to], &[])?;
        Ok(ata)
    }

    /// `owner`'s balance of `mint` (0 without an account).
    pub fn balance(&self, owner: &Pubkey, mint: &Pubkey) -> u64 {
        let ata = associated_token::get_associated_token_address(owner, mint);
        self.net
            .chain()
            .svm
            .get_account(&ata)
            .and_then(|a| spl_token::state::Account::unpack(&a.data).ok())
            .map_or(0, |a| a.amount)
    }

    /// Another trader (the payer) swaps in `p`: buys `token` with `amount` of the other mint,
    /// or sells `amount` of `token`.
    pub fn swap(&self, p: &PoolAddresses, token: &Pubkey, buy: bool, amount: u64) -> Result<(), String> {
        self.send(&swap_instructions(p, &self.me(), token, buy, amount, 0), &[])
    }

    /// Creates AMM config 0 (fee 0.30%, no protocol share) if it does not exist yet.
    pub fn ensure_config(&self) -> Result<(), String> {
        if self.net.chain().svm.get_account(&client::config_address(0)).is_some() {
            return Ok(());
        }
        self.send(&[client::create_config(self.me(), 0, 30, 0)], &[])
    }

    /// Launches a token against `quote_mint` (paid from `quote_ata`); returns the pool.
    pub fn launch(
        &self,
        quote_mint: &Pubkey,
        quote_ata: &Pubkey,
        l: SolLaunch,
    ) -> Result<(Pubkey, PoolAddresses), String> {
        let me = self.me();
        let token = self.mint(l.freeze_authority)?;
        let mine = self.mint_to(&token, &me, l.supply)?;
        let holders: Vec<Pubkey> = (0..if l.whale { 1 } else { 40 }).map(|_| Pubkey::new_unique()).collect();
        let each = l.supply / 2 / holders.len() as u64;
        for chunk in holders.chunks(5) {
            let mut ixs = Vec::new();
            for h in chunk {
                let ata = associated_token::get_associated_token_address(h, &token);
                ixs.push(associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                    &me,
                    h,
                    &token,
                    &spl_token::ID,
                ));
                ixs.push(
                    spl_token::instruction::transfer(&spl_token::ID, &mine, &ata, &me, &[], each)
                        .map_err(|e| e.to_string())?,
                );
            }
            self.send(&ixs, &[])?;
        }
        if l.revoke_mint_authority {
            let ix = spl_token::instruction::set_authority(
                &spl_token::ID,
                &token,
                None,
                spl_token::instruction::AuthorityType::MintTokens,
                &me,
                &[],
            )
            .map_err(|e| e.to_string())?;
            self.send(&[ix], &[])?;
        }
        let (a, b) = client::sort_mints(token, *quote_mint).ok_or("identical mints")?;
        let p = PoolAddresses::derive(client::config_address(0), a, b);
        let in_pool = l.supply - each * holders.len() as u64;
        let (ata_a, ata_b, amount_a, amount_b) =
            if a == token { (mine, *quote_ata, in_pool, l.quote) } else { (*quote_ata, mine, l.quote, in_pool) };
        self.send(&[client::initialize_pool(me, &p, ata_a, ata_b, amount_a, amount_b, 0)], &[])?;
        if l.burn_lp {
            let lp = associated_token::get_associated_token_address(&me, &p.lp_mint);
            let balance = {
                let chain = self.net.chain();
                let acc = chain.svm.get_account(&lp).ok_or("no LP account")?;
                spl_token::state::Account::unpack(&acc.data).map_err(|e| e.to_string())?.amount
            };
            self.send(
                &[spl_token::instruction::burn(&spl_token::ID, &lp, &p.lp_mint, &me, &[], balance)
                    .map_err(|e| e.to_string())?],
                &[],
            )?;
        }
        Ok((token, p))
    }
}

/// What an ExactIn swap of `amount` in `p` delivers now (buying `token` with the other mint, or
/// selling `token`): the program's own math on the pool's reserves and its config's fees.
pub fn quote_out(chain: &Chain, p: &PoolAddresses, token: &Pubkey, buy: bool, amount: u64) -> Option<u64> {
    use anchor_lang::AccountDeserialize;
    let read = |k: &Pubkey| chain.svm.get_account(k).map(|a| a.data);
    let pool = Pool::try_deserialize(&mut read(&p.pool)?.as_slice()).ok()?;
    let config = AmmConfig::try_deserialize(&mut read(&p.config)?.as_slice()).ok()?;
    client::quote_exact_in(&pool, &config, token, buy, amount).ok().map(|(q, _)| q.amount_out)
}

/// The instructions of an ExactIn swap by `user` in `p`: buys `token` with `amount` of the other
/// mint, or sells `amount` of `token`; the output account is created if missing.
pub fn swap_instructions(
    p: &PoolAddresses,
    user: &Pubkey,
    token: &Pubkey,
    buy: bool,
    amount: u64,
    min_out: u64,
) -> Vec<Instruction> {
    let quote = if p.mint_a == *token { p.mint_b } else { p.mint_a };
    let (from, to) = if buy { (quote, *token) } else { (*token, quote) };
    let user_in = associated_token::get_associated_token_address(user, &from);
    let user_out = associated_token::get_associated_token_address(user, &to);
    vec![
        associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
            user,
            user,
            &to,
            &spl_token::ID,
        ),
        client::swap_exact_in(p, *user, from == p.mint_a, user_in, user_out, amount, min_out),
    ]
}
