//! Cross-check against the reference implementations: ir_measures (pytrec_eval, i.e.
//! trec_eval) for every aggregate, scipy for t-tests and correlations.
//!
//! The random runs and qrels are regenerated from a seed on every run; the reference values
//! come from `scripts/crosscheck_metrics.py` (needs `pip install ir-measures scipy`, which
//! `.ci/run` does). Without Python or those packages the test fails when `CI` is set and
//! says so loudly otherwise.

use std::{path::PathBuf, process::Command};

use mmlsr_core::Qrels;
use mmlsr_metrics::{
    Measure, Run, RunBuilder, evaluate, kendall_tau_b, paired_t_test, pearson, write_qrels,
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import ir_measures, scipy"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Random qrels and two runs with heavy score ties (or none: `tied = false` gives every
/// document of a query a distinct score). `rel_per_query` relevant documents per
/// query (grades 1–2), plus a few judged non-relevant ones; each run ranks `depth` random
/// documents, which may or may not include the relevant ones.
fn random_case(
    seed: u64,
    queries: usize,
    docs: usize,
    rel_per_query: usize,
    depth: usize,
    tied: bool,
) -> (Qrels, Run, Run) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let doc_ids: Vec<String> = (0..docs)
        .map(|d| format!("{}", d * 7 % 1000 + d / 1000 * 1000))
        .collect();
    let mut qrels = Qrels::new();
    let mut runs = [RunBuilder::new(), RunBuilder::new()];
    let mut all: Vec<usize> = (0..docs).collect();
    for q in 0..queries {
        let qid = format!("q{q}");
        all.shuffle(&mut rng);
        for (i, &d) in all.iter().take(rel_per_query + 3).enumerate() {
            let grade = if i < rel_per_query {
                rng.random_range(1..=2)
            } else {
                0
            };
            qrels.insert(&qid, &doc_ids[d], grade);
        }
        for run in &mut runs {
            all.shuffle(&mut rng);
            // Relevant documents are promoted into the candidate list half of the time.
            let mut cand: Vec<usize> = all.iter().copied().take(depth).collect();
            if rng.random::<f64>() < 0.5 {
                for d in qrels.get(&qid).unwrap().keys() {
                    let idx = doc_ids.iter().position(|x| x == d).unwrap();
                    if !cand.contains(&idx) {
                        cand.pop();
                        cand.insert(0, idx);
                    }
                }
            }
            for (i, d) in cand.into_iter().enumerate() {
                // Scores on a coarse grid: many ties, broken by document id.
                let s = if tied {
                    rng.random_range(0..12) as f64 / 4.0
                } else {
                    rng.random_range(0..1000) as f64 + i as f64 * 1000.0
                };
                run.push(&qid, &doc_ids[d], s).unwrap();
            }
        }
    }
    let [a, b] = runs;
    (qrels, a.build().unwrap(), b.build().unwrap())
}

fn crosscheck(name: &str, qrels: Qrels, a: Run, b: Run, measures: &[&str], rr_direct: bool) {
    let Some(py) = python() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CROSS-CHECK NOT RUN: python3 with ir-measures and scipy is missing in CI (.ci/run must install them)"
            );
        }
        eprintln!(
            "\n*** WARNING: metrics cross-check SKIPPED: python3 with `ir-measures` and `scipy` not found (pip install ir-measures scipy) ***\n"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (qp, ap, bp) = (
        dir.path().join("qrels"),
        dir.path().join("a.run"),
        dir.path().join("b.run"),
    );
    write_qrels(&qrels, &qp).unwrap();
    a.write_trec(&ap, "a").unwrap();
    b.write_trec(&bp, "b").unwrap();
    let script = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests"),
    )
    .join("../../scripts/crosscheck_metrics.py");
    let mut cmd = Command::new(py);
    cmd.arg(&script);
    if rr_direct {
        cmd.arg("--rr-direct");
    }
    let out = cmd.args([&qp, &ap, &bp]).args(measures).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let parsed: Vec<Measure> = measures.iter().map(|m| m.parse().unwrap()).collect();
    // Read the runs back from the files the reference read, so both sides see the same input.
    let (a, b) = (Run::read_trec(&ap).unwrap(), Run::read_trec(&bp).unwrap());
    let qrels = mmlsr_metrics::read_qrels(&qp).unwrap();
    let (ea, eb) = (evaluate(&a, &qrels, &parsed), evaluate(&b, &qrels, &parsed));
    let mut compared = 0;
    for (label, e) in [("a", &ea), ("b", &eb)] {
        for (m, ours) in parsed.iter().zip(e.aggregate()) {
            let want = reference["aggregates"][label]
                [measures[parsed.iter().position(|x| x == m).unwrap()]]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no reference for {m}"));
            assert!(
                (ours - want).abs() < 1e-9,
                "{name} run {label} {m}: ours {ours}, ir_measures {want}"
            );
            compared += 1;
        }
    }
    for (m, key) in parsed.iter().zip(measures) {
        let r = &reference["tests"][*key];
        let t = paired_t_test(&ea, &eb, *m).unwrap();
        assert_eq!(
            t.n as u64,
            r["n"].as_u64().unwrap(),
            "{name} {m}: query counts"
        );
        match r["p"].as_f64() {
            Some(p) => {
                assert!(
                    (t.p_value - p).abs() < 1e-9,
                    "{name} {m}: p {} vs scipy {p}",
                    t.p_value
                );
                assert!((t.t - r["t"].as_f64().unwrap()).abs() < 1e-9 * t.t.abs().max(1.0));
            }
            // scipy gives NaN for identical values; we define p = 1.
            None => assert_eq!(t.p_value, 1.0, "{name} {m}"),
        }
        if let Some(want) = r.get("pearson").and_then(|v| v.as_f64()) {
            let (va, vb) = (ea.per_query(*m).unwrap(), eb.per_query(*m).unwrap());
            assert!(
                (pearson(&va, &vb).unwrap() - want).abs() < 1e-9,
                "{name} {m} pearson"
            );
            let tau = kendall_tau_b(&va, &vb).unwrap();
            let want_tau = r["kendall"].as_f64().unwrap();
            assert!(
                (tau - want_tau).abs() < 1e-9,
                "{name} {m} kendall {tau} vs {want_tau}"
            );
        }
        compared += 1;
    }
    assert!(compared >= 3 * measures.len());
}

const MEASURES: &[&str] = &[
    "R@1",
    "R@5",
    "R@10",
    "R@100",
    "Success@1",
    "Success@5",
    "Success@10",
    "RR@10",
    "nDCG@10",
    "nDCG@100",
    "P@5",
];

#[test]
fn text_to_image_one_relevant_image_per_caption() {
    let (q, a, b) = random_case(11, 1500, 400, 1, 120, true);
    crosscheck("t2i", q, a, b, MEASURES, false);
}

#[test]
fn image_to_text_five_relevant_captions_per_image() {
    let (q, a, b) = random_case(12, 1000, 2500, 5, 150, true);
    crosscheck("i2t", q, a, b, MEASURES, false);
}

/// Without ties, ir_measures' own RR@k (MS MARCO provider, ties by id ascending) must agree.
#[test]
fn rr_at_k_equals_ir_measures_directly_when_there_are_no_ties() {
    let (q, a, b) = random_case(13, 1000, 400, 1, 100, false);
    crosscheck(
        "no ties",
        q,
        a,
        b,
        &["RR@10", "RR@5", "R@10", "nDCG@10"],
        true,
    );
}
