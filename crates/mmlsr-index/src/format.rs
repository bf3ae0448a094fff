//! The on-disk format, version 4 (all integers little-endian):
//!
//! ```text
//! offset  size              field
//! 0       8                 magic "MMLSRIDX"
//! 8       4                 version (4)
//! 12      4                 n_docs
//! 16      4                 vocab_size (V)
//! 20      4                 block_size (documents per block)
//! 24      4                 scale (f32)
//! 28      4                 impact bits (8 or 16; B = bits / 8)
//! 32      8                 n_postings (P)
//! 40      8                 forward nnz (F)
//! 48      8                 packed posting document-id bytes (C)
//! 56      8                 packed forward term-id bytes (G)
//! 64      8                 document-order entries (O: 0, or n_docs when reordered)
//! 72      8·(V+1)           term_start
//!         C                 document ids, gap-coded and bit-packed per term (see `codec`)
//!         B·P               impacts (u8 or u16)
//!         8·(n_docs+1)      forward indptr
//!         G                 forward term ids, gap-coded and bit-packed per document
//!                           (versions 1 and 2: 4·F plain)
//!         4·F               forward values (f32)
//!         4·O               document order: position p holds given document order[p]
//! end−4   4                 CRC-32 of every byte before it
//! ```
//!
//! Files are written to a temporary file beside the target, synced, and renamed, so a reader
//! never sees half an index. Loading reads the file once, checks magic, version, length and
//! checksum, then validates every structural invariant the query code relies on, so a corrupt
//! file is an error, never a panic. Block and term maxima and the quantised forward index are
//! derived from the postings on load, not stored. Versions 1 (44-byte header, `u8` impacts,
//! `4·P` bytes of plain document ids), 2 (48-byte header with the impact bits, plain ids) and
//! 3 (64-byte header, no document order) are still read.

use std::path::Path;

use mmlsr_core::CsrMatrix;

use crate::{Error, Impact, InvertedIndex, Result};

const MAGIC: &[u8; 8] = b"MMLSRIDX";
const VERSION: u32 = 4;
const HEADER: usize = 72;
const HEADER_V3: usize = 64;
const HEADER_V1: usize = 44;
const HEADER_V2: usize = 48;

/// The impact width (8 or 16 bits) of an index file, read from its header without loading it,
/// so that a caller can pick `InvertedIndex<u8>` or `InvertedIndex<u16>`.
pub fn impact_bits(path: &Path) -> Result<u32> {
    use std::io::Read;
    let bad = |m: String| Error::Format {
        path: path.to_path_buf(),
        message: m,
    };
    let mut head = [0u8; 32];
    let mut f = std::fs::File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    f.read_exact(&mut head)
        .map_err(|_| bad("truncated: shorter than a header".into()))?;
    if &head[..8] != MAGIC {
        return Err(bad("not an mmlsr index (bad magic)".into()));
    }
    match u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) {
        1 => Ok(8),
        2 | 3 | VERSION => Ok(u32::from_le_bytes(
            head[28..32].try_into().expect("4 bytes"),
        )),
        v => Err(bad(format!(
            "format version {v}, this build reads 1 to {VERSION}"
        ))),
    }
}

impl<I: Impact> InvertedIndex<I> {
    /// Serialise to bytes (the format above).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (indptr, fidx, fval) = self.forward.raw();
        let packed = crate::codec::encode_doc_ids(&self.term_start, &self.docs);
        let fwd_start: Vec<u64> = indptr.iter().map(|&x| x as u64).collect();
        let packed_fwd = crate::codec::encode_doc_ids(&fwd_start, fidx);
        let mut b = Vec::with_capacity(
            HEADER
                + 16 * self.term_start.len()
                + packed.len()
                + (I::BITS as usize / 8) * self.docs.len()
                + packed_fwd.len()
                + 4 * fidx.len()
                + 4 * self.order.as_ref().map_or(0, Vec::len),
        );
        b.extend_from_slice(MAGIC);
        for x in [VERSION, self.n_docs, self.vocab_size, self.block_size] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&self.scale.to_le_bytes());
        b.extend_from_slice(&I::BITS.to_le_bytes());
        for x in [
            self.docs.len() as u64,
            fidx.len() as u64,
            packed.len() as u64,
            packed_fwd.len() as u64,
            self.order.as_ref().map_or(0, Vec::len) as u64,
        ] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        self.term_start
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        b.extend_from_slice(&packed);
        I::write_le(&self.impacts, &mut b);
        indptr
            .iter()
            .for_each(|&x| b.extend_from_slice(&(x as u64).to_le_bytes()));
        b.extend_from_slice(&packed_fwd);
        fval.iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        self.order
            .iter()
            .flatten()
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
        mmlsr_core::atomic::write_bytes(path, &self.to_bytes()).map_err(io)
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
        if b.len() < HEADER_V1 + 4 {
            return Err(format!(
                "truncated: {} bytes, a header needs {}",
                b.len(),
                HEADER_V1 + 4
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        let header = match version {
            1 => HEADER_V1,
            2 => HEADER_V2,
            3 => HEADER_V3,
            VERSION => HEADER,
            _ => {
                return Err(format!(
                    "format version {version}, this build reads 1 to {VERSION}"
                ));
            }
        };
        if b.len() < header + 4 {
            return Err(format!(
                "truncated: {} bytes, a version-{version} header needs {}",
                b.len(),
                header + 4
            ));
        }
        let bits = if version == 1 { 8 } else { u32_at(28) };
        if bits != 8 && bits != 16 {
            return Err(format!("unsupported impact width: {bits} bits (8 or 16)"));
        }
        if bits != I::BITS {
            return Err(format!(
                "the index has {bits}-bit impacts; load it as InvertedIndex<u{bits}> (this is \
                 InvertedIndex<u{}>)",
                I::BITS
            ));
        }
        let width = (bits / 8) as u64;
        let body = &b[..b.len() - 4];
        let stored = u32::from_le_bytes(b[b.len() - 4..].try_into().expect("4 bytes"));
        if crc32fast::hash(body) != stored {
            return Err("checksum mismatch (corrupt or truncated file)".into());
        }
        let (n_docs, vocab, block_size) = (u32_at(12), u32_at(16), u32_at(20));
        let scale = f32::from_le_bytes(b[24..28].try_into().expect("4 bytes"));
        let (p, f) = match version {
            1 => (u64_at(28), u64_at(36)),
            _ => (u64_at(32), u64_at(40)),
        };
        // Bytes of the posting document ids and the forward term ids: plain u32 before
        // version 3, packed from it on.
        let packed = version >= 3;
        let (c, g) = if packed {
            (Some(u64_at(48)), Some(u64_at(56)))
        } else {
            (p.checked_mul(4), f.checked_mul(4))
        };
        // Document-order entries: from version 4 on, 0 or n_docs.
        let o_len = if version >= 4 { u64_at(64) } else { 0 };
        if o_len != 0 && o_len != n_docs as u64 {
            return Err(format!(
                "document order has {o_len} entries; expected 0 or n_docs = {n_docs}"
            ));
        }
        let too_big = || "section lengths overflow".to_string();
        let v1 = vocab as u64 + 1;
        let expected = [
            v1.checked_mul(8),
            c,
            p.checked_mul(width),
            (n_docs as u64 + 1).checked_mul(8),
            g,
            f.checked_mul(4),
            o_len.checked_mul(4),
        ]
        .into_iter()
        .try_fold(header as u64, |acc, x| x.and_then(|x| acc.checked_add(x)))
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
        let mut o = header;
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
        // Offsets first: the decoder sizes its output by them.
        if term_start[0] != 0
            || term_start[v] != p as u64
            || term_start.windows(2).any(|w| w[1] < w[0])
        {
            return Err("posting offsets do not span the postings".into());
        }
        let docs = if packed {
            crate::codec::decode_doc_ids(&term_start, take(c.unwrap_or(0) as usize))
                .map_err(|e| format!("posting lists (list = term id): {e}"))?
        } else {
            u32s(take(4 * p))
        };
        let impacts = I::read_le(take(p * width as usize));
        let indptr: Vec<usize> = u64s(take(8 * (nd + 1)))
            .into_iter()
            .map(|x| x as usize)
            .collect();
        let fidx = if packed {
            let starts: Vec<u64> = indptr.iter().map(|&x| x as u64).collect();
            if starts[0] != 0 || starts[nd] != f as u64 || starts.windows(2).any(|w| w[1] < w[0]) {
                return Err("forward offsets do not span the forward index".into());
            }
            crate::codec::decode_doc_ids(&starts, take(g.unwrap_or(0) as usize))
                .map_err(|e| format!("forward index (list = document): {e}"))?
        } else {
            u32s(take(4 * f))
        };
        let fval: Vec<f32> = take(4 * f)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect();
        let order = if o_len > 0 {
            let order = u32s(take(4 * o_len as usize));
            let mut seen = vec![false; nd];
            for (pos, &d) in order.iter().enumerate() {
                match seen.get_mut(d as usize) {
                    Some(s) if !*s => *s = true,
                    _ => {
                        return Err(format!(
                            "document order, position {pos}: document {d} is out of range or \
                             repeated (expected a permutation of 0..{nd})"
                        ));
                    }
                }
            }
            Some(order)
        } else {
            None
        };

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
            if impacts[a as usize..e as usize].contains(&I::default()) {
                return Err(format!("term {t}: a zero impact"));
            }
        }
        let forward =
            CsrMatrix::new(v, indptr, fidx, fval).map_err(|e| format!("forward index: {e}"))?;
        if forward.n_rows() != nd {
            return Err("forward index has the wrong number of documents".into());
        }
        Ok(Self::from_postings(
            block_size, scale, term_start, docs, impacts, forward, order,
        ))
    }
}
