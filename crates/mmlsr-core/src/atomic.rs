//! Atomic writes, the one implementation every crate uses: write a temporary file in the
//! target's folder, sync it, then rename it over the target, so that an interrupted run never
//! leaves a half-written file behind. Errors are plain `io::Error`s; each crate adds the path
//! in its own error type.
//!
//! Temporaries are named `.mmlsr-<pid>-<random>.tmp`. A process killed mid-write (`kill -9`)
//! cannot remove its own; the next atomic write into the same folder removes every one whose
//! process no longer runs (on Linux, where `/proc` tells; elsewhere they stay).

use std::{
    io::{self, BufWriter, Write},
    path::Path,
};

pub use tempfile::NamedTempFile;

/// A temporary file beside `path` (same folder, so the final rename is atomic). Temporary
/// files are private (0600) by default; the file it becomes is an ordinary one (0644, less the
/// umask).
pub fn temp_beside(path: &Path) -> io::Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_orphans(dir);
    let prefix = format!("{PREFIX}{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder.tempfile_in(dir)
}

const PREFIX: &str = ".mmlsr-";

/// Remove the temporaries in `dir` whose writing process is gone (see the module
/// documentation). Best effort: a file that cannot be removed is left.
fn remove_orphans(dir: &Path) {
    let proc_fs = Path::new("/proc/self");
    if !proc_fs.exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.ends_with(".tmp"))
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != me && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Sync a finished temporary file and rename it to `path`.
pub fn persist(tmp: NamedTempFile, path: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write `path` atomically through a buffered writer filled by `fill`.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_beside(path)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w)?;
        w.flush()?;
    }
    persist(tmp, path)
}

/// Write `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn temporaries_of_dead_processes_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        // No process has a pid above the kernel's limit (at most 2^22); pid 1 always runs.
        let dead = dir.path().join(".mmlsr-99999999-abc123.tmp");
        let running = dir.path().join(".mmlsr-1-abc123.tmp");
        let mine = dir
            .path()
            .join(format!(".mmlsr-{}-abc123.tmp", std::process::id()));
        let other = dir.path().join(".other-99999999-x.tmp");
        for p in [&dead, &running, &mine, &other] {
            std::fs::write(p, b"partial").unwrap();
        }
        write_bytes(&dir.path().join("out.txt"), b"done").unwrap();
        assert!(!dead.exists(), "an orphan of a dead process was kept");
        assert!(running.exists() && mine.exists() && other.exists());
    }

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_bytes(&path, b"first").unwrap();
        let err = write_with(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
        write_bytes(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_ne!(mode & 0o044, 0, "not private: {mode:o}");
        }
    }
}
