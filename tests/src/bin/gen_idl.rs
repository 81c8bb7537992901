//! Regenerates `idl/amm.json` (`cargo run -p tests --bin gen-idl`), or with `--check` exits
//! non-zero when the committed IDL is stale.

fn main() -> anyhow::Result<()> {
    let fresh = tests::idl::generate()?;
    let path = tests::idl::committed_path();
    if std::env::args().any(|a| a == "--check") {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::ensure!(committed == fresh, "{} is stale: run `cargo run -p tests --bin gen-idl`", path.display());
        println!("{} is up to date", path.display());
    } else {
        std::fs::write(&path, fresh)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
