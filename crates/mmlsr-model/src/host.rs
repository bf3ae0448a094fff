//! The crate on host types only: every entry point here takes a [`BackendKind`] chosen at
//! run time and dispatches to the Burn backend compiled in for it, so that callers (the
//! `mmlsr` runner, a Python binding) never name a Burn type. Tensors stay inside; in and out
//! go `f32` rows, [`CsrMatrix`]es, runs and reports (a [`JointSplitEncoding`]'s runs are
//! scored on the host, through `mmlsr-index`).

use std::path::Path;

use burn::tensor::backend::Backend;
use mmlsr_core::CsrMatrix;
use mmlsr_expansion::Variant;
use mmlsr_store::{Projections, SplitView, WordVectors};

use crate::{
    BackendKind, EncodeOptions, Error, JointCard, JointModel, JointSplitEncoding, JointStart,
    JointTrainConfig, ModelCard, OutputTerms, Result, RunDir, SparseHead, SparseHeadConfig,
    TrainConfig, TrainData, TrainObserver, TrainReport,
    eval::{SplitEncoding, evaluate_split},
    joint_files, load_joint_model, load_model,
};

/// Run `$body` with `$B` bound to the autodiff backend of `$kind` and `$device` to its
/// default device; evaluates to `Result<_>` (an error when the backend is not compiled in).
/// Private to this crate, so that this crate's features, not a caller's, decide its arms.
macro_rules! with_backend {
    ($kind:expr, |$B:ident, $device:ident| $body:expr) => {{
        #[allow(unreachable_patterns, unused_imports)]
        match $kind {
            #[cfg(feature = "flex")]
            $crate::BackendKind::Flex => {
                type $B = $crate::backends::FlexAutodiff;
                let $device: burn::tensor::Device<$B> = Default::default();
                Ok($body)
            }
            #[cfg(feature = "ndarray")]
            $crate::BackendKind::NdArray => {
                type $B = $crate::backends::NdArrayAutodiff;
                let $device: burn::tensor::Device<$B> = Default::default();
                Ok($body)
            }
            #[cfg(feature = "cuda")]
            $crate::BackendKind::Cuda => {
                type $B = $crate::backends::CudaAutodiff;
                let $device: burn::tensor::Device<$B> = Default::default();
                Ok($body)
            }
            #[cfg(feature = "tch")]
            $crate::BackendKind::Tch => {
                type $B = $crate::backends::TchAutodiff;
                let $device: burn::tensor::Device<$B> = Default::default();
                Ok($body)
            }
            other => Err($crate::Error::BackendUnavailable(other.name())),
        }
    }};
}

/// Train a D2S head ([`crate::train`]) on `backend`.
pub fn train(
    backend: BackendKind,
    config: &TrainConfig,
    data: &TrainData<'_>,
    word_vectors: Option<&WordVectors>,
    run: RunDir<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    with_backend!(backend, |B, device| crate::train::<B>(
        config,
        data,
        word_vectors,
        run,
        &device,
        observer
    ))?
}

/// Train a joint model ([`crate::train_joint`]) on `backend`.
pub fn train_joint(
    backend: BackendKind,
    config: &JointTrainConfig,
    data: &TrainData<'_>,
    start: JointStart<'_>,
    run: RunDir<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    with_backend!(backend, |B, device| crate::train_joint::<B>(
        config, data, start, run, &device, observer
    ))?
}

/// The card of a model directory, D2S or joint.
#[derive(Debug, Clone, PartialEq)]
pub enum Card {
    /// A D2S head on frozen dense vectors.
    D2s(ModelCard),
    /// A joint model (fine-tuned projections and a head).
    Joint(JointCard),
}

impl Card {
    /// The head's output columns.
    pub fn output(&self) -> &OutputTerms {
        match self {
            Card::D2s(c) => &c.output,
            Card::Joint(c) => &c.output,
        }
    }

    /// Width of the dense rows the model takes: the projected embeddings (D2S) or the
    /// pre-projection features (joint).
    pub fn input_dim(&self) -> usize {
        match self {
            Card::D2s(c) => c.d_input,
            Card::Joint(c) => c.d_feature,
        }
    }

    /// The expansion variant captions are encoded with at test time (joint models: always
    /// unrestricted).
    pub fn variant(&self) -> Variant {
        match self {
            Card::D2s(c) => c.variant,
            Card::Joint(_) => Variant::Always,
        }
    }
}

/// Whether `dir` holds a joint model (its card says `"kind": "joint"`).
pub fn is_joint_model(dir: &Path) -> bool {
    std::fs::read(dir.join(joint_files::CONFIG))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["kind"] == "joint")
}

/// A model's weights on one backend (one per loaded encoder, so the variants' sizes do not
/// matter).
#[allow(clippy::large_enum_variant)]
enum Weights<B: Backend> {
    D2s(SparseHead<B>),
    Joint(JointModel<B>),
}

/// Weights on whichever backend was chosen.
enum Loaded {
    #[cfg(feature = "flex")]
    Flex(Weights<burn::backend::Flex>),
    #[cfg(feature = "ndarray")]
    NdArray(Weights<burn::backend::NdArray>),
    #[cfg(feature = "cuda")]
    Cuda(Weights<burn::backend::Cuda>),
    #[cfg(feature = "tch")]
    Tch(Weights<burn::backend::LibTorch>),
}

/// Run `$body` with `$w` bound to the loaded weights and `$device` to their backend's
/// default device.
macro_rules! on_loaded {
    ($loaded:expr, |$w:ident, $device:ident| $body:expr) => {
        match $loaded {
            #[cfg(feature = "flex")]
            Loaded::Flex(ref $w) => {
                let $device = Default::default();
                $body
            }
            #[cfg(feature = "ndarray")]
            Loaded::NdArray(ref $w) => {
                let $device = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            Loaded::Cuda(ref $w) => {
                let $device = Default::default();
                $body
            }
            #[cfg(feature = "tch")]
            Loaded::Tch(ref $w) => {
                let $device = Default::default();
                $body
            }
        }
    };
}

/// A trained model directory (D2S or joint) loaded on a backend, encoding host rows into
/// sparse vectors.
pub struct SparseEncoder {
    card: Card,
    loaded: Loaded,
}

impl SparseEncoder {
    /// Load the model directory `dir` on `backend`.
    pub fn open(dir: &Path, backend: BackendKind) -> Result<Self> {
        fn load<B: Backend>(dir: &Path) -> Result<(Card, Weights<B>)> {
            let device = Default::default();
            Ok(if is_joint_model(dir) {
                let (card, model) = load_joint_model::<B>(dir, &device)?;
                (Card::Joint(card), Weights::Joint(model))
            } else {
                let (card, head) = load_model::<B>(dir, &device)?;
                (Card::D2s(card), Weights::D2s(head))
            })
        }
        #[allow(unreachable_patterns)]
        let (card, loaded) = match backend {
            #[cfg(feature = "flex")]
            BackendKind::Flex => {
                let (c, w) = load(dir)?;
                (c, Loaded::Flex(w))
            }
            #[cfg(feature = "ndarray")]
            BackendKind::NdArray => {
                let (c, w) = load(dir)?;
                (c, Loaded::NdArray(w))
            }
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => {
                let (c, w) = load(dir)?;
                (c, Loaded::Cuda(w))
            }
            #[cfg(feature = "tch")]
            BackendKind::Tch => {
                let (c, w) = load(dir)?;
                (c, Loaded::Tch(w))
            }
            other => return Err(Error::BackendUnavailable(other.name())),
        };
        Ok(Self { card, loaded })
    }

    /// The model's card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// Encode caption rows (`n × input_dim`, row-major). `own_terms`, one sorted term list
    /// per row, restricts each caption to its own terms (D2S `exp=0`).
    pub fn encode_texts(
        &self,
        rows: &[f32],
        own_terms: Option<&[&[u32]]>,
        options: &EncodeOptions,
    ) -> Result<CsrMatrix> {
        self.encode(false, rows, own_terms, options)
    }

    /// Encode image rows (`n × input_dim`, row-major).
    pub fn encode_images(&self, rows: &[f32], options: &EncodeOptions) -> Result<CsrMatrix> {
        self.encode(true, rows, None, options)
    }

    fn encode(
        &self,
        image: bool,
        rows: &[f32],
        own_terms: Option<&[&[u32]]>,
        options: &EncodeOptions,
    ) -> Result<CsrMatrix> {
        let output = self.card.output();
        let d = self.card.input_dim();
        on_loaded!(self.loaded, |w, device| match w {
            Weights::D2s(head) => crate::encode(head, output, rows, d, own_terms, options, &device),
            Weights::Joint(model) => {
                let dense = model.embed(image, rows, &device)?;
                let d_embed = model.text_proj.weight.val().dims()[1];
                crate::encode(
                    &model.head,
                    output,
                    &dense,
                    d_embed,
                    own_terms,
                    options,
                    &device,
                )
            }
        })
    }

    /// Encode a split as at test time and evaluate exhaustive sparse text→image retrieval on
    /// it (D2S models; [`crate::eval::evaluate_split`]).
    pub fn evaluate_split(&self, data: &TrainData<'_>, split: &SplitView) -> Result<SplitEncoding> {
        let Card::D2s(card) = &self.card else {
            return Err(Error::Config(
                "evaluate_split takes a D2S model; use encode_split_joint for a joint model".into(),
            ));
        };
        on_loaded!(self.loaded, |w, device| match w {
            Weights::D2s(head) =>
                evaluate_split(head, &card.output, card.variant, data, split, &device),
            Weights::Joint(_) => unreachable!("the card and the weights agree"),
        })
    }

    /// Encode the captions and images of `split` with a joint model
    /// ([`crate::encode_split_joint`]).
    pub fn encode_split_joint(
        &self,
        data: &TrainData<'_>,
        split: &SplitView,
    ) -> Result<JointSplitEncoding> {
        let n_q = split.caption_rows.len();
        on_loaded!(self.loaded, |w, device| match w {
            Weights::Joint(model) => crate::encode_split_joint(model, data, split, n_q, &device),
            Weights::D2s(_) => Err(Error::Config(
                "encode_split_joint takes a joint model; use evaluate_split for a D2S head".into(),
            )),
        })
    }
}

/// Encode `split` densely with the data folder's own (frozen) projections: the "frozen
/// backbone" row of the joint table, scored by the same code as a joint model's dense mode.
/// Only the dense fields of the result are meaningful (the sparse vectors come from a
/// one-column placeholder head).
pub fn encode_split_frozen(
    backend: BackendKind,
    projections: &Projections,
    data: &TrainData<'_>,
    split: &SplitView,
) -> Result<JointSplitEncoding> {
    fn go<B: Backend>(
        projections: &Projections,
        data: &TrainData<'_>,
        split: &SplitView,
    ) -> Result<JointSplitEncoding> {
        let device = Default::default();
        let head = SparseHeadConfig::new(projections.text.out_dim, 1)
            .with_d_hidden(1)
            .init::<B>(None, 0, &device)?;
        let model = JointModel::<B>::new(projections, head, 0.07, &device)?;
        let n_q = split.caption_rows.len();
        crate::encode_split_joint(&model, data, split, n_q, &device)
    }
    with_backend!(backend, |B, _device| {
        go::<<B as burn::tensor::backend::AutodiffBackend>::InnerBackend>(projections, data, split)
    })?
}
