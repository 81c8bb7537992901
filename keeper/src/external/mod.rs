//! Typed clients for the third-party services the keeper uses, one module per service, on one
//! HTTP core ([`http`]): Jupiter (Solana quotes and swap transactions), DexScreener (token
//! profiles, pairs, search), CoinGecko (USD prices), 0x and 1inch (EVM swap quotes).
//!
//! Models follow each service's public documentation. Amounts are integers (token base units,
//! parsed from the decimal strings the services send); USD figures are [`Usd`] fixed-point
//! integers parsed from the exact JSON text, never through a float.

pub mod coingecko;
pub mod dexscreener;
pub mod http;
pub mod jupiter;
pub mod oneinch;
pub mod zeroex;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

pub use http::{ExternalError, Failure, Http, KeyStyle, Service, ServiceConfig, TtlCache};

/// `[external]`: every service is off until enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalConfig {
    pub jupiter: ServiceConfig,
    pub dexscreener: ServiceConfig,
    pub coingecko: ServiceConfig,
    pub zeroex: ServiceConfig,
    pub oneinch: ServiceConfig,
    /// Also discover pairs from DexScreener's newest token profiles (needs `dexscreener`).
    pub dexscreener_discovery: bool,
    pub dexscreener_poll_ms: u64,
    /// Markets of tokens whose pool is less than a day old are fetched again once older than
    /// this (their liquidity moves fast); 0: fetched once.
    #[serde(default = "default_dexscreener_refresh_secs")]
    pub dexscreener_refresh_secs: u64,
    /// Our chain names -> DexScreener chain ids.
    pub dexscreener_chains: BTreeMap<String, String>,
    /// Our chain names -> CoinGecko asset platform ids (for token prices by contract).
    pub coingecko_platforms: BTreeMap<String, String>,
    /// Programs a Jupiter swap transaction may invoke beyond the runtime's, the token programs
    /// and Jupiter's own (a transaction invoking any other is refused unsigned).
    #[serde(default)]
    pub jupiter_extra_programs: Vec<crate::config::values::Key>,
    /// Lamports a Jupiter swap may cost the wallet beyond its input (fees, new token accounts).
    #[serde(default = "default_jupiter_max_lamports")]
    pub jupiter_max_lamports: u64,
}

fn default_dexscreener_refresh_secs() -> u64 {
    300
}

fn default_jupiter_max_lamports() -> u64 {
    10_000_000
}

impl Default for ExternalConfig {
    fn default() -> Self {
        let chains = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Self {
            jupiter: ServiceConfig::new("https://lite-api.jup.ag/swap/v1", "JUPITER_API_KEY", 60),
            dexscreener: ServiceConfig::new("https://api.dexscreener.com", "", 60),
            coingecko: ServiceConfig::new("https://api.coingecko.com/api/v3", "COINGECKO_API_KEY", 30),
            zeroex: ServiceConfig::new("https://api.0x.org", "ZEROEX_API_KEY", 60),
            oneinch: ServiceConfig::new("https://api.1inch.dev", "ONEINCH_API_KEY", 60),
            dexscreener_discovery: false,
            dexscreener_poll_ms: 10_000,
            dexscreener_refresh_secs: default_dexscreener_refresh_secs(),
            dexscreener_chains: chains(&[
                ("ethereum", "ethereum"),
                ("bsc", "bsc"),
                ("polygon", "polygon"),
                ("solana", "solana"),
            ]),
            coingecko_platforms: chains(&[
                ("ethereum", "ethereum"),
                ("bsc", "binance-smart-chain"),
                ("polygon", "polygon-pos"),
                ("solana", "solana"),
            ]),
            jupiter_extra_programs: Vec::new(),
            jupiter_max_lamports: default_jupiter_max_lamports(),
        }
    }
}

impl ExternalConfig {
    pub fn services(&self) -> [(&'static str, &ServiceConfig); 5] {
        [
            ("jupiter", &self.jupiter),
            ("dexscreener", &self.dexscreener),
            ("coingecko", &self.coingecko),
            ("zeroex", &self.zeroex),
            ("oneinch", &self.oneinch),
        ]
    }

    /// What is wrong with it, as (field, reason).
    pub fn invalid_field(&self) -> Option<(String, String)> {
        for (name, s) in self.services() {
            if let Some(bad) = s.invalid_field(name) {
                return Some(bad);
            }
        }
        if self.dexscreener_discovery && !self.dexscreener.enabled {
            return Some(("external.dexscreener_discovery".into(), "needs external.dexscreener.enabled".into()));
        }
        if self.dexscreener_discovery && !(500..=3_600_000).contains(&self.dexscreener_poll_ms) {
            return Some(("external.dexscreener_poll_ms".into(), "must be between 500 and 3600000".into()));
        }
        None
    }
}

/// A USD amount as a fixed-point integer with 18 decimals (`Usd(1_500_000_000_000_000_000)` is
/// $1.50), parsed from the decimal text of a JSON number or string without a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Usd(pub i128);

impl Usd {
    pub const SCALE: i128 = 1_000_000_000_000_000_000;

    /// Parses `123`, `-0.5`, `1.23e-05`, `4E+3`; digits beyond 18 decimals are cut off.
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        // value = digits * 10^(exp - frac.len()); scaled by 10^18.
        let shift = exp.checked_add(18)?.checked_sub(i32::try_from(frac.len()).ok()?)?;
        let digits = int.bytes().chain(frac.bytes());
        let mut v: i128 = 0;
        let keep = if shift >= 0 {
            int.len() + frac.len()
        } else {
            (int.len() + frac.len()).saturating_sub(usize::try_from(-shift).ok()?)
        };
        for d in digits.take(keep) {
            v = v.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        if shift > 0 {
            v = v.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
        }
        Some(Self(if negative { -v } else { v }))
    }

    /// Whole cents, rounded down (for display).
    pub fn cents(self) -> i128 {
        self.0 / (Self::SCALE / 100)
    }

    /// `amount` base units of a token with `decimals` decimals at this unit price.
    pub fn value_of(self, amount: u128, decimals: u8) -> Option<Usd> {
        let amount = i128::try_from(amount).ok()?;
        let scale = 10i128.checked_pow(u32::from(decimals))?;
        // price * amount / 10^decimals, in 256-bit to avoid overflow.
        let p = alloy::primitives::I256::try_from(self.0).ok()?;
        let v = p.checked_mul(alloy::primitives::I256::try_from(amount).ok()?)?
            / alloy::primitives::I256::try_from(scale).ok()?;
        i128::try_from(v).ok().map(Usd)
    }
}

impl std::fmt::Display for Usd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let scale = Self::SCALE.unsigned_abs();
        let frac = format!("{:018}", abs % scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{sign}{}", abs / scale)
        } else {
            write!(f, "{sign}{}.{frac}", abs / scale)
        }
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<serde_json::value::RawValue> = Deserialize::deserialize(d)?;
        let text = raw.get();
        let text = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(serde::de::Error::custom)?
        } else {
            text.to_string()
        };
        Usd::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a decimal number: {text}")))
    }
}

/// An integer amount sent as a decimal string (`"1000000"`), as Jupiter, 0x and 1inch do.
pub(crate) mod amount_str {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: std::str::FromStr>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(D::Error::custom(format!("not a whole decimal amount: {s:?}")));
        }
        s.parse().map_err(|_| D::Error::custom(format!("amount out of range: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_parses_exact_decimal_text() {
        let e18 = Usd::SCALE;
        assert_eq!(Usd::parse("1.5"), Some(Usd(e18 + e18 / 2)));
        assert_eq!(Usd::parse("0.00001234"), Some(Usd(12_340_000_000_000)));
        assert_eq!(Usd::parse("1.234e-05"), Some(Usd(12_340_000_000_000)));
        assert_eq!(Usd::parse("4E+3"), Some(Usd(4_000 * e18)));
        assert_eq!(Usd::parse("-2.25"), Some(Usd(-2 * e18 - e18 / 4)));
        assert_eq!(Usd::parse("0.1234567890123456789"), Some(Usd(123_456_789_012_345_678)), "cut at 18 decimals");
        assert_eq!(Usd::parse("1e-30"), Some(Usd(0)));
        for bad in ["", ".", "abc", "1.2.3", "1e", "--1", "1e999"] {
            assert_eq!(Usd::parse(bad), None, "{bad}");
        }
        let v: Usd = serde_json::from_str("64123.45").unwrap();
        assert_eq!(v.to_string(), "64123.45");
        let v: Usd = serde_json::from_str("\"0.000000001\"").unwrap();
        assert_eq!(v.to_string(), "0.000000001");
        assert!(serde_json::from_str::<Usd>("\"n/a\"").is_err());
    }

    #[test]
    fn usd_values_token_amounts() {
        let price = Usd::parse("2500.5").unwrap();
        // 1.5 ETH at $2500.50.
        assert_eq!(price.value_of(1_500_000_000_000_000_000, 18), Usd::parse("3750.75"));
        assert_eq!(price.value_of(1, 18).unwrap().cents(), 0);
    }
}
