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

/// `n × d` values in [-1, 1), each row L2-normalised (dense caption or image embeddings).
pub fn unit_rows(n: usize, d: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut x: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    for row in x.chunks_exact_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}
