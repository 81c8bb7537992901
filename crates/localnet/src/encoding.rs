//! How accounts are encoded in RPC answers and websocket notifications alike.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use solana_account_decoder_client_types::{UiAccount, UiAccountData, UiAccountEncoding};
use solana_sdk::account::Account;

/// An account as validators answer it: base58 when asked, base64 otherwise.
pub(crate) fn ui_account(account: &Account, encoding: Option<UiAccountEncoding>) -> UiAccount {
    let data = match encoding {
        Some(UiAccountEncoding::Base58) => {
            UiAccountData::Binary(bs58::encode(&account.data).into_string(), UiAccountEncoding::Base58)
        }
        // base64+zstd, jsonParsed and the default are all answered in plain base64, which every
        // client decodes (the encoding is named in the response).
        _ => UiAccountData::Binary(B64.encode(&account.data), UiAccountEncoding::Base64),
    };
    UiAccount {
        lamports: account.lamports,
        data,
        owner: account.owner.to_string(),
        executable: account.executable,
        rent_epoch: account.rent_epoch,
        space: Some(account.data.len() as u64),
    }
}
