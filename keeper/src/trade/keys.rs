//! Trading keys: from a file named in the config or from an environment variable, never from the
//! config file itself or a flag. Errors name where the key was looked for, never its contents;
//! the key types here print as `<redacted>`.

use std::{fmt, path::Path};

use alloy::signers::local::PrivateKeySigner;
use solana_sdk::signature::Keypair;

/// Environment variables holding the keys (the config loader ignores them).
pub const EVM_KEY_ENV: &str = "KEEPER_EVM_KEY";
pub const SOLANA_KEY_ENV: &str = "KEEPER_SOLANA_KEY";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("`{field}`: live trading needs a key: set {field} to a key file or the {env} environment variable")]
    Missing { field: &'static str, env: &'static str },
    #[error(
        "`{field}`: this channel needs its secret: set {field} to a file holding it, or the {env} environment variable"
    )]
    MissingSecret { field: &'static str, env: &'static str },
    #[error("`{field}`: cannot read the key file {path}: {reason}")]
    Unreadable { field: &'static str, path: String, reason: String },
    #[error("`{field}`: the key in {source_name} is not {expected}")]
    Malformed { field: &'static str, source_name: String, expected: &'static str },
}

pub struct EvmKey(pub PrivateKeySigner);
pub struct SolanaKey(pub Keypair);

impl fmt::Debug for EvmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvmKey({}, <redacted>)", self.0.address())
    }
}

impl fmt::Debug for SolanaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use solana_sdk::signer::Signer;
        write!(f, "SolanaKey({}, <redacted>)", self.0.pubkey())
    }
}

/// The secret text from `file` (when set) or `env`; `None` when neither is set.
pub fn secret(
    field: &'static str,
    file: &str,
    env: &'static str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, KeyError> {
    if !file.is_empty() {
        let text = std::fs::read_to_string(Path::new(file)).map_err(|e| KeyError::Unreadable {
            field,
            path: file.to_string(),
            reason: e.kind().to_string(),
        })?;
        return Ok(Some((text.trim().to_string(), file.to_string())));
    }
    Ok(vars(env).filter(|v| !v.trim().is_empty()).map(|v| (v.trim().to_string(), env.to_string())))
}

/// The EVM key: 32 bytes of hex, with or without 0x.
pub fn evm_key(file: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Option<EvmKey>, KeyError> {
    const FIELD: &str = "trading.evm_key_file";
    let Some((text, source_name)) = secret(FIELD, file, EVM_KEY_ENV, vars)? else { return Ok(None) };
    let hex = text.strip_prefix("0x").unwrap_or(&text);
    hex.parse::<PrivateKeySigner>().map(|k| Some(EvmKey(k))).map_err(|_| KeyError::Malformed {
        field: FIELD,
        source_name,
        expected: "a 32-byte hex private key",
    })
}

/// The Solana key: a solana-keygen JSON array of 64 bytes, or its base58 form.
pub fn solana_key(file: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Option<SolanaKey>, KeyError> {
    const FIELD: &str = "trading.solana_key_file";
    let Some((text, source_name)) = secret(FIELD, file, SOLANA_KEY_ENV, vars)? else { return Ok(None) };
    let bytes: Option<Vec<u8>> =
        if text.starts_with('[') { serde_json::from_str(&text).ok() } else { bs58::decode(&text).into_vec().ok() };
    bytes
        .filter(|b| b.len() == 64)
        .and_then(|b| Keypair::try_from(b.as_slice()).ok())
        .map(|k| Some(SolanaKey(k)))
        .ok_or(KeyError::Malformed { field: FIELD, source_name, expected: "a 64-byte keypair (JSON array or base58)" })
}

/// Reads the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn keys_come_from_files_or_the_environment_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        assert!(evm_key("", &none).unwrap().is_none());
        let env = |n: &str| (n == EVM_KEY_ENV).then(|| HEX.to_string());
        let k = evm_key("", &env).unwrap().unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains("redacted") && !shown.contains("ac0974bec"), "{shown}");
        let path = dir.path().join("evm.key");
        std::fs::write(&path, format!("{}\n", &HEX[2..])).unwrap();
        assert_eq!(evm_key(path.to_str().unwrap(), &none).unwrap().unwrap().0.address(), k.0.address());

        let kp = Keypair::new();
        let json = serde_json::to_string(&kp.to_bytes().to_vec()).unwrap();
        let path = dir.path().join("id.json");
        std::fs::write(&path, &json).unwrap();
        let loaded = solana_key(path.to_str().unwrap(), &none).unwrap().unwrap();
        assert_eq!(loaded.0.to_bytes(), kp.to_bytes());
        assert!(!format!("{loaded:?}").contains(&json));
        let b58 = |n: &str| (n == SOLANA_KEY_ENV).then(|| kp.to_base58_string());
        assert_eq!(solana_key("", &b58).unwrap().unwrap().0.to_bytes(), kp.to_bytes());
    }

    #[test]
    fn bad_keys_are_named_without_echoing_them() {
        let none = |_: &str| None;
        let err = evm_key("/nonexistent/key", &none).unwrap_err();
        assert!(err.to_string().contains("trading.evm_key_file"), "{err}");
        let env = |_: &str| Some("0xnot-a-key-SECRET".to_string());
        let err = evm_key("", &env).unwrap_err();
        assert!(err.to_string().contains(EVM_KEY_ENV) && !err.to_string().contains("SECRET"), "{err}");
        let err = solana_key("", &env).unwrap_err();
        assert!(err.to_string().contains("trading.solana_key_file"), "{err}");
    }
}
