//! The program's Anchor IDL, generated without the Anchor CLI: `anchor-lang-idl` runs the
//! program's `idl-build` test, which prints the IDL.

use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the committed IDL lives.
pub fn committed_path() -> PathBuf {
    workspace_root().join("idl").join("amm.json")
}

/// Builds the IDL and returns it as pretty JSON with a trailing newline.
///
/// The nested build forces `RUSTFLAGS=-A warnings`, so it gets its own target directory
/// (`$CARGO_TARGET_DIR/idl-build`) instead of invalidating the shared one.
pub fn generate() -> anyhow::Result<String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("idl-build");
    // anchor-lang-idl 0.1.4 passes a literal "+{toolchain}" to cargo when RUSTUP_TOOLCHAIN is
    // set (rustup sets it for child processes); rust-toolchain.toml pins the toolchain anyway.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    let idl = anchor_lang_idl::build::IdlBuilder::new()
        .program_path(std::fs::canonicalize(workspace_root().join("programs").join("amm"))?)
        .cargo_args(vec!["--lib".into(), "--target-dir".into(), target.to_string_lossy().into_owned()])
        .build()?;
    Ok(serde_json::to_string_pretty(&idl)? + "\n")
}
