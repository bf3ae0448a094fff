"""mmlsr from Python: the inverted index for learned sparse image vectors (exact top-k with u8
or u16 impacts or unquantised f32 weights, the D2S query modes, the Seismic-style approximate
index), the metrics and
significance tests, and the data store (lsr42 folders into numpy).

    import numpy as np, mmlsr
    index = mmlsr.Index.build(indptr, indices, values, vocab_size=30522)
    docs, scores = index.search([2001, 3899], [1.2, 0.7], k=10)

Every error raised by the Rust crates arrives as ValueError (bad input) or OSError (a file),
with their message (the file, the row or field, what was expected).
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _mmlsr, metrics, store
from ._csr import as_csr, as_query

__all__ = ["Index", "ApproxIndex", "ExactIndex", "metrics", "store", "ALGORITHMS", "MODES"]
__version__ = "0.1.0"

ALGORITHMS = ("exhaustive", "maxscore", "blockmax")
MODES = ("exp", "no-exp", "hybrid")


class Index:
    """The quantised inverted index (`u8` or `u16` impacts) and its exact algorithms.

    Results are ranked by the quantised score (ties by document row); `search` returns the
    document rows (or use `ids` to map them to image ids) and the dequantised scores.
    """

    def __init__(self, inner: "_mmlsr.Index"):
        self._inner = inner

    @classmethod
    def build(
        cls,
        indptr: Any,
        indices: Any = None,
        values: Any = None,
        *,
        vocab_size: Optional[int] = None,
        impacts: str = "u8",
        block_size: int = _mmlsr.DEFAULT_BLOCK_SIZE,
        doc_order: str = _mmlsr.DEFAULT_DOC_ORDER,
    ) -> "Index":
        """From CSR arrays (one row per image) or a scipy.sparse CSR matrix as `indptr`.
        `doc_order`: "given", or "heaviest-terms:N" (documents laid out sorted by their N
        heaviest terms, so that block-max pruning skips more; the hits are the same)."""
        m = indptr if indices is None else (indptr, indices, values)
        (p, i, v), vocab = as_csr(m, vocab_size)
        return cls(_mmlsr.Index.build(p, i, v, vocab, impacts, block_size, doc_order))

    @classmethod
    def from_parquet(
        cls,
        path: "os.PathLike[str] | str",
        *,
        impacts: str = "u8",
        block_size: int = _mmlsr.DEFAULT_BLOCK_SIZE,
        doc_order: str = _mmlsr.DEFAULT_DOC_ORDER,
    ) -> "Index":
        """The image vectors of an `mmlsr encode` folder (`img_sparse.parquet`), ids kept."""
        return cls(_mmlsr.Index.from_parquet(os.fspath(path), impacts, block_size, doc_order))

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "Index":
        """An index folder written by `mmlsr index` or `Index.save`, or an `index.mmlsr` file."""
        return cls(_mmlsr.Index.load(os.fspath(path)))

    def save(self, path: "os.PathLike[str] | str") -> None:
        """Write the folder `mmlsr index` writes (`index.mmlsr`, `doc_ids.txt`)."""
        self._inner.save(os.fspath(path))

    @property
    def n_docs(self) -> int:
        return self._inner.n_docs

    @property
    def vocab_size(self) -> int:
        return self._inner.vocab_size

    @property
    def n_postings(self) -> int:
        return self._inner.n_postings

    @property
    def impacts(self) -> str:
        return self._inner.impacts

    @property
    def ids(self) -> Optional[List[str]]:
        """Image ids by row (from Parquet or an index folder), else None."""
        return self._inner.ids

    def search(
        self, indices: Any, values: Any, k: int = 10, *, algorithm: str = "exhaustive"
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Top `k` of one query: (document rows uint32, scores float32), best first."""
        i, v = as_query(indices, values)
        return self._inner.search(i, v, int(k), algorithm)

    def search_batch(
        self,
        queries: Any,
        k: int = 10,
        *,
        threads: Optional[int] = None,
        algorithm: str = "exhaustive",
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Top `k` of every row of a CSR matrix (scipy or a triple), on `threads` threads
        (all cores by default): (rows int64 [n, k], -1 past the results; scores float32
        [n, k], NaN there). Exhaustive scoring takes the queries in groups of 32 that share
        each pass over the index's dense rows of frequent terms, so a batch is faster per
        query than one call per query."""
        (p, i, v), _ = as_csr(queries, self.vocab_size)
        return self._inner.search_batch(p, i, v, int(k), algorithm, threads)

    def search_cut_batch(
        self,
        queries: Any,
        k: int = 10,
        *,
        terms: int,
        candidates: int,
        threads: Optional[int] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Approximate top `k` by query-term pruning: every document scored with each query's
        `terms` heaviest terms, the best `candidates` (at least `k`) ranked by their exact
        score under the whole query. Shaped as `search_batch`."""
        (p, i, v), _ = as_csr(queries, self.vocab_size)
        return self._inner.search_cut_batch(p, i, v, int(k), int(terms), int(candidates), threads)

    def search_cut(
        self, indices: Any, values: Any, k: int = 10, *, terms: int, candidates: int
    ) -> Tuple[np.ndarray, np.ndarray]:
        """One query; the rows of `search_cut_batch` without the padding."""
        i, v = as_query(indices, values)
        docs, scores = self.search_cut_batch(
            (np.array([0, i.size]), i, v), k, terms=terms, candidates=candidates, threads=1
        )
        keep = docs[0] >= 0
        return docs[0][keep].astype(np.uint32), scores[0][keep]

    def search_mode(
        self,
        indices: Any,
        values: Any,
        own_terms: Sequence[int],
        *,
        mode: str = "exp",
        k: int = 10,
        candidates: int = 1000,
        algorithm: str = "exhaustive",
    ) -> Tuple[np.ndarray, np.ndarray]:
        """D2S §5.3 query modes: `exp` (every term), `no-exp` (only `own_terms`, the
        caption's tokens), `hybrid` (own terms, then `candidates` rescored with the whole
        query by exact float dot products)."""
        i, v = as_query(indices, values)
        own = np.ascontiguousarray(own_terms, dtype=np.int64).ravel()
        return self._inner.search_mode(i, v, own, mode, int(k), int(candidates), algorithm)

    def __repr__(self) -> str:
        return (
            f"Index(n_docs={self.n_docs}, vocab_size={self.vocab_size}, "
            f"n_postings={self.n_postings}, impacts={self.impacts!r})"
        )


class ApproxIndex:
    """The Seismic-style approximate index: the heaviest `postings_per_term` postings of each
    term (`pruning="per-term"`), or that many per term on average, the collection's heaviest,
    at most `max_fraction` × as many in one list (`pruning="global"`, Seismic's default),
    clustered into blocks with summaries; a query visits the lists of its `query_cut`
    heaviest terms and skips blocks whose summary bound is below `heap_factor` × the k-th
    score. Documents it looks at are scored exactly (float32 sums) from a forward index whose
    weights are half precision (`forward_weights="half"`, Seismic's choice: half the memory
    per document, weights above 65504 refused) or float32 as given (`"full"`)."""

    def __init__(self, inner: "_mmlsr.ApproxIndex", vocab_size: int):
        self._inner = inner
        self.vocab_size = vocab_size

    @classmethod
    def build(
        cls,
        docs: Any,
        *,
        vocab_size: Optional[int] = None,
        postings_per_term: int = _mmlsr.APPROX_POSTINGS_PER_TERM,
        pruning: str = "per-term",
        max_fraction: float = 1.5,
        block_size: int = _mmlsr.APPROX_BLOCK_SIZE,
        summary_energy: float = _mmlsr.APPROX_SUMMARY_ENERGY,
        max_summary_terms: int = _mmlsr.APPROX_MAX_SUMMARY_TERMS,
        sketch_terms: int = _mmlsr.APPROX_SKETCH_TERMS,
        seed: int = 42,
        forward_weights: str = "half",
    ) -> "ApproxIndex":
        (p, i, v), vocab = as_csr(docs, vocab_size)
        inner = _mmlsr.ApproxIndex.build(
            p, i, v, vocab, postings_per_term, pruning, float(max_fraction), block_size, summary_energy,
            max_summary_terms, sketch_terms, seed, forward_weights,
        )
        return cls(inner, vocab)

    @property
    def n_docs(self) -> int:
        return self._inner.n_docs

    @property
    def n_postings(self) -> int:
        return self._inner.n_postings

    def search_batch(
        self,
        queries: Any,
        k: int = 10,
        *,
        query_cut: int = _mmlsr.APPROX_QUERY_CUT,
        heap_factor: float = _mmlsr.APPROX_HEAP_FACTOR,
        threads: Optional[int] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """As `Index.search_batch`, approximately."""
        (p, i, v), _ = as_csr(queries, self.vocab_size)
        return self._inner.search_batch(
            p, i, v, self.vocab_size, int(k), int(query_cut), float(heap_factor), threads
        )

    def search(
        self, indices: Any, values: Any, k: int = 10, **params: Any
    ) -> Tuple[np.ndarray, np.ndarray]:
        """One query; the rows of `search_batch` without the padding."""
        i, v = as_query(indices, values)
        docs, scores = self.search_batch((np.array([0, i.size]), i, v), k, threads=1, **params)
        keep = docs[0] >= 0
        return docs[0][keep].astype(np.uint32), scores[0][keep]


class ExactIndex:
    """The unquantised exact index: float32 weights summed in float64, every posting of the
    query's terms scored (the rank-safe reference of the quantised `Index`)."""

    def __init__(self, inner: "_mmlsr.ExactIndex", vocab_size: int):
        self._inner = inner
        self.vocab_size = vocab_size

    @classmethod
    def build(cls, docs: Any, *, vocab_size: Optional[int] = None) -> "ExactIndex":
        (p, i, v), vocab = as_csr(docs, vocab_size)
        return cls(_mmlsr.ExactIndex.build(p, i, v, vocab), vocab)

    @property
    def n_docs(self) -> int:
        return self._inner.n_docs

    @property
    def n_postings(self) -> int:
        return self._inner.n_postings

    def search_batch(
        self, queries: Any, k: int = 10, *, threads: Optional[int] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """As `Index.search_batch` (scores rounded to float32)."""
        (p, i, v), _ = as_csr(queries, self.vocab_size)
        return self._inner.search_batch(p, i, v, self.vocab_size, int(k), threads)

    def search(self, indices: Any, values: Any, k: int = 10) -> Tuple[np.ndarray, np.ndarray]:
        """One query; the rows of `search_batch` without the padding."""
        i, v = as_query(indices, values)
        docs, scores = self.search_batch((np.array([0, i.size]), i, v), k, threads=1)
        keep = docs[0] >= 0
        return docs[0][keep].astype(np.uint32), scores[0][keep]
