//! The Seismic-style approximate index: with settings that cannot lose a document (no static
//! pruning, every query term visited, summaries at full mass) it returns exactly the f32
//! brute-force top-k (of the f16-rounded documents with half-precision forward weights); with
//! aggressive settings it scores fewer documents and its recall is measured, not assumed.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{
    ApproxConfig, ApproxIndex, ApproxParams, ApproxScratch, ForwardWeights, Hit, Pruning, recall,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Documents and queries with clustered topics: each row mixes terms of one of 20 topics
/// with a few random terms, so block summaries are informative.
fn topical(rng: &mut ChaCha8Rng, rows: usize, v: usize, len: usize) -> CsrMatrix {
    let mut m = CsrMatrix::empty(v);
    for _ in 0..rows {
        let topic = rng.random_range(0..20usize);
        let mut terms: Vec<u32> = Vec::new();
        while terms.len() < len {
            let t = if rng.random_bool(0.7) {
                (topic * (v / 20) + rng.random_range(0..v / 20)) as u32
            } else {
                rng.random_range(0..v as u32)
            };
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        terms.sort_unstable();
        let w: Vec<f32> = terms
            .iter()
            .map(|_| rng.random_range(0.05f32..2.0))
            .collect();
        m.push_row(&terms, &w).unwrap();
    }
    m
}

/// `docs` with every weight rounded to IEEE half precision (what
/// [`ForwardWeights::Half`] scores with), through the `half` crate.
fn rounded_to_f16(docs: &CsrMatrix) -> CsrMatrix {
    let mut out = CsrMatrix::empty(docs.n_cols());
    for r in docs.rows() {
        let w: Vec<f32> = r
            .values
            .iter()
            .map(|&w| half::f16::from_f32(w).to_f32())
            .collect();
        out.push_row(r.indices, &w).unwrap();
    }
    out
}

/// Every document's f32 dot product in the forward row's order, sorted (score desc, doc asc).
fn brute_force(docs: &CsrMatrix, q: mmlsr_core::SparseRow<'_>, k: usize) -> Vec<Hit> {
    let mut dense = vec![0.0f32; docs.n_cols()];
    for (&t, &w) in q.indices.iter().zip(q.values) {
        dense[t as usize] = w;
    }
    let mut all: Vec<Hit> = docs
        .rows()
        .enumerate()
        .map(|(d, r)| {
            let score: f32 = r
                .indices
                .iter()
                .zip(r.values)
                .map(|(&t, &w)| dense[t as usize] * w)
                .sum();
            Hit::new(d as u32, score)
        })
        .filter(|r| r.score > 0.0)
        .collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
    all.truncate(k);
    all
}

#[test]
fn lossless_settings_return_the_exact_top_k() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let docs = topical(&mut rng, 1_500, 400, 30);
    let queries = topical(&mut rng, 60, 400, 12);
    let (half, full) = (ForwardWeights::Half, ForwardWeights::Full);
    for (block_size, pruning, forward_weights) in [
        (1, Pruning::PerTerm, full),
        (7, Pruning::PerTerm, full),
        (32, Pruning::PerTerm, full),
        (7, Pruning::Global { max_fraction: 1.5 }, full),
        (7, Pruning::PerTerm, half),
        (7, Pruning::Global { max_fraction: 1.5 }, half),
    ] {
        let scored = assert_lossless(&docs, &queries, block_size, pruning, forward_weights);
        // Summaries prune: far fewer documents scored than a scan of every candidate.
        assert!(
            scored < 60 * 1_500 / 2,
            "block {block_size}: {scored} documents scored for 60 queries"
        );
    }
}

#[test]
fn half_precision_rows_of_a_vocabulary_beyond_u16_are_lossless_too() {
    // 70,000 terms do not fit the compact (u16 term) rows: the wide layout with f16-rounded
    // weights must give the same answers.
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let docs = topical(&mut rng, 800, 70_000, 30);
    let queries = topical(&mut rng, 40, 70_000, 12);
    assert_lossless(&docs, &queries, 7, Pruning::PerTerm, ForwardWeights::Half);
}

/// Build without static pruning and with full summaries, search with every query term and a
/// heap factor near 1, and require the brute-force top-k (scores included) of the documents
/// as the forward index holds them; returns the documents scored at k = 10.
fn assert_lossless(
    docs: &CsrMatrix,
    queries: &CsrMatrix,
    block_size: usize,
    pruning: Pruning,
    forward_weights: ForwardWeights,
) -> u64 {
    let index = ApproxIndex::build(
        docs,
        ApproxConfig {
            pruning,
            postings_per_term: usize::MAX,
            block_size,
            summary_energy: 1.0,
            max_summary_terms: usize::MAX,
            // How documents are clustered must not change the answers: one sketch term
            // with odd block sizes, whole vectors with even ones.
            sketch_terms: if block_size % 2 == 1 { 1 } else { usize::MAX },
            seed: 1,
            forward_weights,
        },
    )
    .unwrap();
    assert_eq!(index.n_postings(), docs.nnz());
    let scored_docs = match forward_weights {
        ForwardWeights::Half => rounded_to_f16(docs),
        ForwardWeights::Full => docs.clone(),
    };
    let params = ApproxParams {
        query_cut: usize::MAX,
        heap_factor: 0.999,
    };
    let mut s = ApproxScratch::default();
    let mut scored = 0;
    for (qi, q) in queries.rows().enumerate() {
        for k in [1, 10, 100] {
            let got = index.search(q, k, params, &mut s).unwrap();
            assert_eq!(
                got,
                brute_force(&scored_docs, q, k),
                "block {block_size} {pruning:?} {forward_weights:?} q {qi} k {k}"
            );
            if k == 10 {
                scored += s.docs_scored;
            }
        }
    }
    scored
}

#[test]
fn aggressive_settings_trade_recall_for_work() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let docs = topical(&mut rng, 3_000, 600, 40);
    let queries = topical(&mut rng, 100, 600, 15);
    let index = ApproxIndex::build(
        &docs,
        ApproxConfig {
            pruning: Pruning::PerTerm,
            postings_per_term: 150,
            block_size: 10,
            summary_energy: 0.4,
            max_summary_terms: 64,
            sketch_terms: 64,
            seed: 3,
            forward_weights: ForwardWeights::Half,
        },
    )
    .unwrap();
    assert!(index.n_postings() < docs.nnz());
    let rounded = rounded_to_f16(&docs);
    let mut s = ApproxScratch::default();
    let (mut r_safe, mut r_fast, mut w_safe, mut w_fast) = (0.0, 0.0, 0, 0);
    for q in queries.rows() {
        let exact: Vec<u32> = brute_force(&docs, q, 10).iter().map(|r| r.doc).collect();
        let safe = index
            .search(
                q,
                10,
                ApproxParams {
                    query_cut: 15,
                    heap_factor: 0.5,
                },
                &mut s,
            )
            .unwrap();
        w_safe += s.docs_scored;
        let fast = index
            .search(
                q,
                10,
                ApproxParams {
                    query_cut: 3,
                    heap_factor: 1.0,
                },
                &mut s,
            )
            .unwrap();
        w_fast += s.docs_scored;
        r_safe += recall(&safe, &exact);
        r_fast += recall(&fast, &exact);
        // Whatever it returns is scored exactly (as the f16-rounded document) and ranked.
        for r in &fast {
            let want = brute_force(&rounded, q, 3_000)
                .into_iter()
                .find(|b| b.doc == r.doc)
                .unwrap();
            assert_eq!(r.score, want.score);
        }
        assert!(fast.windows(2).all(|w| w[0].score >= w[1].score));
    }
    let (r_safe, r_fast) = (r_safe / 100.0, r_fast / 100.0);
    assert!(w_fast < w_safe, "work {w_fast} vs {w_safe}");
    assert!(r_safe >= r_fast, "recall {r_safe} vs {r_fast}");
    assert!(r_safe > 0.8, "recall of the safer settings {r_safe}");
    assert!(
        r_fast < 1.0,
        "the aggressive settings lose something: {r_fast}"
    );
}

#[test]
fn negative_zero_weights_count_as_zero_in_both_precisions() {
    let mut docs = CsrMatrix::empty(4);
    docs.push_row(&[0, 1], &[-0.0, 1.0]).unwrap();
    docs.push_row(&[0, 2], &[2.0, 1.0]).unwrap();
    let mut q = CsrMatrix::empty(4);
    q.push_row(&[0, 1], &[1.0, 1.0]).unwrap();
    for forward_weights in [ForwardWeights::Half, ForwardWeights::Full] {
        let config = ApproxConfig {
            forward_weights,
            ..ApproxConfig::default()
        };
        let index = ApproxIndex::build(&docs, config).unwrap();
        let hits = index
            .search(
                q.row(0),
                2,
                ApproxParams::default(),
                &mut ApproxScratch::default(),
            )
            .unwrap();
        assert_eq!(
            hits,
            vec![Hit::new(1, 2.0), Hit::new(0, 1.0)],
            "{forward_weights:?}"
        );
    }
}

#[test]
fn bad_input_is_an_error() {
    let mut docs = CsrMatrix::empty(4);
    docs.push_row(&[0, 1], &[1.0, -1.0]).unwrap();
    assert!(ApproxIndex::build(&docs, ApproxConfig::default()).is_err());
    let mut docs = CsrMatrix::empty(4);
    docs.push_row(&[0, 1], &[1.0, 1.0]).unwrap();
    let bad = ApproxConfig {
        summary_energy: 0.0,
        ..ApproxConfig::default()
    };
    assert!(ApproxIndex::build(&docs, bad).is_err());
    let no_sketch = ApproxConfig {
        sketch_terms: 0,
        ..ApproxConfig::default()
    };
    let err = ApproxIndex::build(&docs, no_sketch).unwrap_err();
    assert!(err.to_string().contains("sketch_terms"), "{err}");
    // Beyond half precision's range: refused by name, unless the weights are kept as f32.
    let mut huge = CsrMatrix::empty(4);
    huge.push_row(&[0], &[1.0]).unwrap();
    huge.push_row(&[1, 3], &[2.0, 70_000.0]).unwrap();
    let err = ApproxIndex::build(&huge, ApproxConfig::default()).unwrap_err();
    assert!(
        err.to_string().contains("document 1 has weight 70000")
            && err.to_string().contains("ForwardWeights::Full"),
        "{err}"
    );
    let full = ApproxConfig {
        forward_weights: ForwardWeights::Full,
        ..ApproxConfig::default()
    };
    assert!(ApproxIndex::build(&huge, full).is_ok());
    let index = ApproxIndex::build(&docs, ApproxConfig::default()).unwrap();
    let mut q = CsrMatrix::empty(9);
    q.push_row(&[7], &[1.0]).unwrap();
    let err = index
        .search(
            q.row(0),
            10,
            ApproxParams::default(),
            &mut ApproxScratch::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("term 7"), "{err}");
    // Empty collection and empty query: no results, no panic.
    let empty = ApproxIndex::build(&CsrMatrix::empty(4), ApproxConfig::default()).unwrap();
    let mut q = CsrMatrix::empty(4);
    q.push_row(&[], &[]).unwrap();
    q.push_row(&[1], &[2.0]).unwrap();
    let mut s = ApproxScratch::default();
    for r in 0..2 {
        assert!(
            empty
                .search(q.row(r), 5, ApproxParams::default(), &mut s)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            index
                .search(q.row(r), 0, ApproxParams::default(), &mut s)
                .unwrap(),
            vec![]
        );
    }
}

#[test]
fn global_pruning_keeps_the_collections_heaviest_postings_within_each_lists_cap() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let docs = topical(&mut rng, 2_000, 300, 25);
    let (_, terms, weights) = docs.raw();
    let mut lists = vec![Vec::new(); 300];
    for (&t, &w) in terms.iter().zip(weights) {
        lists[t as usize].push(w);
    }
    let non_empty = lists.iter().filter(|l| !l.is_empty()).count();
    let build = |lambda: usize, pruning| {
        ApproxIndex::build(
            &docs,
            ApproxConfig {
                postings_per_term: lambda,
                pruning,
                ..ApproxConfig::default()
            },
        )
        .unwrap()
    };
    for lambda in [20, 60, 150] {
        // Brute force: the budget-th heaviest weight of the collection, then each list's
        // postings at least that heavy, capped at max_fraction × λ.
        let budget = lambda * non_empty;
        let mut all: Vec<f32> = weights.to_vec();
        all.sort_by(|a, b| b.total_cmp(a));
        let threshold = all[budget - 1];
        for max_fraction in [1.0f32, 1.5, 1e6] {
            let cap = (max_fraction as f64 * lambda as f64) as usize;
            let expected: usize = lists
                .iter()
                .map(|l| l.iter().filter(|&&w| w >= threshold).count().min(cap))
                .sum();
            let index = build(lambda, Pruning::Global { max_fraction });
            assert_eq!(
                index.n_postings(),
                expected,
                "λ {lambda} max_fraction {max_fraction}"
            );
            assert!(index.n_postings() <= budget);
        }
        // Uncapped, the budget is spent exactly (weights are continuous: no ties).
        assert_eq!(
            build(lambda, Pruning::Global { max_fraction: 1e6 }).n_postings(),
            budget
        );
        let per_term: usize = lists.iter().map(|l| l.len().min(lambda)).sum();
        assert_eq!(build(lambda, Pruning::PerTerm).n_postings(), per_term);
    }
    for bad in [0.5f32, f32::NAN, f32::INFINITY] {
        let err = ApproxIndex::build(
            &docs,
            ApproxConfig {
                pruning: Pruning::Global { max_fraction: bad },
                ..ApproxConfig::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_fraction"), "{err}");
    }
}
