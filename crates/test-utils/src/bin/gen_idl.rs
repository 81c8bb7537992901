//! Regenerates `idl/amm.json` (`cargo run -p test-utils --bin gen-idl`), or with `--check` exits
//! non-zero when the committed IDL is stale.

fn main() -> anyhow::Result<()> {
    let fresh = test_utils::idl::generate()?;
    let path = test_utils::idl::committed_path();
    if std::env::args().any(|a| a == "--check") {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::ensure!(committed == fresh, "{} is stale: run `cargo run -p test-utils --bin gen-idl`", path.display());
        println!("{} is up to date", path.display());
    } else {
        std::fs::write(&path, fresh)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
