//! Shared helpers for the criterion benchmarks in `benches/`: seeded corpora.

use mmlsr_store::{EmbeddingTable, IdIndex};
use rand::{Rng, SeedableRng};

/// A random embedding table of `rows × dim` with ids `"0"`, `"1"`, … (seeded).
pub fn random_table(rows: usize, dim: usize, seed: u64) -> EmbeddingTable {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let ids = IdIndex::from_ids((0..rows).map(|i| i.to_string())).expect("unique ids");
    let data = (0..rows * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    EmbeddingTable::new(ids, dim, data).expect("finite values")
}
