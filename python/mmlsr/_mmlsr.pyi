# Type stubs of the Rust extension (python/src/lib.rs). The public API is mmlsr.Index,
# mmlsr.ApproxIndex, mmlsr.metrics and mmlsr.store, which convert arguments to these dtypes.
from typing import Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

DEFAULT_BLOCK_SIZE: int
DEFAULT_DOC_ORDER: str
APPROX_POSTINGS_PER_TERM: int
APPROX_BLOCK_SIZE: int
APPROX_SUMMARY_ENERGY: float
APPROX_MAX_SUMMARY_TERMS: int
APPROX_SKETCH_TERMS: int
APPROX_QUERY_CUT: int
APPROX_HEAP_FACTOR: float

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]

class Index:
    @staticmethod
    def build(
        indptr: I64, indices: I64, values: F32, vocab_size: int, impacts: str, block_size: int, doc_order: str
    ) -> Index: ...
    @staticmethod
    def from_parquet(path: str, impacts: str, block_size: int, doc_order: str) -> Index: ...
    @staticmethod
    def load(path: str) -> Index: ...
    def save(self, path: str) -> None: ...
    @property
    def n_docs(self) -> int: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def n_postings(self) -> int: ...
    @property
    def impacts(self) -> str: ...
    @property
    def ids(self) -> Optional[List[str]]: ...
    def search(self, indices: I64, values: F32, k: int, algorithm: str) -> Tuple[npt.NDArray[np.uint32], F32]: ...
    def search_batch(
        self, indptr: I64, indices: I64, values: F32, k: int, algorithm: str, threads: Optional[int] = None
    ) -> Tuple[I64, F32]: ...
    def search_mode(
        self, indices: I64, values: F32, own_terms: I64, mode: str, k: int, candidates: int, algorithm: str
    ) -> Tuple[npt.NDArray[np.uint32], F32]: ...
    def search_cut_batch(
        self, indptr: I64, indices: I64, values: F32, k: int, terms: int, candidates: int, threads: Optional[int] = None
    ) -> Tuple[I64, F32]: ...

class ApproxIndex:
    @staticmethod
    def build(
        indptr: I64,
        indices: I64,
        values: F32,
        vocab_size: int,
        postings_per_term: int,
        pruning: str,
        max_fraction: float,
        block_size: int,
        summary_energy: float,
        max_summary_terms: int,
        sketch_terms: int,
        seed: int,
        forward_weights: str,
    ) -> ApproxIndex: ...
    @property
    def n_docs(self) -> int: ...
    @property
    def n_postings(self) -> int: ...
    def search_batch(
        self,
        indptr: I64,
        indices: I64,
        values: F32,
        vocab_size: int,
        k: int,
        query_cut: int,
        heap_factor: float,
        threads: Optional[int] = None,
    ) -> Tuple[I64, F32]: ...

def evaluate(
    run: Dict[str, Dict[str, float]], qrels: Dict[str, Dict[str, int]], measure_names: List[str], per_query: bool
) -> Dict[str, object]: ...
def read_run(path: str) -> Dict[str, Dict[str, float]]: ...
def read_qrels(path: str) -> Dict[str, Dict[str, int]]: ...
def paired_t_test(a: List[float], b: List[float]) -> Tuple[int, float, float, float, float]: ...
def bonferroni(p: float, m: int) -> float: ...
def flops(
    q_indptr: I64, q_indices: I64, q_values: F32, d_indptr: I64, d_indices: I64, d_values: F32, vocab_size: int
) -> float: ...
def read_folder(path: str, before_proj: bool = False, restval: str = "train") -> Dict[str, object]: ...
def read_sparse(path: str) -> Tuple[List[str], I64, I64, F32, int]: ...
