//! TREC text files: qrels (`query 0 doc grade`) here, and the line reader and atomic writer
//! that run files share.

use std::{io::Write, path::Path};

use mmlsr_core::Qrels;

use crate::{Error, Result};

/// Call `row(line_number, fields)` for each non-blank line of a whitespace-separated file
/// with exactly `layout.len()` fields; other lines are errors naming the file, the line and
/// the expected layout. `row`'s `Err(message)` becomes such an error too.
pub(crate) fn for_each_row(
    path: &Path,
    layout: &[&str],
    mut row: impl FnMut(&[&str]) -> std::result::Result<(), String>,
) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let message = if f.len() != layout.len() {
            Some(format!(
                "expected {} fields `{}`, found {}",
                layout.len(),
                layout.join(" "),
                f.len()
            ))
        } else {
            row(&f).err()
        };
        if let Some(message) = message {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            });
        }
    }
    Ok(())
}

/// Write `path` atomically (temporary file in the same folder, synced, renamed).
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    mmlsr_core::atomic::write_with(path, fill).map_err(io)
}

/// Read a TREC qrels file (`query iteration doc grade`; the iteration column is ignored).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut q = Qrels::new();
    for_each_row(path, &["query", "0", "doc", "grade"], |f| {
        let grade: i32 = f[3]
            .parse()
            .map_err(|_| format!("grade {:?} is not an integer", f[3]))?;
        q.insert(f[0], f[2], grade);
        Ok(())
    })?;
    Ok(q)
}

/// Write a TREC qrels file atomically.
pub fn write_qrels(qrels: &Qrels, path: &Path) -> Result<()> {
    write_atomically(path, |w| qrels.write_trec(w))
}
