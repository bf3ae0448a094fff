//! Expansion control: Bernoulli frequencies, schedule endpoints, masks, determinism.

use mmlsr_core::TermSets;
use mmlsr_expansion::{
    DrawLevel, ExpansionConfig, RowMask, Schedule, Scheduler, Variant, WordControl,
};

fn config(variant: Variant, epochs: usize) -> ExpansionConfig {
    ExpansionConfig {
        variant,
        epochs,
        ..ExpansionConfig::default()
    }
}

/// A random-looking but fixed collection of captions over a 40-term vocabulary.
fn captions() -> TermSets {
    let mut t = TermSets::new(40);
    for c in 0..64u32 {
        t.push_unsorted((0..(c % 5 + 1)).map(|i| (c * 7 + i * 11) % 40))
            .unwrap();
    }
    t
}

#[test]
fn schedules_start_and_end_where_promised() {
    let df = [0.0f32, 0.25, 0.5, 1.0];
    for epochs in [1, 2, 7, 20, 200] {
        for schedule in [Schedule::Paper, Schedule::ReleasedLinear] {
            let s = Scheduler::new(
                ExpansionConfig {
                    schedule,
                    ..config(Variant::CaptionWord, epochs)
                },
                &df,
            )
            .unwrap();
            let last = epochs - 1;
            assert_eq!(s.caption_probability(last), 1.0, "{schedule:?} E={epochs}");
            for (k, &d) in df.iter().enumerate() {
                assert_eq!(s.word_probability(k, last), 1.0);
                if epochs > 1 {
                    assert!((s.word_probability(k, 0) - (1.0 - d as f64)).abs() < 1e-12);
                }
            }
            if epochs > 1 {
                assert_eq!(s.caption_probability(0), 0.0);
            }
            let ps: Vec<f64> = (0..epochs).map(|e| s.caption_probability(e)).collect();
            assert!(ps.windows(2).all(|w| w[0] <= w[1]), "monotone");
        }
    }
    // Paper: equal steps. Released: reaches 1 at 95 % of training and stays there.
    let paper = Scheduler::new(config(Variant::Caption, 11), &df).unwrap();
    assert!((paper.caption_probability(5) - 0.5).abs() < 1e-12);
    let released = Scheduler::new(
        ExpansionConfig {
            schedule: Schedule::ReleasedLinear,
            ..config(Variant::Caption, 21)
        },
        &df,
    )
    .unwrap();
    assert!((released.caption_probability(19) - 1.0).abs() < 1e-12);
    assert!(released.caption_probability(18) < 1.0);
    // exp=0 and exp=1 are fixed.
    assert_eq!(
        Scheduler::new(config(Variant::None, 5), &df)
            .unwrap()
            .caption_probability(4),
        0.0
    );
    assert_eq!(
        Scheduler::new(config(Variant::Always, 5), &df)
            .unwrap()
            .caption_probability(0),
        1.0
    );
}

#[test]
fn empirical_frequencies_match_the_bernoulli_parameters() {
    // Tolerance: 5 standard errors of a proportion over n draws.
    let tol = |p: f64, n: usize| 5.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-12;
    let df: Vec<f32> = (0..40).map(|k| k as f32 / 40.0).collect();
    let terms = captions();
    let rows: Vec<&[u32]> = terms.rows().collect();
    for draw in [DrawLevel::PerBatch, DrawLevel::PerCaption] {
        let s = Scheduler::new(
            ExpansionConfig {
                draw,
                ..config(Variant::CaptionWord, 11)
            },
            &df,
        )
        .unwrap();
        let epoch = 3; // p_c = 0.3, p_k = 1 − 0.7 df_k
        let p_c = s.caption_probability(epoch);
        let (mut allowed, mut total) = (0usize, 0usize);
        // For each term: (draws seen, draws that allowed it). Per batch, one draw per batch is
        // counted (the first caption that may expand and does not contain the term); per
        // caption, every such caption.
        let mut word = vec![(0usize, 0usize); 40];
        for batch in 0..3000 {
            let m = s.batch_mask(epoch, batch, &rows).unwrap();
            let mut counted = [false; 40];
            for (r, row) in m.rows().iter().enumerate() {
                total += 1;
                if let RowMask::OwnPlusDrawn(_) = row {
                    allowed += 1;
                    for (k, w) in word.iter_mut().enumerate() {
                        let shared_and_seen = draw == DrawLevel::PerBatch && counted[k];
                        if !rows[r].contains(&(k as u32)) && !shared_and_seen {
                            counted[k] = true;
                            w.0 += 1;
                            w.1 += m.allows(r, k as u32) as usize;
                        }
                    }
                }
            }
        }
        // Per batch, the caption draws are shared, so the effective sample is the batches.
        let n_eff = if draw == DrawLevel::PerBatch {
            3000
        } else {
            total
        };
        let f = allowed as f64 / total as f64;
        assert!(
            (f - p_c).abs() < tol(p_c, n_eff),
            "{draw:?}: E_C frequency {f} vs p_c {p_c}"
        );
        for k in [0usize, 10, 20, 39] {
            let p = s.word_probability(k, epoch);
            let (n, on) = word[k];
            let f = on as f64 / n as f64;
            assert!(n > 500, "{draw:?} term {k}: only {n} draws");
            assert!(
                (f - p).abs() < tol(p, n),
                "{draw:?} term {k}: {f} vs p_k {p}"
            );
        }
    }
}

#[test]
fn masks_never_drop_a_captions_own_terms_and_respect_the_variant() {
    let df: Vec<f32> = (0..40).map(|k| (k % 10) as f32 / 10.0).collect();
    let terms = captions();
    let rows: Vec<&[u32]> = terms.rows().collect();
    for variant in [
        Variant::None,
        Variant::Always,
        Variant::Caption,
        Variant::CaptionWord,
    ] {
        for draw in [DrawLevel::PerBatch, DrawLevel::PerCaption] {
            let s = Scheduler::new(
                ExpansionConfig {
                    variant,
                    draw,
                    ..config(variant, 6)
                },
                &df,
            )
            .unwrap();
            for epoch in 0..6 {
                for batch in 0..20 {
                    let m = s.batch_mask(epoch, batch, &rows).unwrap();
                    let mut dense = vec![0.0f32; rows.len() * 40];
                    m.write_dense(&mut dense);
                    for (r, own) in rows.iter().enumerate() {
                        for k in 0..40u32 {
                            let v = dense[r * 40 + k as usize];
                            assert_eq!(v == 1.0, m.allows(r, k), "dense and allows agree");
                            if own.contains(&k) {
                                assert_eq!(v, 1.0, "{} dropped own term", variant.label());
                            }
                        }
                        let expansion = (0..40u32)
                            .filter(|k| !own.contains(k) && m.allows(r, *k))
                            .count();
                        match variant {
                            Variant::None => assert_eq!(expansion, 0),
                            Variant::Always => assert_eq!(expansion, 40 - own.len()),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

/// `columns` is exactly the union of what the batch may activate, and `write_dense_columns`
/// is `write_dense` gathered on those columns, for every variant, draw level and word control.
#[test]
fn batch_columns_are_the_union_of_the_allowed_terms() {
    let df: Vec<f32> = (0..40).map(|k| (k % 10) as f32 / 10.0).collect();
    let terms = captions();
    let rows: Vec<&[u32]> = terms.rows().collect();
    let mut restricted_batches = 0;
    for variant in [
        Variant::None,
        Variant::Always,
        Variant::Caption,
        Variant::CaptionWord,
    ] {
        for draw in [DrawLevel::PerBatch, DrawLevel::PerCaption] {
            for word_control in [WordControl::ExpansionTerms, WordControl::LiteralAlgorithm1] {
                let s = Scheduler::new(
                    ExpansionConfig {
                        variant,
                        draw,
                        word_control,
                        ..config(variant, 6)
                    },
                    &df,
                )
                .unwrap();
                for epoch in 0..6 {
                    for batch in 0..8 {
                        // Batches of 8 captions, so that unions stay small.
                        let start = (batch as usize * 8) % rows.len();
                        let b = &rows[start..start + 8];
                        let m = s.batch_mask(epoch, batch, b).unwrap();
                        let mut dense = vec![0.0f32; b.len() * 40];
                        m.write_dense(&mut dense);
                        let used: Vec<u32> = (0..40u32)
                            .filter(|&k| (0..b.len()).any(|r| dense[r * 40 + k as usize] == 1.0))
                            .collect();
                        let Some(cols) = m.columns() else {
                            // Only a row that may activate every expansion term gives none.
                            assert!(
                                m.rows().iter().any(|r| matches!(
                                    r,
                                    RowMask::All | RowMask::DrawnOwnPlusAll(_)
                                ))
                            );
                            continue;
                        };
                        restricted_batches += 1;
                        assert_eq!(cols, used, "{} epoch {epoch}", variant.label());
                        let mut narrow = vec![-1.0f32; b.len() * cols.len()];
                        m.write_dense_columns(&cols, &mut narrow);
                        for r in 0..b.len() {
                            for (j, &k) in cols.iter().enumerate() {
                                assert_eq!(narrow[r * cols.len() + j], dense[r * 40 + k as usize]);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(restricted_batches > 100, "{restricted_batches}");
}

#[test]
fn literal_algorithm_1_drops_own_terms_by_their_draw() {
    let df = vec![1.0f32; 10]; // p_k = 0 in epoch 0: every draw is 0
    let s = Scheduler::new(
        ExpansionConfig {
            word_control: WordControl::LiteralAlgorithm1,
            initial_caption_probability: 1.0,
            ..config(Variant::CaptionWord, 5)
        },
        &df,
    )
    .unwrap();
    let m = s.batch_mask(0, 0, &[vec![2u32, 5]]).unwrap();
    assert!(
        !m.allows(0, 2) && !m.allows(0, 5),
        "own terms dropped when e_k = 0"
    );
    assert!(m.allows(0, 3), "expansion terms unrestricted");
    let default = Scheduler::new(
        ExpansionConfig {
            initial_caption_probability: 1.0,
            ..config(Variant::CaptionWord, 5)
        },
        &df,
    )
    .unwrap();
    let m = default.batch_mask(0, 0, &[vec![2u32, 5]]).unwrap();
    assert!(
        m.allows(0, 2) && !m.allows(0, 3),
        "text reading: own kept, expansion held back"
    );
}

#[test]
fn draws_depend_only_on_seed_epoch_and_batch() {
    let df: Vec<f32> = vec![0.3; 40];
    let terms = captions();
    let rows: Vec<&[u32]> = terms.rows().collect();
    let cfg = ExpansionConfig {
        draw: DrawLevel::PerCaption,
        ..config(Variant::CaptionWord, 10)
    };
    let a = Scheduler::new(cfg.clone(), &df).unwrap();
    let b = Scheduler::new(cfg.clone(), &df).unwrap();
    // Asked in another order, the same (epoch, batch) gives the same mask.
    let m1 = a.batch_mask(4, 7, &rows).unwrap();
    let _ = b.batch_mask(5, 1, &rows).unwrap();
    assert_eq!(b.batch_mask(4, 7, &rows).unwrap(), m1);
    assert_ne!(a.batch_mask(4, 8, &rows).unwrap(), m1);
    let c = Scheduler::new(ExpansionConfig { seed: 1, ..cfg }, &df).unwrap();
    assert_ne!(c.batch_mask(4, 7, &rows).unwrap(), m1);
}

#[test]
fn bad_settings_are_errors() {
    assert!(Scheduler::new(config(Variant::Caption, 0), &[0.1]).is_err());
    assert!(Scheduler::new(config(Variant::Caption, 3), &[1.5]).is_err());
    let s = Scheduler::new(config(Variant::Caption, 3), &[0.1, 0.2]).unwrap();
    let msg = s
        .batch_mask(0, 0, &[vec![0u32, 2]])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("term id 2"), "{msg}");
    assert!("exp=2".parse::<Variant>().is_err());
    assert_eq!("exp=c+w".parse::<Variant>().unwrap(), Variant::CaptionWord);
}
