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
