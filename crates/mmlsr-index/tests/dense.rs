//! The flat dense baseline against a float64 scan, and batch search against one-by-one.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{Algorithm, DenseFlat, IndexConfig, InvertedIndex, QueryWeights, Scratch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn flat_inner_product_matches_float64() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (n, d) = (700, 37); // a dimension that is not a multiple of 8
    let data: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let flat = DenseFlat::new(d, data.clone()).unwrap();
    for _ in 0..20 {
        let q: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let got = flat.search(&q, 10).unwrap();
        let mut want: Vec<(u32, f64)> = data
            .chunks_exact(d)
            .enumerate()
            .map(|(r, row)| {
                (
                    r as u32,
                    row.iter().zip(&q).map(|(a, b)| *a as f64 * *b as f64).sum(),
                )
            })
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.doc, w.0);
            assert!((g.score as f64 - w.1).abs() < 1e-4);
        }
    }
    // Many queries at once, in blocks per pass over the vectors: the same hits as one by one
    // (a query count that is not a multiple of the block).
    let queries: Vec<f32> = (0..19 * d)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let batch = flat.search_batch(&queries, 10).unwrap();
    assert_eq!(batch.len(), 19);
    for (q, hits) in queries.chunks_exact(d).zip(&batch) {
        assert_eq!(hits, &flat.search(q, 10).unwrap());
    }
    assert!(flat.search_batch(&queries[1..], 10).is_err());
    assert!(flat.search(&[1.0], 3).is_err());
    assert!(DenseFlat::new(3, vec![0.0, f32::NAN, 1.0]).is_err());
    assert_eq!(flat.search(&vec![0.0; d], 0).unwrap(), vec![]);
}

#[test]
fn batch_search_equals_one_by_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let v = 80;
    let mut docs = CsrMatrix::empty(v);
    for _ in 0..2000 {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v as u32 {
            if rng.random_bool(0.1) {
                i.push(t);
                w.push(rng.random_range(0.0f32..2.0));
            }
        }
        docs.push_row(&i, &w).unwrap();
    }
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let qs: Vec<QueryWeights> = docs
        .rows()
        .take(100)
        .map(|r| QueryWeights::new(r, v).unwrap())
        .collect();
    let batch = index.search_batch(&qs, 10, Algorithm::Exhaustive);
    let mut s = Scratch::default();
    for (q, b) in qs.iter().zip(&batch) {
        assert_eq!(&index.search(q, 10, Algorithm::Exhaustive, &mut s), b);
    }
}

/// HNSW over random unit vectors: recall of the flat scan's top-10 is high, and its scores
/// are the true inner products.
#[cfg(feature = "hnsw")]
#[test]
fn hnsw_recalls_the_flat_top_10() {
    use mmlsr_index::{DenseFlat, DenseHnsw, HnswConfig, dot};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let dim = 32;
    let unit = |rng: &mut rand_chacha::ChaCha8Rng| {
        let v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let n = dot(&v, &v).sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let data: Vec<f32> = (0..3_000).flat_map(|_| unit(&mut rng)).collect();
    let flat = DenseFlat::new(dim, data.clone()).unwrap();
    let hnsw = DenseHnsw::build(dim, &data, HnswConfig::default()).unwrap();
    let mut found = 0;
    for _ in 0..100 {
        let q = unit(&mut rng);
        let exact = flat.search(&q, 10).unwrap();
        let approx = hnsw.search(&q, 10).unwrap();
        assert_eq!(approx.len(), 10);
        for h in &approx {
            let row = &data[h.doc as usize * dim..(h.doc as usize + 1) * dim];
            assert!((h.score - dot(&q, row)).abs() < 1e-5);
        }
        found += exact
            .iter()
            .filter(|e| approx.iter().any(|a| a.doc == e.doc))
            .count();
    }
    assert!(found >= 950, "recall {found}/1000");
    assert!(hnsw.search(&[0.0; 3], 10).is_err());
}
