//! Sparse vectors with a chosen FLOPs, for index benchmarks before (or besides) trained heads:
//! terms drawn from a Zipf(1) law over the vocabulary, the same number `L` of active terms in
//! every query and document, log-normal weights. A row draws terms until it has `L` distinct
//! ones; after `m` draws term `v` is in it with probability `p_v ≈ 1 − e^{−π_v m}`, so the
//! expected FLOPs (D2S eq. 1) is `Σ_v p_v²` with `L = Σ_v p_v`: [`ZipfTerms::terms_for_flops`]
//! solves that for `m` and returns `L`.

use mmlsr_core::CsrMatrix;
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_distr::{Distribution, LogNormal};

/// A Zipf(1) term sampler over `vocab_size` terms (rank `r` drawn with probability ∝ 1/r,
/// ranks mapped to term ids by a fixed random permutation, so frequent terms are spread over
/// the ids).
#[derive(Debug, Clone)]
pub struct ZipfTerms {
    cdf: Vec<f64>,
    rank_to_term: Vec<u32>,
}

impl ZipfTerms {
    /// The sampler for a vocabulary of `vocab_size` (≥ 1) terms.
    pub fn new(vocab_size: usize) -> Self {
        let w: Vec<f64> = (1..=vocab_size.max(1)).map(|r| 1.0 / r as f64).collect();
        let z: f64 = w.iter().sum();
        let mut c = 0.0;
        let cdf = w
            .iter()
            .map(|x| {
                c += x / z;
                c
            })
            .collect();
        let mut rank_to_term: Vec<u32> = (0..vocab_size.max(1) as u32).collect();
        rank_to_term.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed));
        Self { cdf, rank_to_term }
    }

    /// Active terms per vector whose expected FLOPs is `target` (at least 1, at most |V|).
    pub fn terms_for_flops(&self, target: f64) -> usize {
        let probs: Vec<f64> = std::iter::once(self.cdf[0])
            .chain(self.cdf.windows(2).map(|w| w[1] - w[0]))
            .collect();
        let incl = |m: f64| probs.iter().map(move |&p| 1.0 - (-p * m).exp());
        let flops = |m: f64| incl(m).map(|p| p * p).sum::<f64>();
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        while flops(hi) < target && hi < 1e12 {
            hi *= 2.0;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if flops(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (incl(hi).sum::<f64>().round() as usize).clamp(1, self.cdf.len())
    }

    /// Rows per chunk of [`ZipfTerms::sample_seeded`].
    pub const CHUNK_ROWS: usize = 1 << 16;

    /// Like [`ZipfTerms::sample`] for large collections: rows drawn in chunks of
    /// [`Self::CHUNK_ROWS`], chunk `c` from its own generator (`seed` mixed with `c`), on all
    /// threads; the same `seed` gives the same rows whatever the number of threads.
    pub fn sample_seeded(&self, seed: u64, rows: usize, len: usize) -> CsrMatrix {
        use rayon::prelude::*;
        let chunks: Vec<CsrMatrix> = (0..rows.div_ceil(Self::CHUNK_ROWS))
            .into_par_iter()
            .map(|c| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                    seed ^ (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let n = Self::CHUNK_ROWS.min(rows - c * Self::CHUNK_ROWS);
                self.sample(&mut rng, n, len)
            })
            .collect();
        let mut out = CsrMatrix::empty(self.cdf.len());
        for chunk in &chunks {
            for row in chunk.rows() {
                out.push_row(row.indices, row.values)
                    .expect("rows of one vocabulary");
            }
        }
        out
    }

    /// `rows` vectors of `len` distinct terms each (sorted), weights LogNormal(0, 0.6).
    pub fn sample(&self, rng: &mut impl Rng, rows: usize, len: usize) -> CsrMatrix {
        let v = self.cdf.len();
        let len = len.min(v);
        let ln = LogNormal::new(0.0, 0.6).expect("valid log-normal");
        let mut m = CsrMatrix::empty(v);
        let mut terms: Vec<u32> = Vec::with_capacity(len);
        for _ in 0..rows {
            terms.clear();
            while terms.len() < len {
                let u: f64 = rng.random();
                let rank = self.cdf.partition_point(|&c| c < u).min(v - 1);
                let t = self.rank_to_term[rank];
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
            terms.sort_unstable();
            let w: Vec<f32> = terms.iter().map(|_| ln.sample(rng) as f32).collect();
            m.push_row(&terms, &w).expect("sorted distinct terms");
        }
        m
    }
}
