//! The joint sparse–dense method (Song, Lee, Cho, Song, Kim, Jo, CIKM 2025, "Sparse and Dense
//! Retrievers Learn Better Together"):
//! - [`model`]: `JointModel` (trainable projections, the shared head, τ) and `joint_loss`;
//! - [`optim`]: the released optimiser (AdamW, global-norm clipping, frozen projections);
//! - [`train`]: its configuration and its [`crate::trainer::Method`];
//! - [`card`]: the model directory on disk;
//! - [`eval`]: dense, sparse and fused retrieval at test time.

mod card;
mod eval;
mod model;
mod optim;
mod train;

pub use self::{
    card::{JointCard, joint_files, load_joint_model, save_joint_model},
    eval::{JointSplitEncoding, RetrievalMode, encode_split_joint},
    model::{
        JointEncoding, JointLossConfig, JointLossForm, JointLossParts, JointModel, TAU_RANGE,
        TextToImageTeacher, info_nce, joint_loss, l2_normalize,
    },
    optim::JointOptimizer,
    train::{
        JointOptimConfig, JointStart, JointStepOutput, JointStepStats, JointTrainConfig,
        joint_train_step, train_joint,
    },
};
