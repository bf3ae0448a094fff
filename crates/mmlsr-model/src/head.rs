//! The shared sparse projection head of D2S (Nguyen et al., ECIR 2024, section 3.2):
//! `s(z) = log(1 + relu(W_V · LayerNorm(W_1 · z + b_1) + b_V))`, one weight per vocabulary
//! term, used for captions and images alike.

use std::collections::HashMap;

use burn::{
    config::Config,
    module::{Module, Param, ParamId},
    nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig},
    tensor::{Tensor, TensorData, activation::relu, backend::Backend},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::Error;

/// Shape and numerics of a [`SparseHead`].
#[derive(Config, Debug)]
pub struct SparseHeadConfig {
    /// Input dimension `d` (256 for BLIP/ALBEF contrastive embeddings).
    pub d_input: usize,
    /// Output columns: the vocabulary size, or the number of kept terms after pruning.
    pub vocab_size: usize,
    /// Hidden size `h` of the first projection and the LayerNorm (768, DistilBERT's).
    #[config(default = 768)]
    pub d_hidden: usize,
    /// LayerNorm epsilon (1e-12, DistilBERT's `vocab_layer_norm`).
    #[config(default = 1e-12)]
    pub layer_norm_epsilon: f64,
    /// Whether the vocabulary projector has a bias (DistilBERT's does; the joint method's
    /// weight-tied projector, a copy of the word embeddings, has none). Without one, the
    /// `vocab_projector.bias` tensor is written as zeros and must be zero when read.
    #[config(default = true)]
    pub vocab_bias: bool,
}

/// Parameter names, in PyTorch layout, as in the released code's `state_dict`
/// (thongnt99/lsr-multimodal `model.py`: `proj`, `vocab_layer_norm`, `vocab_projector`).
pub mod names {
    /// `[h, d]`
    pub const PROJ_WEIGHT: &str = "proj.weight";
    /// `[h]`
    pub const PROJ_BIAS: &str = "proj.bias";
    /// `[h]`
    pub const NORM_WEIGHT: &str = "vocab_layer_norm.weight";
    /// `[h]`
    pub const NORM_BIAS: &str = "vocab_layer_norm.bias";
    /// `[|V|, h]`
    pub const VOCAB_WEIGHT: &str = "vocab_projector.weight";
    /// `[|V|]`
    pub const VOCAB_BIAS: &str = "vocab_projector.bias";
}

/// A named tensor on the host (PyTorch layout).
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Parameter name (see [`names`]).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor named `name`.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            name: name.into(),
            shape,
            data,
        }
    }
}

/// The D2S sparse head.
#[derive(Module, Debug)]
pub struct SparseHead<B: Backend> {
    /// `W_1`: `d → h` (new layer; trained at the higher learning rate).
    pub proj: Linear<B>,
    /// LayerNorm over `h`.
    pub norm: LayerNorm<B>,
    /// `W_V`: `h → |V|`, initialised from the vocabulary's word vectors.
    pub vocab: Linear<B>,
}

// Fixed parameter ids, so that optimiser state saved with a checkpoint finds its parameters
// again after the weights are reloaded.
const IDS: [u64; 6] = [1, 2, 3, 4, 5, 6];

impl SparseHeadConfig {
    /// A head with `W_1` drawn as PyTorch's `nn.Linear` does (uniform ±1/√d, from `seed`),
    /// LayerNorm at identity, and `W_V` set to `word_vectors` (`vocab_size × d_hidden`,
    /// row-major: one row per output term, as BERT's word embeddings) with zero bias. Without
    /// word vectors `W_V` is drawn from N(0, 0.02²), BERT's initialiser.
    pub fn init<B: Backend>(
        &self,
        word_vectors: Option<&[f32]>,
        seed: u64,
        device: &B::Device,
    ) -> crate::Result<SparseHead<B>> {
        let (d, h, v) = (self.d_input, self.d_hidden, self.vocab_size);
        if d == 0 || h == 0 || v == 0 {
            return Err(Error::Config(format!(
                "sparse head dimensions must be positive (d_input {d}, d_hidden {h}, vocab_size {v})"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = 1.0 / (d as f32).sqrt();
        let proj_w: Vec<f32> = (0..h * d).map(|_| rng.random_range(-k..k)).collect();
        let proj_b: Vec<f32> = (0..h).map(|_| rng.random_range(-k..k)).collect();
        let vocab_w = match word_vectors {
            Some(wv) => {
                if wv.len() != v * h {
                    return Err(Error::Shape {
                        what: format!("word vectors for a {v} × {h} vocabulary projector"),
                        expected: v * h,
                        found: wv.len(),
                    });
                }
                wv.to_vec()
            }
            None => {
                let normal = Normal::new(0.0f32, 0.02).expect("valid normal");
                (0..v * h).map(|_| normal.sample(&mut rng)).collect()
            }
        };
        let tensors = vec![
            HostTensor::new(names::PROJ_WEIGHT, vec![h, d], proj_w),
            HostTensor::new(names::PROJ_BIAS, vec![h], proj_b),
            HostTensor::new(names::NORM_WEIGHT, vec![h], vec![1.0; h]),
            HostTensor::new(names::NORM_BIAS, vec![h], vec![0.0; h]),
            HostTensor::new(names::VOCAB_WEIGHT, vec![v, h], vocab_w),
            HostTensor::new(names::VOCAB_BIAS, vec![v], vec![0.0; v]),
        ];
        self.from_host(tensors, device)
    }

    /// Build a head from host tensors named as in [`names`] (PyTorch layout), checking every
    /// shape against this configuration.
    pub fn from_host<B: Backend>(
        &self,
        tensors: Vec<HostTensor>,
        device: &B::Device,
    ) -> crate::Result<SparseHead<B>> {
        let (d, h, v) = (self.d_input, self.d_hidden, self.vocab_size);
        let mut map: HashMap<String, (Vec<usize>, Vec<f32>)> = tensors
            .into_iter()
            .map(|t| (t.name, (t.shape, t.data)))
            .collect();
        let has_vocab_bias = map.contains_key(names::VOCAB_BIAS);
        let mut take = |name: &str, shape: &[usize]| -> crate::Result<Vec<f32>> {
            let (s, x) = map
                .remove(name)
                .ok_or_else(|| Error::Config(format!("sparse head: tensor `{name}` is missing")))?;
            if s != shape || x.len() != shape.iter().product::<usize>() {
                return Err(Error::Config(format!(
                    "sparse head: tensor `{name}` has shape {s:?}, expected {shape:?}"
                )));
            }
            if let Some(bad) = x.iter().find(|x| !x.is_finite()) {
                return Err(Error::Config(format!(
                    "sparse head: tensor `{name}` holds a non-finite value ({bad})"
                )));
            }
            Ok(x)
        };
        let proj_w = transpose(&take(names::PROJ_WEIGHT, &[h, d])?, h, d);
        let proj_b = take(names::PROJ_BIAS, &[h])?;
        let gamma = take(names::NORM_WEIGHT, &[h])?;
        let beta = take(names::NORM_BIAS, &[h])?;
        let vocab_w = transpose(&take(names::VOCAB_WEIGHT, &[v, h])?, v, h);
        let vocab_b = match (self.vocab_bias, has_vocab_bias) {
            (true, _) | (false, true) => take(names::VOCAB_BIAS, &[v])?,
            (false, false) => vec![0.0; v],
        };
        if !self.vocab_bias && vocab_b.iter().any(|&b| b != 0.0) {
            return Err(Error::Config(format!(
                "sparse head: tensor `{}` is non-zero but the head has no vocabulary bias",
                names::VOCAB_BIAS
            )));
        }

        let mut proj = LinearConfig::new(d, h).init::<B>(device);
        proj.weight = param2(IDS[0], proj_w, [d, h], device);
        proj.bias = Some(param1(IDS[1], proj_b, device));
        let mut norm = LayerNormConfig::new(h)
            .with_epsilon(self.layer_norm_epsilon)
            .init::<B>(device);
        norm.gamma = param1(IDS[2], gamma, device);
        norm.beta = Some(param1(IDS[3], beta, device));
        let mut vocab = LinearConfig::new(h, v).init::<B>(device);
        vocab.weight = param2(IDS[4], vocab_w, [h, v], device);
        vocab.bias = self.vocab_bias.then(|| param1(IDS[5], vocab_b, device));
        Ok(SparseHead { proj, norm, vocab })
    }
}

impl<B: Backend> SparseHead<B> {
    /// Sparse term weights of dense inputs.
    ///
    /// # Shapes
    /// - `z`: `[batch, d_input]`
    /// - output: `[batch, vocab_size]`, every entry ≥ 0
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let x = self.proj.forward(z);
        let x = self.norm.forward(x);
        relu(self.vocab.forward(x)).log1p()
    }

    /// [`SparseHead::forward`] on some output columns only: column `j` of the result is column
    /// `columns[j]` of `forward(z)`, computed with just those columns of `W_V` and `b_V`
    /// (`[batch, columns.len()]`). Gradients flow to the selected columns of `W_V` and `b_V`
    /// exactly as through `forward` followed by a selection.
    pub fn forward_columns(
        &self,
        z: Tensor<B, 2>,
        columns: Tensor<B, 1, burn::tensor::Int>,
    ) -> Tensor<B, 2> {
        let x = self.norm.forward(self.proj.forward(z));
        let w = self.vocab.weight.val().select(1, columns.clone());
        let mut y = x.matmul(w);
        if let Some(b) = &self.vocab.bias {
            y = y + b.val().select(0, columns).unsqueeze_dim(0);
        }
        relu(y).log1p()
    }

    /// The parameters as host tensors in PyTorch layout, named as in [`names`].
    pub fn to_host(&self) -> Vec<HostTensor> {
        let [d, h] = self.proj.weight.val().dims();
        let v = self.vocab.weight.val().dims()[1];
        let host1 = |t: Tensor<B, 1>| -> Vec<f32> { t.into_data().iter::<f32>().collect() };
        let host2 = |t: Tensor<B, 2>| -> Vec<f32> { t.into_data().iter::<f32>().collect() };
        let bias = |b: &Option<Param<Tensor<B, 1>>>, n: usize| {
            b.as_ref().map_or(vec![0.0; n], |p| host1(p.val()))
        };
        vec![
            HostTensor::new(
                names::PROJ_WEIGHT,
                vec![h, d],
                transpose(&host2(self.proj.weight.val()), d, h),
            ),
            HostTensor::new(names::PROJ_BIAS, vec![h], bias(&self.proj.bias, h)),
            HostTensor::new(names::NORM_WEIGHT, vec![h], host1(self.norm.gamma.val())),
            HostTensor::new(names::NORM_BIAS, vec![h], bias(&self.norm.beta, h)),
            HostTensor::new(
                names::VOCAB_WEIGHT,
                vec![v, h],
                transpose(&host2(self.vocab.weight.val()), h, v),
            ),
            HostTensor::new(names::VOCAB_BIAS, vec![v], bias(&self.vocab.bias, v)),
        ]
    }

    /// Number of output columns.
    pub fn vocab_size(&self) -> usize {
        self.vocab.weight.val().dims()[1]
    }
}

fn param1<B: Backend>(id: u64, x: Vec<f32>, device: &B::Device) -> Param<Tensor<B, 1>> {
    let n = x.len();
    Param::initialized(
        ParamId::from(id),
        Tensor::from_data(TensorData::new(x, [n]), device).require_grad(),
    )
}

fn param2<B: Backend>(
    id: u64,
    x: Vec<f32>,
    shape: [usize; 2],
    device: &B::Device,
) -> Param<Tensor<B, 2>> {
    Param::initialized(
        ParamId::from(id),
        Tensor::from_data(TensorData::new(x, shape), device).require_grad(),
    )
}

/// Transpose a row-major `rows × cols` matrix.
pub(crate) fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}
