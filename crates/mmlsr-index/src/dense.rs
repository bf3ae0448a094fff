//! Exact dense retrieval, the baseline of the D2S latency table: a flat inner-product scan
//! over row-major `f32` vectors, written so the compiler vectorises it (eight independent
//! partial sums per dot product).

use std::{cmp::Reverse, collections::BinaryHeap};

use mmlsr_core::{Hit, sort_hits};

use crate::{Error, Result};

/// Dense vectors, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseFlat {
    dim: usize,
    data: Vec<f32>,
}

/// Total order on f32 scores for the heap (NaN never occurs: inputs are checked finite).
#[derive(Debug, Clone, Copy)]
struct Score(f32);
impl PartialEq for Score {
    fn eq(&self, o: &Self) -> bool {
        self.0.total_cmp(&o.0).is_eq()
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// `data` must form rows of `dim` (≥ 1) finite values.
pub(crate) fn check_rows(dim: usize, data: &[f32]) -> Result<()> {
    if dim == 0 || data.len() % dim != 0 {
        return Err(Error::Config(format!(
            "{} values do not form rows of dimension {dim}",
            data.len()
        )));
    }
    if let Some(p) = data.iter().position(|x| !x.is_finite()) {
        return Err(Error::Config(format!(
            "row {}: value {} is not finite",
            p / dim,
            data[p]
        )));
    }
    Ok(())
}

/// A query must have the vectors' dimension.
pub(crate) fn check_query(dim: usize, query: &[f32]) -> Result<()> {
    if query.len() != dim {
        return Err(Error::Query(format!(
            "query has {} values, the vectors {dim}",
            query.len()
        )));
    }
    Ok(())
}

/// Dot product with eight lanes of partial sums.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

impl DenseFlat {
    /// Wrap `rows × dim` values; every value must be finite.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        check_rows(dim, &data)?;
        Ok(Self { dim, data })
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every vector's inner product with each row of `queries` (`n × dim`, row-major), into
    /// `out` (`n × len()`, row-major, overwritten), queries on all threads of the current rayon
    /// pool: the exhaustive dense score matrix (the same [`dot`] as [`DenseFlat::search`]).
    pub fn score_rows(&self, queries: &[f32], out: &mut [f32]) -> Result<()> {
        use rayon::prelude::*;
        check_rows(self.dim, queries)?;
        let (n, len) = (queries.len() / self.dim, self.len());
        if out.len() != n * len {
            return Err(Error::Query(format!(
                "score buffer of {} for {n} queries × {len} vectors",
                out.len()
            )));
        }
        if len == 0 {
            return Ok(());
        }
        out.par_chunks_exact_mut(len)
            .zip(queries.par_chunks_exact(self.dim))
            .for_each(|(row, q)| {
                for (o, v) in row.iter_mut().zip(self.data.chunks_exact(self.dim)) {
                    *o = dot(q, v);
                }
            });
        Ok(())
    }

    /// The `k` largest inner products with `query` (score desc, then row asc).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        check_query(self.dim, query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut top = TopK::new(k);
        for (r, row) in self.data.chunks_exact(self.dim).enumerate() {
            top.offer(dot(query, row), r as u32);
        }
        Ok(top.into_hits())
    }

    /// [`DenseFlat::search`] for every row of `queries` (`n × dim`, row-major), on all threads
    /// of the current rayon pool, [`DENSE_QUERY_BLOCK`] queries per pass over the vectors (each
    /// vector is read once per block instead of once per query): the same hits as one
    /// `search` per query.
    pub fn search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Hit>>> {
        use rayon::prelude::*;
        check_rows(self.dim, queries)?;
        if k == 0 {
            return Ok(vec![Vec::new(); queries.len() / self.dim]);
        }
        let blocks: Vec<Vec<Vec<Hit>>> = queries
            .par_chunks(DENSE_QUERY_BLOCK * self.dim)
            .map(|block| {
                let mut tops: Vec<TopK> =
                    (0..block.len() / self.dim).map(|_| TopK::new(k)).collect();
                for (r, row) in self.data.chunks_exact(self.dim).enumerate() {
                    for (top, q) in tops.iter_mut().zip(block.chunks_exact(self.dim)) {
                        top.offer(dot(q, row), r as u32);
                    }
                }
                tops.into_iter().map(TopK::into_hits).collect()
            })
            .collect();
        Ok(blocks.into_iter().flatten().collect())
    }
}

/// Queries that [`DenseFlat::search_batch`] scores per pass over the vectors.
pub const DENSE_QUERY_BLOCK: usize = 8;

/// The `k` best (score, row) offers: score descending, then row ascending.
struct TopK {
    k: usize,
    heap: BinaryHeap<(Reverse<Score>, u32)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, score: f32, row: u32) {
        if self.k == 0 {
            return;
        }
        let key = (Reverse(Score(score)), row);
        if self.heap.len() < self.k {
            self.heap.push(key);
        } else if key < *self.heap.peek().expect("full heap") {
            self.heap.pop();
            self.heap.push(key);
        }
    }

    fn into_hits(self) -> Vec<Hit> {
        let mut out: Vec<Hit> = self
            .heap
            .into_iter()
            .map(|(Reverse(s), r)| Hit::new(r, s.0))
            .collect();
        sort_hits(&mut out);
        out
    }
}
