//! Shared helpers: the test backend and a tiny synthetic data folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub type B = mmlsr_model::burn::backend::Autodiff<mmlsr_model::burn::backend::Flex>;
pub type Inner = mmlsr_model::burn::backend::Flex;

/// A tiny synth-coco-strong folder (600 + 200 restval / 100 / 200 images), generated once per
/// test binary run.
pub fn tiny_coco() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let config = mmlsr_synth::SynthConfig {
            scale: mmlsr_synth::Scale::Tiny,
            datasets: vec![mmlsr_synth::DatasetKind::Coco],
            backbones: vec![mmlsr_synth::BackboneKind::Strong],
            ..Default::default()
        };
        let reports = mmlsr_synth::generate(&config, tmp.path(), &|_| {}).unwrap();
        let dir = reports[0].dir.clone();
        (tmp, dir)
    })
    .1
}

/// A JSON array of numbers as `f32`.
/// A file of `tests/data/`, found at run time (a test binary reused from another checkout
/// through a shared target directory must not read that checkout's files).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests"),
    )
    .join("tests/data")
    .join(name)
}

pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A tensor's values as `f64`.
pub fn host<const D: usize>(t: mmlsr_model::burn::tensor::Tensor<Inner, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// Row-major `rows × cols` → its transpose (Burn stores Linear weights [in, out], PyTorch
/// [out, in]).
pub fn transpose(x: Vec<f64>, rows: usize, cols: usize) -> Vec<f64> {
    let mut o = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            o[c * rows + r] = x[r * cols + c];
        }
    }
    o
}

/// |got − want| ≤ atol + rtol·|want| elementwise.
pub fn check(name: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{name}[{i}]: got {g}, PyTorch float64 {w}"
        );
    }
}

/// Records a training run's steps and epochs; stops after epoch `stop_after` when set.
#[derive(Default)]
pub struct Recorder {
    pub steps: Vec<mmlsr_model::StepStats>,
    pub epochs: Vec<mmlsr_model::EpochStats>,
    pub stop_after: Option<usize>,
}

impl mmlsr_model::TrainObserver for Recorder {
    fn on_step(&mut self, s: &mmlsr_model::StepStats) {
        self.steps.push(*s);
    }
    fn on_epoch(&mut self, e: &mmlsr_model::EpochStats) -> std::ops::ControlFlow<()> {
        self.epochs.push(*e);
        match self.stop_after {
            Some(n) if e.epoch >= n => std::ops::ControlFlow::Break(()),
            _ => std::ops::ControlFlow::Continue(()),
        }
    }
}
