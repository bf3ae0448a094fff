//! Quantised impact types: `u8` (the default: 4× smaller postings than `f32`) and `u16` (256×
//! finer steps, for vectors whose scores `u8` rounds too coarsely). Scores stay exact
//! integers either way, so every algorithm returns the same top-k.

use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
}

/// An integer impact type of the index.
pub trait Impact: Copy + Ord + Default + Send + Sync + Debug + 'static + sealed::Sealed {
    /// Bits per impact (stored in the file header).
    const BITS: u32;
    /// The largest impact: the collection's heaviest weight maps to it.
    const MAX: u32;
    /// The exhaustive accumulator's type: wide enough for any score of a query quantised by
    /// [`Impact::query_max`].
    type Acc: Copy + Ord + Default + Send + Sync + Debug + std::ops::AddAssign + Into<u64> + 'static;

    /// `x` (at most [`Impact::MAX`]) as an impact.
    fn from_u32(x: u32) -> Self;
    /// The impact as an integer.
    fn get(self) -> u32;
    /// `w · i` in the accumulator type.
    fn product(w: u16, i: Self) -> Self::Acc;
    /// The impact's top 8 bits (`self >> (BITS − 8)`): what a dense row of impacts holds.
    fn top_byte(self) -> u8;
    /// The largest quantised weight of a query with `n` terms such that its score against
    /// any document fits `Acc`.
    fn query_max(n: usize) -> u16;
    /// Append little-endian bytes.
    fn write_le(v: &[Self], out: &mut Vec<u8>);
    /// Read little-endian bytes (`b.len()` a multiple of `BITS / 8`).
    fn read_le(b: &[u8]) -> Vec<Self>;
    /// The exhaustive accumulator of this type in `scratch`.
    fn accumulator(scratch: &mut crate::scratch::Scratch) -> &mut Vec<Self::Acc>;
}

impl Impact for u8 {
    const BITS: u32 = 8;
    const MAX: u32 = 255;
    type Acc = u32;

    fn from_u32(x: u32) -> Self {
        x as u8
    }
    fn get(self) -> u32 {
        self as u32
    }
    #[inline(always)]
    fn product(w: u16, i: Self) -> u32 {
        w as u32 * i as u32
    }
    #[inline(always)]
    fn top_byte(self) -> u8 {
        self
    }
    fn query_max(n: usize) -> u16 {
        (u32::MAX as u64 / (255 * n.max(1) as u64)).min(65_535) as u16
    }
    fn write_le(v: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(v);
    }
    fn read_le(b: &[u8]) -> Vec<Self> {
        b.to_vec()
    }
    fn accumulator(scratch: &mut crate::scratch::Scratch) -> &mut Vec<u32> {
        &mut scratch.doc_acc
    }
}

impl Impact for u16 {
    const BITS: u32 = 16;
    const MAX: u32 = 65_535;
    type Acc = u64;

    fn from_u32(x: u32) -> Self {
        x as u16
    }
    fn get(self) -> u32 {
        self as u32
    }
    #[inline(always)]
    fn product(w: u16, i: Self) -> u64 {
        w as u64 * i as u64
    }
    #[inline(always)]
    fn top_byte(self) -> u8 {
        (self >> 8) as u8
    }
    fn query_max(_n: usize) -> u16 {
        // 65,535² · 2³² terms still fit a u64.
        65_535
    }
    fn write_le(v: &[Self], out: &mut Vec<u8>) {
        v.iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    fn read_le(b: &[u8]) -> Vec<Self> {
        b.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    }
    fn accumulator(scratch: &mut crate::scratch::Scratch) -> &mut Vec<u64> {
        &mut scratch.doc_acc_wide
    }
}
