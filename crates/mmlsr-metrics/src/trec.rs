//! TREC text files: qrels (`query 0 doc grade`) here, and the line reader and atomic writer
//! that run files share.

use std::{io::Write, path::Path};

use hashbrown::HashMap;

use mmlsr_core::Qrels;

use crate::{Error, Result};

/// Call `row(line_number, fields)` for each non-blank line of a whitespace-separated file
/// with exactly `layout.len()` fields; other lines are errors naming the file, the line and
/// the expected layout. `row`'s `Err(message)` becomes such an error too.
pub(crate) fn for_each_row(
    path: &Path,
    layout: &[&str],
    mut row: impl FnMut(usize, &[&str]) -> std::result::Result<(), String>,
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
            row(i + 1, &f).err()
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

/// Read a TREC qrels file (`query iteration doc grade`; the iteration column is ignored). A
/// pair judged twice keeps the later line's grade; [`read_qrels_reporting`] also lists the
/// pairs judged twice with different grades.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    Ok(read_qrels_reporting(path)?.0)
}

/// A (query, document) pair that a qrels file judges twice with different grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictingJudgement {
    /// Query id.
    pub query: String,
    /// Document id.
    pub doc: String,
    /// The earlier line (from 1) and its grade.
    pub first: (usize, i32),
    /// The later line and its grade, the one kept.
    pub kept: (usize, i32),
}

/// Read a TREC qrels file as [`read_qrels`] does, and list the pairs it judges twice with
/// different grades, in file order.
pub fn read_qrels_reporting(path: &Path) -> Result<(Qrels, Vec<ConflictingJudgement>)> {
    let mut q = Qrels::new();
    // (line, grade) of the latest judgement of each pair.
    let mut latest: HashMap<(String, String), (usize, i32)> = HashMap::new();
    let mut conflicts = Vec::new();
    for_each_row(path, &["query", "0", "doc", "grade"], |line, f| {
        let grade: i32 = f[3]
            .parse()
            .map_err(|_| format!("grade {:?} is not an integer", f[3]))?;
        let key = (f[0].to_string(), f[2].to_string());
        if let Some(first) = latest.insert(key, (line, grade))
            && first.1 != grade
        {
            conflicts.push(ConflictingJudgement {
                query: f[0].to_string(),
                doc: f[2].to_string(),
                first,
                kept: (line, grade),
            });
        }
        q.insert(f[0], f[2], grade);
        Ok(())
    })?;
    Ok((q, conflicts))
}

/// Write a TREC qrels file atomically.
pub fn write_qrels(qrels: &Qrels, path: &Path) -> Result<()> {
    write_atomically(path, |w| qrels.write_trec(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrels_judged_twice_with_different_grades_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("qrels");
        std::fs::write(&p, "q1 0 a 1\nq1 0 b 0\n\nq1 0 a 1\nq2 0 a 1\nq1 0 b 2\n").unwrap();
        let (q, conflicts) = read_qrels_reporting(&p).unwrap();
        assert_eq!(q.get("q1").unwrap()["b"], 2, "the later line wins");
        assert_eq!(
            conflicts,
            vec![ConflictingJudgement {
                query: "q1".into(),
                doc: "b".into(),
                first: (2, 0),
                kept: (6, 2),
            }]
        );
        std::fs::write(&p, "q1 0 a x\n").unwrap();
        let e = read_qrels(&p).unwrap_err().to_string();
        assert!(
            e.contains("qrels:1: ") && e.contains("not an integer"),
            "{e}"
        );
    }
}
