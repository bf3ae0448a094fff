//! Single-thread latency of the exact algorithms on a generated collection the size of the
//! D2S latency table (123,287 images), at three sparsity levels (FLOPs ≈ 3, 12, 80, the range
//! D2S reports), for k = 10, 100, 1000.
//!
//! `cargo run --release -p mmlsr-index --example latency [-- DOCS QUERIES]`
//!
//! Vectors: terms drawn from a Zipf(1) distribution over 30,522 entries (BERT's vocabulary),
//! the same number of active terms L for queries and documents, chosen so that the expected
//! FLOPs `L² Σ π_v²` hits the target; weights log-normal. FLOPs are measured on the sample.

use std::time::Instant;

use mmlsr_core::CsrMatrix;
use mmlsr_index::{Algorithm, IndexConfig, InvertedIndex, QueryWeights, Scratch};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

const V: usize = 30_522;

fn zipf_cdf() -> (Vec<f64>, f64) {
    let w: Vec<f64> = (1..=V).map(|r| 1.0 / r as f64).collect();
    let z: f64 = w.iter().sum();
    let sum_sq = w.iter().map(|x| (x / z) * (x / z)).sum::<f64>();
    let mut c = 0.0;
    let cdf = w.iter().map(|x| {
        c += x / z;
        c
    });
    (cdf.collect(), sum_sq)
}

fn sample(rng: &mut impl Rng, cdf: &[f64], rows: usize, len: usize) -> CsrMatrix {
    let ln = LogNormal::new(0.0, 0.6).expect("valid");
    // Random permutation of ranks to term ids, so frequent terms are spread over the ids.
    let mut m = CsrMatrix::empty(V);
    let mut terms: Vec<u32> = Vec::with_capacity(len);
    for _ in 0..rows {
        terms.clear();
        while terms.len() < len {
            let u: f64 = rng.random();
            let t = cdf.partition_point(|&c| c < u).min(V - 1) as u32;
            let t = t.wrapping_mul(2_654_435_761) % V as u32;
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        terms.sort_unstable();
        let w: Vec<f32> = terms.iter().map(|_| ln.sample(rng) as f32).collect();
        m.push_row(&terms, &w).expect("valid row");
    }
    m
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_docs = args.first().copied().unwrap_or(123_287);
    let n_q = args.get(1).copied().unwrap_or(1_000);
    let (cdf, sum_sq) = zipf_cdf();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    println!(
        "{n_docs} documents, {n_q} queries, |V| = {V}, one thread; latency per query (mean, ms)"
    );
    println!(
        "{:>6} {:>4} {:>8} {:>6} | {:>10} {:>10} {:>10} {:>8} | {:>10} {:>9}",
        "target",
        "L",
        "FLOPs",
        "k",
        "exhaustive",
        "MaxScore",
        "BlockMax",
        "BMP gain",
        "ns/posting",
        "postings"
    );
    for target in [3.0f64, 12.0, 80.0] {
        let len = (target / sum_sq).sqrt().round() as usize;
        let docs = sample(&mut rng, &cdf, n_docs, len);
        let queries = sample(&mut rng, &cdf, n_q, len);
        let t = Instant::now();
        let index = InvertedIndex::build(&docs, IndexConfig::default()).expect("index");
        let build = t.elapsed().as_secs_f64();
        let flops = mmlsr_flops(&queries, &docs);
        let qs: Vec<QueryWeights> = queries
            .rows()
            .map(|q| QueryWeights::new(q, V).expect("query"))
            .collect();
        let mut s = Scratch::default();
        for k in [10usize, 100, 1000] {
            let mut times = [0.0f64; 3];
            let mut postings = 0u64;
            for (a, alg) in [
                Algorithm::Exhaustive,
                Algorithm::MaxScore,
                Algorithm::BlockMax,
            ]
            .into_iter()
            .enumerate()
            {
                let t = Instant::now();
                for q in &qs {
                    std::hint::black_box(index.search(q, k, alg, &mut s));
                    if a == 0 {
                        postings += s.postings_scored;
                    }
                }
                times[a] = t.elapsed().as_secs_f64();
            }
            println!(
                "{:>6} {:>4} {:>8.2} {:>6} | {:>10.3} {:>10.3} {:>10.3} {:>7.2}× | {:>10.2} {:>9.0}",
                target,
                len,
                flops,
                k,
                times[0] * 1e3 / n_q as f64,
                times[1] * 1e3 / n_q as f64,
                times[2] * 1e3 / n_q as f64,
                times[0] / times[2],
                times[0] * 1e9 / postings as f64,
                postings as f64 / n_q as f64
            );
        }
        eprintln!(
            "  (index built in {build:.2} s, {} postings)",
            index.n_postings()
        );
    }
}

/// FLOPs, D2S eq. (1), from document frequencies.
fn mmlsr_flops(q: &CsrMatrix, d: &CsrMatrix) -> f64 {
    let mut dq = vec![0u64; V];
    let mut dd = vec![0u64; V];
    q.raw().1.iter().for_each(|&t| dq[t as usize] += 1);
    d.raw().1.iter().for_each(|&t| dd[t as usize] += 1);
    dq.iter()
        .zip(&dd)
        .map(|(a, b)| (*a * *b) as f64)
        .sum::<f64>()
        / (q.n_rows() as f64 * d.n_rows() as f64)
}
