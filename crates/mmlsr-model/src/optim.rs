//! The released D2S optimiser: two AdamW groups (thongnt99/lsr-multimodal `train.py`), the new
//! first projection at a high learning rate and the pretrained LayerNorm and vocabulary
//! projector at a low one, no weight decay, linear warm-up then linear decay.

use burn::{
    optim::{AdamW, AdamWConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor},
    record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder},
    tensor::{Tensor, backend::AutodiffBackend},
};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, SparseHead};

/// Optimiser settings (defaults: the released code).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate of the first projection `W_1` (released: 1e-3).
    pub lr_proj: f64,
    /// Peak learning rate of the LayerNorm and vocabulary projector (released: 5e-5, as for
    /// fine-tuning a pretrained MLM head).
    pub lr_pretrained: f64,
    /// Fraction of all steps spent warming up linearly from 0 (released: 0.2).
    pub warmup_fraction: f64,
    /// AdamW ε (PyTorch's 1e-8; Burn's own default is 1e-5).
    pub epsilon: f64,
    /// Decoupled weight decay (released: 0).
    pub weight_decay: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr_proj: 1e-3,
            lr_pretrained: 5e-5,
            warmup_fraction: 0.2,
            epsilon: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// The learning-rate multiplier at `step` (0-based) of `total` steps with `warmup` warm-up
/// steps, as Hugging Face's `get_linear_schedule_with_warmup`: `step / warmup` during the
/// warm-up, then `(total − step) / (total − warmup)`, never below 0.
pub fn lr_factor(step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        return step as f64 / warmup.max(1) as f64;
    }
    let rest = total.saturating_sub(warmup).max(1);
    (total.saturating_sub(step) as f64 / rest as f64).max(0.0)
}

type Adaptor<B> = OptimizerAdaptor<AdamW, SparseHead<B>, B>;

/// The two AdamW groups of a [`SparseHead`].
pub struct HeadOptimizer<B: AutodiffBackend> {
    config: OptimConfig,
    proj: Adaptor<B>,
    rest: Adaptor<B>,
}

impl<B: AutodiffBackend> HeadOptimizer<B> {
    /// Fresh optimiser state.
    pub fn new(config: OptimConfig) -> Self {
        let adamw = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(config.epsilon as f32)
            .with_weight_decay(config.weight_decay as f32);
        Self {
            config,
            proj: adamw.init(),
            rest: adamw.init(),
        }
    }

    /// Back-propagate `loss` and update `head` with learning rates scaled by `lr_scale`
    /// (see [`lr_factor`]).
    pub fn step(
        &mut self,
        head: SparseHead<B>,
        loss: Tensor<B, 1>,
        lr_scale: f64,
    ) -> SparseHead<B> {
        let mut grads = loss.backward();
        let proj_grads = GradientsParams::from_module(&mut grads, &head.proj);
        let rest_grads = GradientsParams::from_grads(grads, &head);
        let head = self
            .rest
            .step(self.config.lr_pretrained * lr_scale, head, rest_grads);
        self.proj
            .step(self.config.lr_proj * lr_scale, head, proj_grads)
    }

    /// Serialise both groups' state (Adam moments, step counts) to bytes.
    pub fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let enc = |o: &Adaptor<B>| {
            Recorder::<B>::record(&rec, o.to_record(), ())
                .map_err(|e| Error::Config(format!("cannot serialise optimiser state: {e}")))
        };
        Ok((enc(&self.proj)?, enc(&self.rest)?))
    }

    /// Restore state that [`HeadOptimizer::to_bytes`] wrote to the files `proj` and `rest`;
    /// an unreadable file is an error naming it.
    pub fn load_files(
        mut self,
        proj: &std::path::Path,
        rest: &std::path::Path,
        device: &B::Device,
    ) -> Result<Self> {
        self.proj = self.proj.load_record(read_record::<B, _>(proj, device)?);
        self.rest = self.rest.load_record(read_record::<B, _>(rest, device)?);
        Ok(self)
    }
}

/// Read one optimiser state file (Burn's named MessagePack record); an unreadable one is a
/// checkpoint error naming the file and what to do, not the recorder's bare message.
pub(crate) fn read_record<B: burn::tensor::backend::Backend, R: burn::record::Record<B>>(
    path: &std::path::Path,
    device: &B::Device,
) -> Result<R> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let len = bytes.len();
    let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    Recorder::<B>::load(&rec, bytes, device).map_err(|e| {
        Error::checkpoint(
            path,
            format!(
                "unreadable optimiser state ({len} bytes: truncated, corrupted, or written by \
                 another version of mmlsr); resume from an intact checkpoint, or train again \
                 with force: {e}"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_factor_matches_linear_warmup_then_decay() {
        assert_eq!(lr_factor(0, 100, 20), 0.0);
        assert_eq!(lr_factor(10, 100, 20), 0.5);
        assert_eq!(lr_factor(20, 100, 20), 1.0);
        assert_eq!(lr_factor(60, 100, 20), 0.5);
        assert_eq!(lr_factor(100, 100, 20), 0.0);
        assert_eq!(lr_factor(5, 10, 0), 0.5);
    }
}
