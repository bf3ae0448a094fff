//! The mask applied to a batch of sparse caption vectors.

/// What one caption of a batch may activate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMask {
    /// Every vocabulary term (no restriction).
    All,
    /// Only the caption's own terms.
    OwnOnly,
    /// The caption's own terms, plus expansion terms whose word-level draw (index into the
    /// batch's draws) is 1.
    OwnPlusDrawn(usize),
    /// Algorithm 1 read literally: own terms whose draw is 1, plus every expansion term.
    DrawnOwnPlusAll(usize),
}

/// Masks of one batch: for each caption a [`RowMask`], its own terms, and the word-level
/// draws the rows refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMask {
    vocab_size: usize,
    rows: Vec<RowMask>,
    own: Vec<Vec<u32>>,
    word_draws: Vec<Vec<bool>>,
}

impl BatchMask {
    pub(crate) fn new(
        vocab_size: usize,
        rows: Vec<RowMask>,
        own: Vec<Vec<u32>>,
        word_draws: Vec<Vec<bool>>,
    ) -> Self {
        Self {
            vocab_size,
            rows,
            own,
            word_draws,
        }
    }

    /// The per-caption masks.
    pub fn rows(&self) -> &[RowMask] {
        &self.rows
    }

    /// True when no caption is restricted (the mask is all ones and can be skipped).
    pub fn is_unrestricted(&self) -> bool {
        self.rows.iter().all(|r| *r == RowMask::All)
    }

    /// Whether caption `row` may activate `term`.
    ///
    /// # Panics
    /// If `row` or `term` is out of range.
    pub fn allows(&self, row: usize, term: u32) -> bool {
        let own = || self.own[row].binary_search(&term).is_ok();
        match self.rows[row] {
            RowMask::All => true,
            RowMask::OwnOnly => own(),
            RowMask::OwnPlusDrawn(d) => own() || self.word_draws[d][term as usize],
            RowMask::DrawnOwnPlusAll(d) => !own() || self.word_draws[d][term as usize],
        }
    }

    /// Write the mask as a dense `rows × vocab_size` matrix of 0.0 / 1.0 (row-major), to be
    /// multiplied with the batch's caption vectors.
    ///
    /// # Panics
    /// If `out.len() != rows × vocab_size`.
    pub fn write_dense(&self, out: &mut [f32]) {
        let v = self.vocab_size;
        assert_eq!(out.len(), self.rows.len() * v, "mask buffer shape");
        for (r, row) in out.chunks_exact_mut(v.max(1)).enumerate() {
            match self.rows[r] {
                RowMask::All => row.fill(1.0),
                RowMask::OwnOnly => {
                    row.fill(0.0);
                    for &t in &self.own[r] {
                        row[t as usize] = 1.0;
                    }
                }
                RowMask::OwnPlusDrawn(d) => {
                    for (m, &x) in row.iter_mut().zip(&self.word_draws[d]) {
                        *m = x as u8 as f32;
                    }
                    for &t in &self.own[r] {
                        row[t as usize] = 1.0;
                    }
                }
                RowMask::DrawnOwnPlusAll(d) => {
                    row.fill(1.0);
                    for &t in &self.own[r] {
                        row[t as usize] = self.word_draws[d][t as usize] as u8 as f32;
                    }
                }
            }
        }
    }
}
