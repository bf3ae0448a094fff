"""The data store into numpy, and bad input: a Python exception with the Rust message."""

import numpy as np
import pytest

import mmlsr
from mmlsr import metrics, store


def test_read_folder(tiny):
    f = store.read_folder(tiny["data"])
    assert f["images"].dtype == np.float32 and f["images"].shape == (len(f["image_ids"]), 256)
    assert f["texts"].shape == (len(f["text_ids"]), 256)
    test = f["splits"]["test"]
    assert len(test["caption_rows"]) == 5 * len(test["image_rows"])
    # qrels: each test caption judges its own image.
    q = f["qrels"]["test"]
    for c, i in zip(test["caption_rows"][:50], test["caption_image"][:50]):
        assert q[f["text_ids"][c]] == {f["image_ids"][test["image_rows"][i]]: 1}
    before = store.read_folder(tiny["data"], before_proj=True)
    assert before["images"].shape[1] == 768


def test_bad_input_raises_with_the_rust_message(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"indices\[1\] = 9: expected a term id in 0\.\.5"):
        mmlsr.Index.build([0, 2], [0, 9], [1.0, 1.0], vocab_size=5)
    with pytest.raises(ValueError, match="indptr"):
        mmlsr.Index.build([0, 3], [0, 1], [1.0, 1.0], vocab_size=5)
    with pytest.raises(ValueError, match="impacts \"u4\""):
        mmlsr.Index.build([0, 1], [0], [1.0], vocab_size=5, impacts="u4")
    index = mmlsr.Index.load(tiny["index"])
    with pytest.raises(ValueError, match="algorithm \"fast\""):
        index.search([1], [1.0], algorithm="fast")
    with pytest.raises(ValueError, match="mode \"all\""):
        index.search_mode([1], [1.0], [1], mode="all")
    with pytest.raises(ValueError, match="2 indices but 1 values"):
        index.search([1, 2], [1.0])
    # A damaged index file names itself.
    (tmp_path / "bad").mkdir()
    data = (tiny["index"] / "index.mmlsr").read_bytes()
    (tmp_path / "bad" / "index.mmlsr").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="index.mmlsr"):
        mmlsr.Index.load(tmp_path / "bad")
    with pytest.raises(OSError, match="No such file"):
        mmlsr.Index.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="Measure|measure"):
        metrics.evaluate({"q": {"d": 1.0}}, {"q": {"d": 1}}, ["R@zero"])
    with pytest.raises(OSError):
        store.read_folder(tmp_path / "nowhere")
    (tmp_path / "not.parquet").write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="not.parquet"):
        store.read_sparse(tmp_path / "not.parquet")
