#!/usr/bin/env python3
"""Why exact block-max pruning cannot beat a scan on a collection, or can: per query, the share
of the blocks (B consecutive documents, 64 unless --block says) whose upper bound
Σ_t q_t · max weight of t in the block (float64) reaches the exact 10th score. No exact
block-max algorithm may skip those blocks, whatever order it visits them in.

    python3 scripts/peers/block_bounds.py ENCODED_DIR [QUERIES=100] [--block B]
        [--order given|heaviest-terms:N]

ENCODED_DIR as for run_peers.py (img_sparse.parquet, text_sparse.parquet). --order
heaviest-terms:N lays the documents out as mmlsr's `DocOrder::HeaviestTerms` does (sorted by the
ids of their N heaviest terms, heaviest first; ties by id) before cutting them into blocks."""
import argparse
import re

import numpy as np
import scipy.sparse as sp

from mmlsr import store
from run_peers import heaviest_terms_order  # the same folder

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("encoded")
ap.add_argument("queries", nargs="?", type=int, default=100)
ap.add_argument("--block", type=int, default=64)
ap.add_argument("--order", default="given")
args = ap.parse_args()
enc, nq = args.encoded, args.queries
_, docs, vocab = store.read_sparse(f"{enc}/img_sparse.parquet")
_, qs, _ = store.read_sparse(f"{enc}/text_sparse.parquet")
dp, di, dv = docs
n = len(dp) - 1
D = sp.csr_matrix((dv.astype(np.float64), di, dp), shape=(n, vocab))
if args.order != "given":
    if not re.fullmatch(r"heaviest-terms:[1-9][0-9]*", args.order):
        ap.error(f"--order {args.order!r}: expected given or heaviest-terms:N (N >= 1)")
    D = D[heaviest_terms_order(docs, int(args.order.split(":")[1]))]
Dc = D.tocsc()
qp, qi, qv = qs
B = args.block
nb = (n + B - 1) // B
fr_blocks, fr_post = [], []
for q in range(nq):
    t_, w_ = qi[qp[q]:qp[q+1]], qv[qp[q]:qp[q+1]].astype(np.float64)
    qd = sp.csr_matrix((w_, t_, [0, len(t_)]), shape=(1, vocab))
    s = (D @ qd.T).toarray().ravel()
    kth = np.partition(s, -10)[-10]
    ub = np.zeros(nb)
    post = np.zeros(nb)
    for t, w in zip(t_, w_):
        a, b = Dc.indptr[t], Dc.indptr[t+1]
        rows, vals = Dc.indices[a:b], Dc.data[a:b]
        bm = np.zeros(nb)
        np.maximum.at(bm, rows // B, vals)
        ub += w * bm
        post += np.bincount(rows // B, minlength=nb)
    if not post.any():
        continue  # the query shares no term with the collection
    must = ub >= kth * (1 - 1e-12)
    fr_blocks.append(must.sum() / (ub > 0).sum())
    fr_post.append(post[must].sum() / post.sum())
print(f"{enc}: {n:,} documents in {args.order} order, {nb:,} blocks of {B}, {nq} queries: blocks with bound >= 10th score "
      f"{100*np.mean(fr_blocks):.1f} % of the blocks a query touches (median {100*np.median(fr_blocks):.1f} %), "
      f"holding {100*np.mean(fr_post):.1f} % of its postings")
