#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod correlation;
mod error;
mod measures;
mod run;
mod significance;
mod sparsity;
mod trec;

pub use crate::{
    correlation::{kendall_tau_b, pearson, topk_overlap},
    error::{Error, Result},
    measures::{Evaluation, Measure, evaluate, evaluate_complete},
    run::{Run, RunBuilder},
    significance::{
        TTest, bonferroni, paired_t_test, paired_t_test_values, paired_values, significance_mark,
    },
    sparsity::{SparsityStats, exact_at_k, flops, semantic_at_k, sparsity_stats},
    trec::{ConflictingJudgement, read_qrels, read_qrels_reporting, write_qrels},
};
