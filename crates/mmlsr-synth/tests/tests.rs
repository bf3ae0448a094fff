//! Integration tests of the synthetic data: what `mmlsr synth` writes is read back through
//! `mmlsr-store` (the real-data path) and checked independently of the generator.

mod calibration;
mod caption_stats;
mod files;
mod sparse_gen;
