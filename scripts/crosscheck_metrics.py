#!/usr/bin/env python3
"""Reference values for mmlsr-metrics' cross-check test (crates/mmlsr-metrics/tests/crosscheck.rs).

Usage: crosscheck_metrics.py [--rr-direct] QRELS RUN_A RUN_B MEASURE [MEASURE ...]

Prints JSON: for each run the ir_measures aggregate of every measure; for every measure the
scipy.stats.ttest_rel p-value and t of A vs B on the per-query values (aligned by query id),
and scipy's pearsonr and kendalltau of those per-query values. Needs `pip install ir-measures
scipy`. The test regenerates its inputs from a seed and calls this script on every run.

RR@k: ir_measures computes it with its MS MARCO provider, which breaks score ties by document
id *ascending*, while trec_eval (and pytrec_eval, and ir_measures for every other measure here)
breaks them by document id descending. mmlsr ranks once, the trec_eval way, for every
measure. So by default RR@k's reference is trec_eval's reciprocal rank (ir_measures `RR`,
served by pytrec_eval) set to 0 beyond rank k; `--rr-direct` asks ir_measures' RR@k itself
(equal when the runs have no ties).
"""
import json
import math
import sys

import ir_measures
import scipy.stats


def rr_cutoff(name):
    """The cutoff k of an `RR@k` name, else None."""
    return int(name[3:]) if name.startswith("RR@") else None


def main():
    args = sys.argv[1:]
    direct = "--rr-direct" in args
    args = [a for a in args if a != "--rr-direct"]
    qrels_path, run_a, run_b, *names = args
    if not direct:
        names = ["RR" if rr_cutoff(n) else n for n in names] + [n for n in names if rr_cutoff(n)]
    measures = [ir_measures.parse_measure(n) for n in dict.fromkeys(n for n in names if not (rr_cutoff(n) and not direct))]
    qrels = list(ir_measures.read_trec_qrels(qrels_path))
    out = {"aggregates": {}, "tests": {}}
    per_query = {}
    for label, path in (("a", run_a), ("b", run_b)):
        run = list(ir_measures.read_trec_run(path))
        values = {str(m): {} for m in measures}
        for metric in ir_measures.iter_calc(measures, qrels, run):
            values[str(metric.measure)][metric.query_id] = float(metric.value)
        if not direct:
            for n in names:
                k = rr_cutoff(n)
                if k:
                    values[n] = {q: (rr if rr > 0 and round(1 / rr) <= k else 0.0) for q, rr in values["RR"].items()}
        per_query[label] = values
        agg = ir_measures.calc_aggregate(measures, qrels, run)
        out["aggregates"][label] = {str(m): float(agg[m]) for m in measures}
        for n, v in values.items():
            if rr_cutoff(n) and not direct:
                out["aggregates"][label][n] = sum(v.values()) / len(v)
    for name in per_query["a"]:
        qids = sorted(per_query["a"][name])
        a = [per_query["a"][name][q] for q in qids]
        b = [per_query["b"][name][q] for q in qids]
        t = scipy.stats.ttest_rel(a, b)
        entry = {"t": float(t.statistic), "p": float(t.pvalue), "n": len(qids)}
        if len(set(a)) > 1 and len(set(b)) > 1:
            entry["pearson"] = float(scipy.stats.pearsonr(a, b).statistic)
            entry["kendall"] = float(scipy.stats.kendalltau(a, b).statistic)
        out["tests"][name] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in entry.items()}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
