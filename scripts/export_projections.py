#!/usr/bin/env python3
"""Export a BLIP or ALBEF checkpoint's last projection layers to projections.safetensors.

The joint method (holi-lab/mm-sparse-retrieval) fine-tunes copies of the dense model's
`text_proj` and `vision_proj` (768 -> 256). mmlsr reads them from `projections.safetensors`
in the data folder, with the names the checkpoint uses:

    text_proj.weight [256, 768]   text_proj.bias [256]
    vision_proj.weight [256, 768] vision_proj.bias [256]

Usage:

    python3 scripts/export_projections.py model_base_retrieval_coco.pth \
        --out real/mscoco-blip-dense/projections.safetensors

The checkpoint is a `torch.save` file (zip format, torch >= 1.6; BLIP's and ALBEF's released
checkpoints are) holding either the state dict or a dict with it under `model` /
`state_dict` (a `module.` prefix from DataParallel is dropped). It is read without torch:
only numpy and safetensors are needed (`pip install numpy safetensors`). Pickled objects
other than tensors and plain containers are replaced by placeholders, never executed.
Tensors are written as float32; the momentum copies (`text_proj_m`, `vision_proj_m`) are
left out.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import tempfile
import zipfile

import numpy as np

WANTED = ("text_proj.weight", "text_proj.bias", "vision_proj.weight", "vision_proj.bias")

# torch storage class name -> numpy dtype (bfloat16 is widened by hand below).
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(Exception):
    """A checkpoint that cannot be exported (the message says why)."""


class StorageType:
    def __init__(self, name: str):
        self.name = name


class Placeholder:
    """Stands for any pickled object this reader does not need (optimizer classes, configs)."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return Placeholder()

    def __setstate__(self, state):
        pass


def _placeholder_class(module: str, name: str):
    return type(name, (Placeholder,), {"__module__": module})


def _rebuild_tensor(storage, offset, size, stride, *rest):
    if not isinstance(storage, np.ndarray):
        return Placeholder()
    size = tuple(int(s) for s in size)
    if len(size) == 0:
        return storage[offset : offset + 1].reshape(()).copy()
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(int(s) * item for s in stride)
    )
    return np.array(view)


def _rebuild_parameter(data, *rest):
    return data


class TorchUnpickler(pickle.Unpickler):
    """Unpickle a torch zip checkpoint's data.pkl into numpy arrays."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name in (
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
        ):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "slice"):
            return {"set": set, "frozenset": frozenset, "slice": slice}[name]
        return _placeholder_class(module, name)

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if key in self.storages:
            return self.storages[key]
        name = storage_type.name if isinstance(storage_type, StorageType) else None
        if name not in STORAGE_DTYPES:
            # A storage type this reader does not know (quantised, complex): not needed for
            # the projections; stands in as a placeholder.
            return Placeholder()
        raw = self.archive.read(f"{self.prefix}data/{key}")
        dtype = STORAGE_DTYPES[name]
        if dtype == "bfloat16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        self.storages[key] = arr
        return arr


def load_checkpoint(path: str):
    """The unpickled object of a torch zip checkpoint, tensors as numpy arrays."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path}: not a zip-format torch checkpoint (torch >= 1.6 writes that format; an "
            "older file can be re-saved with torch.save(torch.load(path), new_path))"
        )
    with zipfile.ZipFile(path) as archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkls:
            raise CheckpointError(f"{path}: no data.pkl inside; not a torch.save file")
        prefix = pkls[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise CheckpointError(f"{path}: a big-endian checkpoint; expected little-endian")
        with archive.open(pkls[0]) as f:
            return TorchUnpickler(f, archive, prefix).load()


def state_dict_of(obj, path: str) -> dict:
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "module"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict (or a dict with 'model')")
    return {
        (k[len("module.") :] if isinstance(k, str) and k.startswith("module.") else k): v
        for k, v in obj.items()
    }


def projections_of(state: dict, path: str) -> dict[str, np.ndarray]:
    missing = [k for k in WANTED if not isinstance(state.get(k), np.ndarray)]
    if missing:
        near = sorted(k for k in state if isinstance(k, str) and "proj" in k)
        raise CheckpointError(
            f"{path}: no {', '.join(missing)} in the state dict (keys with 'proj': "
            f"{', '.join(near[:20]) or 'none'})"
        )
    out = {k: np.ascontiguousarray(state[k], dtype=np.float32) for k in WANTED}
    for tower in ("text_proj", "vision_proj"):
        w, b = out[f"{tower}.weight"], out[f"{tower}.bias"]
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise CheckpointError(
                f"{path}: {tower}.weight {list(w.shape)} and {tower}.bias {list(b.shape)}: "
                "expected [out, in] and [out]"
            )
        if not np.isfinite(w).all() or not np.isfinite(b).all():
            raise CheckpointError(f"{path}: {tower} has a value that is not finite")
    if out["text_proj.weight"].shape[0] != out["vision_proj.weight"].shape[0]:
        raise CheckpointError(
            f"{path}: text_proj maps to {out['text_proj.weight'].shape[0]} dimensions, "
            f"vision_proj to {out['vision_proj.weight'].shape[0]}; expected the same"
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a BLIP/ALBEF .pth (torch.save zip format)")
    ap.add_argument("--out", required=True, help="where to write projections.safetensors")
    args = ap.parse_args(argv)
    try:
        from safetensors.numpy import save_file
    except ImportError:
        print("error: needs the safetensors package: pip install safetensors", file=sys.stderr)
        return 2
    try:
        tensors = projections_of(
            state_dict_of(load_checkpoint(args.checkpoint), args.checkpoint), args.checkpoint
        )
    except (CheckpointError, OSError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".projections.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    w = tensors["text_proj.weight"]
    print(f"{args.out}: text_proj and vision_proj, {w.shape[1]} -> {w.shape[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
