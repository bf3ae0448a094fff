//! The joint model's optimiser (the released code): AdamW over every parameter and τ,
//! global-norm gradient clipping, frozen projections left out of the update.

use std::path::Path;

use burn::{
    module::ParamId,
    optim::{AdamW, AdamWConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor},
    record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder},
    tensor::{
        Tensor,
        backend::{AutodiffBackend, Backend},
    },
};

use super::{JointModel, JointTrainConfig};
use crate::{Error, Result, optim::read_record, train::scalar};

type Adaptor<B> = OptimizerAdaptor<AdamW, JointModel<B>, B>;

/// AdamW over the joint model: one group (released) or two when the head's first layer has
/// its own learning rate; global-norm gradient clipping; frozen projections get no update.
pub struct JointOptimizer<B: AutodiffBackend> {
    config: JointTrainConfig,
    head_proj: Adaptor<B>,
    rest: Adaptor<B>,
}

impl<B: AutodiffBackend> JointOptimizer<B> {
    /// Fresh optimiser state for a model trained with `config` (its `optim` settings and
    /// `freeze_projections`).
    pub fn new(config: &JointTrainConfig) -> Self {
        let adamw = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(config.optim.epsilon as f32)
            .with_weight_decay(config.optim.weight_decay as f32);
        Self {
            config: config.clone(),
            head_proj: adamw.init(),
            rest: adamw.init(),
        }
    }

    /// Back-propagate, clip, update, clamp τ. Returns the model and the gradient norm before
    /// clipping.
    pub fn step(
        &mut self,
        model: JointModel<B>,
        loss: Tensor<B, 1>,
        lr_scale: f64,
    ) -> (JointModel<B>, f64) {
        let mut grads = loss.backward();
        let split = self.config.optim.lr_head_proj.is_some();
        let mut head_proj = if split {
            GradientsParams::from_module(&mut grads, &model.head.proj)
        } else {
            GradientsParams::new()
        };
        let mut rest = GradientsParams::from_grads(grads, &model);
        if self.config.freeze_projections {
            for l in [&model.text_proj, &model.vision_proj] {
                rest.remove::<B::InnerBackend, 2>(l.weight.id);
                if let Some(b) = &l.bias {
                    rest.remove::<B::InnerBackend, 1>(b.id);
                }
            }
        }
        let (ids1, ids2) = param_ids(&model);
        let norm = clip_global_norm::<B>(
            &mut [&mut head_proj, &mut rest],
            &ids1,
            &ids2,
            self.config.optim.grad_clip_norm,
        );
        let lr = self.config.optim.lr * lr_scale;
        let mut model = self.rest.step(lr, model, rest);
        if let Some(lr_p) = self.config.optim.lr_head_proj {
            model = self.head_proj.step(lr_p * lr_scale, model, head_proj);
        }
        (model.clamp_tau(), norm)
    }

    pub(crate) fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let enc = |o: &Adaptor<B>| {
            Recorder::<B>::record(&rec, o.to_record(), ())
                .map_err(|e| Error::Config(format!("cannot serialise optimiser state: {e}")))
        };
        Ok((enc(&self.head_proj)?, enc(&self.rest)?))
    }

    pub(crate) fn load_files(
        mut self,
        head_proj: &Path,
        rest: &Path,
        device: &B::Device,
    ) -> Result<Self> {
        self.head_proj = self
            .head_proj
            .load_record(read_record::<B, _>(head_proj, device)?);
        self.rest = self.rest.load_record(read_record::<B, _>(rest, device)?);
        Ok(self)
    }
}

/// Ids of the model's rank-1 and rank-2 parameters.
fn param_ids<B: Backend>(m: &JointModel<B>) -> (Vec<ParamId>, Vec<ParamId>) {
    let mut ids1 = vec![m.tau.id, m.head.norm.gamma.id];
    let ids2 = vec![
        m.text_proj.weight.id,
        m.vision_proj.weight.id,
        m.head.proj.weight.id,
        m.head.vocab.weight.id,
    ];
    for b in [
        &m.text_proj.bias,
        &m.vision_proj.bias,
        &m.head.proj.bias,
        &m.head.norm.beta,
        &m.head.vocab.bias,
    ]
    .into_iter()
    .flatten()
    {
        ids1.push(b.id);
    }
    (ids1, ids2)
}

/// Scale every gradient by `max / (‖g‖ + 1e-6)` when the global norm `‖g‖` over all of them
/// exceeds `max` (PyTorch's `clip_grad_norm_`, which Lightning's `gradient_clip_val` calls).
/// Returns `‖g‖` before clipping.
fn clip_global_norm<B: AutodiffBackend>(
    groups: &mut [&mut GradientsParams],
    ids1: &[ParamId],
    ids2: &[ParamId],
    max: Option<f64>,
) -> f64 {
    let mut total = 0.0f64;
    for g in groups.iter() {
        for &id in ids1 {
            if let Some(t) = g.get::<B::InnerBackend, 1>(id) {
                total += scalar(t.powi_scalar(2).sum());
            }
        }
        for &id in ids2 {
            if let Some(t) = g.get::<B::InnerBackend, 2>(id) {
                total += scalar(t.powi_scalar(2).sum());
            }
        }
    }
    let norm = total.sqrt();
    if let Some(max) = max
        && norm > max
    {
        let s = max / (norm + 1e-6);
        for g in groups.iter_mut() {
            for &id in ids1 {
                if let Some(t) = g.remove::<B::InnerBackend, 1>(id) {
                    g.register(id, t.mul_scalar(s));
                }
            }
            for &id in ids2 {
                if let Some(t) = g.remove::<B::InnerBackend, 2>(id) {
                    g.register(id, t.mul_scalar(s));
                }
            }
        }
    }
    norm
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    type B = burn::backend::Autodiff<burn::backend::Flex>;
    type I = burn::backend::Flex;

    #[test]
    fn global_norm_clipping_scales_all_groups_like_pytorch() {
        let device = Default::default();
        let (a, b, c) = (ParamId::from(1), ParamId::from(2), ParamId::from(3));
        let t1 =
            |x: Vec<f32>| Tensor::<I, 1>::from_data(TensorData::new(x.clone(), [x.len()]), &device);
        let mut g1 = GradientsParams::new();
        let mut g2 = GradientsParams::new();
        g1.register(a, t1(vec![3.0, 0.0]));
        g2.register(b, t1(vec![0.0, 4.0]));
        g2.register(
            c,
            Tensor::<I, 2>::from_data(TensorData::new(vec![12.0f32, 0.0], [1, 2]), &device),
        );
        // ‖g‖ = √(9 + 16 + 144) = 13 over both groups.
        let norm = clip_global_norm::<B>(&mut [&mut g1, &mut g2], &[a, b], &[c], Some(1.0));
        assert!((norm - 13.0).abs() < 1e-9);
        let s = 1.0 / (13.0 + 1e-6);
        let host = |t: Tensor<I, 1>| t.into_data().iter::<f64>().collect::<Vec<_>>();
        let ga = host(g1.get::<I, 1>(a).unwrap());
        let gb = host(g2.get::<I, 1>(b).unwrap());
        let gc: Vec<f64> = g2
            .get::<I, 2>(c)
            .unwrap()
            .into_data()
            .iter::<f64>()
            .collect();
        for (got, want) in [(ga[0], 3.0 * s), (gb[1], 4.0 * s), (gc[0], 12.0 * s)] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Below the limit nothing changes; without a limit the norm is still reported.
        let norm = clip_global_norm::<B>(&mut [&mut g1], &[a], &[], Some(1.0));
        assert!((norm - 3.0 * s).abs() < 1e-6);
        assert_eq!(host(g1.get::<I, 1>(a).unwrap())[0], ga[0]);
        let norm = clip_global_norm::<B>(&mut [&mut g2], &[b], &[c], None);
        assert!((norm - s * 160f64.sqrt()).abs() < 1e-6);
    }
}
