#!/usr/bin/env python3
"""mmlsr's index beside Seismic, BMP, PISA and Faiss on the same vectors, one run, one table.

    pip install ./python pyseismic-lsr bmp scipy faiss-cpu 'tbb<=2020.3.254'
    pip install --no-deps pyterrier-pisa==0.4.9
    python3 scripts/peers/run_peers.py ENCODED_DIR --out results/peers/NAME [--queries 1000]

ENCODED_DIR is an `mmlsr encode` folder (img_sparse.parquet: the collection,
text_sparse.parquet: the queries; the first --queries captions are used). For every system
and setting it measures, on the same machine in the same process:

* build time (seconds, all threads the library uses by default);
* latency, one query per call on one thread (ms/query: best of --repeat passes over the
  queries, Python call overhead included for every system alike);
* batched throughput on one thread and on --threads threads (queries/s). "One thread" is
  enforced, not requested: every thread of the process is pinned to one CPU core while the
  one-call and one-thread batched passes run (pyseismic-lsr's batch call with num_threads=1
  runs on all cores);
* recall@10 of the exact top 10, computed independently of mmlsr: a float64 numpy/scipy
  product of the queries with the collection (in blocks of 32 queries, so a million documents
  fit); a returned document counts when its exact score is at least the exact 10th score
  (ties at the cut count as correct).

Systems (each in its own process, so that its peak memory is its own: the peak resident set
of a process that loads the collection, builds that system's indexes one after another and
searches them; the `load only` row is that floor without any index): mmlsr rank-safe
(exhaustive u8 and u16 impacts, MaxScore, block-max — also over documents reordered by
--doc-order, u8 and u16, and BMP too over that order —, and the unquantised f32 `ExactIndex`),
mmlsr approximate (several λ / query_cut / heap_factor settings), mmlsr query-term pruning
over its u16 index (each query's N heaviest terms score every document, the best C are ranked
by their exact score; --cut-settings), Seismic (pyseismic-lsr,
build_from_dataset; several n_postings / query_cut / heap_factor settings) and BMP (bmp:
block-max pruning over integer weights: documents and queries × the largest scale ≤ 100
(PyTerrier's) whose scores fit BMP's 16-bit accumulators; alpha = beta = 1 is rank-safe over
those integers) and PISA (pyterrier-pisa's native module only, no python-terrier or Java:
the canonical collection written from the vectors, documents × 65,535 / their heaviest weight,
queries × 255 / their heaviest; ranked_or, maxscore, block_max_wand, block_max_maxscore, all
rank-safe over those integers) and Faiss (faiss-cpu: IndexFlatIP, exact, and IndexHNSWFlat over
the dense form of the vectors — the collection over the terms its documents use —, only where
that dense matrix fits --faiss-max-gib; otherwise its row says why it was not run). --skip leaves systems out (e.g. `maxscore`, whose one-query-at-a-time pass at
millions of documents takes minutes).
Writes NAME.md and NAME.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import mmlsr
from mmlsr import store


def csr_of(triple, vocab, rows=None):
    p, i, v = triple
    m = sp.csr_matrix((v.astype(np.float64), i, p), shape=(len(p) - 1, vocab))
    return m if rows is None else m[:rows]


def heaviest_terms_order(docs, terms):
    """The permutation mmlsr's `DocOrder::HeaviestTerms { terms }` lays documents out in
    (position p holds document order[p]): documents sorted by the ids of their `terms` heaviest
    terms (weight descending, ties by term id), a shorter key first, ties by document id."""
    dp, di, dv = docs
    n = len(dp) - 1
    lens = np.diff(dp)
    rows = np.repeat(np.arange(n), lens)
    # Entries by document, then weight descending, then term id.
    by = np.lexsort((di, -dv.astype(np.float32), rows))
    keys = []
    for j in range(terms):
        has = lens > j
        col = np.full(n, -1, dtype=np.int64)  # -1: the key is shorter, so it sorts first
        col[has] = di[by[dp[:-1][has] + j]]
        keys.append(col)
    return np.lexsort([np.arange(n)] + keys[::-1])


def exact_kth(q, d, k):
    """The k-th best exact float64 score of every query, in blocks of queries (memory: block ×
    documents × 8 bytes, at most 256 MB): a dense BLAS product when the vocabulary is small (dense-ish
    vectors), else a sparse product."""
    kth = np.empty(q.shape[0])
    block = max(1, min(32, 2**28 // (8 * d.shape[0])))
    dt = d.toarray().T if d.shape[1] <= 4096 else d.T.tocsc()
    for b in range(0, q.shape[0], block):
        qb = q[b : b + block]
        s = qb.toarray() @ dt if d.shape[1] <= 4096 else (qb @ dt).toarray()
        kth[b : b + block] = -np.partition(-s, k - 1, axis=1)[:, k - 1]
    return kth


def recall(rows, q, d, kth, k):
    """Tie-aware recall@k of returned document rows (-1 = none): a returned document counts
    when its exact float64 score reaches the query's exact k-th score."""
    hits = 0
    for i, r in enumerate(rows):
        r = np.array([x for x in r[:k] if x >= 0], dtype=np.int64)
        if len(r) == 0:
            continue
        scores = (d[r] @ q[i].T).toarray().ravel()
        hits += int(np.sum(scores >= kth[i] - 1e-6 * max(1.0, abs(kth[i]))))
    return hits / (k * len(rows))


@contextlib.contextmanager
def one_cpu():
    """Every thread of this process (and any it starts) held to one CPU core for the block.

    "One thread" must mean one core for every system: pyseismic-lsr's `batch_search(...,
    num_threads=1)` runs on a pool of all cores all the same (process CPU time 1.95 × wall
    time on 2 cores), and a library may start threads of its own in a single call. Affinity is
    per thread on Linux, so each existing thread is pinned; new ones inherit it."""
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    cpus = os.sched_getaffinity(0)
    pinned = []
    for t in tids:
        try:
            os.sched_setaffinity(t, {min(cpus)})
            pinned.append(t)
        except ProcessLookupError:  # a thread that ended meanwhile
            pass
    try:
        yield
    finally:
        for t in pinned + [int(t) for t in os.listdir("/proc/self/task") if int(t) not in pinned]:
            try:
                os.sched_setaffinity(t, cpus)
            except ProcessLookupError:
                pass


def best_of(repeat, f):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "commit": commit}


# mmlsr's extra block-max rows: documents sorted by their three heaviest terms, blocks of 16
# (the index's default block size), results/peers/exact-pruning.md.
DOC_ORDER = "heaviest-terms:3"
SYSTEMS = ("load", "mmlsr-u8", "mmlsr-u16", "mmlsr-f32", "mmlsr-approx", "mmlsr-cut", "seismic", "bmp", "pisa", "faiss")
# Faiss's HNSW graph (inner product) and the efSearch values searched.
FAISS_HNSW_M = 32
FAISS_EF_CONSTRUCTION = 200
FAISS_EF_SEARCH = (32, 128, 512)
FAISS_MAX_GIB = 4.0
# Approximate settings, the same grid for both systems (--approx-builds, --approx-searches):
# build (λ = n_postings: postings per list on average, the collection's heaviest, no list over
# 1.5 λ: Seismic's default global pruning, and mmlsr's pruning="global") × search (query_cut,
# heap_factor). Seismic skips a block when its summary's dot product is below heap_factor ×
# the k-th score, as mmlsr does: the same knob.
APPROX_BUILDS = "1000,2000,4000"
APPROX_SEARCHES = "10:0.7,10:0.9,10:1.0,20:0.9"
# mmlsr's query-term pruning over its u16 index (--cut-settings): terms:candidates pairs.
CUT_SETTINGS = "20:100,30:100,40:100,40:200,60:100"
PISA_ALGORITHMS = "ranked_or,maxscore,block_max_wand,block_max_maxscore"


def load_pisathon():
    """PISA's native module from the pyterrier-pisa wheel, loaded by path: the package's
    `__init__` imports python-terrier (and Java), which the module itself does not need; the
    module needs only `libtbb.so.2` (the `tbb` wheel)."""
    import importlib.util

    spec = importlib.util.find_spec("pyterrier_pisa")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pisa: pip install --no-deps pyterrier-pisa==0.4.9 'tbb<=2020.3.254'")
    so = next(Path(spec.submodule_search_locations[0]).glob("_pisathon*.so"))
    mod_spec = importlib.util.spec_from_file_location("_pisathon", so)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def write_pisa_collection(D, scale, out):
    """PISA's canonical binary collection (`inv.docs`, `inv.freqs`, `inv.sizes`: sequences of
    u32, each led by its length) and its lexicons, from the documents × scale rounded to
    integers (PISA's "quantized" scorer scores a posting by that integer). Terms without a
    posting are left out; term names are zero-padded ids, so that PISA's sorted lexicon keeps
    their order. Returns the name of each term id."""
    n_docs, vocab = D.shape
    C = D.tocsc()
    C.data = np.rint(C.data * scale)
    C.eliminate_zeros()
    C.sort_indices()
    lens = np.diff(C.indptr)
    terms = np.flatnonzero(lens)
    lens = lens[terms]
    heads = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
    body = np.ones(int(lens.sum()) + len(terms), dtype=bool)
    body[heads] = False

    def sequences(values):
        arr = np.empty(len(body), dtype=np.uint32)
        arr[heads] = lens
        arr[body] = values
        return arr

    with open(out / "inv.docs", "wb") as f:
        np.array([1, n_docs], dtype=np.uint32).tofile(f)
        sequences(C.indices).tofile(f)
    sequences(C.data.astype(np.uint32)).tofile(out / "inv.freqs")
    np.concatenate([[n_docs], np.diff(D.indptr)]).astype(np.uint32).tofile(out / "inv.sizes")
    width = len(str(vocab))
    names = [f"t{t:0{width}d}" for t in range(vocab)]
    (out / "fwd.terms").write_text("".join(names[t] + "\n" for t in terms))
    (out / "fwd.documents").write_text("".join(f"{d}\n" for d in range(n_docs)))
    return names


def load(a):
    enc = Path(a.encoded)
    doc_ids, docs, vocab = store.read_sparse(enc / "img_sparse.parquet")
    _, queries_all, _ = store.read_sparse(enc / "text_sparse.parquet")
    n_q = min(a.queries, len(queries_all[0]) - 1)
    qp, qi, qv = queries_all
    queries = (qp[: n_q + 1], qi[: qp[n_q]], qv[: qp[n_q]])
    return docs, queries, vocab, n_q


def worker(a) -> int:
    """One system's rows (--worker SYSTEM), written to --rows as JSON."""
    k = a.k
    docs, queries, vocab, n_q = load(a)
    qp, qi, qv = queries
    D, Q = csr_of(docs, vocab), csr_of(queries, vocab)
    n_docs = D.shape[0]
    truth = np.load(a.truth)
    kth = truth["kth"]
    query_rows = [(qi[qp[q] : qp[q + 1]], qv[qp[q] : qp[q + 1]]) for q in range(n_q)]
    results = []
    system = a.worker

    def record(system, setting, exact, build_s, size_bytes, one, batch1, batchn, n_q=n_q):
        """one: f() -> rows (one call per query); batch1/batchn: f() -> rows (batched), of the
        first n_q queries."""
        with one_cpu():
            lat, rows = best_of(a.repeat, one)
        r = recall(rows, Q, D, kth, k)
        row = {
            "system": system, "setting": setting, "rank_safe": exact, "build_s": build_s,
            "index_bytes": size_bytes, "ms_per_query": lat * 1e3 / n_q, f"recall@{k}": r,
        }
        for name, f, threads in [("qps_batch_1", batch1, 1), (f"qps_batch_{a.threads}", batchn, a.threads)]:
            if f is None:
                row[name] = None
                continue
            with one_cpu() if threads == 1 else contextlib.nullcontext():
                s, rows_b = best_of(a.repeat, f)
            row[name] = n_q / s
            rb = recall(rows_b, Q, D, kth, k)
            if abs(rb - r) > 1e-9:
                print(f"  note: {system} {setting}: batched recall {rb:.4f} vs one-by-one {r:.4f}")
        results.append(row)
        print(
            f"{system:8} {setting:42} build {build_s:6.2f} s  {row['ms_per_query']:.4f} ms/q  "
            f"recall@{k} {r:.4f}  batch1 {row['qps_batch_1'] or 0:8.0f} q/s  "
            f"batch{a.threads} {row[f'qps_batch_{a.threads}'] or 0:8.0f} q/s",
            flush=True,
        )

    # Saved indexes (their file sizes) live only as long as this worker: BMP's at 4M is 4.4 GB.
    tmp_dir = tempfile.TemporaryDirectory(prefix="run_peers-")
    tmp = Path(tmp_dir.name)
    if system in ("mmlsr-u8", "mmlsr-u16"):
        # Rank-safe over the quantised impacts.
        impacts = system.split("-")[1]
        t = time.perf_counter()
        index = mmlsr.Index.build(docs, vocab_size=vocab, impacts=impacts)
        build = time.perf_counter() - t
        index.save(tmp / f"mmlsr-{impacts}")
        size = (tmp / f"mmlsr-{impacts}" / "index.mmlsr").stat().st_size
        algorithms = mmlsr.ALGORITHMS if impacts == "u8" else ("exhaustive",)
        for algo in algorithms:
            if algo in a.skip_set:
                continue
            record(
                "mmlsr", f"{algo} {impacts}", True, build, size,
                lambda: [index.search(i, v, k, algorithm=algo)[0] for i, v in query_rows],
                lambda: index.search_batch(queries, k, threads=1, algorithm=algo)[0],
                lambda: index.search_batch(queries, k, threads=a.threads, algorithm=algo)[0],
            )
        if a.doc_order != "given" and "blockmax" not in a.skip_set:
            # Block-max pruning over documents reordered so that similar ones share blocks.
            t = time.perf_counter()
            reordered = mmlsr.Index.build(docs, vocab_size=vocab, impacts=impacts, doc_order=a.doc_order)
            build = time.perf_counter() - t
            reordered.save(tmp / f"mmlsr-{impacts}-reordered")
            size = (tmp / f"mmlsr-{impacts}-reordered" / "index.mmlsr").stat().st_size
            record(
                "mmlsr", f"blockmax {impacts} {a.doc_order}", True, build, size,
                lambda: [reordered.search(i, v, k, algorithm="blockmax")[0] for i, v in query_rows],
                lambda: reordered.search_batch(queries, k, threads=1, algorithm="blockmax")[0],
                lambda: reordered.search_batch(queries, k, threads=a.threads, algorithm="blockmax")[0],
            )
    elif system == "mmlsr-f32":
        # Rank-safe over the unquantised weights (f64 sums); kept in memory only.
        t = time.perf_counter()
        index = mmlsr.ExactIndex.build(docs, vocab_size=vocab)
        build = time.perf_counter() - t
        record(
            "mmlsr", "exhaustive f32", True, build, None,
            lambda: [index.search(i, v, k)[0] for i, v in query_rows],
            lambda: index.search_batch(queries, k, threads=1)[0],
            lambda: index.search_batch(queries, k, threads=a.threads)[0],
        )
    elif system == "mmlsr-cut":
        # Query-term pruning over the exact u16 index: each query's heaviest terms score every
        # document, the best candidates are ranked by their exact score.
        t = time.perf_counter()
        index = mmlsr.Index.build(docs, vocab_size=vocab, impacts="u16")
        build = time.perf_counter() - t
        for terms, cands in a.cuts:
            record(
                "mmlsr", f"cut u16 terms={terms} candidates={cands}", False, build, None,
                lambda: [index.search_cut(i, v, k, terms=terms, candidates=cands)[0] for i, v in query_rows],
                lambda: index.search_cut_batch(queries, k, terms=terms, candidates=cands, threads=1)[0],
                lambda: index.search_cut_batch(queries, k, terms=terms, candidates=cands, threads=a.threads)[0],
            )
    elif system == "mmlsr-approx":
        for ppt in a.builds:
            t = time.perf_counter()
            approx = mmlsr.ApproxIndex.build(
                docs, vocab_size=vocab, postings_per_term=ppt, pruning="global", max_fraction=1.5
            )
            build = time.perf_counter() - t
            for cut, hf in a.searches:
                record(
                    "mmlsr", f"approx λ={ppt} query_cut={cut} heap={hf}", False, build, None,
                    lambda: [approx.search(i, v, k, query_cut=cut, heap_factor=hf)[0] for i, v in query_rows],
                    lambda: approx.search_batch(queries, k, query_cut=cut, heap_factor=hf, threads=1)[0],
                    lambda: approx.search_batch(queries, k, query_cut=cut, heap_factor=hf, threads=a.threads)[0],
                )
            del approx
    elif system == "seismic":
        import seismic

        st = seismic.get_seismic_string()
        tokens = np.array([str(t) for t in range(vocab)], dtype=st)
        row_of = {str(r): r for r in range(n_docs)}
        dataset = seismic.SeismicDataset()
        dp, di, dv = docs
        for r in range(n_docs):
            dataset.add_document(str(r), tokens[di[dp[r] : dp[r + 1]]], dv[dp[r] : dp[r + 1]].astype(np.float32))
        q_tokens = [tokens[i] for i, _ in query_rows]
        q_values = [v.astype(np.float32) for _, v in query_rows]
        q_ids = np.array([str(q) for q in range(n_q)], dtype=st)
        for n_postings in a.builds:
            t = time.perf_counter()
            sidx = seismic.SeismicIndex.build_from_dataset(dataset, n_postings=n_postings, max_fraction=1.5)
            build = time.perf_counter() - t
            for cut, hf in a.searches:
                def one(sidx=sidx, cut=cut, hf=hf):
                    return [
                        [row_of[d] for _, _, d in sidx.search(str(q), q_tokens[q], q_values[q], k, cut, hf)]
                        for q in range(n_q)
                    ]

                def batch(threads, sidx=sidx, cut=cut, hf=hf):
                    res = sidx.batch_search(q_ids, q_tokens, q_values, k, cut, hf, num_threads=threads)
                    # Result lists come back in no particular order: each names its query.
                    by_query = {r[0][0]: [row_of[d] for _, _, d in r] for r in res if r}
                    return [by_query.get(str(q), []) for q in range(n_q)]

                record(
                    "seismic", f"n_postings={n_postings} query_cut={cut} heap={hf}", False, build, None,
                    one, lambda: batch(1), lambda: batch(a.threads),
                )
            del sidx
    elif system == "faiss":
        faiss_rows(a, docs, query_rows, n_docs, vocab, k, tmp, record, results)
    elif system == "bmp":
        import bmp

        # BMP takes integer weights and accumulates scores and block bounds in 16 bits (they
        # wrap or saturate past 65,535: seen on these vectors at PyTerrier's × 100, and at a
        # scale fitted to the best score only, block bounds wrapped and recall fell to 0.65).
        # One scale for documents and queries, the largest at which every query's bound
        # Σ_t q_t · max_d d_t fits, so that BMP stays exact over its integers; weights rounded.
        term_max = np.asarray(D.max(axis=0).todense()).ravel()
        bound = max(float(Q[q].toarray().ravel() @ term_max) for q in range(n_q))
        scale = max(1.0, min(100.0, float(np.floor(np.sqrt(65535 / bound)))))
        path = str(tmp / "index.bmp")
        t = time.perf_counter()
        ix = bmp.Indexer(path, bsize=32, compress_range=False)
        dp, di, dv = docs
        for r in range(n_docs):
            ix.add_document(str(r), {f"t{t_}": int(round(w * scale)) for t_, w in zip(di[dp[r] : dp[r + 1]], dv[dp[r] : dp[r + 1]])})
        ix.finish()
        build = time.perf_counter() - t
        searcher = bmp.Searcher(path)
        q_dicts = [{f"t{t_}": int(round(w * scale)) for t_, w in zip(i, v)} for i, v in query_rows]
        print(f"bmp: integer weights = float × {scale:g} (largest query bound {bound:.1f})")
        for alpha, beta in [(1.0, 1.0), (0.9, 1.0), (0.8, 0.8)]:
            record(
                "bmp", f"bsize=32 ×{scale:g} alpha={alpha} beta={beta}", alpha == 1.0 and beta == 1.0, build,
                os.path.getsize(path),
                lambda alpha=alpha, beta=beta: [
                    [int(d) for d in searcher.search(qd, k=k, alpha=alpha, beta=beta)[0]] for qd in q_dicts
                ],
                None, None,
            )
        if a.doc_order != "given":
            # BMP over the documents in the order mmlsr's reordered rows use (BMP's own papers
            # pair it with graph-bisection reordering): rank-safe settings only. Build time
            # excludes computing the order.
            order = heaviest_terms_order(docs, int(a.doc_order.split(":")[1]))
            del searcher
            path_r = str(tmp / "index-reordered.bmp")
            t = time.perf_counter()
            ix = bmp.Indexer(path_r, bsize=32, compress_range=False)
            for r in order:
                ix.add_document(str(r), {f"t{t_}": int(round(w * scale)) for t_, w in zip(di[dp[r] : dp[r + 1]], dv[dp[r] : dp[r + 1]])})
            ix.finish()
            build = time.perf_counter() - t
            searcher_r = bmp.Searcher(path_r)
            record(
                "bmp", f"bsize=32 ×{scale:g} alpha=1.0 beta=1.0 {a.doc_order}", True, build,
                os.path.getsize(path_r),
                lambda: [[int(d) for d in searcher_r.search(qd, k=k, alpha=1.0, beta=1.0)[0]] for qd in q_dicts],
                None, None,
            )
    elif system == "pisa":
        # PISA (pyterrier-pisa 0.4.9's native module) over integer impacts: documents × the
        # scale that maps the heaviest weight to 65,535 (u16, as mmlsr's u16 rows), its
        # "quantized" scorer, block_simdbp posting lists, 64-posting blocks for the block-max
        # algorithms. PISA takes integer query weights (it repeats a term `weight` times): each
        # query × 255 / its heaviest weight, rounded (8 bits; ranking is invariant to a query's
        # scale). Every algorithm is rank-safe over those integers.
        pisa = load_pisathon()
        scale = 65535 / D.data.max()
        path = tmp / "pisa"
        path.mkdir()
        t = time.perf_counter()
        names = write_pisa_collection(D, scale, path)
        pisa.build_binlex(str(path / "fwd.terms"), str(path / "fwd.termlex"))
        pisa.build_binlex(str(path / "fwd.documents"), str(path / "fwd.doclex"))
        ctx = pisa.RetrievalContext()
        pisa.prepare_index(ctx, str(path), "block_simdbp", "quantized", "", block_size=64, quantize=0, stop_fname="")
        build = time.perf_counter() - t
        size = sum(f.stat().st_size for f in path.glob("quantized.*"))
        n_p = min(n_q, a.pisa_queries or n_q)
        q_dicts = []
        for q, (i, v) in enumerate(query_rows[:n_p]):
            w = np.rint(v.astype(np.float64) * (255 / v.max())) if len(v) else v
            q_dicts.append((q, {names[t_]: float(x) for t_, x in zip(i, w) if x >= 1}))

        def pisa_search(algo, batch, threads):
            n = len(batch) * k
            qidx, docnos = np.empty(n, np.int32), np.empty(n, object)
            ranks, scores = np.empty(n, np.int32), np.empty(n, np.float32)
            found = pisa.retrieve(
                ctx, algo, batch, k=k, threads=threads, query_weighted=1, pretokenised=True,
                result_qidxs=qidx, result_docnos=docnos, result_ranks=ranks, result_scores=scores,
            )
            rows = [[] for _ in batch]
            for q, d in zip(qidx[:found], docnos[:found]):
                rows[q - batch[0][0]].append(int(d))
            return rows

        first = "" if n_p == n_q else f", first {n_p} queries"
        for algo in a.pisa_algorithms.split(","):
            record(
                "pisa", f"{algo} block_simdbp ×{scale:.4g} q×255/max{first}", True, build, size,
                lambda algo=algo: [pisa_search(algo, [qd], 1)[0] for qd in q_dicts],
                lambda algo=algo: pisa_search(algo, q_dicts, 1),
                lambda algo=algo: pisa_search(algo, q_dicts, a.threads),
                n_q=n_p,
            )
    elif system != "load":
        raise SystemExit(f"unknown system {system!r}: expected one of {', '.join(SYSTEMS)}")
    json.dump(results, open(a.rows, "w"))
    tmp_dir.cleanup()
    return 0


def faiss_rows(a, docs, query_rows, n_docs, vocab, k, tmp, record, results):
    """Faiss (faiss-cpu) over the dense form of the same vectors: the collection over the terms
    its documents use (a query's other terms score nothing), float32. IndexFlatIP is exact (its
    float32 dot products rank as the float64 truth does, ties aside); IndexHNSWFlat (inner
    product, M = FAISS_HNSW_M) is approximate. Not run, with a row that says why, when the dense
    matrix would exceed --faiss-max-gib: the Zipf collections use nearly every one of 30,522
    terms (123k documents: 14 GiB)."""
    import faiss

    dp, di, dv = docs
    cols = np.unique(di)
    gib = n_docs * len(cols) * 4 / 2**30
    if gib > a.faiss_max_gib:
        print(f"faiss: not run: the dense collection ({n_docs:,} × {len(cols):,} float32) would take {gib:.1f} GiB")
        results.append({
            "system": "faiss", "setting": f"not run: dense form {n_docs:,} × {len(cols):,} terms = {gib:.1f} GiB "
            f"(> --faiss-max-gib {a.faiss_max_gib:g})", "rank_safe": None, "build_s": None, "index_bytes": None,
            "ms_per_query": None, f"recall@{k}": None, "qps_batch_1": None, f"qps_batch_{a.threads}": None,
        })
        return
    column = np.full(vocab, -1, dtype=np.int64)
    column[cols] = np.arange(len(cols))
    dense = sp.csr_matrix((dv.astype(np.float32), column[di], dp), shape=(n_docs, len(cols))).toarray()
    queries = np.zeros((len(query_rows), len(cols)), dtype=np.float32)
    for q, (i, v) in enumerate(query_rows):
        keep = column[i] >= 0
        queries[q, column[i][keep]] = v[keep]

    def searcher(index, threads, one_by_one):
        def run():
            faiss.omp_set_num_threads(threads)
            if one_by_one:
                return [index.search(queries[q : q + 1], k)[1][0].tolist() for q in range(len(queries))]
            return index.search(queries, k)[1].tolist()
        return run

    def size(index, name):
        faiss.write_index(index, str(tmp / name))
        return (tmp / name).stat().st_size

    t = time.perf_counter()
    flat = faiss.IndexFlatIP(len(cols))
    flat.add(dense)
    build = time.perf_counter() - t
    record("faiss", f"IndexFlatIP {len(cols)} dims", True, build, size(flat, "flat.faiss"),
           searcher(flat, 1, True), searcher(flat, 1, False), searcher(flat, a.threads, False))
    del flat
    faiss.omp_set_num_threads(a.threads)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(len(cols), FAISS_HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = FAISS_EF_CONSTRUCTION
    hnsw.add(dense)
    build = time.perf_counter() - t
    hnsw_bytes = size(hnsw, "hnsw.faiss")
    for ef in FAISS_EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        record("faiss", f"IndexHNSWFlat M={FAISS_HNSW_M} efC={FAISS_EF_CONSTRUCTION} efSearch={ef}", False, build,
               hnsw_bytes, searcher(hnsw, 1, True), searcher(hnsw, 1, False), searcher(hnsw, a.threads, False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("encoded")
    ap.add_argument("--out", help="results/peers/NAME (NAME.md and NAME.json)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument(
        "--skip", default="",
        help="comma-separated systems or mmlsr algorithms to leave out: " + ", ".join(SYSTEMS[1:]) + ", maxscore, blockmax",
    )
    ap.add_argument("--approx-builds", default=APPROX_BUILDS, help="λ / n_postings values, comma-separated")
    ap.add_argument(
        "--approx-searches", default=APPROX_SEARCHES, help="query_cut:heap_factor pairs, comma-separated"
    )
    ap.add_argument(
        "--cut-settings", default=CUT_SETTINGS,
        help="mmlsr-cut's terms:candidates pairs, comma-separated (query-term pruning over the u16 index)",
    )
    ap.add_argument(
        "--pisa-queries", type=int, default=0,
        help="time PISA on the first N queries only (0: all); its DAAT passes took 50–230 ms a query at 1M documents",
    )
    ap.add_argument(
        "--pisa-algorithms", default=PISA_ALGORITHMS,
        help="PISA's query algorithms, comma-separated (block_max_wand ran over 13 minutes on 200 160-term queries without finishing)",
    )
    ap.add_argument(
        "--doc-order", default=DOC_ORDER,
        help="document order of mmlsr's extra block-max rows (u8 and u16) and BMP's extra rank-safe row: "
        "heaviest-terms:N, or given to leave them out",
    )
    ap.add_argument(
        "--faiss-max-gib", type=float, default=FAISS_MAX_GIB,
        help="largest dense float32 collection Faiss is given (documents × the terms they use); above it faiss is not run",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    ap.add_argument("--rows", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.skip_set = set(filter(None, a.skip.split(",")))
    try:
        a.builds = [int(x) for x in a.approx_builds.split(",")]
        a.searches = [(int(c), float(h)) for c, h in (x.split(":") for x in a.approx_searches.split(","))]
    except ValueError as e:
        ap.error(f"--approx-builds / --approx-searches: {e} (e.g. 1000,2000 and 10:0.7,20:0.9)")
    try:
        a.cuts = [(int(t), int(c)) for t, c in (x.split(":") for x in a.cut_settings.split(","))]
    except ValueError as e:
        ap.error(f"--cut-settings: {e} (e.g. 20:100,40:300)")
    bad = [f"{t}:{c}" for t, c in a.cuts if t < 1 or c < a.k]
    if bad:
        ap.error(f"--cut-settings {','.join(bad)}: need at least 1 term and at least k = {a.k} candidates")
    if a.doc_order != "given" and not re.fullmatch(r"heaviest-terms:[1-9][0-9]*", a.doc_order):
        ap.error(f"--doc-order {a.doc_order!r}: expected given or heaviest-terms:N (N >= 1)")
    unknown = set(a.pisa_algorithms.split(",")) - set(PISA_ALGORITHMS.split(","))
    if unknown:
        ap.error(f"--pisa-algorithms: unknown {', '.join(sorted(unknown))} (expected some of {PISA_ALGORITHMS})")
    if a.worker:
        return worker(a)
    if not a.out:
        ap.error("--out is required")
    k = a.k

    docs, queries, vocab, n_q = load(a)
    D, Q = csr_of(docs, vocab), csr_of(queries, vocab)
    n_docs = D.shape[0]
    doc_terms, query_terms = D.nnz / n_docs, Q.nnz / n_q
    print(f"{n_docs} documents ({doc_terms:.1f} terms each), {n_q} queries ({query_terms:.1f} terms), |V| {vocab}")
    t = time.perf_counter()
    kth = exact_kth(Q, D, k)
    print(f"exact float64 top-{k} (numpy/scipy) in {time.perf_counter() - t:.1f} s")
    del docs, queries, D, Q
    tmp_dir = tempfile.TemporaryDirectory(prefix="run_peers-")
    tmp = Path(tmp_dir.name)
    np.savez(tmp / "truth.npz", kth=kth)

    # The commit (and machine) the measurements ran at: read before they start, since a run takes
    # long enough for HEAD to move.
    started = machine()
    results = []
    failed = []
    for system in SYSTEMS:
        if system in a.skip_set:
            continue
        rows_path = tmp / f"{system}.json"
        cmd = [sys.executable, __file__, a.encoded, "--worker", system, "--truth", str(tmp / "truth.npz"),
               "--rows", str(rows_path), "--queries", str(n_q), "--k", str(k), "--repeat", str(a.repeat),
               "--threads", str(a.threads), "--skip", a.skip, "--approx-builds", a.approx_builds,
               "--approx-searches", a.approx_searches, "--cut-settings", a.cut_settings,
               "--pisa-queries", str(a.pisa_queries),
               "--pisa-algorithms", a.pisa_algorithms, "--doc-order", a.doc_order,
               "--faiss-max-gib", str(a.faiss_max_gib)]
        child = subprocess.Popen(cmd)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            # The other systems' rows are still worth a table (a 13-minute PISA pass that had to
            # be killed once took every finished row with it); the table names what failed.
            print(f"{system}: worker failed with exit status {child.returncode}", file=sys.stderr)
            failed.append(f"{system} (exit status {child.returncode})")
            continue
        peak = usage.ru_maxrss * 1024  # kilobytes on Linux
        print(f"{system}: peak resident memory {peak / 2**30:.2f} GiB")
        if system == "load":
            results.append({"system": "(load only)", "setting": "collection, queries, scipy matrices", "rank_safe": None,
                            "build_s": None, "index_bytes": None, "ms_per_query": None, f"recall@{k}": None,
                            "qps_batch_1": None, f"qps_batch_{a.threads}": None, "peak_rss_bytes": peak})
            continue
        for row in json.load(open(rows_path)):
            results.append(row | {"peak_rss_bytes": peak})

    meta = started | {
        "collection": str(a.encoded), "documents": n_docs, "queries": n_q, "vocab": vocab, "k": k,
        "doc_terms": doc_terms, "query_terms": query_terms, "threads": a.threads, "repeat": a.repeat,
        "skipped": sorted(a.skip_set), "failed": failed,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out.with_suffix(".json"), json.dumps({"machine": meta, "rows": results}, indent=2))
    skip = f" --skip {a.skip}" if a.skip else ""
    if a.approx_builds != APPROX_BUILDS:
        skip += f" --approx-builds {a.approx_builds}"
    if a.approx_searches != APPROX_SEARCHES:
        skip += f" --approx-searches {a.approx_searches}"
    if a.cut_settings != CUT_SETTINGS:
        skip += f" --cut-settings {a.cut_settings}"
    if a.pisa_queries:
        skip += f" --pisa-queries {a.pisa_queries}"
    if a.pisa_algorithms != PISA_ALGORITHMS:
        skip += f" --pisa-algorithms {a.pisa_algorithms}"
    if a.doc_order != DOC_ORDER:
        skip += f" --doc-order {a.doc_order}"
    if a.faiss_max_gib != FAISS_MAX_GIB:
        skip += f" --faiss-max-gib {a.faiss_max_gib:g}"
    md = [
        f"# {out.name}: mmlsr beside Seismic, BMP, PISA and Faiss",
        "",
        f"`python3 scripts/peers/run_peers.py {a.encoded} --out {a.out} --queries {n_q} --repeat {a.repeat}{skip}` at commit "
        f"{meta['commit']}; {meta['cpu']}, {meta['cores']} cores, one run (ratios, not absolutes). "
        f"{n_docs:,} documents ({doc_terms:.1f} terms each), {n_q:,} queries "
        f"({query_terms:.1f} terms), |V| {vocab:,}. Recall@{k} of the exact float64 top {k} "
        "(numpy/scipy, not mmlsr), ties at the cut counted as correct. ms/query: one call per query, one thread, best "
        f"of {a.repeat}; q/s: batched calls (BMP has no batch call); the one-call and one-thread columns ran with every thread of the process pinned to one CPU core "
        "(Seismic's batch call with num_threads=1 uses all cores otherwise). Peak GiB: the peak resident memory of the "
        "process that loaded the collection and built and searched that system's indexes (one process per "
        "system; `(load only)` is the floor every process starts from)."
        + (f" **Failed, no rows: {', '.join(failed)}.**" if failed else ""),
        "",
        f"| system | setting | rank-safe | build s | index MB | ms/query | recall@{k} | q/s batch, 1 thread | q/s batch, {a.threads} threads | peak GiB |",
        "|---|---|:-:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)

    for r in results:
        mb = None if r["index_bytes"] is None else r["index_bytes"] / 2**20
        safe = "" if r["rank_safe"] is None else ("yes" if r["rank_safe"] else "no")
        md.append(
            f"| {r['system']} | {r['setting']} | {safe} | {fmt(r['build_s'], '.2f')} | {fmt(mb, '.1f')} | "
            f"{fmt(r['ms_per_query'], '.4f')} | {fmt(r[f'recall@{k}'], '.4f')} | {fmt(r['qps_batch_1'], ',.0f')} | "
            f"{fmt(r[f'qps_batch_{a.threads}'], ',.0f')} | {r['peak_rss_bytes'] / 2**30:.2f} |"
        )
    write_atomic(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if failed else 0


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: an interrupted run leaves
    the previous table whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
