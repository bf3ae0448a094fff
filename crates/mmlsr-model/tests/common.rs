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
            fit_images: 600,
            ..Default::default()
        };
        let reports = mmlsr_synth::generate(&config, tmp.path(), &|_| {}).unwrap();
        let dir = reports[0].dir.clone();
        (tmp, dir)
    })
    .1
}
