//! The checksum manifests of the folders commands write and read (encoded vectors, index
//! folders): a writer removes a stale manifest before it writes and seals the folder after,
//! a reader verifies before it trusts a byte ([`mmlsr_core::verify_manifest`]). Model and
//! checkpoint directories and generated data folders are sealed and verified by the library
//! crates themselves.

use std::path::Path;

use anyhow::Context;
use mmlsr_core::{Integrity, MANIFEST};

/// Remove `dir`'s manifest before its files are rewritten, so that an interrupted write is not
/// vouched for by the old one.
pub fn unseal(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(MANIFEST);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Write `dir`'s manifest over the files it now holds.
pub fn seal(dir: &Path) -> anyhow::Result<()> {
    mmlsr_core::write_manifest(dir)?;
    Ok(())
}

/// Verify `dir` (`what` names it in messages) against its manifest; a folder without one is
/// read with a warning.
pub fn verify(dir: &Path, what: &str) -> anyhow::Result<()> {
    match mmlsr_core::verify_manifest(dir)
        .with_context(|| format!("checking the {what} in {}", dir.display()))?
    {
        Integrity::Verified { .. } => {}
        Integrity::Unchecked => eprintln!(
            "warning: {}: no {MANIFEST}, so the {what} cannot be checked for corruption \
             (written by another tool, or before mmlsr wrote manifests)",
            dir.display()
        ),
    }
    Ok(())
}
