#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backend;
mod data;
mod denormals;
mod encode;
mod error;
pub mod eval;
mod head;
pub mod host;
mod joint;
mod loss;
mod optim;
mod train;
mod train_config;
pub mod trainer;

/// Burn itself, re-exported so that users name the same version's types.
pub use burn;

pub use crate::{
    backend::{BackendKind, backends},
    data::{TrainData, check_projections, check_word_vectors},
    denormals::FlushDenormals,
    encode::{EncodeOptions, ModelCard, OutputTerms, encode, load_model, model_files, save_model},
    error::{Error, Result},
    head::{HostTensor, SparseHead, SparseHeadConfig, names},
    joint::{
        JointCard, JointEncoding, JointLossConfig, JointLossForm, JointLossParts, JointModel,
        JointOptimConfig, JointOptimizer, JointSplitEncoding, JointStart, JointStepOutput,
        JointStepStats, JointTrainConfig, RetrievalMode, TAU_RANGE, TextToImageTeacher,
        encode_split_joint, info_nce, joint_files, joint_loss, joint_train_step, l2_normalize,
        load_joint_model, save_joint_model, train_joint,
    },
    loss::{
        LossConfig, LossParts, RegWeights, Regulariser, d2s_loss, d2s_loss_on_columns,
        ramped_weight, regulariser, soft_cross_entropy,
    },
    optim::{HeadOptimizer, OptimConfig, lr_factor},
    train::{StepInput, StepOutput, train, train_step},
    train_config::{ExpansionSettings, TrainConfig},
    trainer::{EpochStats, RunDir, Silent, StepStats, TrainObserver, TrainPlan, TrainReport},
};
