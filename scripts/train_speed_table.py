#!/usr/bin/env python3
"""The D2S and joint training steps, Burn (criterion) beside PyTorch, measured in one run on one
machine.

Reads the criterion estimates of `cargo bench -p mmlsr-benches --bench train_step` (run it
first; `just bench-train` does both) from $CARGO_TARGET_DIR/criterion (default target/), runs
scripts/bench_d2s_step.py (with and without flushing subnormals) and scripts/bench_joint_step.py
with the same thread count, and writes a Markdown table with the ratio (PyTorch ms / Burn ms:
above 1, Burn is faster). Rows of Burn's LibTorch backend (`--features tch`) are added when
criterion has them; run this script with the Python whose torch provided that libtorch.

Usage: python3 scripts/train_speed_table.py [--threads 2] [--steps 10] [--out FILE]
Needs `pip install torch`. A benchmark, not a test.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--out", type=Path, default=None, help="also write the table here")
args = p.parse_args()

root = Path(__file__).resolve().parent.parent
target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
crit = target / "criterion" / "d2s_train_step"


def burn_ms(name):
    f = crit / name / "new" / "estimates.json"
    if not f.is_file():
        sys.exit(f"{f}: no criterion estimate; run `cargo bench -p mmlsr-benches --bench train_step` first")
    return json.loads(f.read_text())["median"]["point_estimate"] / 1e6


def has_burn(name):
    return (crit / name / "new" / "estimates.json").is_file()


def torch_ms(flush, script="bench_d2s_step.py"):
    cmd = [sys.executable, str(root / "scripts" / script), "--json",
           "--threads", str(args.threads), "--steps", str(args.steps)]
    if flush:
        cmd.append("--flush-denormal")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {r["name"]: r for r in rows}


plain, flushed = torch_ms(False), torch_ms(True)
joint = torch_ms(True, "bench_joint_step.py")
version = next(iter(plain.values()))["torch"]
cpu = "unknown CPU"
try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                        capture_output=True, text=True).stdout.strip() or "unknown"
dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
if dirty:
    commit += "-dirty"
lines = [
    "# Training steps: Burn (Flex) beside PyTorch",
    "",
    f"D2S: batch 512, 256-d inputs, 768 hidden, |V| outputs; one step = both towers, teacher, "
    f"loss, backward and both AdamW updates. Joint: batch 256, 768-d features through "
    f"text_proj/vision_proj to 256-d, the shared head, the released blip-coco loss, backward, "
    f"clipping, AdamW. {cpu}, {os.cpu_count()} logical cores, "
    f"{platform.system()} {platform.machine()}; {args.threads} threads each; torch {version}; "
    f"commit {commit}. Burn: criterion median; PyTorch: median of {args.steps} steps. "
    "Ratio = PyTorch ms / Burn ms (above 1: Burn is faster). Made by "
    "`python3 scripts/train_speed_table.py` after `cargo bench -p mmlsr-benches --bench train_step`.",
    "",
    "| step | |V| | subnormals | Burn ms | PyTorch ms | ratio |",
    "|---|---:|---|---:|---:|---:|",
]
for v in (571, 30522):
    for flush, suffix, torch_rows in ((False, "", plain), (True, "_flush_denormals", flushed)):
        b = burn_ms(f"batch512_V{v}{suffix}")
        t = torch_rows[f"batch512_V{v}"]["median_ms"]
        lines.append(f"| D2S | {v:,} | {'flushed' if flush else 'kept'} | {b:.1f} | {t:.1f} "
                     f"| {t / b:.2f} |")
for v in (571, 30522):
    b = burn_ms(f"joint_batch256_V{v}_flush_denormals")
    t = joint[f"joint_batch256_V{v}"]["median_ms"]
    lines.append(f"| joint | {v:,} | flushed | {b:.1f} | {t:.1f} | {t / b:.2f} |")
if has_burn("tch_batch512_V571_flush_denormals"):
    lines += [
        "",
        "Burn's LibTorch backend (`--features tch`, libtorch of the same torch) beside PyTorch, D2S "
        "step, subnormals flushed:",
        "",
        "| |V| | Burn (tch) ms | Burn (Flex) ms | PyTorch ms | PyTorch / tch | PyTorch / Flex |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for v in (571, 30522):
        b = burn_ms(f"tch_batch512_V{v}_flush_denormals")
        f = burn_ms(f"batch512_V{v}_flush_denormals")
        t = flushed[f"batch512_V{v}"]["median_ms"]
        lines.append(f"| {v:,} | {b:.1f} | {f:.1f} | {t:.1f} | {t / b:.2f} | {t / f:.2f} |")
lines += [
    "",
    "Restricted batches (every caption limited to its ~10 own terms; Burn only, PyTorch's "
    "released code has no such path):",
    "",
    "| |V| | full-width step ms | sparse-aware step ms | speed-up |",
    "|---:|---:|---:|---:|",
]
for v in (571, 30522):
    f = burn_ms(f"batch512_V{v}_own_terms_full_width")
    s = burn_ms(f"batch512_V{v}_own_terms_sparse_aware")
    lines.append(f"| {v:,} | {f:.1f} | {s:.1f} | {f / s:.2f} |")
text = "\n".join(lines) + "\n"
print(text)
if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(args.out)
