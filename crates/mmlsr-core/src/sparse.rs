//! Sparse vectors and compressed sparse row (CSR) matrices over a vocabulary.
//!
//! Invariant, enforced by every constructor: within a row, term ids are strictly increasing
//! (sorted, no duplicates), below the number of columns, and every weight is finite.

use crate::{Error, Result};

/// Check one row's invariants; `n_cols = None` skips the range check.
fn check_row(row: usize, indices: &[u32], values: &[f32], n_cols: Option<usize>) -> Result<()> {
    if indices.len() != values.len() {
        return Err(Error::LengthMismatch {
            what: "indices and values",
            expected: indices.len(),
            found: values.len(),
        });
    }
    for (position, pair) in indices.windows(2).enumerate() {
        if pair[1] <= pair[0] {
            return Err(Error::UnsortedIndices {
                row,
                position: position + 1,
                previous: pair[0],
                id: pair[1],
            });
        }
    }
    if let (Some(n_cols), Some(&last)) = (n_cols, indices.last())
        && last as usize >= n_cols
    {
        return Err(Error::IndexOutOfRange {
            row,
            id: last,
            n_cols,
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            row,
            id: indices[i],
            value: values[i],
        });
    }
    Ok(())
}

/// A borrowed sparse row: parallel slices of strictly increasing term ids and their weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparseRow<'a> {
    /// Term ids, strictly increasing.
    pub indices: &'a [u32],
    /// Weights, one per term id.
    pub values: &'a [f32],
}

impl SparseRow<'_> {
    /// Number of stored (active) terms.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Dot product with another sparse row, by merging the two sorted id lists.
    pub fn dot(&self, other: &SparseRow<'_>) -> f32 {
        let (mut i, mut j, mut acc) = (0, 0, 0.0f32);
        while i < self.indices.len() && j < other.indices.len() {
            match self.indices[i].cmp(&other.indices[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    acc += self.values[i] * other.values[j];
                    i += 1;
                    j += 1;
                }
            }
        }
        acc
    }
}

/// An owned sparse vector with strictly increasing term ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseVec {
    /// Build a vector, rejecting unsorted or duplicate ids, mismatched lengths and
    /// non-finite weights.
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<Self> {
        check_row(0, &indices, &values, None)?;
        Ok(Self { indices, values })
    }

    /// Build from a dense slice, keeping the entries that are not zero.
    pub fn from_dense(dense: &[f32]) -> Result<Self> {
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for (k, &v) in dense.iter().enumerate() {
            if v != 0.0 {
                indices.push(k as u32);
                values.push(v);
            }
        }
        Self::new(indices, values)
    }

    /// Term ids.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Weights.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Borrow as a row.
    pub fn as_row(&self) -> SparseRow<'_> {
        SparseRow {
            indices: &self.indices,
            values: &self.values,
        }
    }

    /// Number of active terms.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Dot product with another vector.
    pub fn dot(&self, other: &SparseVec) -> f32 {
        self.as_row().dot(&other.as_row())
    }
}

/// A sparse matrix in compressed sparse row layout: row `r` holds
/// `indices[indptr[r]..indptr[r + 1]]` with weights `values[..]` over `n_cols` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl CsrMatrix {
    /// An empty matrix (no rows) over `n_cols` columns; grow it with [`CsrMatrix::push_row`].
    pub fn empty(n_cols: usize) -> Self {
        Self {
            n_cols,
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Build from raw CSR arrays, validating every row.
    pub fn new(
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<Self> {
        if indptr.first() != Some(&0) {
            return Err(Error::BadIndptr("indptr must start with 0".into()));
        }
        if indptr.last() != Some(&indices.len()) {
            return Err(Error::BadIndptr(format!(
                "indptr must end with nnz = {}, found {:?}",
                indices.len(),
                indptr.last()
            )));
        }
        if indices.len() != values.len() {
            return Err(Error::LengthMismatch {
                what: "indices and values",
                expected: indices.len(),
                found: values.len(),
            });
        }
        for (row, w) in indptr.windows(2).enumerate() {
            if w[1] < w[0] {
                return Err(Error::BadIndptr(format!("indptr decreases at row {row}")));
            }
            check_row(row, &indices[w[0]..w[1]], &values[w[0]..w[1]], Some(n_cols))?;
        }
        Ok(Self {
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// Append a row, validating it.
    pub fn push_row(&mut self, indices: &[u32], values: &[f32]) -> Result<()> {
        check_row(self.n_rows(), indices, values, Some(self.n_cols))?;
        self.indices.extend_from_slice(indices);
        self.values.extend_from_slice(values);
        self.indptr.push(self.indices.len());
        Ok(())
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns (vocabulary size).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Total number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `r`.
    ///
    /// # Panics
    /// If `r >= self.n_rows()`.
    pub fn row(&self, r: usize) -> SparseRow<'_> {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        SparseRow {
            indices: &self.indices[a..b],
            values: &self.values[a..b],
        }
    }

    /// Iterate over the rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = SparseRow<'_>> + '_ {
        (0..self.n_rows()).map(|r| self.row(r))
    }

    /// The row holding entry `i` of the raw arrays (`i < nnz`), e.g. to name the document of
    /// a bad weight found by scanning `values`.
    pub fn row_of_entry(&self, i: usize) -> usize {
        self.indptr.partition_point(|&p| p <= i) - 1
    }

    /// The raw arrays `(indptr, indices, values)`.
    pub fn raw(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.indptr, &self.indices, &self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_vec_rejects_unsorted_duplicate_and_nan() {
        assert!(matches!(
            SparseVec::new(vec![3, 1], vec![1.0, 1.0]),
            Err(Error::UnsortedIndices { position: 1, .. })
        ));
        assert!(matches!(
            SparseVec::new(vec![1, 1], vec![1.0, 1.0]),
            Err(Error::UnsortedIndices { .. })
        ));
        assert!(matches!(
            SparseVec::new(vec![1, 2], vec![1.0, f32::NAN]),
            Err(Error::NonFinite { id: 2, .. })
        ));
        assert!(matches!(
            SparseVec::new(vec![1], vec![]),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn dot_matches_dense_dot() {
        let a = [0.0, 1.5, 0.0, 2.0, 0.0, -1.0];
        let b = [3.0, 0.5, 0.0, 0.0, 1.0, 4.0];
        let dense: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let sa = SparseVec::from_dense(&a).unwrap();
        let sb = SparseVec::from_dense(&b).unwrap();
        assert_eq!(sa.nnz(), 3);
        assert_eq!(sa.dot(&sb), dense);
        assert_eq!(sb.dot(&sa), dense);
    }

    #[test]
    fn csr_validates_rows_and_round_trips() {
        let mut m = CsrMatrix::empty(5);
        m.push_row(&[0, 4], &[1.0, 2.0]).unwrap();
        m.push_row(&[], &[]).unwrap();
        m.push_row(&[2], &[3.0]).unwrap();
        assert!(m.push_row(&[5], &[1.0]).is_err());
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.nnz(), 3);
        let (p, i, v) = m.raw();
        let again = CsrMatrix::new(5, p.to_vec(), i.to_vec(), v.to_vec()).unwrap();
        assert_eq!(again, m);
        assert_eq!(m.row(2).indices, &[2]);
        assert!(CsrMatrix::new(5, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]).is_err());
        assert!(CsrMatrix::new(5, vec![1, 2], vec![0, 1], vec![1.0, 1.0]).is_err());
    }
}
