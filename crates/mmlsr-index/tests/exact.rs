//! The unquantised mode (`ExactIndex`) returns exactly the brute-force `f64` top-k of
//! `exact_top_k_f64` (same documents, bit-identical scores, ties by document id) on random and
//! adversarial collections, and refuses bad queries by name.

use mmlsr_core::{CsrMatrix, SparseRow};
use mmlsr_index::{
    Error, ExactIndex, ExactScratch, Hit, IndexConfig, InvertedIndex, QueryMode, exact_top_k_f64,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows over `v` terms, term `t` present with probability `p(t)`; weights from a grid of three
/// values when `ties`, otherwise continuous, and negative with probability `neg`.
fn rows(
    rng: &mut ChaCha8Rng,
    n: usize,
    v: usize,
    p: &dyn Fn(usize) -> f64,
    ties: bool,
    neg: f64,
) -> CsrMatrix {
    let mut m = CsrMatrix::empty(v);
    for _ in 0..n {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v {
            if rng.random_bool(p(t)) {
                let x = if ties {
                    rng.random_range(1..4) as f32 * 0.5
                } else {
                    rng.random_range(0.0f32..3.0)
                };
                i.push(t as u32);
                w.push(if rng.random_bool(neg) { -x } else { x });
            }
        }
        m.push_row(&i, &w).unwrap();
    }
    m
}

fn check(docs: &CsrMatrix, queries: &CsrMatrix, what: &str) {
    let index = ExactIndex::build(docs).unwrap();
    assert_eq!(index.n_docs(), docs.n_rows());
    assert_eq!(index.n_postings(), docs.nnz());
    let mut s = ExactScratch::default();
    for (qi, q) in queries.rows().enumerate() {
        for k in [0, 1, 3, 10, docs.n_rows() + 5] {
            let want = exact_top_k_f64(docs, q, k);
            let got = index.search(q, k, &mut s).unwrap();
            assert_eq!(got, want, "{what}: query {qi}, k {k}");
        }
    }
    let batch = index.search_batch(queries, 10).unwrap();
    for (qi, q) in queries.rows().enumerate() {
        assert_eq!(
            batch[qi],
            exact_top_k_f64(docs, q, 10),
            "{what}: batch query {qi}"
        );
    }
}

#[test]
fn random_collections_match_the_f64_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (round, (n, v, ties, neg)) in [
        (200, 40, false, 0.0),
        (300, 25, true, 0.0),
        (150, 60, false, 0.2),
        (1, 10, true, 0.0),
    ]
    .into_iter()
    .enumerate()
    {
        let zipf = |t: usize| (0.6 / (t + 1) as f64).max(0.02);
        let docs = rows(&mut rng, n, v, &zipf, ties, neg);
        let queries = rows(&mut rng, 20, v, &zipf, ties, 0.0);
        check(&docs, &queries, &format!("round {round}"));
    }
}

#[test]
fn adversarial_collections_match_the_f64_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // Empty documents, a term in every document, equal rows (all ties), an empty query.
    let mut docs = rows(&mut rng, 50, 12, &|_| 0.3, true, 0.0);
    docs.push_row(&[], &[]).unwrap();
    for _ in 0..5 {
        docs.push_row(&[0, 5], &[1.0, 1.0]).unwrap();
    }
    let mut everywhere = CsrMatrix::empty(12);
    for r in docs.rows() {
        let (mut i, mut w): (Vec<u32>, Vec<f32>) = (vec![11], vec![0.5]);
        for (&t, &x) in r.indices.iter().zip(r.values) {
            if t != 11 {
                i.insert(i.len() - 1, t);
                w.insert(w.len() - 1, x);
            }
        }
        everywhere.push_row(&i, &w).unwrap();
    }
    let mut queries = rows(&mut rng, 10, 12, &|_| 0.4, true, 0.0);
    queries.push_row(&[], &[]).unwrap();
    queries.push_row(&[11], &[2.0]).unwrap();
    queries.push_row(&[0, 5], &[1.0, 1.0]).unwrap();
    check(&docs, &queries, "adversarial");
    check(&everywhere, &queries, "a term in every document");
    check(&CsrMatrix::empty(12), &queries, "no documents");
    // The empty query and the empty collection return nothing.
    let index = ExactIndex::build(&docs).unwrap();
    let mut s = ExactScratch::default();
    assert!(
        index
            .search(queries.row(10), 10, &mut s)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_unquantised_index_of_an_index_is_its_documents_index() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let docs = rows(&mut rng, 100, 30, &|_| 0.2, false, 0.0);
    let quantised = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    assert_eq!(
        ExactIndex::from_index(&quantised).unwrap(),
        ExactIndex::build(&docs).unwrap()
    );
}

#[test]
fn bad_queries_are_refused_by_name() {
    let mut docs = CsrMatrix::empty(4);
    docs.push_row(&[1, 2], &[1.0, 2.0]).unwrap();
    let index = ExactIndex::build(&docs).unwrap();
    let mut s = ExactScratch::default();
    let row = |i: &[u32], w: &[f32]| {
        let mut m = CsrMatrix::empty(10);
        m.push_row(i, w).unwrap();
        m
    };
    let outside = row(&[1, 7], &[1.0, 1.0]);
    let e = index.search(outside.row(0), 5, &mut s).unwrap_err();
    assert!(matches!(e, Error::Query(_)), "{e}");
    assert!(e.to_string().contains("term 7 is outside"), "{e}");
    // Rows made by hand (a CsrMatrix refuses both).
    let inf = SparseRow {
        indices: &[2],
        values: &[f32::INFINITY],
    };
    let e = index.search(inf, 5, &mut s).unwrap_err();
    assert!(e.to_string().contains("term 2 has weight inf"), "{e}");
    let unsorted = SparseRow {
        indices: &[2, 1],
        values: &[1.0, 1.0],
    };
    let e = index.search(unsorted, 5, &mut s).unwrap_err();
    assert!(e.to_string().contains("found 1 after 2"), "{e}");
    let mut batch = row(&[1], &[1.0]);
    batch.push_row(&[8], &[1.0]).unwrap();
    let e = index.search_batch(&batch, 5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid query: query 1: term 8 is outside the index's vocabulary of 4"
    );
    // A failed query leaves the scratch reusable.
    let ok = row(&[1, 2], &[1.0, 1.0]);
    assert_eq!(
        index.search(ok.row(0), 5, &mut s).unwrap(),
        vec![Hit::new(0, 3.0)]
    );
}

#[test]
fn query_modes_restrict_to_the_own_terms_and_refuse_hybrid() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let docs = rows(&mut rng, 120, 20, &|_| 0.3, false, 0.0);
    let queries = rows(&mut rng, 10, 20, &|_| 0.5, false, 0.0);
    let index = ExactIndex::build(&docs).unwrap();
    let mut s = ExactScratch::default();
    let own: Vec<u32> = (0..20).step_by(3).collect();
    for q in queries.rows() {
        assert_eq!(
            index
                .search_mode(q, &own, QueryMode::Exp, 10, &mut s)
                .unwrap(),
            exact_top_k_f64(&docs, q, 10)
        );
        let (i, w): (Vec<u32>, Vec<f32>) = q
            .indices
            .iter()
            .zip(q.values)
            .filter(|(t, _)| *t % 3 == 0)
            .unzip();
        let restricted = SparseRow {
            indices: &i,
            values: &w,
        };
        assert_eq!(
            index
                .search_mode(q, &own, QueryMode::NoExp, 10, &mut s)
                .unwrap(),
            exact_top_k_f64(&docs, restricted, 10)
        );
    }
    let e = index
        .search_mode(
            queries.row(0),
            &own,
            QueryMode::Hybrid { candidates: 100 },
            10,
            &mut s,
        )
        .unwrap_err();
    assert!(e.to_string().contains("exp and no-exp"), "{e}");
}

#[test]
fn the_score_matrix_holds_every_documents_f64_score_rounded_to_f32() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let docs = rows(&mut rng, 120, 40, &|t| 0.05 + 0.01 * t as f64, false, 0.1);
    let queries = rows(&mut rng, 25, 40, &|_| 0.2, true, 0.0);
    let index = ExactIndex::build(&docs).unwrap();
    let mut scratch = ExactScratch::default();
    // Two blocks of queries, as the evaluation scores them.
    let mut scores = vec![f32::NAN; 25 * 120];
    let (a, b) = scores.split_at_mut(10 * 120);
    index.score_rows(&queries, 0..10, a, &mut scratch).unwrap();
    index.score_rows(&queries, 10..25, b, &mut scratch).unwrap();
    for q in 0..25 {
        let all = exact_top_k_f64(&docs, queries.row(q), 120);
        let mut want = vec![0.0f32; 120];
        for h in all {
            want[h.doc as usize] = h.score as f32;
        }
        // Documents scoring ≤ 0 are absent from a top-k list but present (with their score,
        // zero when they share no term) in the matrix.
        for d in 0..120 {
            let got = scores[q * 120 + d];
            if want[d] > 0.0 {
                assert_eq!(got, want[d], "query {q} doc {d}");
            } else {
                let brute: f64 = queries.row(q).dot(&docs.row(d)) as f64;
                assert!((got as f64 - brute).abs() <= 1e-5, "query {q} doc {d}");
            }
        }
    }
    // On all threads: the same matrix, bit for bit (and for any range of rows).
    let mut par = vec![f32::NAN; 25 * 120];
    index.par_score_rows(&queries, 0..25, &mut par).unwrap();
    assert!(
        par.iter()
            .zip(&scores)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    let mut part = vec![f32::NAN; 7 * 120];
    index.par_score_rows(&queries, 10..17, &mut part).unwrap();
    assert_eq!(part, scores[10 * 120..17 * 120]);
    // The matrix shape and the vocabulary are checked.
    assert!(
        index
            .score_rows(&queries, 0..2, &mut [0.0; 3], &mut scratch)
            .is_err()
    );
    assert!(index.par_score_rows(&queries, 0..2, &mut [0.0; 3]).is_err());
    assert!(
        index
            .par_score_rows(&CsrMatrix::empty(41), 0..0, &mut [])
            .is_err()
    );
    let wide = CsrMatrix::empty(41);
    assert!(
        index
            .score_rows(&wide, 0..0, &mut [], &mut scratch)
            .is_err()
    );
}
