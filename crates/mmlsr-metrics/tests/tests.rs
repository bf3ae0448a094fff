//! Integration tests of mmlsr-metrics.

mod crosscheck;
mod sparsity;
