#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backend;
mod data;
mod encode;
mod error;
pub mod eval;
mod head;
mod loss;
mod optim;
mod train;

/// Burn itself, re-exported so that users name the same version's types.
pub use burn;

pub use crate::{
    backend::{BackendKind, backends},
    data::TrainData,
    encode::{EncodeOptions, ModelCard, OutputTerms, encode, load_model, model_files, save_model},
    error::{Error, Result},
    head::{HostTensor, SparseHead, SparseHeadConfig, names},
    loss::{
        LossConfig, LossParts, Regulariser, d2s_loss, ramped_weight, regulariser,
        soft_cross_entropy,
    },
    optim::{HeadOptimizer, OptimConfig, lr_factor},
    train::{
        EpochStats, ExpansionSettings, Silent, StepOutput, StepStats, TrainConfig, TrainObserver,
        TrainPlan, TrainReport, train, train_step,
    },
};
