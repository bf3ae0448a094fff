//! Trained models on disk and the sparse encoder: dense rows in, CSR rows out.
//!
//! A model directory holds `config.json` (a [`ModelCard`]) and `head.safetensors` (the head's
//! parameters in PyTorch layout, names as the released `state_dict`).

use std::path::Path;

use burn::tensor::{Tensor, TensorData, backend::Backend};
use mmlsr_core::CsrMatrix;
use mmlsr_expansion::Variant;
use mmlsr_store::{atomic_write_bytes, read_tensor_f32, write_tensors_f32};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, SparseHead, SparseHeadConfig, TrainConfig};

/// File names inside a model directory.
pub mod model_files {
    /// The [`ModelCard`](super::ModelCard).
    pub const CONFIG: &str = "config.json";
    /// Head parameters.
    pub const HEAD: &str = "head.safetensors";
}

/// Output columns of a head: the whole vocabulary, or a pruned subset of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTerms {
    /// Size of the full vocabulary the term ids refer to.
    pub vocab_size: usize,
    /// Column `c` of the head is term `kept[c]`; `None` means column = term id.
    pub kept: Option<Vec<u32>>,
}

impl OutputTerms {
    /// Number of head columns.
    pub fn columns(&self) -> usize {
        self.kept.as_ref().map_or(self.vocab_size, Vec::len)
    }

    /// Vocabulary id of column `c`.
    pub fn term(&self, c: usize) -> u32 {
        self.kept.as_ref().map_or(c as u32, |k| k[c])
    }

    /// Column of vocabulary id `t`, if kept.
    pub fn column(&self, t: u32) -> Option<usize> {
        match &self.kept {
            None => ((t as usize) < self.vocab_size).then_some(t as usize),
            Some(k) => k.binary_search(&t).ok(),
        }
    }
}

/// Everything needed to rebuild and apply a trained head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Format version of this card.
    pub format: u32,
    /// Input dimension.
    pub d_input: usize,
    /// Hidden size.
    pub d_hidden: usize,
    /// LayerNorm ε.
    pub layer_norm_epsilon: f64,
    /// Output columns.
    pub output: OutputTerms,
    /// Expansion variant it was trained with; `exp=0` models restrict captions to their own
    /// terms at test time too.
    pub variant: Variant,
    /// The training configuration.
    pub train: TrainConfig,
    /// Epoch (1-based) whose weights these are.
    pub epoch: usize,
    /// Validation sparse text→image R@1 (×100) of these weights, when validated.
    pub val_r1: Option<f64>,
}

impl ModelCard {
    /// Current format version.
    pub const FORMAT: u32 = 1;

    /// The head configuration this card describes.
    pub fn head_config(&self) -> SparseHeadConfig {
        SparseHeadConfig::new(self.d_input, self.output.columns())
            .with_d_hidden(self.d_hidden)
            .with_layer_norm_epsilon(self.layer_norm_epsilon)
    }
}

/// Write a head and its card into `dir` (created if needed; each file atomically), then the
/// directory's checksum manifest (`MANIFEST.sha256`).
pub fn save_model<B: Backend>(dir: &Path, card: &ModelCard, head: &SparseHead<B>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_head(&dir.join(model_files::HEAD), head)?;
    let json = serde_json::to_vec_pretty(card).expect("cards serialise");
    atomic_write_bytes(&dir.join(model_files::CONFIG), &json)?;
    mmlsr_core::write_manifest(dir)?;
    Ok(())
}

/// Read a model directory written by [`save_model`], after checking its files against its
/// checksum manifest ([`mmlsr_core::verify_manifest`]; a directory without one is read
/// unchecked).
pub fn load_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(ModelCard, SparseHead<B>)> {
    mmlsr_core::verify_manifest(dir)?;
    let card_path = dir.join(model_files::CONFIG);
    let bytes = std::fs::read(&card_path).map_err(|e| Error::io(&card_path, e))?;
    let card: ModelCard = serde_json::from_slice(&bytes)
        .map_err(|e| Error::checkpoint(&card_path, format!("not a model card: {e}")))?;
    if card.format != ModelCard::FORMAT {
        return Err(Error::checkpoint(
            &card_path,
            format!(
                "format {} is not supported (expected {})",
                card.format,
                ModelCard::FORMAT
            ),
        ));
    }
    let head_path = dir.join(model_files::HEAD);
    let head = read_head(&head_path, &card.head_config(), device)?;
    Ok((card, head))
}

/// Write a head's parameters (PyTorch layout, named as in [`crate::names`]) atomically.
pub(crate) fn write_head<B: Backend>(path: &Path, head: &SparseHead<B>) -> Result<()> {
    let host = head.to_host();
    let refs: Vec<(&str, &[usize], &[f32])> = host
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice(), t.data.as_slice()))
        .collect();
    write_tensors_f32(path, &refs)?;
    Ok(())
}

/// Read a head's parameters (named as in [`crate::names`]) from a safetensors file and build
/// it with `config`; a shape mismatch is a checkpoint error naming the file.
pub(crate) fn read_head<B: Backend>(
    path: &Path,
    config: &SparseHeadConfig,
    device: &B::Device,
) -> Result<SparseHead<B>> {
    let mut tensors = Vec::new();
    for name in [
        crate::head::names::PROJ_WEIGHT,
        crate::head::names::PROJ_BIAS,
        crate::head::names::NORM_WEIGHT,
        crate::head::names::NORM_BIAS,
        crate::head::names::VOCAB_WEIGHT,
        crate::head::names::VOCAB_BIAS,
    ] {
        let (shape, data) = read_tensor_f32(path, name)?;
        tensors.push(crate::HostTensor::new(name, shape, data));
    }
    config
        .from_host(tensors, device)
        .map_err(|e| Error::checkpoint(path, e.to_string()))
}

/// How dense head outputs become sparse rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodeOptions {
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Keep only the `k` largest weights of each row.
    pub top_k: Option<usize>,
    /// Keep weights strictly above this (0 keeps every active term).
    pub threshold: f32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            top_k: None,
            threshold: 0.0,
        }
    }
}

/// Apply `head` to `inputs` (`rows × d`, row-major) and return sparse rows over the full
/// vocabulary. With `own_terms`, row `r` keeps only the terms in `own_terms[r]` (an `exp=0`
/// caption at test time).
pub fn encode<B: Backend>(
    head: &SparseHead<B>,
    output: &OutputTerms,
    inputs: &[f32],
    d: usize,
    own_terms: Option<&[&[u32]]>,
    options: &EncodeOptions,
    device: &B::Device,
) -> Result<CsrMatrix> {
    if d == 0 || inputs.len() % d != 0 {
        return Err(Error::Shape {
            what: "encoder input length (a multiple of the dimension)".into(),
            expected: d,
            found: inputs.len(),
        });
    }
    let n = inputs.len() / d;
    if let Some(t) = own_terms
        && t.len() != n
    {
        return Err(Error::Shape {
            what: "own-term lists for the encoder's rows".into(),
            expected: n,
            found: t.len(),
        });
    }
    let cols = output.columns();
    let mut out = CsrMatrix::empty(output.vocab_size);
    let mut idx: Vec<u32> = Vec::new();
    let mut val: Vec<f32> = Vec::new();
    let mut order: Vec<(u32, f32)> = Vec::new();
    let bs = options.batch_size.max(1);
    for start in (0..n).step_by(bs) {
        let end = (start + bs).min(n);
        let x = Tensor::<B, 2>::from_data(
            TensorData::new(inputs[start * d..end * d].to_vec(), [end - start, d]),
            device,
        );
        let y: Vec<f32> = head.forward(x).into_data().iter::<f32>().collect();
        for (r, row) in y.chunks_exact(cols).enumerate() {
            order.clear();
            match own_terms {
                Some(t) => {
                    for &term in t[start + r] {
                        if let Some(c) = output.column(term)
                            && row[c] > options.threshold
                        {
                            order.push((term, row[c]));
                        }
                    }
                }
                None => order.extend(
                    row.iter()
                        .enumerate()
                        .filter(|(_, w)| **w > options.threshold)
                        .map(|(c, &w)| (output.term(c), w)),
                ),
            }
            if let Some(k) = options.top_k
                && order.len() > k
            {
                order.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                order.truncate(k);
            }
            order.sort_unstable_by_key(|p| p.0);
            idx.clear();
            val.clear();
            for &(t, w) in &order {
                idx.push(t);
                val.push(w);
            }
            out.push_row(&idx, &val)?;
        }
    }
    Ok(out)
}
