//! Typed config values: addresses, public keys and amounts are parsed once, when the config is
//! loaded, and every later use holds the type (never a string parsed again). Each is written
//! in the file as text (amounts as decimal strings, since TOML integers stop at 2^63), and a
//! value that does not parse is refused with the field named and one of these reasons.
//!
//! Use as `#[serde(with = "values::amount")]` (or `address`, `opt_address`, `pubkey`).

use std::{fmt::Display, str::FromStr};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

pub const AMOUNT: &str = "must be a whole number of base units, as a decimal string";
pub const ADDRESS: &str = "must be a 0x-prefixed 20-byte hex address";
pub const PUBKEY: &str = "must be a base58 public key";

fn text<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A whole amount in base units (`U256`). A TOML integer is accepted as well.
pub mod amount {
    use alloy::primitives::U256;

    use super::*;

    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        text(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| de::Error::custom(AMOUNT))? {
            Raw::Int(v) => Ok(U256::from(v)),
            Raw::Text(t) => parse(&t).ok_or_else(|| de::Error::custom(AMOUNT)),
        }
    }

    /// Decimal digits only (no sign, no `0x`, no separators).
    pub fn parse(t: &str) -> Option<U256> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        U256::from_str_radix(t, 10).ok()
    }
}

fn parsed<'de, T: FromStr, D: Deserializer<'de>>(d: D, reason: &'static str) -> Result<T, D::Error> {
    let t = String::deserialize(d).map_err(|_| de::Error::custom(reason))?;
    t.trim().parse().map_err(|_| de::Error::custom(reason))
}

/// A 20-byte EVM address.
pub mod address {
    use alloy::primitives::Address;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Address, s: S) -> Result<S::Ok, S::Error> {
        text(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let t = String::deserialize(d).map_err(|_| de::Error::custom(ADDRESS))?;
        if !t.starts_with("0x") {
            return Err(de::Error::custom(ADDRESS));
        }
        t.parse().map_err(|_| de::Error::custom(ADDRESS))
    }
}

/// An optional EVM address (absent when the key is left out).
pub mod opt_address {
    use alloy::primitives::Address;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => text(a, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
        super::address::deserialize(d).map(Some)
    }
}

/// A Solana public key, in base58.
pub mod pubkey {
    use anchor_lang::prelude::Pubkey;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Pubkey, s: S) -> Result<S::Ok, S::Error> {
        text(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pubkey, D::Error> {
        parsed(d, PUBKEY)
    }
}

/// A Solana public key as a list item (`Vec<Key>`), so that a bad entry is named by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key(#[serde(with = "pubkey")] pub anchor_lang::prelude::Pubkey);
