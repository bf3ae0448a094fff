//! A trained joint model on disk: its card and files.

use std::path::Path;

use burn::tensor::backend::Backend;
use mmlsr_store::{Projections, atomic_write_bytes};
use serde::{Deserialize, Serialize};

use super::{JointModel, JointTrainConfig};
use crate::{Error, OutputTerms, Result, SparseHeadConfig};

/// File names inside a joint model directory.
pub mod joint_files {
    /// The [`JointCard`](super::JointCard).
    pub const CONFIG: &str = "config.json";
    /// Sparse head parameters (PyTorch layout; the vocabulary bias is written as zeros).
    pub const HEAD: &str = "head.safetensors";
    /// The fine-tuned `text_proj` / `vision_proj` (readable by `mmlsr_store::Projections`).
    pub const PROJECTIONS: &str = "projections.safetensors";
}

/// Everything needed to rebuild and apply a trained joint model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointCard {
    /// Format version.
    pub format: u32,
    /// Always `"joint"`.
    pub kind: String,
    /// Pre-projection feature dimension (768 for BLIP/ALBEF).
    pub d_feature: usize,
    /// Dense embedding dimension (256).
    pub d_embed: usize,
    /// Head hidden size.
    pub d_hidden: usize,
    /// Head LayerNorm ε.
    pub layer_norm_epsilon: f64,
    /// Output columns.
    pub output: OutputTerms,
    /// The learnt τ.
    pub tau: f64,
    /// Training configuration.
    pub train: JointTrainConfig,
    /// Epoch (1-based) of these weights.
    pub epoch: usize,
    /// Validation sparse R@1 (×100) of these weights.
    pub val_r1: Option<f64>,
}

impl JointCard {
    /// Current format version.
    pub const FORMAT: u32 = 1;

    pub(crate) fn head_config(&self) -> SparseHeadConfig {
        SparseHeadConfig::new(self.d_embed, self.output.columns())
            .with_d_hidden(self.d_hidden)
            .with_layer_norm_epsilon(self.layer_norm_epsilon)
            .with_vocab_bias(false)
    }
}

/// Write a joint model into `dir` (created if needed; each file atomically), then the
/// directory's checksum manifest (`MANIFEST.sha256`).
pub fn save_joint_model<B: Backend>(
    dir: &Path,
    card: &JointCard,
    model: &JointModel<B>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::encode::write_head(&dir.join(joint_files::HEAD), &model.head)?;
    model
        .projections()
        .write(&dir.join(joint_files::PROJECTIONS))?;
    let json = serde_json::to_vec_pretty(card).expect("cards serialise");
    atomic_write_bytes(&dir.join(joint_files::CONFIG), &json)?;
    mmlsr_core::write_manifest(dir)?;
    Ok(())
}

/// Read a joint model directory written by [`save_joint_model`], after checking its files
/// against its checksum manifest (a directory without one is read unchecked).
pub fn load_joint_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(JointCard, JointModel<B>)> {
    mmlsr_core::verify_manifest(dir)?;
    let card_path = dir.join(joint_files::CONFIG);
    let bytes = std::fs::read(&card_path).map_err(|e| Error::io(&card_path, e))?;
    let card: JointCard = serde_json::from_slice(&bytes)
        .map_err(|e| Error::checkpoint(&card_path, format!("not a joint model card: {e}")))?;
    if card.format != JointCard::FORMAT || card.kind != "joint" {
        return Err(Error::checkpoint(
            &card_path,
            format!(
                "kind {:?} format {} is not a joint model of format {}",
                card.kind,
                card.format,
                JointCard::FORMAT
            ),
        ));
    }
    let head = crate::encode::read_head(&dir.join(joint_files::HEAD), &card.head_config(), device)?;
    let proj_path = dir.join(joint_files::PROJECTIONS);
    let projections = Projections::read(&proj_path)?;
    if projections.text.in_dim != card.d_feature {
        return Err(Error::checkpoint(
            &proj_path,
            format!(
                "projections take {}-d features, the card says {}",
                projections.text.in_dim, card.d_feature
            ),
        ));
    }
    let model = JointModel::new(&projections, head, card.tau, device)
        .map_err(|e| Error::checkpoint(dir, e.to_string()))?;
    Ok((card, model))
}
