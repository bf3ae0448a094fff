#!/usr/bin/env bash
# The real-data path rehearsed on CPU, without network: the commands a GPU user types
# (datasets/README.md), run against a local mirror of the Hugging Face hub that holds the four
# tiny synthetic folders written exactly as lsr42 publishes them (utf8 ids, float64 list<double>
# 256-d embeddings, Karpathy metadata with integer ids and restval), holi-lab's pre-projection
# files under their published names, and a BLIP-style .pth per dense model.
#
#   scripts/rehearse_real_data.sh            # what CI runs (about 30 s after the build)
#
# Steps: mmlsr synth --scale tiny → examples/published_mirror.rs → python3 -m http.server →
# HF_ENDPOINT=… mmlsr fetch (four lsr42 repositories + bert-base-uncased, then once more: every
# file already there) → holi-lab files copied in as named → scripts/export_projections.py →
# mmlsr inspect → experiments/real/table2.toml and joint.toml with epochs 200 → 1 on the flex
# backend → checks that the tables group the folders into mscoco/flickr30k × blip/albef.
# Differences from the real run: the synthetic built-in vocabulary (593 terms) stands in for
# bert-base-uncased's (a D2S step at 30,522 terms takes 2256 ms against 60.5 ms at 571:
# results/train_speed/train_step.md), one epoch,
# one η and variant for Table 2, flex instead of cuda. Needs python3 with numpy and safetensors.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
echo "== building mmlsr and the mirror writer (release)"
# Two builds: the binary alone reuses the release build CI has just made (gpu_check.sh); an
# example pulls in dev-dependencies, whose features would rebuild the binary if built together.
cargo build --release -p mmlsr-experiments --bin mmlsr
cargo build --release -p mmlsr-experiments --example published_mirror
bin="$target/release/mmlsr"
mirror_bin="$target/release/examples/published_mirror"

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== the published layout, served as the hub"
"$bin" synth --scale tiny --out "$work/synth" --quiet >/dev/null
"$mirror_bin" "$work/synth" "$work/mirror" >/dev/null
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/mirror" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done
export HF_ENDPOINT="http://127.0.0.1:$port"
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN

names="mscoco-blip-dense mscoco-albef-dense flickr30k-blip-dense flickr30k-albef-dense"
real="$work/real"
echo "== mmlsr fetch (HF_ENDPOINT=$HF_ENDPOINT)"
for name in $names; do
    "$bin" fetch "lsr42/$name" --out "$real" --quiet
done
"$bin" fetch bert-base-uncased --out "$real" --quiet
# A second run finds every file in place (checked, nothing downloaded).
again="$("$bin" fetch lsr42/mscoco-blip-dense --out "$real" --quiet 2>&1)"
[ "$(grep -c 'already there, checked' <<<"$again")" = 3 ] || { echo "$again" >&2; exit 1; }

echo "== the joint method's inputs: holi-lab's files as named, projections from the checkpoints"
for name in $names; do
    cp "$work/mirror/holi-lab/$name/"*_before_proj_*.parquet "$real/$name/"
    python3 scripts/rehearsal_checkpoint.py "$work/mirror/projections/$name.safetensors" \
        "$work/$name.pth" >/dev/null
    python3 scripts/export_projections.py "$work/$name.pth" \
        --out "$real/$name/projections.safetensors"
done

echo "== mmlsr inspect"
for name in $names; do
    "$bin" inspect "$real/$name" > "$work/inspect.txt"
    head -2 "$work/inspect.txt"
    grep -q "pre-projection features: 768-d" "$work/inspect.txt"
    grep -q "projections: 768→256" "$work/inspect.txt"
    grep -q "restval\|flickr30k" "$work/inspect.txt"
done

echo "== experiments/real/table2.toml, 1 epoch, η 1e-3, exp=c, flex"
sed -e 's/^epochs = 200$/epochs = 1/' -e '/^patience = /d' -e 's/^eta = .*/eta = [1e-3]/' \
    -e 's/^variants = .*/variants = ["exp=c"]/' experiments/real/table2.toml > "$work/table2.toml"
"$bin" reproduce table2 --config "$work/table2.toml" --data "$real" --runs "$work/runs/table2" \
    --results "$work/results/table2" --backend flex
md="$work/results/table2/table2.md"
grep -q "| mscoco R@1 |.*| flickr30k R@1 |" "$md" || { cat "$md"; exit 1; }
for b in blip albef; do
    [ "$(grep -c "^| $b | 1e-3 | exp=c |" "$md")" = 1 ] || { cat "$md"; exit 1; }
done

echo "== experiments/real/joint.toml, 1 epoch, flex"
sed -e 's/^epochs = 200$/epochs = 1/' -e '/^patience = /d' experiments/real/joint.toml \
    > "$work/joint.toml"
"$bin" reproduce joint --config "$work/joint.toml" --data "$real" --runs "$work/runs/joint" \
    --results "$work/results/joint" --backend flex
for name in $names; do
    grep -q "$name" "$work/results/joint/joint.md" || { cat "$work/results/joint/joint.md"; exit 1; }
done
echo "rehearsal passed: fetch, inspect, export_projections, Table 2 and the joint table on the published layout"
