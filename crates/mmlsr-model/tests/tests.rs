//! Integration tests of mmlsr-model (one binary).

mod common;
mod encode;
mod gradient;
mod trainer;
