//! The joint trainer on a tiny synthetic data folder (pre-projection features): it learns, the
//! projections move (or stay put when frozen), τ stays in its range, checkpoints resume to the
//! same weights, and mismatched settings are refused.

use mmlsr_model::{
    HostTensor, JointStart, JointTrainConfig, RetrievalMode, RunDir, TrainData, encode_split_joint,
    load_joint_model, train_joint,
};
use mmlsr_store::{
    Dataset, DatasetFiles, Projections, RestvalPolicy, Vocabulary, WordVectors, files,
};

use crate::common::{B, Inner, Recorder, tiny_coco};

struct Loaded {
    ds: Dataset,
    vocab: Vocabulary,
    wv: WordVectors,
    proj: Projections,
}

fn load() -> Loaded {
    let dir = tiny_coco();
    Loaded {
        ds: Dataset::open_with(dir, DatasetFiles::BEFORE_PROJ).unwrap(),
        vocab: Vocabulary::from_dir(dir).unwrap(),
        wv: WordVectors::read(&dir.join(files::WORD_VECTORS)).unwrap(),
        proj: Projections::read(&dir.join(files::PROJECTIONS)).unwrap(),
    }
}

fn config(epochs: usize) -> JointTrainConfig {
    let mut c = JointTrainConfig {
        epochs,
        batch_size: 128,
        ..Default::default()
    };
    // A higher rate than the released 5e-5 so that three tiny epochs visibly train.
    c.optim.lr = 1e-3;
    c
}

type Host = (Projections, Vec<HostTensor>, f64);

fn weights(dir: &std::path::Path) -> Host {
    let (card, m) = load_joint_model::<Inner>(dir, &Default::default()).unwrap();
    (m.projections(), m.head.to_host(), card.tau)
}

/// Sparse test R@1 (×100) of a saved model.
fn sparse_r1(dir: &std::path::Path, data: &TrainData<'_>) -> f64 {
    let device = Default::default();
    let (card, m) = load_joint_model::<Inner>(dir, &device).unwrap();
    let n_q = data.test.caption_rows.len();
    let enc = encode_split_joint(&m, data, &data.test, n_q, &device).unwrap();
    let runs = enc
        .runs(
            &[RetrievalMode::Sparse],
            10,
            card.train.loss.w1,
            card.train.loss.w2,
        )
        .unwrap();
    enc.evaluate(&runs[0], &[mmlsr_metrics::Measure::Recall(1)])
        .1[0]
        * 100.0
}

#[test]
fn joint_trains_and_resumes_to_identical_weights() {
    let l = load();
    let data = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::Drop).unwrap();
    assert_eq!(data.train_pairs.len(), 600 * 5, "restval dropped");
    let cfg = config(3);
    let device = Default::default();

    let a = tempfile::tempdir().unwrap();
    let mut rec = Recorder::default();
    let report = train_joint::<B>(
        &cfg,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: a.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut rec,
    )
    .unwrap();
    assert_eq!(report.epochs_done, 3);
    assert_eq!(rec.steps.len(), 3 * (3000usize).div_ceil(128));
    let model = report.model_dir.unwrap();
    let (proj, head, tau) = weights(&model);
    assert!((0.001..=0.5).contains(&tau), "τ {tau}");
    assert_ne!(proj, l.proj, "the projections were fine-tuned");
    // Loss falls and the sparse vectors retrieve far above chance (1 in 200 images).
    let first: f64 = rec.steps[..5].iter().map(|s| s.loss).sum::<f64>() / 5.0;
    let last: f64 = rec.steps[rec.steps.len() - 5..]
        .iter()
        .map(|s| s.loss)
        .sum::<f64>()
        / 5.0;
    assert!(last < first, "loss {first} → {last}");
    let r1 = sparse_r1(&model, &data);
    assert!(r1 > 20.0, "sparse test R@1 {r1}");
    let log = std::fs::read_to_string(a.path().join("train_log.csv")).unwrap();
    assert!(log.starts_with("step,epoch,loss,contrastive,distill"));
    assert_eq!(log.lines().count(), rec.steps.len() + 1);

    // Interrupted after epoch 1, then resumed: the same weights, bit for bit.
    let b = tempfile::tempdir().unwrap();
    let mut stop = Recorder {
        stop_after: Some(1),
        ..Default::default()
    };
    let r = train_joint::<B>(
        &cfg,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: b.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut stop,
    )
    .unwrap();
    assert!(r.interrupted && r.model_dir.is_none());
    let err = train_joint::<B>(
        &cfg,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: b.path(),
            resume: false,
            force: false,
        },
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("pass resume"), "{err}");
    let r = train_joint::<B>(
        &cfg,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: b.path(),
            resume: true,
            force: false,
        },
        &device,
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(r.epochs_done, 3);
    assert_eq!(weights(&r.model_dir.unwrap()), (proj, head, tau));

    // A changed configuration is refused on resume.
    let mut other = cfg.clone();
    other.loss.w2 = 0.3;
    let err = train_joint::<B>(
        &other,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: b.path(),
            resume: true,
            force: false,
        },
        &device,
        &mut Recorder::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("loss.w2: 0.1 in the run, 0.3 now"),
        "{err}"
    );
}

#[test]
fn frozen_projections_stay_put_while_the_head_trains() {
    let l = load();
    let data = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::Drop).unwrap();
    let mut cfg = config(1);
    cfg.freeze_projections = true;
    let out = tempfile::tempdir().unwrap();
    let report = train_joint::<B>(
        &cfg,
        &data,
        JointStart {
            projections: &l.proj,
            word_vectors: Some(&l.wv),
        },
        RunDir {
            out: out.path(),
            resume: false,
            force: false,
        },
        &Default::default(),
        &mut Recorder::default(),
    )
    .unwrap();
    let (proj, head, _) = weights(&report.model_dir.unwrap());
    assert_eq!(
        proj, l.proj,
        "frozen projections are unchanged, bit for bit"
    );
    let vocab = head
        .iter()
        .find(|t| t.name == "vocab_projector.weight")
        .unwrap();
    assert_ne!(vocab.data, l.wv.data, "the head trained");
    let bias = head
        .iter()
        .find(|t| t.name == "vocab_projector.bias")
        .unwrap();
    assert!(
        bias.data.iter().all(|&b| b == 0.0),
        "the weight-tied projector has no bias"
    );
}

#[test]
fn joint_bad_settings_are_refused() {
    let l = load();
    let device = Default::default();
    let out = tempfile::tempdir().unwrap();
    let run = |cfg: &JointTrainConfig, data: &TrainData<'_>, proj: &Projections| {
        train_joint::<B>(
            cfg,
            data,
            JointStart {
                projections: proj,
                word_vectors: Some(&l.wv),
            },
            RunDir {
                out: out.path(),
                resume: false,
                force: false,
            },
            &device,
            &mut Recorder::default(),
        )
        .unwrap_err()
        .to_string()
    };
    let dropped = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::Drop).unwrap();
    let merged = TrainData::new(&l.ds, &l.vocab, RestvalPolicy::MergeIntoTrain).unwrap();
    let msg = run(&config(1), &merged, &l.proj);
    assert!(
        msg.contains("restval") && msg.contains("use_restval = false"),
        "{msg}"
    );
    let mut cfg = config(1);
    cfg.tau = 0.9;
    assert!(run(&cfg, &dropped, &l.proj).contains("tau must be in [0.001, 0.5]"));
    let mut cfg = config(1);
    cfg.optim.grad_clip_norm = Some(0.0);
    assert!(run(&cfg, &dropped, &l.proj).contains("grad_clip_norm"));
    let mut bad = l.proj.clone();
    bad.text.in_dim += 1;
    bad.vision.in_dim += 1;
    let msg = run(&config(1), &dropped, &bad);
    assert!(msg.contains("projection input dimension"), "{msg}");
}
