"""Sparse matrices in and out of the extension: scipy.sparse CSR matrices or (indptr, indices,
values) triples, converted to the dtypes the Rust side takes (int64, int64, float32)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

Csr = Tuple[np.ndarray, np.ndarray, np.ndarray]


def as_csr(m: Any, vocab_size: Optional[int] = None) -> Tuple[Csr, int]:
    """`(indptr, indices, values), vocab_size` of a scipy CSR matrix or a triple."""
    if hasattr(m, "indptr") and hasattr(m, "indices") and hasattr(m, "data"):
        if getattr(m, "format", "csr") != "csr":
            m = m.tocsr()
        triple = (m.indptr, m.indices, m.data)
        if vocab_size is None:
            vocab_size = int(m.shape[1])
    elif isinstance(m, (tuple, list)) and len(m) == 3:
        triple = tuple(m)
    else:
        raise TypeError(
            "expected a scipy.sparse CSR matrix or an (indptr, indices, values) triple, "
            f"got {type(m).__name__}"
        )
    indptr = np.ascontiguousarray(triple[0], dtype=np.int64)
    indices = np.ascontiguousarray(triple[1], dtype=np.int64)
    values = np.ascontiguousarray(triple[2], dtype=np.float32)
    if indptr.ndim != 1 or indices.ndim != 1 or values.ndim != 1:
        raise ValueError("indptr, indices and values must be one-dimensional")
    if vocab_size is None:
        vocab_size = int(indices.max()) + 1 if indices.size else 0
    return (indptr, indices, values), int(vocab_size)


def as_query(indices: Any, values: Any) -> Tuple[np.ndarray, np.ndarray]:
    """One sparse vector as (int64 term ids, float32 weights)."""
    idx = np.ascontiguousarray(indices, dtype=np.int64).ravel()
    val = np.ascontiguousarray(values, dtype=np.float32).ravel()
    if idx.shape != val.shape:
        raise ValueError(f"{idx.size} indices but {val.size} values")
    return idx, val
