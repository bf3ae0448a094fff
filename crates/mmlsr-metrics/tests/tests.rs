//! Integration tests of mmlsr-metrics.

mod complete;
mod crosscheck;
mod sparsity;
