//! The calibration bands promised in the dataset cards, checked by brute-force dense
//! retrieval on the files (not on the generator's in-memory vectors).

use mmlsr_store::{Dataset, RestvalPolicy, Split};
use mmlsr_synth::{BackboneKind, DatasetKind, SynthConfig, generate};

/// Text→image R@1 and MRR@10 (percent) by a plain float64 scan over the test split, ties
/// broken as trec_eval does (score descending, then image id descending as a string).
fn brute_force(ds: &Dataset) -> (f64, f64) {
    let test = ds.split(Split::Test, RestvalPolicy::MergeIntoTrain);
    let images: Vec<(&[f32], &str)> = test
        .image_rows
        .iter()
        .map(|&r| (ds.images().row(r), ds.images().ids().id(r)))
        .collect();
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum::<f64>()
    };
    use rayon::prelude::*;
    let ranks: Vec<usize> = test
        .caption_rows
        .par_iter()
        .enumerate()
        .map(|(q, &row)| {
            let query = ds.texts().row(row);
            let (target, target_id) = images[test.caption_image[q]];
            let s = dot(query, target);
            1 + images
                .iter()
                .filter(|(e, id)| {
                    let x = dot(query, e);
                    x > s || (x == s && *id > target_id)
                })
                .count()
        })
        .collect();
    let hits = ranks.iter().filter(|&&r| r == 1).count();
    let rr: f64 = ranks
        .iter()
        .filter(|&&r| r <= 10)
        .map(|&r| 1.0 / r as f64)
        .sum();
    let n = test.caption_rows.len() as f64;
    (100.0 * hits as f64 / n, 100.0 * rr / n)
}

#[test]
fn dense_retrieval_lands_in_the_calibration_bands() {
    let dir = tempfile::tempdir().unwrap();
    let reports = generate(&SynthConfig::default(), dir.path(), &|_| {}).unwrap();
    assert_eq!(reports.len(), 4);
    let mut r1 = std::collections::HashMap::new();
    for r in &reports {
        let ds = Dataset::open(&r.dir).unwrap();
        let (r1_files, mrr_files) = brute_force(&ds);
        // The card's numbers (f32 GEMM) and the float64 scan agree up to near-ties.
        assert!(
            (r1_files - r.dense.r1).abs() < 0.1,
            "{}: {r1_files} vs card {}",
            r.name,
            r.dense.r1
        );
        assert!((mrr_files - r.dense.mrr10).abs() < 0.1, "{}", r.name);
        let card = std::fs::read_to_string(r.dir.join("README.md")).unwrap();
        assert!(
            card.contains(&format!("{:.2}", r.dense.r1)),
            "card states R@1"
        );
        eprintln!(
            "{}: dense R@1 {r1_files:.2} MRR@10 {mrr_files:.2} ({:.1} s)",
            r.name, r.seconds
        );
        r1.insert(r.name.as_str(), r1_files);
    }
    let (cs, cw) = (r1["synth-coco-strong"], r1["synth-coco-weak"]);
    let (fs, fw) = (r1["synth-flickr-strong"], r1["synth-flickr-weak"]);
    assert!((45.0..=65.0).contains(&cs), "synth-coco strong R@1 {cs}");
    assert!(
        (4.0..=10.0).contains(&(cs - cw)),
        "weak is 4–10 points lower: {cs} vs {cw}"
    );
    assert!(
        fs > cs && fw > cw,
        "flickr is easier than coco: {fs}/{fw} vs {cs}/{cw}"
    );
    assert_eq!(BackboneKind::Strong.name(), "strong");
    assert_eq!(
        DatasetKind::Coco.sizes(mmlsr_synth::Scale::Small).test,
        5_000
    );
}
