#!/usr/bin/env bash
# The GPU path end to end: build mmlsr with `--features cuda`, generate the full-scale coco
# folder over BERT's 30,522-term vocabulary, train one epoch of D2S and one of the joint method
# on the `cuda` backend, and print steps/s beside PyTorch doing the same step on the same GPU
# (scripts/bench_d2s_step.py and scripts/bench_joint_step.py with --device cuda).
#
#   scripts/gpu_check.sh                 # on a machine with an NVIDIA GPU (and CUDA drivers)
#   scripts/gpu_check.sh --cpu           # the same commands on the flex backend, tiny folder:
#                                        # what CI runs so that the script does not rot
#
# Options: --bin PATH (an mmlsr binary built elsewhere, e.g. carried to the GPU machine; skips
# the build), --out DIR (default: a temporary folder), --vocab FILE (default: the
# bert-base-uncased vocab.txt kept under crates/mmlsr-store/tests/data).
# PyTorch rows need `pip install torch`; without it they are skipped with a message.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
mode=cuda
bin=""
out=""
vocab="$root/crates/mmlsr-store/tests/data/bert-base-uncased/vocab.txt"
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) mode=cpu ;;
        --bin) bin="$2"; shift ;;
        --out) out="$2"; shift ;;
        --vocab) vocab="$2"; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -f "$vocab" ] || { echo "gpu_check.sh: --vocab $vocab: no such file" >&2; exit 2; }

if [ "$mode" = cuda ]; then
    backend=cuda; scale=full; features=cuda; torch_device=cuda; torch_steps=20
else
    backend=flex; scale=tiny; features=flex; torch_device=cpu; torch_steps=2
fi
if [ -z "$bin" ]; then
    target="${CARGO_TARGET_DIR:-$root/target}"
    echo "== building mmlsr (release, --features $features)"
    (cd "$root" && cargo build --release -p mmlsr-experiments --features "$features")
    bin="$target/release/mmlsr"
fi
[ -x "$bin" ] || { echo "gpu_check.sh: $bin is not an executable" >&2; exit 2; }
if [ -z "$out" ]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

echo "== data: mmlsr synth --scale $scale --datasets coco --backbones strong --vocab $vocab"
"$bin" synth --out "$out/data" --scale "$scale" --datasets coco --backbones strong \
    --vocab "$vocab" --seed 42
data="$out/data/synth-coco-strong"

# One epoch without validation, so that steps/s is the training loop's own.
printf 'epochs = 1\nvalidate = false\n' > "$out/one_epoch.toml"

steps_per_second() { # run directory → "steps steps/s"
    python3 - "$1" <<'EOF'
import csv, json, sys
from pathlib import Path
run = Path(sys.argv[1])
steps = sum(1 for _ in csv.DictReader((run / "train_log.csv").open()))
seconds = json.loads((run / "test_metrics.json").read_text())["train_seconds"]
print(f"{steps} steps in {seconds:.1f} s = {steps / seconds:.2f} steps/s")
EOF
}

echo "== D2S, one epoch, --backend $backend"
"$bin" train "$data" --out "$out/d2s" --config "$out/one_epoch.toml" --backend "$backend" \
    --variant exp=c
d2s="$(steps_per_second "$out/d2s")"
echo "== joint, one epoch, --backend $backend"
"$bin" train "$data" --out "$out/joint" --method joint --config "$out/one_epoch.toml" \
    --backend "$backend"
joint="$(steps_per_second "$out/joint")"

echo
echo "mmlsr ($backend, |V| = $(wc -l < "$vocab" | tr -d ' ')):"
echo "  D2S   batch 512: $d2s"
echo "  joint batch 256: $joint"
if python3 -c "import torch; assert '$torch_device' == 'cpu' or torch.cuda.is_available()" 2>/dev/null; then
    echo "PyTorch ($torch_device, the same step, |V| = 571 and 30,522):"
    python3 "$root/scripts/bench_d2s_step.py" --device "$torch_device" --steps "$torch_steps" \
        --flush-denormal
    python3 "$root/scripts/bench_joint_step.py" --device "$torch_device" --steps "$torch_steps" \
        --flush-denormal
else
    echo "PyTorch rows skipped: no torch with $torch_device here (pip install torch)"
fi
