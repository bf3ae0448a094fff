//! Checksum manifests: every folder mmlsr writes (a model or checkpoint directory, an index
//! folder, encoded vectors, a generated data folder) gets a `MANIFEST.sha256` listing the
//! SHA-256 of each of its files, and every reader verifies the folder against it before it
//! trusts a byte, so a flipped bit, a truncated copy or a hand-edited file is refused by name
//! instead of silently changing results.
//!
//! The format is `sha256sum`'s: one `<64 hex digits><two spaces><file name>` line per file, so
//! `sha256sum -c MANIFEST.sha256` checks a folder without mmlsr. Listed are the regular files
//! directly in the folder except hidden ones (temporaries start with `.`), the manifest itself
//! and Markdown files (documentation a user may edit). Files added later and not listed are
//! ignored; a folder without a manifest (data downloaded from elsewhere, or written before
//! manifests existed) is [`Integrity::Unchecked`], which callers may report.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::{Error, Result, atomic};

/// File name of a folder's manifest.
pub const MANIFEST: &str = "MANIFEST.sha256";

/// What [`verify_manifest`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Every file the manifest lists is present and has the listed SHA-256.
    Verified {
        /// Files checked.
        files: usize,
        /// Bytes hashed.
        bytes: u64,
    },
    /// The folder has no manifest, so nothing was checked.
    Unchecked,
}

/// Write `dir/MANIFEST.sha256` (atomically) over the folder's files (see the module
/// documentation for which). Returns the number of files listed.
pub fn write_manifest(dir: &Path) -> Result<usize> {
    let names = listed_files(dir)?;
    let mut text = String::with_capacity(names.len() * 80);
    for name in &names {
        let (hash, _) = sha256_file(&dir.join(name))?;
        text.push_str(&hash);
        text.push_str("  ");
        text.push_str(name);
        text.push('\n');
    }
    let path = dir.join(MANIFEST);
    atomic::write_bytes(&path, text.as_bytes()).map_err(|source| Error::Io { path, source })?;
    Ok(names.len())
}

/// Check every file `dir/MANIFEST.sha256` lists: present, and with the listed SHA-256. A folder
/// without a manifest is [`Integrity::Unchecked`].
///
/// # Errors
/// [`Error::Integrity`] naming the file that is missing or differs (with both hashes), or the
/// manifest line that is malformed; [`Error::Io`] when a file cannot be read.
pub fn verify_manifest(dir: &Path) -> Result<Integrity> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Integrity::Unchecked),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let (mut files, mut bytes) = (0, 0);
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (expected, name) = parse_line(line).ok_or_else(|| Error::Integrity {
            path: path.clone(),
            message: format!(
                "line {}: expected `<64 hex digits>  <file name>` (sha256sum's format), found {line:?}",
                n + 1
            ),
        })?;
        let file = dir.join(name);
        if !file.is_file() {
            return Err(Error::Integrity {
                path: file,
                message: format!("listed in {MANIFEST} but missing"),
            });
        }
        let (found, len) = sha256_file(&file)?;
        if found != expected {
            return Err(Error::Integrity {
                path: file,
                message: format!(
                    "SHA-256 {found} differs from {expected} in {MANIFEST}: the file was changed \
                     or corrupted after it was written; write it again with the command that \
                     made it"
                ),
            });
        }
        files += 1;
        bytes += len;
    }
    Ok(Integrity::Verified { files, bytes })
}

/// `(hex digest, file name)` of a `sha256sum` line (text `  ` or binary ` *` separator); the
/// name must be a plain file name (no path separators, not `.` or `..`).
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let hash = line.get(..64)?;
    let name = line
        .get(64..)?
        .strip_prefix("  ")
        .or_else(|| line.get(64..)?.strip_prefix(" *"))?;
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    (hash
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && plain)
        .then_some((hash, name))
}

/// The files a manifest of `dir` lists, in name order.
fn listed_files(dir: &Path) -> Result<Vec<String>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let listed = !name.starts_with('.')
            && name != MANIFEST
            && !name.ends_with(".md")
            && !name.contains('\n')
            && entry.file_type().map_err(io)?.is_file();
        if listed {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Lower-case hex SHA-256 of a file and its length.
fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let io = |source| Error::Io {
        path: PathBuf::from(path),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    Ok((hex, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abc").unwrap();
        std::fs::write(dir.path().join("b.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("README.md"), b"# notes").unwrap();
        std::fs::write(dir.path().join(".half.tmp"), b"partial").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        dir
    }

    #[test]
    fn lists_data_files_in_sha256sum_format() {
        let dir = folder();
        assert_eq!(write_manifest(dir.path()).unwrap(), 2);
        let text = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        // SHA-256("abc") and SHA-256("{}"), the FIPS 180-2 example and `printf '{}' | sha256sum`.
        assert_eq!(
            text,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.bin\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  b.json\n"
        );
        assert_eq!(
            verify_manifest(dir.path()).unwrap(),
            Integrity::Verified { files: 2, bytes: 5 }
        );
    }

    #[test]
    fn a_flipped_bit_is_refused_by_name() {
        let dir = folder();
        write_manifest(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abd").unwrap();
        let err = verify_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.bin: SHA-256"), "{err}");
        assert!(err.contains("differs from ba7816bf"), "{err}");
    }

    #[test]
    fn missing_files_and_bad_lines_are_refused() {
        let dir = folder();
        write_manifest(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("b.json")).unwrap();
        let err = verify_manifest(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("b.json: listed in MANIFEST.sha256 but missing"),
            "{err}"
        );

        std::fs::write(dir.path().join(MANIFEST), "xyz  a.bin\n").unwrap();
        let err = verify_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 1: expected"), "{err}");
        let escape = format!("{}  ../a.bin\n", "0".repeat(64));
        std::fs::write(dir.path().join(MANIFEST), escape).unwrap();
        assert!(verify_manifest(dir.path()).is_err());
    }

    #[test]
    fn edits_to_unlisted_files_pass_and_no_manifest_is_unchecked() {
        let dir = folder();
        assert_eq!(verify_manifest(dir.path()).unwrap(), Integrity::Unchecked);
        write_manifest(dir.path()).unwrap();
        std::fs::write(dir.path().join("README.md"), b"# edited").unwrap();
        std::fs::write(dir.path().join("new.txt"), b"added later").unwrap();
        assert!(matches!(
            verify_manifest(dir.path()).unwrap(),
            Integrity::Verified { files: 2, .. }
        ));
    }
}
