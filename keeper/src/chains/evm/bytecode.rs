//! What raw EVM bytes say: the selectors and addresses a contract's code pushes, revert data,
//! and the well-known slots and addresses the risk engine recognises.

use alloy::primitives::{keccak256, Address, B256};

/// The 4-byte selector of a function signature, e.g. `transfer(address,uint256)`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// `bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)`.
pub const EIP1967_IMPLEMENTATION_SLOT: B256 =
    alloy::primitives::b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// The 4-byte selectors pushed by `PUSH4` in runtime code (the dispatcher's table), skipping
/// push data so constants are not misread as opcodes.
pub fn pushed_selectors(code: &[u8]) -> std::collections::HashSet<[u8; 4]> {
    let mut out = std::collections::HashSet::new();
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if (0x60..=0x7f).contains(&op) {
            let n = usize::from(op - 0x5f);
            if op == 0x63 && i + 4 < code.len() {
                out.insert([code[i + 1], code[i + 2], code[i + 3], code[i + 4]]);
            }
            i += n;
        }
        i += 1;
    }
    out
}

/// The PUSH20 constants of `code` (addresses hard-coded in the bytecode).
pub fn pushed_addresses(code: &[u8]) -> Vec<Address> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if (0x60..=0x7f).contains(&op) {
            let n = usize::from(op - 0x5f);
            if op == 0x73 && i + 20 < code.len() {
                let a = Address::from_slice(&code[i + 1..i + 21]);
                // Masks (0xff…ff) and small constants are not addresses.
                if a != Address::repeat_byte(0xff) && a.0[..4] != [0u8; 4] && !out.contains(&a) {
                    out.push(a);
                }
            }
            i += n;
        }
        i += 1;
    }
    out
}

/// A readable revert reason from ABI-encoded `Error(string)` data, else hex.
pub fn revert_reason(data: &[u8]) -> String {
    if let Ok(r) = <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(data) {
        // The token's own text: untrusted. Control characters escaped, length bounded.
        return r.reason.chars().take(160).flat_map(char::escape_debug).collect();
    }
    if data.is_empty() {
        "reverted without a reason".into()
    } else {
        format!("0x{}", alloy::primitives::hex::encode(data))
    }
}

/// Addresses nobody controls: the zero address and the conventional `0x…dEaD`.
pub fn is_burn_address(a: Address) -> bool {
    a == Address::ZERO || a == DEAD
}

pub const DEAD: Address = alloy::primitives::address!("0x000000000000000000000000000000000000dEaD");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_coded_addresses_skip_masks_and_push_data() {
        let a = Address::repeat_byte(0x42);
        let mut code = vec![0x73];
        code.extend_from_slice(a.as_slice());
        code.push(0x73);
        code.extend_from_slice(Address::repeat_byte(0xff).as_slice());
        code.push(0x7f);
        let mut data = [0u8; 32];
        data[0] = 0x73;
        data[1..21].copy_from_slice(Address::repeat_byte(0x17).as_slice());
        code.extend_from_slice(&data);
        code.push(0x00);
        assert_eq!(pushed_addresses(&code), vec![a]);
    }

    #[test]
    fn revert_reasons_decode() {
        let data = alloy::sol_types::SolError::abi_encode(&alloy::sol_types::Revert::from("TRANSFER_FORBIDDEN"));
        assert_eq!(revert_reason(&data), "TRANSFER_FORBIDDEN");
        assert_eq!(revert_reason(&[]), "reverted without a reason");
        let hostile = alloy::sol_types::SolError::abi_encode(&alloy::sol_types::Revert::from("a\nb\u{1b}[31m"));
        assert_eq!(revert_reason(&hostile), "a\\nb\\u{1b}[31m", "control characters are escaped");
        assert_eq!(revert_reason(&[0xde, 0xad]), "0xdead");
    }
}
