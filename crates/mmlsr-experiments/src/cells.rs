//! The cells of a table on disk: `cell.json` records what a cell is (data folder, settings),
//! how it was made (configuration hash, data checksum, seed, commit, backend, seconds) and its
//! test metrics, typed. A cell whose record exists with the same configuration hash is kept;
//! one with another hash is refused (never silently reused).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize, Serializer, de::DeserializeOwned};

use crate::pipelines::{d2s::D2sMetrics, joint::JointMetrics};

/// `cell.json` of a D2S grid cell (Tables 1–5, Figure 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridCell {
    /// Data folder name.
    pub dataset: String,
    /// Regulariser weight η.
    pub eta: f64,
    /// Expansion variant label.
    pub variant: String,
    /// [`config_hash`] of the cell's configuration.
    pub config_hash: String,
    /// [`data_checksum`] of its data folder.
    pub data_checksum: String,
    /// Training seed.
    pub seed: u64,
    /// [`git_commit`] that trained it.
    pub git_commit: String,
    /// Burn backend.
    pub backend: String,
    /// Seconds to train and evaluate.
    pub seconds: f64,
    /// Test metrics (`test_metrics.json`).
    #[serde(serialize_with = "sorted")]
    pub metrics: D2sMetrics,
}

/// `cell.json` of a cell of the joint table: the D2S row or a joint row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JointTableCell {
    /// Data folder name.
    pub dataset: String,
    /// Row name (`d2s` or the joint row's).
    pub row: String,
    /// [`config_hash`] of the cell's configuration.
    pub config_hash: String,
    /// Training seed.
    pub seed: u64,
    /// [`git_commit`] that trained it.
    pub git_commit: String,
    /// Burn backend.
    pub backend: String,
    /// Seconds to train and evaluate.
    pub seconds: f64,
    /// Test metrics.
    #[serde(serialize_with = "sorted")]
    pub metrics: CellMetrics,
}

/// Test metrics of either method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CellMetrics {
    /// A joint model: dense, sparse and fused modes.
    Joint(JointMetrics),
    /// A D2S head.
    D2s(D2sMetrics),
}

/// Metrics through a JSON value, whose keys are sorted: the layout records have always had.
fn sorted<S: Serializer, T: Serialize>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(v)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

/// A record with the configuration hash it was made with.
pub trait Record: Serialize + DeserializeOwned {
    /// The hash.
    fn config_hash(&self) -> &str;
}

impl Record for GridCell {
    fn config_hash(&self) -> &str {
        &self.config_hash
    }
}

impl Record for JointTableCell {
    fn config_hash(&self) -> &str {
        &self.config_hash
    }
}

/// Where a cell directory's record lives.
pub fn record_path(cell_dir: &Path) -> PathBuf {
    cell_dir.join("cell.json")
}

/// The record in `cell_dir` when it was made with `hash`; `None` when there is none; an error
/// when it is unreadable or was made with another configuration.
pub fn kept<R: Record>(cell_dir: &Path, hash: &str) -> anyhow::Result<Option<R>> {
    let path = record_path(cell_dir);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let rec: R = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a cell record", path.display()))?;
    if rec.config_hash() != hash {
        bail!(
            "{} was made with another configuration (hash {} ≠ {hash}); remove {} to recompute \
             it",
            path.display(),
            rec.config_hash(),
            cell_dir.display()
        );
    }
    Ok(Some(rec))
}

/// Write `rec` as `cell_dir/cell.json` (atomically).
pub fn save<R: Record>(cell_dir: &Path, rec: &R) -> anyhow::Result<()> {
    mmlsr_store::atomic_write_bytes(&record_path(cell_dir), &serde_json::to_vec_pretty(rec)?)?;
    Ok(())
}

/// A stable hash of what defines a cell: its configuration (any serialisable settings) and
/// data folder name.
pub fn config_hash(config: &impl Serialize, dataset: &str) -> String {
    let json = serde_json::to_string(config).expect("configs serialise");
    let mut h = crc32fast::Hasher::new();
    h.update(json.as_bytes());
    h.update(b"\0");
    h.update(dataset.as_bytes());
    format!("{:08x}", h.finalize())
}

/// CRC-32 over the data folder's data files (names, sizes and contents, in name order): not
/// its checksum manifest (derived from the others, and absent from older folders) nor its
/// Markdown (the dataset card records how long generation took, so it differs between two
/// generations of the same data).
pub fn data_checksum(dir: &Path) -> anyhow::Result<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p.ends_with(mmlsr_core::MANIFEST)
                && p.extension().is_none_or(|e| e != "md")
        })
        .collect();
    names.sort();
    let mut h = crc32fast::Hasher::new();
    for p in names {
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        h.update(p.file_name().map_or(&[][..], |f| f.as_encoded_bytes()));
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{:08x}", h.finalize()))
}

/// The checked-out commit, with `-dirty` when tracked files differ from it; `unknown`
/// outside a git checkout.
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{c}-dirty"),
            _ => c,
        },
        None => "unknown".into(),
    }
}

/// An exclusive lock on a runs folder, held by one `mmlsr reproduce` for its whole run so that
/// a second one on the same folder is refused up front instead of dying mid-write. It is an OS
/// file lock on `RUNS/.reproduce.lock`: released when dropped, and by the kernel when the
/// process dies (`kill -9` leaves no stale lock). The file names its holder.
pub struct RunsLock {
    _file: std::fs::File,
}

impl RunsLock {
    /// The lock file's name inside a runs folder.
    pub const FILE: &'static str = ".reproduce.lock";

    /// Take the lock on `runs` (created if missing), or refuse naming the process that holds
    /// it.
    pub fn acquire(runs: &Path) -> anyhow::Result<Self> {
        use std::io::Write;
        std::fs::create_dir_all(runs).with_context(|| format!("creating {}", runs.display()))?;
        let path = runs.join(Self::FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                bail!(
                    "{}: another `mmlsr reproduce` is using this runs folder ({}); wait for it \
                     to finish, or give this one another folder with --runs",
                    runs.display(),
                    holder.trim()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let args: Vec<String> = std::env::args().collect();
        file.set_len(0)
            .and_then(|()| {
                write!(
                    file,
                    "process {} since unix time {since}: {}",
                    std::process::id(),
                    args.join(" ")
                )
            })
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_checksum_covers_data_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("img_embs.parquet"), b"rows").unwrap();
        std::fs::write(p("README.md"), b"Generation took 12.6 s.").unwrap();
        let first = data_checksum(dir.path()).unwrap();
        // Zlib's CRC-32 of the name, the length (u64 LE) and the bytes, chained.
        let mut h = crc32fast::Hasher::new();
        h.update(b"img_embs.parquet");
        h.update(&4u64.to_le_bytes());
        h.update(b"rows");
        assert_eq!(first, format!("{:08x}", h.finalize()));
        std::fs::write(p("README.md"), b"Generation took 14.1 s.").unwrap();
        std::fs::write(p(mmlsr_core::MANIFEST), b"listing").unwrap();
        assert_eq!(data_checksum(dir.path()).unwrap(), first);
        std::fs::write(p("img_embs.parquet"), b"rowz").unwrap();
        assert_ne!(data_checksum(dir.path()).unwrap(), first);
    }
}
