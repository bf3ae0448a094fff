//! The Zipf sparse-vector generator hits the FLOPs it is asked for (D2S eq. 1 measured on the
//! sample from document frequencies), and its rows are valid sparse vectors.

use mmlsr_synth::ZipfTerms;
use rand::SeedableRng;

fn flops(q: &mmlsr_core::CsrMatrix, d: &mmlsr_core::CsrMatrix) -> f64 {
    let v = q.n_cols();
    let (mut dq, mut dd) = (vec![0f64; v], vec![0f64; v]);
    q.raw().1.iter().for_each(|&t| dq[t as usize] += 1.0);
    d.raw().1.iter().for_each(|&t| dd[t as usize] += 1.0);
    dq.iter().zip(&dd).map(|(a, b)| a * b).sum::<f64>() / (q.n_rows() * d.n_rows()) as f64
}

#[test]
fn generated_vectors_have_the_requested_flops() {
    let zipf = ZipfTerms::new(30_522);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for target in [3.0, 12.0, 80.0] {
        let len = zipf.terms_for_flops(target);
        let docs = zipf.sample(&mut rng, 4_000, len);
        let queries = zipf.sample(&mut rng, 1_000, len);
        assert!(docs.rows().all(|r| r.indices.len() == len
            && r.indices.windows(2).all(|w| w[0] < w[1])
            && r.values.iter().all(|&w| w > 0.0)));
        let f = flops(&queries, &docs);
        assert!(
            (f / target - 1.0).abs() < 0.15,
            "target {target}: measured {f}"
        );
    }
    // A vocabulary smaller than the request: every term, no endless loop.
    let small = ZipfTerms::new(5);
    let m = small.sample(&mut rng, 3, 9);
    assert!(m.rows().all(|r| r.indices == [0, 1, 2, 3, 4]));
}

/// Chunked generation on all threads gives the same rows as on one thread (and the chunks are
/// the serial generator's rows, seeded per chunk), so a collection is named by its seed alone.
#[test]
fn seeded_generation_does_not_depend_on_threads() {
    let zipf = ZipfTerms::new(30_522);
    let rows = ZipfTerms::CHUNK_ROWS + 1_000;
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| zipf.sample_seeded(9, rows, 24));
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(|| zipf.sample_seeded(9, rows, 24));
    assert_eq!(one, many);
    assert_eq!(one.n_rows(), rows);
    assert!(one.rows().all(|r| r.indices.len() == 24));
    // The second chunk is the serial generator's first 1,000 rows under its own seed.
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(9 ^ 2u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let tail = zipf.sample(&mut rng, 1_000, 24);
    for (r, t) in (ZipfTerms::CHUNK_ROWS..rows).zip(tail.rows()) {
        assert_eq!(one.row(r), t);
    }
    assert_ne!(
        zipf.sample_seeded(10, 10, 24),
        zipf.sample_seeded(9, 10, 24)
    );
}
