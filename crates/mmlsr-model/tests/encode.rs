//! The encoder, model directories and exhaustive scoring against brute force.

use mmlsr_core::CsrMatrix;
use mmlsr_expansion::Variant;
use mmlsr_model::{
    EncodeOptions, Error, ModelCard, OutputTerms, SparseHeadConfig, TrainConfig,
    burn::tensor::{Tensor, TensorData},
    encode,
    eval::sparse_scores,
    load_model, model_files, save_model,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::Inner;

fn inputs(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn card(d: usize, output: OutputTerms) -> ModelCard {
    ModelCard {
        format: ModelCard::FORMAT,
        d_input: d,
        d_hidden: 16,
        layer_norm_epsilon: 1e-12,
        output,
        variant: Variant::Caption,
        train: TrainConfig::default(),
        epoch: 1,
        val_r1: None,
    }
}

/// Head output as a dense host matrix.
fn dense_out(head: &mmlsr_model::SparseHead<Inner>, x: &[f32], d: usize) -> Vec<f32> {
    let n = x.len() / d;
    let t = Tensor::<Inner, 2>::from_data(TensorData::new(x.to_vec(), [n, d]), &Default::default());
    head.forward(t).into_data().iter::<f32>().collect()
}

#[test]
fn encoder_rows_match_the_dense_output_with_masks_top_k_and_pruning() {
    let device = Default::default();
    let (d, v, n) = (8, 40, 37);
    // A pruned head: 12 kept terms of a 40-term vocabulary.
    let kept: Vec<u32> = (0..40).filter(|t| t % 3 == 1).take(12).collect();
    let output = OutputTerms {
        vocab_size: v,
        kept: Some(kept.clone()),
    };
    let head = SparseHeadConfig::new(d, kept.len())
        .with_d_hidden(16)
        .init::<Inner>(None, 3, &device)
        .unwrap();
    let x = inputs(n, d, 1);
    let y = dense_out(&head, &x, d);
    let own: Vec<Vec<u32>> = (0..n)
        .map(|r| vec![1, (r % 40) as u32, 39])
        .collect::<Vec<_>>();
    let own: Vec<Vec<u32>> = own
        .into_iter()
        .map(|mut o| {
            o.sort_unstable();
            o.dedup();
            o
        })
        .collect();
    let own_refs: Vec<&[u32]> = own.iter().map(Vec::as_slice).collect();
    for (top_k, threshold, masked) in [
        (None, 0.0, false),
        (Some(3), 0.0, false),
        (None, 0.05, false),
        (None, 0.0, true),
        (Some(1), 0.0, true),
    ] {
        let opts = EncodeOptions {
            batch_size: 10,
            top_k,
            threshold,
        };
        let m = encode(
            &head,
            &output,
            &x,
            d,
            masked.then_some(own_refs.as_slice()),
            &opts,
            &device,
        )
        .unwrap();
        assert_eq!((m.n_rows(), m.n_cols()), (n, v));
        for r in 0..n {
            // Brute force: (term, weight) of every allowed column above the threshold.
            let mut want: Vec<(u32, f32)> = (0..kept.len())
                .map(|c| (kept[c], y[r * kept.len() + c]))
                .filter(|&(t, w)| w > threshold && (!masked || own[r].contains(&t)))
                .collect();
            if let Some(k) = top_k {
                want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                want.truncate(k);
            }
            want.sort_by_key(|p| p.0);
            let row = m.row(r);
            let got: Vec<(u32, f32)> = row
                .indices
                .iter()
                .copied()
                .zip(row.values.iter().copied())
                .collect();
            assert_eq!(
                got, want,
                "row {r}, top_k {top_k:?}, threshold {threshold}, masked {masked}"
            );
        }
    }
}

#[test]
fn model_directory_round_trips_and_rejects_damage() {
    let device = Default::default();
    let dir = tempfile::tempdir().unwrap();
    let (d, v) = (6, 25);
    let output = OutputTerms {
        vocab_size: v,
        kept: None,
    };
    let head = SparseHeadConfig::new(d, v)
        .with_d_hidden(16)
        .init::<Inner>(None, 9, &device)
        .unwrap();
    let c = card(d, output);
    save_model(dir.path(), &c, &head).unwrap();
    let (c2, head2) = load_model::<Inner>(dir.path(), &device).unwrap();
    assert_eq!(c2, c);
    let x = inputs(5, d, 2);
    assert_eq!(dense_out(&head, &x, d), dense_out(&head2, &x, d));

    // A card claiming another vocabulary size: the head file does not fit it.
    let mut wrong = c.clone();
    wrong.output.vocab_size = 30_522;
    let bad = tempfile::tempdir().unwrap();
    save_model(bad.path(), &c, &head).unwrap();
    std::fs::write(
        bad.path().join(model_files::CONFIG),
        serde_json::to_vec(&wrong).unwrap(),
    )
    .unwrap();
    // The edited card no longer matches the directory's manifest …
    let err = load_model::<Inner>(bad.path(), &device).unwrap_err();
    assert!(
        err.to_string().contains("config.json: SHA-256"),
        "an edited card passed the manifest: {err}"
    );
    // … and without the manifest the card is checked against the weights.
    std::fs::remove_file(bad.path().join(mmlsr_core::MANIFEST)).unwrap();
    let err = load_model::<Inner>(bad.path(), &device).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("vocab_projector.weight"), "{err}");

    // A truncated weights file.
    let bytes = std::fs::read(dir.path().join(model_files::HEAD)).unwrap();
    std::fs::write(
        dir.path().join(model_files::HEAD),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let err = load_model::<Inner>(dir.path(), &device).unwrap_err();
    assert!(err.to_string().contains(model_files::HEAD), "{err}");

    // A missing directory names the card it looked for.
    let err = load_model::<Inner>(&dir.path().join("nope"), &device).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn exhaustive_sparse_scores_equal_brute_force_dot_products() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let v = 50;
    let mut random = |rows: usize, density: f64| {
        let mut m = CsrMatrix::empty(v);
        for _ in 0..rows {
            let (mut i, mut w) = (Vec::new(), Vec::new());
            for t in 0..v as u32 {
                if rng.random_bool(density) {
                    i.push(t);
                    w.push(rng.random_range(0.0..2.0));
                }
            }
            m.push_row(&i, &w).unwrap();
        }
        m
    };
    let q = random(30, 0.2);
    let docs = random(70, 0.3);
    let s = sparse_scores(&q, &docs).unwrap();
    for qi in 0..q.n_rows() {
        for di in 0..docs.n_rows() {
            let want = q.row(qi).dot(&docs.row(di));
            assert!((s[qi * 70 + di] - want).abs() <= 1e-5 * (1.0 + want.abs()));
        }
    }
    let other = CsrMatrix::empty(v + 1);
    assert!(matches!(
        sparse_scores(&q, &other),
        Err(Error::Shape { .. })
    ));
}
