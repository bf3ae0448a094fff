#!/usr/bin/env python3
"""Search latency from Python beside the command line, on the same index and queries.

    python3 python/bench/search_latency.py INDEX_DIR ENCODED_DIR [--mmlsr BIN] [--repeat 3]

INDEX_DIR is an `mmlsr index` folder, ENCODED_DIR the `mmlsr encode` folder whose
text_sparse.parquet are the queries. Prints ms per query (best of --repeat) for: the CLI's
`mmlsr search` (its own in-process timing, one thread, exp mode, exhaustive u8), Python's
`Index.search` called once per query, and `Index.search_batch` on 1 and 2 threads; and checks
that every Python ranking equals the CLI's run.
"""

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import mmlsr
from mmlsr import store


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("index")
    ap.add_argument("encoded")
    ap.add_argument("--mmlsr", default="mmlsr")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()

    index = mmlsr.Index.load(a.index)
    qids, (p, i, v), _ = store.read_sparse(Path(a.encoded) / "text_sparse.parquet")
    n = len(qids)
    rows = {}

    cli = []
    with tempfile.TemporaryDirectory() as tmp:
        run_file = Path(tmp) / "run.trec"
        for _ in range(a.repeat):
            out = subprocess.run(
                [a.mmlsr, "search", a.index, a.encoded, "--out", str(run_file), "--k", str(a.k)],
                capture_output=True, text=True, check=True,
            ).stdout
            cli.append(float(re.search(r"\(([\d.]+) ms each", out).group(1)))
        cli_run = {}
        for line in open(run_file):
            q, _, d, _, _, _ = line.split()
            cli_run.setdefault(q, []).append(d)

    def best(f):
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times) * 1e3 / n

    def per_query():
        rows["single"] = [index.search(i[p[q] : p[q + 1]], v[p[q] : p[q + 1]], a.k)[0] for q in range(n)]

    single = best(per_query)
    batch1 = best(lambda: rows.__setitem__("batch1", index.search_batch((p, i, v), a.k, threads=1)[0]))
    batch2 = best(lambda: rows.__setitem__("batch2", index.search_batch((p, i, v), a.k, threads=2)[0]))

    ids = index.ids
    for q, qid in enumerate(qids):
        want = cli_run.get(qid, [])
        assert [ids[d] for d in rows["single"][q]] == want, qid
        assert [ids[d] for d in rows["batch1"][q] if d >= 0] == want, qid
    np.testing.assert_array_equal(rows["batch1"], rows["batch2"])

    cli_ms = min(cli)
    print(f"{n} queries, {index.n_docs} documents, |V| {index.vocab_size}, {index.impacts} impacts, k {a.k}")
    print("| how | ms/query | vs CLI |")
    print("|---|---:|---:|")
    print(f"| `mmlsr search` (one thread, in-process timing) | {cli_ms:.4f} | 1.00 |")
    print(f"| `Index.search`, one call per query | {single:.4f} | {single / cli_ms:.2f} |")
    print(f"| `Index.search_batch`, 1 thread | {batch1:.4f} | {batch1 / cli_ms:.2f} |")
    print(f"| `Index.search_batch`, 2 threads | {batch2:.4f} | {batch2 / cli_ms:.2f} |")
    print("every ranking equals the CLI's run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
