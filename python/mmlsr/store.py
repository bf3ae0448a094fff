"""Data folders into numpy: an lsr42 folder (dataset_meta.json, img_embs.parquet,
text_embs.parquet; file names from its mmlsr.toml when it has one) and the sparse vectors of
an `mmlsr encode` folder."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import numpy as np

from . import _mmlsr


def read_folder(
    path: "os.PathLike[str] | str", *, before_proj: bool = False, restval: str = "train"
) -> Dict[str, Any]:
    """Validated and loaded: `images` / `texts` (float32 [n, d]), `image_ids` / `text_ids`,
    `splits` ({train, val, test}: `image_rows`, `caption_rows`, `caption_image` index
    arrays) and `qrels` ({split: {sentid: {imgid: 1}}}). `before_proj` reads the 768-d
    pre-projection features instead; `restval="drop"` leaves Karpathy's restval out of train."""
    return _mmlsr.read_folder(os.fspath(path), before_proj, restval)


def read_sparse(
    path: "os.PathLike[str] | str",
) -> Tuple[List[str], Tuple[np.ndarray, np.ndarray, np.ndarray], int]:
    """`(ids, (indptr, indices, values), vocab_size)` of an `mmlsr encode` Parquet file
    (`img_sparse.parquet`, `text_sparse.parquet`)."""
    ids, indptr, indices, values, vocab = _mmlsr.read_sparse(os.fspath(path))
    return ids, (indptr, indices, values), vocab
