#!/usr/bin/env python3
"""Write a small fake BLIP-style checkpoint for the export_projections.py test (needs torch).

    python3 scripts/make_fake_checkpoint.py crates/mmlsr-experiments/tests/data/fake_blip_checkpoint.pth

Layout as BLIP's released .pth files: {"model": state dict, "optimizer": ..., "config": ...,
"epoch": ...}. The projections are 6 -> 4 with values the test recomputes:
  text_proj.weight[i][j]   = (4 j + i) / 10   (saved as a transposed, non-contiguous view)
  text_proj.bias           = [3, 4, 5, 6]     (a slice at storage offset 3)
  vision_proj.weight[i][j] = -(6 i + j) / 4   (bfloat16)
  vision_proj.bias         = [1, 2, 3, 4]     (float16 nn.Parameter)
plus momentum copies and other weights that must be left out.
"""

import argparse
import collections
import sys

import torch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    args = ap.parse_args()
    model = collections.OrderedDict()
    model["visual_encoder.cls_token"] = torch.full((1, 1, 8), 0.5)
    model["text_proj.weight"] = torch.arange(24, dtype=torch.float32).reshape(6, 4).t() / 10
    model["text_proj.bias"] = torch.arange(10, dtype=torch.float32)[3:7]
    model["vision_proj.weight"] = (-torch.arange(24, dtype=torch.float32).reshape(4, 6) / 4).to(
        torch.bfloat16
    )
    model["vision_proj.bias"] = torch.nn.Parameter(
        torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float16)
    )
    model["text_proj_m.weight"] = torch.zeros(4, 6)
    model["vision_proj_m.weight"] = torch.zeros(4, 6)
    model["temp"] = torch.tensor(0.07)
    ckpt = {
        "model": model,
        "optimizer": {"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-5}]},
        "config": {"image_size": 384, "vit": "base"},
        "epoch": 5,
    }
    torch.save(ckpt, args.out)
    print(f"{args.out}: torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
