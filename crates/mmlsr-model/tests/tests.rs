//! Integration tests of mmlsr-model (one binary).

mod common;
mod encode;
mod gradient;
mod joint_gradient;
mod joint_trainer;
mod trainer;
