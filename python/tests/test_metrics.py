"""Metrics from Python against ir_measures (a peer) and scipy, on the CLI's run."""

import numpy as np
import pytest

from mmlsr import metrics, store


def test_measures_equal_ir_measures(tiny):
    ir_measures = pytest.importorskip("ir_measures")
    folder = store.read_folder(tiny["data"])
    qrels = folder["qrels"]["test"]
    run = metrics.read_run(tiny["run"])
    ours = metrics.evaluate(run, qrels, ["R@1", "R@5", "R@10", "MRR@10", "nDCG@10"], per_query=True)
    peer_measures = {"R@1": ir_measures.R @ 1, "R@5": ir_measures.R @ 5, "R@10": ir_measures.R @ 10,
                     "MRR@10": ir_measures.RR @ 10, "nDCG@10": ir_measures.nDCG @ 10}
    peer = {}
    for m in ir_measures.iter_calc(list(peer_measures.values()), qrels, run):
        peer[(str(m.measure), m.query_id)] = m.value
    for name, measure in peer_measures.items():
        assert set(ours[name]) == {q for (mm, q) in peer if mm == str(measure)}
        for q, value in ours[name].items():
            assert value == pytest.approx(peer[(str(measure), q)], abs=1e-12), (name, q)
    # Files and dicts give the same means.
    (tmp := tiny["dir"] / "qrels.txt").write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items())
    )
    assert metrics.evaluate(tiny["run"], tmp) == metrics.evaluate(run, qrels)


def test_t_test_equals_scipy_and_flops_equals_a_count(tiny):
    scipy_stats = pytest.importorskip("scipy.stats")
    folder = store.read_folder(tiny["data"])
    qrels = folder["qrels"]["test"]
    a = metrics.evaluate(metrics.read_run(tiny["run"]), qrels, ["RR@10"], per_query=True)["RR@10"]
    b = metrics.evaluate(metrics.read_run(tiny["exact"]), qrels, ["RR@10"], per_query=True)["RR@10"]
    qs = sorted(set(a) & set(b))
    rng = np.random.default_rng(0)
    x = np.array([a[q] for q in qs])
    y = np.clip(x + rng.normal(0, 0.1, len(x)), 0, 1)
    ours = metrics.paired_t_test(x, y)
    peer = scipy_stats.ttest_rel(x, y)
    assert ours.n == len(qs)
    assert ours.t == pytest.approx(peer.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(peer.pvalue, rel=1e-9)
    assert metrics.bonferroni(0.02, 3) == pytest.approx(0.06)
    assert metrics.bonferroni(0.5, 3) == 1.0

    _, q, vocab = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
    _, d, _ = store.read_sparse(tiny["enc"] / "img_sparse.parquet")
    active = lambda m: np.bincount(m[1][m[2] != 0], minlength=vocab).astype(np.float64)
    n_q, n_d = len(q[0]) - 1, len(d[0]) - 1
    want = float(active(q) @ active(d)) / (n_q * n_d)
    assert metrics.flops(q, d, vocab) == pytest.approx(want, rel=1e-12)
