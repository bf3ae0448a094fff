#!/usr/bin/env python3
"""Wrap projections.safetensors in a BLIP-style .pth for the real-data rehearsal.

    python3 scripts/rehearsal_checkpoint.py projections.safetensors model_base_retrieval.pth

Writes torch.save's zip format (archive/data.pkl + archive/data/<key> + version + byteorder)
without torch, so that the rehearsal (scripts/rehearse_real_data.sh) runs
scripts/export_projections.py on a checkpoint as a user would, on machines without torch:
{"model": OrderedDict(text_proj.*, vision_proj.*, their momentum copies, another weight),
"config": {...}, "epoch": 0}. torch.load reads it (checked by hand with torch 2.15); the
torch-written fixture of crates/mmlsr-experiments/tests/scripts.rs covers torch's own writer.
"""

import collections
import io
import pickle
import sys
import types
import zipfile

import numpy as np
from safetensors.numpy import load_file


def _fake_torch():
    """Module objects named like torch's, so that pickle records torch's global names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called here: only its name is pickled
        raise NotImplementedError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    float_storage = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = float_storage
    torch._utils = utils
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("torch._utils", utils)
    return sys.modules["torch"], sys.modules["torch._utils"]


class Storage:
    def __init__(self, key: str, array: np.ndarray):
        self.key = key
        self.array = np.ascontiguousarray(array, dtype="<f4")


class Tensor:
    def __init__(self, storage: Storage, shape):
        self.storage = storage
        self.shape = tuple(shape)

    def __reduce__(self):
        _, utils = _fake_torch()
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (
            utils._rebuild_tensor_v2,
            (self.storage, 0, self.shape, tuple(stride), False, collections.OrderedDict()),
        )


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            torch, _ = _fake_torch()
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.array.size)
        return None


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    tensors = load_file(src)
    storages, model = [], collections.OrderedDict()

    def add(name, array):
        s = Storage(str(len(storages)), array)
        storages.append(s)
        model[name] = Tensor(s, array.shape)

    add("visual_encoder.pos_embed", np.full((1, 4, 8), 0.5, dtype=np.float32))
    for name in ("text_proj.weight", "text_proj.bias", "vision_proj.weight", "vision_proj.bias"):
        add(name, tensors[name])
        momentum = name.replace("_proj.", "_proj_m.")
        add(momentum, np.zeros_like(tensors[name]))
    ckpt = {"model": model, "config": {"image_size": 384, "vit": "base"}, "epoch": 0}
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(ckpt)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for s in storages:
            z.writestr(f"archive/data/{s.key}", s.array.tobytes())
        z.writestr("archive/version", "3\n")
    print(f"{out}: {len(model)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
