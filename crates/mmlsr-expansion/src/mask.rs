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

    /// The sorted columns that some caption of the batch may activate; `None` when one may
    /// activate every column ([`RowMask::All`] or [`RowMask::DrawnOwnPlusAll`]). Outside these
    /// columns every caption vector of the batch is zero, so a training step can compute the
    /// caption tower, the score matrix and the caption regulariser on them alone.
    pub fn columns(&self) -> Option<Vec<u32>> {
        let free = |r: &RowMask| matches!(r, RowMask::All | RowMask::DrawnOwnPlusAll(_));
        if self.rows.iter().any(free) {
            return None;
        }
        let mut seen = vec![false; self.vocab_size];
        for (r, row) in self.rows.iter().enumerate() {
            match *row {
                RowMask::All | RowMask::DrawnOwnPlusAll(_) | RowMask::OwnOnly => {}
                RowMask::OwnPlusDrawn(d) => {
                    for (s, &x) in seen.iter_mut().zip(&self.word_draws[d]) {
                        *s |= x;
                    }
                }
            }
            for &t in &self.own[r] {
                seen[t as usize] = true;
            }
        }
        Some(
            seen.iter()
                .enumerate()
                .filter(|&(_, &s)| s)
                .map(|(t, _)| t as u32)
                .collect(),
        )
    }

    /// Write the mask restricted to `columns` (sorted, as from [`BatchMask::columns`]) as a
    /// dense `rows × columns.len()` matrix of 0.0 / 1.0: column `j` of the result is column
    /// `columns[j]` of [`BatchMask::write_dense`]'s.
    ///
    /// # Panics
    /// If `out.len() != rows × columns.len()` or a column is out of range.
    pub fn write_dense_columns(&self, columns: &[u32], out: &mut [f32]) {
        let u = columns.len();
        assert_eq!(out.len(), self.rows.len() * u, "mask buffer shape");
        for (r, row) in out
            .chunks_exact_mut(u.max(1))
            .enumerate()
            .take(self.rows.len())
        {
            if self.rows[r] == RowMask::OwnOnly {
                row.fill(0.0);
                for &t in &self.own[r] {
                    if let Ok(j) = columns.binary_search(&t) {
                        row[j] = 1.0;
                    }
                }
            } else {
                for (m, &t) in row.iter_mut().zip(columns) {
                    *m = self.allows(r, t) as u8 as f32;
                }
            }
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
