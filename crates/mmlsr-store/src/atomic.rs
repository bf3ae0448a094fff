//! Atomic writes ([`mmlsr_core::atomic`]) with this crate's errors, which name the path.

use std::{io::Write, path::Path};

use mmlsr_core::atomic;

use crate::{Error, Result};

/// Create a temporary file beside `path` ([`mmlsr_core::atomic::temp_beside`]).
pub(crate) fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    atomic::temp_beside(path).map_err(|e| Error::io(path, e))
}

/// Sync a finished temporary file and rename it to `path`.
pub(crate) fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    atomic::persist(tmp, path).map_err(|e| Error::io(path, e))
}

/// Write `path` atomically through a buffered writer filled by `fill`.
pub fn atomic_write(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    atomic::write_with(path, fill).map_err(|e| Error::io(path, e))
}

/// Write `bytes` to `path` atomically.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic::write_bytes(path, bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_old_file_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        atomic_write_bytes(&path, b"first").unwrap();
        let err = atomic_write(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file was not cleaned up");
    }
}
