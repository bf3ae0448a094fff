//! `evaluate_complete` (trec_eval -c) against an independent construction: the same run with
//! every missing judged query given a ranking of one unjudged document, evaluated by
//! `evaluate`. Both must agree query by query.

use std::collections::HashMap;

use mmlsr_core::Qrels;
use mmlsr_metrics::{Measure, RunBuilder, evaluate, evaluate_complete};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn missing_judged_queries_count_as_an_empty_ranking() {
    let measures: Vec<Measure> = ["R@1", "R@5", "RR@10", "nDCG@10", "P@5", "Success@1"]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut qrels = Qrels::new();
    let (mut partial, mut padded) = (RunBuilder::new(), RunBuilder::new());
    let mut missing = 0;
    for q in 0..200 {
        let qid = format!("q{q}");
        for d in 0..rng.random_range(1..4) {
            qrels.insert(&qid, format!("d{}", rng.random_range(0..40) + d), 1);
        }
        if rng.random::<f64>() < 0.3 {
            // No results: in the padded run, one document nobody judged.
            padded.push(&qid, "unjudged", 1.0).unwrap();
            missing += 1;
            continue;
        }
        for d in 0..40 {
            let s = rng.random_range(0..8) as f64;
            partial.push(&qid, &format!("d{d}"), s).unwrap();
            padded.push(&qid, &format!("d{d}"), s).unwrap();
        }
    }
    // Queries of the run that are not judged are left out by both.
    partial.push("not-judged", "d1", 1.0).unwrap();
    let (partial, padded) = (partial.build().unwrap(), padded.build().unwrap());

    let complete = evaluate_complete(&partial, &qrels, &measures);
    let reference = evaluate(&padded, &qrels, &measures);
    assert_eq!(complete.queries.len(), 200);
    assert_eq!(complete.queries_without_results, missing);
    let by_query = |e: &mmlsr_metrics::Evaluation| -> HashMap<String, Vec<f64>> {
        e.queries
            .iter()
            .cloned()
            .zip(e.values.chunks_exact(measures.len()).map(<[f64]>::to_vec))
            .collect()
    };
    assert_eq!(by_query(&complete), by_query(&reference));
    for (a, b) in complete.aggregate().iter().zip(reference.aggregate()) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // The judged-only mean averages over fewer queries: at least as high on every measure.
    let judged_only = evaluate(&partial, &qrels, &measures);
    assert_eq!(judged_only.queries.len(), 200 - missing);
    for (j, c) in judged_only.aggregate().iter().zip(complete.aggregate()) {
        assert!(j >= &c, "{j} < {c}");
    }
}
