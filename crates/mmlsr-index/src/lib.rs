//! A purpose-built inverted index for learned sparse image vectors: `u8` or `u16` impacts (or
//! unquantised `f32` weights, [`ExactIndex`], for exactness checks) with per-term and
//! per-block maxima, exact top-k by exhaustive term-at-a-time scoring (frequent terms as dense
//! rows, scored over document chunks by query groups), MaxScore or block-max pruning, a
//! Seismic-style approximate index, a forward index for rescoring, a versioned, checksummed
//! on-disk format, and the dense baselines (flat; HNSW with the `hnsw` feature).
//!
//! ```
//! use mmlsr_core::CsrMatrix;
//! use mmlsr_index::{Algorithm, IndexConfig, InvertedIndex, QueryWeights, Scratch};
//!
//! let mut docs = CsrMatrix::empty(5);
//! docs.push_row(&[0, 2], &[1.0, 0.5]).unwrap();
//! docs.push_row(&[2, 4], &[2.0, 1.0]).unwrap();
//! // `u8` impacts; `InvertedIndex::<u16>` for 256× finer ones.
//! let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
//! let mut query = CsrMatrix::empty(5);
//! query.push_row(&[2], &[1.0]).unwrap();
//! let q = QueryWeights::new(query.row(0), index.vocab_size()).unwrap();
//! let hits = index.search(&q, 10, Algorithm::MaxScore, &mut Scratch::default());
//! assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![1, 0]);
//! ```
#![warn(missing_docs)]

mod approx;
pub mod codec;
mod cut;
mod dense;
pub mod engines;
mod error;
mod exact;
mod export;
mod format;
#[cfg(feature = "hnsw")]
mod hnsw;
mod impact;
mod index;
mod modes;
mod rows;
mod scratch;
mod search;

/// The one result type of every search here (from `mmlsr-core`): `Hit<f32>` from the dense,
/// approximate and query-mode searches, `Hit<f64>` from [`ExactIndex`], [`IndexHit`] from
/// [`InvertedIndex`].
pub use mmlsr_core::{Hit, Score, sort_hits};

pub use crate::{
    approx::{
        ApproxConfig, ApproxIndex, ApproxParams, ApproxScratch, ForwardWeights, Pruning, recall,
    },
    cut::QueryCut,
    dense::{DENSE_QUERY_BLOCK, DenseFlat, dot},
    error::{Error, Result},
    exact::{ExactIndex, ExactScratch},
    export::{Ciff, CiffDoc, CiffList, CiffPosting, read_ciff, write_jsonl},
    format::impact_bits,
    impact::Impact,
    index::{DocOrder, IMPACT_ROW_MIN_FRACTION, IndexConfig, InvertedIndex},
    modes::QueryMode,
    scratch::Scratch,
    search::{
        Algorithm, IndexHit, QuantisedScore, QueryWeights, ROW_QUERY_GROUP, brute_force_top_k,
        exact_top_k_f64,
    },
};

#[cfg(feature = "hnsw")]
pub use crate::hnsw::{DenseHnsw, HnswConfig, InnerProductDistance};
