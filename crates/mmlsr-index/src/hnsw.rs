//! The approximate dense baseline of the latency table: HNSW (Malkov & Yashunin, 2018)
//! through the `hnsw_rs` crate, over the same vectors as [`crate::DenseFlat`], ranking by inner
//! product (distance `1 − ⟨q, x⟩`; on unit vectors that is the cosine order).

use hnsw_rs::{anndists::dist::Distance, hnsw::Hnsw};

use mmlsr_core::{Hit, sort_hits};

use crate::{Error, Result};

/// `1 − ⟨a, b⟩` without `anndists`' unit-length assertion (inner products of vectors that
/// are only approximately unit length may exceed 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct InnerProductDistance;

impl Distance<f32> for InnerProductDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        1.0 - crate::dot(a, b)
    }
}

/// Build and search settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswConfig {
    /// M: neighbours kept per node and layer.
    pub max_connections: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Candidate list size while searching (raised to k when smaller).
    pub ef_search: usize,
}

impl Default for HnswConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            ef_construction: 200,
            ef_search: 100,
        }
    }
}

/// An HNSW graph over dense vectors.
pub struct DenseHnsw {
    dim: usize,
    graph: Hnsw<'static, f32, InnerProductDistance>,
    ef_search: usize,
}

impl std::fmt::Debug for DenseHnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseHnsw")
            .field("dim", &self.dim)
            .field("ef_search", &self.ef_search)
            .finish_non_exhaustive()
    }
}

impl DenseHnsw {
    /// Build over `rows × dim` row-major finite values, inserting on all rayon threads.
    pub fn build(dim: usize, data: &[f32], config: HnswConfig) -> Result<Self> {
        crate::dense::check_rows(dim, data)?;
        if config.max_connections == 0 || config.max_connections > 256 {
            return Err(Error::Config(format!(
                "max_connections must be in 1..=256, found {}",
                config.max_connections
            )));
        }
        let n = data.len() / dim;
        let layers = 16.min(((n.max(2)) as f32).ln().ceil() as usize).max(1);
        let graph = Hnsw::new(
            config.max_connections,
            n.max(1),
            layers,
            config.ef_construction,
            InnerProductDistance,
        );
        let rows: Vec<(&[f32], usize)> = data.chunks_exact(dim).zip(0..n).collect();
        graph.parallel_insert_slice(&rows);
        Ok(Self {
            dim,
            graph,
            ef_search: config.ef_search,
        })
    }

    /// Change the search-time candidate list size.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.ef_search = ef;
    }

    /// The approximate `k` largest inner products (score desc, then row asc).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        crate::dense::check_query(self.dim, query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut out: Vec<Hit> = self
            .graph
            .search(query, k, self.ef_search.max(k))
            .into_iter()
            .map(|n| Hit::new(n.d_id as u32, 1.0 - n.distance))
            .collect();
        sort_hits(&mut out);
        out.truncate(k);
        Ok(out)
    }
}
