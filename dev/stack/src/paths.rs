//! Where the stack finds the repository, its tools and the list of functions.

use std::path::{Path, PathBuf};

/// The repository root (this crate sits in `dev/stack/`).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// The local tools' virtual environment (`dev/tools.sh` makes it): moto, cargo-lambda.
pub fn venv() -> PathBuf {
    root().join(".venv/bin")
}

/// The Lambda functions, by name: one crate each under `functions/`, which is with
/// `template.yaml`'s `Functions` mapping the only place they are named (the workspace's
/// `functions/*` members; `shared/tests/template.rs` checks that both agree).
pub fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
