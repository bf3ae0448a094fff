"""Effectiveness measures (R@k, MRR@k, nDCG@k, P@k, Success@k; trec_eval's definitions),
the paired t-test with Bonferroni correction, and FLOPs (D2S eq. 1), computed by mmlsr-metrics."""

from __future__ import annotations

import os
from typing import Any, Dict, NamedTuple, Optional, Sequence, Union

from . import _mmlsr
from ._csr import as_csr

Run = Dict[str, Dict[str, float]]
Qrels = Dict[str, Dict[str, int]]
DEFAULT_MEASURES = ("R@1", "R@5", "R@10", "MRR@10")


def read_run(path: "os.PathLike[str] | str") -> Run:
    """A TREC run file as {query: {doc: score}}."""
    return _mmlsr.read_run(os.fspath(path))


def read_qrels(path: "os.PathLike[str] | str") -> Qrels:
    """A TREC qrels file as {query: {doc: relevance}}."""
    return _mmlsr.read_qrels(os.fspath(path))


def evaluate(
    run: Union[Run, "os.PathLike[str]", str],
    qrels: Union[Qrels, "os.PathLike[str]", str],
    measures: Sequence[str] = DEFAULT_MEASURES,
    *,
    per_query: bool = False,
) -> Dict[str, Any]:
    """{measure: mean} (or, with per_query, {measure: {query: value}}) of a run against
    judgements, each a dict or a TREC file. Judged queries the run does not answer are left
    out of the means, as ir_measures does."""
    if not isinstance(run, dict):
        run = read_run(run)
    if not isinstance(qrels, dict):
        qrels = read_qrels(qrels)
    run = {str(q): {str(d): float(s) for d, s in docs.items()} for q, docs in run.items()}
    qrels = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    return _mmlsr.evaluate(run, qrels, list(measures), per_query)


class TTest(NamedTuple):
    n: int
    mean_diff: float
    t: float
    df: float
    p_value: float


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> TTest:
    """Paired two-tailed t-test of per-query values (same queries, same order)."""
    return TTest(*_mmlsr.paired_t_test([float(x) for x in a], [float(x) for x in b]))


def bonferroni(p: float, m: int) -> float:
    """min(1, p · m)."""
    return _mmlsr.bonferroni(float(p), int(m))


def flops(queries: Any, docs: Any, vocab_size: Optional[int] = None) -> float:
    """FLOPs of D2S eq. (1): Σ_v (queries active on v)(documents active on v) / (|Q||D|)."""
    (qp, qi, qv), vq = as_csr(queries, vocab_size)
    (dp, di, dv), vd = as_csr(docs, vocab_size)
    return _mmlsr.flops(qp, qi, qv, dp, di, dv, max(vq, vd) if vocab_size is None else vocab_size)
