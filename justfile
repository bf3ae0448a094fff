# mmlsr task runner. `just --list` shows the recipes.

# Where the generated default data sets go.
data := "data"

# Run the test suite (the README's test command).
test:
    cargo test --workspace

# Generate the embedded default data sets (all four folders, small scale) into `data/`.
synth scale="small":
    cargo run --release -p mmlsr-experiments -- synth --out {{data}} --scale {{scale}}

# Check a data folder in the lsr42 layout (e.g. `just inspect data/synth-coco-strong`).
inspect dir:
    cargo run --release -p mmlsr-experiments -- inspect {{dir}}

# Train a D2S head on a data folder and evaluate it on its test split,
# e.g. `just train data/synth-coco-strong runs/coco-c exp=c 1e-3`.
train dir out variant="exp=c" eta="1e-3" epochs="20":
    cargo run --release -p mmlsr-experiments -- train {{dir}} --out {{out}} --variant {{variant}} --eta {{eta}} --epochs {{epochs}}

# Fine-tune the dense model's last layers together with a sparse head (Song et al., CIKM 2025)
# and evaluate dense, sparse and fused retrieval, e.g. `just train-joint data/synth-coco-strong runs/joint`.
train-joint dir out epochs="5":
    cargo run --release -p mmlsr-experiments -- train {{dir}} --out {{out}} --method joint --epochs {{epochs}}

# Criterion benchmarks.
bench:
    cargo bench -p mmlsr-benches

# The D2S (batch 512) and joint (batch 256) training steps at |V| = 571 and 30,522: Burn
# (criterion), then PyTorch on the same machine, and the side-by-side table with ratios
# (needs `pip install torch`).
bench-train:
    cargo bench -p mmlsr-benches --bench train_step
    python3 scripts/train_speed_table.py --out results/train_speed/train_step.md

# Each Burn backend feature of mmlsr-model compiles on its own (`tch` needs libtorch; see
# crates/mmlsr-model/README.md, so it is not checked here).
features:
    cargo check -p mmlsr-model --no-default-features --features flex
    cargo check -p mmlsr-model --no-default-features --features ndarray
    cargo check -p mmlsr-model --no-default-features --features cuda

# Formatting and clippy, warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# D2S Table 2 on the embedded default (generates the data if missing; finished cells are kept).
reproduce-table2:
    cargo run --release -p mmlsr-experiments -- reproduce table2

# D2S Tables 1 (t-tests against dense), 3 (semantic deviation) and 5 (correlation over η);
# they share Table 2's trained cells.
reproduce-table1:
    cargo run --release -p mmlsr-experiments -- reproduce table1

reproduce-table3:
    cargo run --release -p mmlsr-experiments -- reproduce table3

reproduce-table5:
    cargo run --release -p mmlsr-experiments -- reproduce table5

# D2S Figure 2 (SVG): R@1 against FLOPs, and top-10 overlap with dense; Table 2's cells.
reproduce-fig2:
    cargo run --release -p mmlsr-experiments -- reproduce fig2

# The latency table (D2S Table 6): generated vectors at FLOPs ≈ 3, 12, 80 and three trained
# heads' vectors over 123,287 images (experiments/table6.toml; generates a 2.7 GB full-scale
# folder under data/full and trains three heads first: about 25 minutes on two cores).
reproduce-table6:
    cargo run --release -p mmlsr-experiments -- reproduce table6

# Joint sparse–dense optimisation: its Table 1 layout with ablations (experiments/joint.toml).
reproduce-joint:
    cargo run --release -p mmlsr-experiments -- reproduce joint

# The real data (needs internet): the four lsr42 folders and bert-base-uncased's vocabulary and
# word embeddings into DIR (resumable; HF_ENDPOINT and HF_TOKEN honoured; datasets/README.md).
fetch-real dir="real":
    cargo run --release -p mmlsr-experiments -- fetch lsr42/mscoco-blip-dense --out {{dir}}
    cargo run --release -p mmlsr-experiments -- fetch lsr42/mscoco-albef-dense --out {{dir}}
    cargo run --release -p mmlsr-experiments -- fetch lsr42/flickr30k-blip-dense --out {{dir}}
    cargo run --release -p mmlsr-experiments -- fetch lsr42/flickr30k-albef-dense --out {{dir}}
    cargo run --release -p mmlsr-experiments -- fetch bert-base-uncased --out {{dir}}

# D2S Table 2 on the real folders under DIR with the paper's settings
# (experiments/real/table2.toml: 200 epochs, patience 20, batch 512), on a GPU by default.
reproduce-real-table2 dir="real" backend="cuda":
    cargo run --release -p mmlsr-experiments --features {{backend}} -- reproduce table2 --config experiments/real/table2.toml --data {{dir}} --backend {{backend}}

# The joint table on the real folders (experiments/real/joint.toml; needs holi-lab's
# pre-projection files and projections.safetensors in each folder, see datasets/README.md).
reproduce-real-joint dir="real" backend="cuda":
    cargo run --release -p mmlsr-experiments --features {{backend}} -- reproduce joint --config experiments/real/joint.toml --data {{dir}} --backend {{backend}}

# The real-data commands rehearsed on CPU against a local hub mirror of the published layout.
rehearse-real:
    bash scripts/rehearse_real_data.sh

# The Python package: build it into the current environment and run its tests against the
# release binary (needs `pip install pytest ir-measures scipy`).
python-test:
    cargo build --release -p mmlsr-experiments
    python3 -m pip install --force-reinstall --no-deps ./python
    MMLSR_BIN="${CARGO_TARGET_DIR:-target}/release/mmlsr" python3 -m pytest -q python/tests

# mmlsr's index beside Seismic, BMP, PISA and Faiss on an encoded folder's vectors (installs the peers
# and the Python package), e.g. the latency table's 123,287-image collection after reproduce-table6.
# PISA comes without its python-terrier dependencies: only its native module is used.
bench-peers encoded="runs/table6/encoded/exp=c" name="table6-exp-c" queries="500":
    python3 -m pip install --quiet ./python pyseismic-lsr bmp scipy faiss-cpu 'tbb<=2020.3.254'
    python3 -m pip install --quiet --no-deps pyterrier-pisa==0.4.9
    python3 scripts/peers/run_peers.py {{encoded}} --out results/peers/{{name}} --queries {{queries}}
