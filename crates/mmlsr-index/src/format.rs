//! The on-disk format, version 1 (all integers little-endian):
//!
//! ```text
//! offset  size              field
//! 0       8                 magic "MMLSRIDX"
//! 8       4                 version (1)
//! 12      4                 n_docs
//! 16      4                 vocab_size (V)
//! 20      4                 block_size (documents per block)
//! 24      4                 scale (f32)
//! 28      8                 n_postings (P)
//! 36      8                 forward nnz (F)
//! 44      8·(V+1)           term_start
//!         4·P               docs
//!         P                 impacts (u8)
//!         8·(n_docs+1)      forward indptr
//!         4·F               forward indices
//!         4·F               forward values (f32)
//! end−4   4                 CRC-32 of every byte before it
//! ```
//!
//! Files are written to a temporary file beside the target, synced, and renamed, so a reader
//! never sees half an index. Loading reads the file once, checks magic, version, length and
//! checksum, then validates every structural invariant the query code relies on, so a corrupt
//! file is an error, never a panic. Block and term maxima and the quantised forward index are
//! derived from the postings on load, not stored.

use std::{io::Write, path::Path};

use mmlsr_core::CsrMatrix;

use crate::{Error, InvertedIndex, Result};

const MAGIC: &[u8; 8] = b"MMLSRIDX";
const VERSION: u32 = 1;
const HEADER: usize = 44;

impl InvertedIndex {
    /// Serialise to bytes (the format above).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (indptr, fidx, fval) = self.forward.raw();
        let mut b = Vec::with_capacity(
            HEADER + 16 * self.term_start.len() + 5 * self.docs.len() + 8 * fidx.len(),
        );
        b.extend_from_slice(MAGIC);
        for x in [VERSION, self.n_docs, self.vocab_size, self.block_size] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&self.scale.to_le_bytes());
        for x in [self.docs.len() as u64, fidx.len() as u64] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        self.term_start
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        self.docs
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        b.extend_from_slice(&self.impacts);
        indptr
            .iter()
            .for_each(|&x| b.extend_from_slice(&(x as u64).to_le_bytes()));
        fidx.iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        fval.iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Write to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".mmlsr-index-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(&self.to_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Read and validate an index written by [`InvertedIndex::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_bytes(&bytes).map_err(|m| Error::Format {
            path: path.to_path_buf(),
            message: m,
        })
    }

    /// Parse and validate bytes; the error says what is wrong.
    pub fn from_bytes(b: &[u8]) -> std::result::Result<Self, String> {
        if b.len() >= 8 && &b[..8] != MAGIC {
            return Err("not an mmlsr index (bad magic)".into());
        }
        if b.len() < HEADER + 4 {
            return Err(format!(
                "truncated: {} bytes, a header needs {}",
                b.len(),
                HEADER + 4
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(format!(
                "format version {version}, this build reads {VERSION}"
            ));
        }
        let body = &b[..b.len() - 4];
        let stored = u32::from_le_bytes(b[b.len() - 4..].try_into().expect("4 bytes"));
        if crc32fast::hash(body) != stored {
            return Err("checksum mismatch (corrupt or truncated file)".into());
        }
        let (n_docs, vocab, block_size) = (u32_at(12), u32_at(16), u32_at(20));
        let scale = f32::from_le_bytes(b[24..28].try_into().expect("4 bytes"));
        let (p, f) = (u64_at(28), u64_at(36));
        let too_big = || "section lengths overflow".to_string();
        let v1 = vocab as u64 + 1;
        let expected = [
            v1.checked_mul(8),
            p.checked_mul(4),
            Some(p),
            (n_docs as u64 + 1).checked_mul(8),
            f.checked_mul(4),
            f.checked_mul(4),
        ]
        .into_iter()
        .try_fold(HEADER as u64, |acc, x| x.and_then(|x| acc.checked_add(x)))
        .ok_or_else(too_big)?;
        if expected != body.len() as u64 {
            return Err(format!(
                "length {} does not match the header's sections ({expected} bytes expected)",
                body.len()
            ));
        }
        if !(scale.is_finite() && scale > 0.0) || block_size == 0 {
            return Err(format!(
                "bad header: scale {scale}, block size {block_size}"
            ));
        }
        let mut o = HEADER;
        let mut take = |n: usize| {
            let s = &body[o..o + n];
            o += n;
            s
        };
        let (v, p, f, nd) = (vocab as usize, p as usize, f as usize, n_docs as usize);
        let u64s = |s: &[u8]| -> Vec<u64> {
            s.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
                .collect()
        };
        let u32s = |s: &[u8]| -> Vec<u32> {
            s.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
                .collect()
        };
        let term_start = u64s(take(8 * (v + 1)));
        let docs = u32s(take(4 * p));
        let impacts = take(p).to_vec();
        let indptr: Vec<usize> = u64s(take(8 * (nd + 1)))
            .into_iter()
            .map(|x| x as usize)
            .collect();
        let fidx = u32s(take(4 * f));
        let fval: Vec<f32> = take(4 * f)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect();

        // Structural invariants the query code relies on.
        if term_start[0] != 0 || term_start[v] != p as u64 {
            return Err("posting offsets do not span the postings".into());
        }
        for t in 0..v {
            let (a, e) = (term_start[t], term_start[t + 1]);
            if e < a {
                return Err(format!("term {t}: posting offsets decrease"));
            }
            let list = &docs[a as usize..e as usize];
            if list.iter().any(|&d| d >= n_docs) || list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!(
                    "term {t}: document ids out of range or not increasing"
                ));
            }
            if impacts[a as usize..e as usize].contains(&0) {
                return Err(format!("term {t}: a zero impact"));
            }
        }
        let forward =
            CsrMatrix::new(v, indptr, fidx, fval).map_err(|e| format!("forward index: {e}"))?;
        if forward.n_rows() != nd {
            return Err("forward index has the wrong number of documents".into());
        }
        Ok(Self::from_postings(
            block_size, scale, term_start, docs, impacts, forward,
        ))
    }
}
