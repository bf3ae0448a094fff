#!/usr/bin/env python3
"""Which of D2S Table 2's findings hold in one or more `mmlsr reproduce table2` results.

Usage: python3 scripts/table2_findings.py results/table2 [results/table2-seed1 ...]

Reads each folder's table2.json (written by the runner) and prints, per folder and per data
folder × η, whether each finding of issue 14 holds, with the numbers it was judged on:

  F1  exp=0 at least 5 R@1 below dense
  F2  exp=1 within 4 R@1 of dense
  F3  exp=c and exp=c+w within 2.5 R@1 of exp=1, and above exp=0
  F4  FLOPs exp=0 < exp=c+w <= exp=c < exp=1, and exp=c+w <= exp=1 / 3
  F5  eta = 1e-5 above eta = 1e-3 in R@1 for exp=1, exp=c, exp=c+w, with more FLOPs
  F6  weak below strong (dense and every sparse cell); synth-flickr above synth-coco (dense)

Standard library only.
"""
import json
import sys
from pathlib import Path


def load(folder):
    d = json.loads((Path(folder) / "table2.json").read_text())
    cells = {}
    dense = {}
    for c in d["cells"]:
        m = c["metrics"]
        cells[(c["dataset"], c["eta"], c["variant"])] = (m["sparse"]["r1"], m["sparse"]["flops"])
        dense[c["dataset"]] = m["dense"]["r1"]
    return cells, dense


def mark(ok):
    return "yes" if ok else "**no**"


def main(folders):
    for folder in folders:
        cells, dense = load(folder)
        datasets = sorted(dense)
        etas = sorted({k[1] for k in cells}, reverse=True)
        print(f"\n### {folder}\n")
        print("| folder | η | F1 exp=0 ≤ dense−5 | F2 exp=1 within 4 | F3 c, c+w within 2.5 of exp=1, > exp=0 | F4 FLOPs order, c+w ≤ exp=1/3 |")
        print("|---|---|---|---|---|---|")
        for ds in datasets:
            for eta in etas:
                g = lambda v: cells.get((ds, eta, v))
                if any(g(v) is None for v in ["exp=0", "exp=1", "exp=c", "exp=c+w"]):
                    continue
                (r0, f0), (r1, f1), (rc, fc), (rw, fw) = (g(v) for v in ["exp=0", "exp=1", "exp=c", "exp=c+w"])
                dn = dense[ds]
                f1ok = r0 <= dn - 5
                f2ok = abs(r1 - dn) <= 4
                f3ok = rc >= r1 - 2.5 and rw >= r1 - 2.5 and rc > r0 and rw > r0
                f4ok = f0 < fw <= fc < f1 and fw <= f1 / 3
                print(
                    f"| {ds} | {eta:g} | {mark(f1ok)} ({r0:.2f} vs {dn:.2f}) | {mark(f2ok)} ({r1:.2f}) "
                    f"| {mark(f3ok)} ({rc:.2f}, {rw:.2f}) | {mark(f4ok)} ({f0:.1f} < {fw:.1f} ≤ {fc:.1f} < {f1:.1f}) |"
                )
        if len(etas) >= 2:
            hi, lo = etas[0], etas[-1]
            print(f"\n| folder | F5 η={lo:g} above η={hi:g}, more FLOPs (exp=1, exp=c, exp=c+w) |")
            print("|---|---|")
            for ds in datasets:
                parts = []
                ok = True
                for v in ["exp=1", "exp=c", "exp=c+w"]:
                    a, b = cells.get((ds, hi, v)), cells.get((ds, lo, v))
                    if a is None or b is None:
                        continue
                    good = b[0] > a[0] and b[1] > a[1]
                    ok &= good
                    parts.append(f"{v} {a[0]:.2f}→{b[0]:.2f} R@1, {a[1]:.1f}→{b[1]:.1f} FLOPs")
                print(f"| {ds} | {mark(ok)} ({'; '.join(parts)}) |")
        rows = []
        for data in ["synth-coco", "synth-flickr"]:
            s, w = f"{data}-strong", f"{data}-weak"
            if s in dense and w in dense:
                ok = dense[w] < dense[s] and all(
                    cells[(w, e, v)][0] < cells[(s, e, v)][0]
                    for (d, e, v) in cells if d == s and (w, e, v) in cells
                )
                rows.append(f"weak below strong on {data}: {mark(ok)} (dense {dense[w]:.2f} vs {dense[s]:.2f})")
        for bb in ["strong", "weak"]:
            c, f = f"synth-coco-{bb}", f"synth-flickr-{bb}"
            if c in dense and f in dense:
                rows.append(f"synth-flickr above synth-coco ({bb}): {mark(dense[f] > dense[c])} (dense {dense[f]:.2f} vs {dense[c]:.2f})")
        if rows:
            print("\nF6: " + "; ".join(rows))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
