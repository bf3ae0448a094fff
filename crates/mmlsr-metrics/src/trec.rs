//! TREC qrels files: `query 0 doc grade`.

use std::path::Path;

use mmlsr_core::Qrels;

use crate::{Error, Result};

/// Read a TREC qrels file (`query iteration doc grade`; the iteration column is ignored).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut q = Qrels::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = |message: String| Error::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        if f.len() != 4 {
            return Err(bad(format!(
                "expected 4 fields `query 0 doc grade`, found {}",
                f.len()
            )));
        }
        let grade: i32 = f[3]
            .parse()
            .map_err(|_| bad(format!("grade {:?} is not an integer", f[3])))?;
        q.insert(f[0], f[2], grade);
    }
    Ok(q)
}

/// Write a TREC qrels file atomically.
pub fn write_qrels(qrels: &Qrels, path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(".".as_ref());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        qrels.write_trec(&mut w).map_err(io)?;
        std::io::Write::flush(&mut w).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
