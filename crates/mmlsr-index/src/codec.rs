//! Posting compression for the on-disk format: each list's ids as gaps (the first against 0,
//! then against the previous id); full blocks of 128 gaps are bit-packed with one bit width
//! per block (SIMD BP128 through the `bitpacking` crate, BitPacker4x), a list's last, partial
//! block is written as variable-byte integers (LEB128), as PISA does. Decoding adds the gaps up
//! with overflow checks, so damaged bytes are an error, never a panic.

use bitpacking::{BitPacker, BitPacker4x};

/// Documents per packed block.
pub const BLOCK: usize = BitPacker4x::BLOCK_LEN;

/// Compress per-term sorted document ids: `term_start[t]..term_start[t + 1]` index `docs`.
pub fn encode_doc_ids(term_start: &[u64], docs: &[u32]) -> Vec<u8> {
    let packer = BitPacker4x::new();
    let mut out = Vec::with_capacity(docs.len() * 2);
    let mut gaps = [0u32; BLOCK];
    let mut packed = [0u8; 4 * BLOCK];
    for w in term_start.windows(2) {
        let list = &docs[w[0] as usize..w[1] as usize];
        let mut prev = 0u32;
        for chunk in list.chunks(BLOCK) {
            for (g, &d) in gaps.iter_mut().zip(chunk) {
                *g = d - prev;
                prev = d;
            }
            if chunk.len() < BLOCK {
                for &g in &gaps[..chunk.len()] {
                    write_vbyte(&mut out, g);
                }
                continue;
            }
            let bits = packer.num_bits(&gaps);
            let n = packer.compress(&gaps, &mut packed, bits);
            out.push(bits);
            out.extend_from_slice(&packed[..n]);
        }
    }
    out
}

/// Decode what [`encode_doc_ids`] wrote for sorted id lists of the given lengths
/// (`term_start`: list `t` is `term_start[t]..term_start[t + 1]`), checking that the bytes are
/// exactly consumed and that every list's ids fit in `u32`; errors name the list by index. Whether they are strictly increasing and below the collection size is for the
/// caller to check.
pub fn decode_doc_ids(term_start: &[u64], bytes: &[u8]) -> Result<Vec<u32>, String> {
    let packer = BitPacker4x::new();
    let total = term_start.last().copied().unwrap_or(0) as usize;
    let mut docs = Vec::with_capacity(total);
    let mut gaps = [0u32; BLOCK];
    let mut o = 0usize;
    for (t, w) in term_start.windows(2).enumerate() {
        let n = w[1].checked_sub(w[0]).ok_or("list offsets decrease")? as usize;
        let mut prev = 0u32;
        let mut left = n;
        while left >= BLOCK {
            let bits = *bytes
                .get(o)
                .ok_or_else(|| format!("list {t}: the packed ids end early"))?;
            if bits > 32 {
                return Err(format!("list {t}: a block of {bits}-bit gaps"));
            }
            let len = bits as usize * BLOCK / 8;
            let block = bytes
                .get(o + 1..o + 1 + len)
                .ok_or_else(|| format!("list {t}: the packed ids end early"))?;
            packer.decompress(block, &mut gaps, bits);
            o += 1 + len;
            for &g in &gaps {
                prev = prev
                    .checked_add(g)
                    .ok_or_else(|| format!("list {t}: ids overflow u32"))?;
                docs.push(prev);
            }
            left -= BLOCK;
        }
        for _ in 0..left {
            let g = read_vbyte(bytes, &mut o)
                .ok_or_else(|| format!("list {t}: a bad variable-byte gap"))?;
            prev = prev
                .checked_add(g)
                .ok_or_else(|| format!("list {t}: ids overflow u32"))?;
            docs.push(prev);
        }
    }
    if o != bytes.len() {
        return Err(format!(
            "{} bytes of compressed postings left over",
            bytes.len() - o
        ));
    }
    Ok(docs)
}

/// LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte.
fn write_vbyte(out: &mut Vec<u8>, mut x: u32) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// The inverse of [`write_vbyte`]; `None` past the end or beyond 32 bits.
fn read_vbyte(b: &[u8], o: &mut usize) -> Option<u32> {
    let mut x = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = *b.get(*o)?;
        *o += 1;
        x |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(x).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_lists_of_every_length() {
        // Lengths around the block size, an empty list, large gaps, the largest id.
        let lists: Vec<Vec<u32>> = vec![
            vec![],
            vec![0],
            (0..127).map(|i| i * 3).collect(),
            (0..128).collect(),
            (0..129).map(|i| i * 1000 + 7).collect(),
            (0..300).map(|i| i * i).collect(),
            vec![5, u32::MAX - 1, u32::MAX],
        ];
        let mut term_start = vec![0u64];
        let mut docs = Vec::new();
        for l in &lists {
            docs.extend_from_slice(l);
            term_start.push(docs.len() as u64);
        }
        let bytes = encode_doc_ids(&term_start, &docs);
        assert_eq!(decode_doc_ids(&term_start, &bytes).unwrap(), docs);
        // Dense lists pack to about one bit per posting plus a byte per block.
        let dense: Vec<u32> = (0..12_800).collect();
        let b = encode_doc_ids(&[0, 12_800], &dense);
        assert_eq!(b.len(), 100 * (1 + 16));
        // Damage is an error: truncation, trailing bytes, an impossible bit width.
        assert!(decode_doc_ids(&term_start, &bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_doc_ids(&term_start, &long).is_err());
        // Lists 1 and 2 are short (varint gaps); list 3 starts with a packed block.
        let offset = {
            let mut o = Vec::new();
            let short = [0u64, 0, 1, 128];
            let e = encode_doc_ids(&short, &docs[..128]);
            o.extend_from_slice(&e);
            o.len()
        };
        let mut bad = bytes.clone();
        bad[offset] = 40;
        assert!(decode_doc_ids(&term_start, &bad).is_err());
        // A varint longer than 32 bits, and gaps that overflow u32.
        assert!(decode_doc_ids(&[0, 1], &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(decode_doc_ids(&[0, 2], &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]).is_err());
        let full: Vec<u32> = (0..128).map(|i| i * 2).collect();
        let mut o = encode_doc_ids(&[0, 128], &full);
        // Every gap at 32 bits, all ones: the sum overflows.
        o[0] = 32;
        o.truncate(1);
        o.extend(std::iter::repeat_n(0xff, 512));
        assert!(decode_doc_ids(&[0, 128], &o).is_err());
    }
}
