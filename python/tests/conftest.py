"""Shared fixtures: a tiny folder made with the mmlsr command line (synth → train 1 epoch →
encode → index → search), so that the Python results can be compared with the CLI's on the
same files.

The binary is $MMLSR_BIN, else `mmlsr` on PATH, else $CARGO_TARGET_DIR/release/mmlsr (or
target/release/mmlsr); without one the tests that need it skip outside CI and fail in CI.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mmlsr_bin():
    candidates = [os.environ.get("MMLSR_BIN"), shutil.which("mmlsr")]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    candidates.append(str(Path(target) / "release" / "mmlsr"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    if os.environ.get("CI"):
        pytest.fail("no mmlsr binary (set MMLSR_BIN; .ci/run builds target/release/mmlsr)")
    pytest.skip("no mmlsr binary: build it with `cargo build --release -p mmlsr-experiments`")


def run(*args):
    out = subprocess.run([mmlsr_bin(), *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Paths of a tiny synth-flickr-strong folder, its exp=c head's encoded vectors (every
    image, the test captions), the CLI's index of them (u8 and u16) and its top-10 run."""
    d = tmp_path_factory.mktemp("tiny")
    run("synth", "--scale", "tiny", "--quiet", "--datasets", "flickr", "--backbones", "strong", "--out", d / "data")
    data = d / "data" / "synth-flickr-strong"
    run("train", data, "--out", d / "run", "--variant", "exp=c", "--epochs", "1", "--batch-size", "256", "--quiet")
    run("encode", d / "run" / "model", data, "--out", d / "enc")
    run("index", d / "enc", "--out", d / "index")
    run("index", d / "enc", "--out", d / "index16", "--impacts", "u16")
    run("search", d / "index", d / "enc", "--out", d / "run.trec", "--k", "10")
    run("search", d / "index16", d / "enc", "--out", d / "run16.trec", "--k", "10")
    run("search", d / "index", d / "enc", "--out", d / "exact.trec", "--k", "10", "--exact")
    return {
        "dir": d,
        "data": data,
        "enc": d / "enc",
        "index": d / "index",
        "index16": d / "index16",
        "run": d / "run.trec",
        "run16": d / "run16.trec",
        "exact": d / "exact.trec",
    }
