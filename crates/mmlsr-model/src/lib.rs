#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backend;
mod data;
mod encode;
mod error;
pub mod eval;
mod head;
mod joint;
mod joint_train;
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
    eval::SparseScorer,
    head::{HostTensor, SparseHead, SparseHeadConfig, names},
    joint::{
        JointEncoding, JointLossConfig, JointLossForm, JointLossParts, JointModel, TAU_RANGE,
        TextToImageTeacher, info_nce, joint_loss, l2_normalize,
    },
    joint_train::{
        JointCard, JointOptimConfig, JointSplitEncoding, JointStepStats, JointTrainConfig, Mode,
        encode_split_joint, joint_files, load_joint_model, save_joint_model, train_joint,
    },
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
