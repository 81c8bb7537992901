//! Fails when `idl/amm.json` no longer matches the program: clients and indexers build against
//! the committed IDL, so it must change together with the program.

#[test]
fn committed_idl_matches_the_program() {
    let fresh = test_utils::idl::generate().expect("IDL build");
    let path = test_utils::idl::committed_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh_json: serde_json::Value = serde_json::from_str(&fresh).expect("fresh IDL is JSON");
    assert_eq!(fresh_json["address"], amm::ID.to_string());
    assert_eq!(fresh_json["instructions"].as_array().map(Vec::len), Some(9), "nine instructions");
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `cargo run -p test-utils --bin gen-idl`",
        path.display()
    );
}
