#!/usr/bin/env python3
"""Regenerate crates/mmlsr-model/tests/data/d2s_grad.json: the D2S loss and its gradients on
tiny batches, recomputed independently in PyTorch float64 (autograd), for the Rust gradient
check (`cargo test -p mmlsr-model -- gradient`).

The computation follows the released code (thongnt99/lsr-multimodal, model.py and loss.py):
    s(z)    = log1p(relu(W_V · LayerNorm(W_1 z + b_1) + b_V))      (LayerNorm eps 1e-12)
    s_text  = s(z_text) * mask                                       (expansion mask, 0/1)
    teacher = softmax(z_img z_textᵀ / τ) by rows, and its transpose's softmax, no gradient
    distill = (CE(s_img s_textᵀ, teacher_i2t) + CE(s_text s_imgᵀ, teacher_t2i)) / 2
    reg     = q_w · mean_b Σ_v |s_text| ,  d_w · mean_b Σ_v |s_img|   (or FLOPs: Σ_v mean_b|s|²)
    total   = distill + (reg_text + reg_image) / 2

Usage: python3 scripts/d2s_grad_fixture.py [OUT.json]   (needs torch; any recent version)
"""
import json
import sys

import torch

torch.manual_seed(7)
DT = torch.float64


def case(name, b, d, h, v, tau, q_w, d_w, regulariser, masked_rows):
    z_t = torch.nn.functional.normalize(torch.randn(b, d, dtype=DT), dim=1)
    z_i = torch.nn.functional.normalize(z_t + 0.5 * torch.randn(b, d, dtype=DT), dim=1)
    params = {
        "proj.weight": torch.randn(h, d, dtype=DT) * 0.5,
        "proj.bias": torch.randn(h, dtype=DT) * 0.1,
        "vocab_layer_norm.weight": 1.0 + 0.1 * torch.randn(h, dtype=DT),
        "vocab_layer_norm.bias": 0.1 * torch.randn(h, dtype=DT),
        "vocab_projector.weight": torch.randn(v, h, dtype=DT) * 0.7,
        "vocab_projector.bias": 0.2 + 0.1 * torch.randn(v, dtype=DT),
    }
    # Round to float32 so that Rust (f32) and this script start from identical values.
    params = {k: x.float().double().requires_grad_(True) for k, x in params.items()}
    z_t = z_t.float().double()
    z_i = z_i.float().double()
    mask = torch.ones(b, v, dtype=DT)
    for r in masked_rows:
        keep = torch.randperm(v)[: max(1, v // 3)]
        mask[r] = 0.0
        mask[r, keep] = 1.0

    def head(z):
        x = z @ params["proj.weight"].T + params["proj.bias"]
        x = torch.nn.functional.layer_norm(
            x, (h,), params["vocab_layer_norm.weight"], params["vocab_layer_norm.bias"], eps=1e-12
        )
        pre = x @ params["vocab_projector.weight"].T + params["vocab_projector.bias"]
        return torch.log1p(torch.relu(pre)), pre

    s_t, pre_t = head(z_t)
    s_t = s_t * mask
    s_i, pre_i = head(z_i)
    min_abs_pre = float(torch.cat([pre_t.abs().flatten(), pre_i.abs().flatten()]).min().detach())
    with torch.no_grad():
        dense = z_i @ z_t.T
        p_i2t = torch.softmax(dense / tau, dim=1)
        p_t2i = torch.softmax(dense.T / tau, dim=1)
    sparse = s_i @ s_t.T

    def ce(scores, target):
        return -(target * torch.log_softmax(scores, dim=1)).sum(dim=1).mean()

    distill = (ce(sparse, p_i2t) + ce(sparse.T, p_t2i)) / 2

    def reg(x):
        if regulariser == "l1":
            return x.abs().sum(dim=1).mean()
        return (x.abs().mean(dim=0) ** 2).sum()

    reg_t = q_w * reg(s_t)
    reg_i = d_w * reg(s_i)
    total = distill + (reg_t + reg_i) / 2
    total.backward()
    flat = lambda t: [float(x) for x in t.detach().flatten()]
    return {
        "name": name,
        "batch": b, "d_input": d, "d_hidden": h, "vocab": v,
        "temperature": tau, "q_weight": q_w, "d_weight": d_w, "regulariser": regulariser,
        "dense_text": flat(z_t), "dense_image": flat(z_i), "mask": flat(mask),
        "params": {k: {"shape": list(p.shape), "data": flat(p)} for k, p in params.items()},
        "loss": {"total": float(total), "distill": float(distill),
                 "reg_text": float(reg_t), "reg_image": float(reg_i)},
        "grads": {k: flat(p.grad) for k, p in params.items()},
        "min_abs_preactivation": min_abs_pre,
    }


cases = [
    case("l1_tau0.5_masked", 6, 5, 4, 9, 0.5, 0.3, 0.1, "l1", [1, 4]),
    case("l1_tau1e-3_released", 8, 6, 5, 11, 1e-3, 1e-3, 1e-3, "l1", [0, 2, 3]),
    case("flops_tau0.2_unmasked", 5, 4, 6, 7, 0.2, 0.5, 0.2, "flops", []),
]
out = sys.argv[1] if len(sys.argv) > 1 else "crates/mmlsr-model/tests/data/d2s_grad.json"
with open(out, "w") as f:
    json.dump({"generator": "scripts/d2s_grad_fixture.py", "torch": torch.__version__,
               "cases": cases}, f, indent=1)
print(f"wrote {out}: " + ", ".join(f"{c['name']} loss {c['loss']['total']:.6f}" for c in cases))
