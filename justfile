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

# Criterion benchmarks.
bench:
    cargo bench -p mmlsr-benches

# Formatting and clippy, warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
