//! The trainer on a tiny synthetic data folder: it learns, checkpoints, resumes to the same
//! weights, and refuses mismatched runs.

use mmlsr_expansion::Variant;
use mmlsr_model::{
    Error, ExpansionSettings, HostTensor, RunDir, StepStats, TrainConfig, TrainData, load_model,
    train,
};
use mmlsr_store::{Dataset, RestvalPolicy, Vocabulary, WordVectors, files};

use crate::common::{B, Inner, Recorder, tiny_coco};

fn config(variant: Variant, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 128,
        expansion: ExpansionSettings {
            variant,
            ..Default::default()
        },
        ..Default::default()
    }
}

struct Loaded {
    ds: Dataset,
    vocab: Vocabulary,
    wv: WordVectors,
}

fn load() -> Loaded {
    let dir = tiny_coco();
    Loaded {
        ds: Dataset::open(dir).unwrap(),
        vocab: Vocabulary::from_dir(dir).unwrap(),
        wv: WordVectors::read(&dir.join(files::WORD_VECTORS)).unwrap(),
    }
}

fn weights(dir: &std::path::Path) -> Vec<HostTensor> {
    load_model::<Inner>(dir, &Default::default())
        .unwrap()
        .1
        .to_host()
}

#[test]
fn trains_checkpoints_and_resumes_to_identical_weights() {
    let l = load();
    let data = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::MergeIntoTrain).unwrap();
    assert_eq!(data.train_pairs.len(), 800 * 5);
    let cfg = config(Variant::Caption, 3);
    let device = Default::default();

    // Uninterrupted.
    let a = tempfile::tempdir().unwrap();
    let mut rec = Recorder::default();
    let report = train::<B>(
        &cfg,
        &data,
        Some(&l.wv),
        RunDir {
            out: a.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut rec,
    )
    .unwrap();
    assert_eq!((report.epochs_done, report.steps_done), (3, 3 * 32));
    assert!(!report.interrupted);
    let first = &rec.steps[..5];
    let last = &rec.steps[rec.steps.len() - 5..];
    let mean = |s: &[StepStats]| s.iter().map(|x| x.distill).sum::<f64>() / s.len() as f64;
    assert!(
        mean(last) < 0.8 * mean(first),
        "distillation loss should fall: {} → {}",
        mean(first),
        mean(last)
    );
    // 100 val images: chance R@1 is 1 %.
    let best = report.best_val_r1.unwrap();
    assert!(best > 20.0, "val R@1 {best}");
    let log = std::fs::read_to_string(a.path().join("train_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 96);
    assert!(log.starts_with("step,epoch,loss,distill,reg_text,reg_image"));
    let model = report.model_dir.clone().unwrap();
    let (card, _) = load_model::<Inner>(&model, &device).unwrap();
    assert_eq!(card.epoch, report.best_epoch);
    assert_eq!(card.val_r1, report.best_val_r1);

    // Interrupted after epoch 1, then resumed.
    let b = tempfile::tempdir().unwrap();
    let mut stop = Recorder {
        stop_after: Some(1),
        ..Default::default()
    };
    let r1 = train::<B>(
        &cfg,
        &data,
        Some(&l.wv),
        RunDir {
            out: b.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut stop,
    )
    .unwrap();
    assert!(r1.interrupted && r1.model_dir.is_none());
    assert_eq!(r1.epochs_done, 1);
    // Starting over in the same directory without `resume` is refused.
    let err = train::<B>(
        &cfg,
        &data,
        Some(&l.wv),
        RunDir {
            out: b.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    // Resuming with another configuration is refused.
    let mut other = cfg.clone();
    other.loss.q_reg = 1e-5;
    let err = train::<B>(
        &other,
        &data,
        Some(&l.wv),
        RunDir {
            out: b.path(),
            resume: true,
            force: false,
        },
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    let mut rest = Recorder::default();
    let r2 = train::<B>(
        &cfg,
        &data,
        Some(&l.wv),
        RunDir {
            out: b.path(),
            resume: true,
            force: false,
        },
        &device,
        &mut rest,
    )
    .unwrap();
    assert_eq!(rest.steps.first().unwrap().step, 33);
    assert_eq!((r2.epochs_done, r2.steps_done), (3, 96));
    assert_eq!(r2.best_epoch, report.best_epoch);
    assert_eq!(r2.best_val_r1, report.best_val_r1);
    // Same weights and the same log as the uninterrupted run.
    let (wa, wb) = (weights(&model), weights(&r2.model_dir.unwrap()));
    for (a, b) in wa.iter().zip(&wb) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        let worst = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "{}: resumed weights differ by {worst}",
            a.name
        );
    }
    let log_b = std::fs::read_to_string(b.path().join("train_log.csv")).unwrap();
    assert_eq!(log_b.lines().count(), log.lines().count());
    // Only the latest and the best epoch directories are kept.
    let kept = std::fs::read_dir(b.path().join("epochs")).unwrap().count();
    assert!((1..=2).contains(&kept), "{kept} epoch directories");
}

#[test]
fn exp0_keeps_captions_to_their_own_terms_and_pruning_keeps_occurring_terms() {
    let l = load();
    let data = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::MergeIntoTrain).unwrap();
    let mut cfg = config(Variant::None, 1);
    cfg.prune_vocabulary = true;
    cfg.validate = false;
    let out = tempfile::tempdir().unwrap();
    let mut rec = Recorder::default();
    let report = train::<B>(
        &cfg,
        &data,
        Some(&l.wv),
        RunDir {
            out: out.path(),
            resume: false,
            force: false,
        },
        &Default::default(),
        &mut rec,
    )
    .unwrap();
    let max_own = data.terms.rows().map(<[u32]>::len).max().unwrap() as f64;
    for s in &rec.steps {
        assert!(
            s.active_text <= max_own,
            "step {}: {} active > {max_own}",
            s.step,
            s.active_text
        );
    }
    let (card, head) =
        load_model::<Inner>(&report.model_dir.unwrap(), &Default::default()).unwrap();
    let kept = card.output.kept.clone().unwrap();
    assert_eq!(kept, data.occurring_terms());
    assert!(kept.len() < l.vocab.len());
    assert_eq!(head.vocab_size(), kept.len());
}

#[test]
fn bad_settings_and_mismatched_word_vectors_are_refused() {
    let l = load();
    let data = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::MergeIntoTrain).unwrap();
    let out = tempfile::tempdir().unwrap();
    let device = Default::default();
    let mut cfg = config(Variant::Always, 1);
    cfg.batch_size = 1;
    let err = train::<B>(
        &cfg,
        &data,
        None,
        RunDir::fresh(out.path()),
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
    let cfg = config(Variant::Always, 1);
    let short = WordVectors {
        vocab_size: l.wv.vocab_size - 1,
        dim: l.wv.dim,
        data: l.wv.data[..(l.wv.vocab_size - 1) * l.wv.dim].to_vec(),
    };
    let err = train::<B>(
        &cfg,
        &data,
        Some(&short),
        RunDir::fresh(out.path()),
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}
