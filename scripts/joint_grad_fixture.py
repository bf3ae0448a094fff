#!/usr/bin/env python3
"""Regenerate crates/mmlsr-model/tests/data/joint_grad.json: the joint sparse–dense loss
(Song et al., CIKM 2025) and its gradients with respect to every trainable parameter and τ,
recomputed independently in PyTorch float64 (autograd), for the Rust gradient check
(`cargo test -p mmlsr-model -- joint_gradient`).

Model (holi-lab/mm-sparse-retrieval, `finetune_from_proj`, weight tying):
    e(x)    = normalize(W_p x + b_p)                      (text_proj / vision_proj)
    s(e)    = log1p(relu(W_V · LayerNorm(W_1 e + b_1)))   (LayerNorm eps 1e-5, W_V no bias)
Scores, images × captions:
    S_d = e_I e_Cᵀ / τ,  S_s = s_I s_Cᵀ,  S_int = w1 S_d + w2 S_s
    NCE(S) = (CE(S, diag) + CE(Sᵀ, diag)) / 2
    L  = λ1 NCE(S_d) + λ2 NCE(S_s) + NCE(S_int)
    P  = softmax(S_int) by rows; Q = P ("untransposed", released) or softmax(S_intᵀ)
    KD(S, T) = −mean_rows Σ T log_softmax(S)
    L' = λ1 (KD(S_d, P) + KD(S_dᵀ, Q))/2 + λ2 (KD(S_s, P) + KD(S_sᵀ, Q))/2   (0 without SD)
    R_C = q_w mean_b Σ|s_C|,  R_I = d_w mean_b Σ|s_I|
    released: total = (L/2 + L'/2)/2 + (R_C + R_I)/2;  paper: total = L + L' + R_C + R_I
P and Q are detached when the case says so.

Usage: python3 scripts/joint_grad_fixture.py [OUT.json]   (needs torch; any recent version)
"""
import json
import sys

import torch

torch.manual_seed(11)
DT = torch.float64
F = torch.nn.functional


def case(name, b, d_feat, d, h, v, tau, w1, w2, lam1, lam2, q_w, d_w,
         self_distillation, detach_teacher, teacher, form):
    x_t = torch.randn(b, d_feat, dtype=DT)
    x_i = x_t @ (torch.eye(d_feat, dtype=DT) + 0.3 * torch.randn(d_feat, d_feat, dtype=DT))
    params = {
        "text_proj.weight": torch.randn(d, d_feat, dtype=DT) * 0.5,
        "text_proj.bias": torch.randn(d, dtype=DT) * 0.1,
        "vision_proj.weight": torch.randn(d, d_feat, dtype=DT) * 0.5,
        "vision_proj.bias": torch.randn(d, dtype=DT) * 0.1,
        "proj.weight": torch.randn(h, d, dtype=DT) * 0.5,
        "proj.bias": torch.randn(h, dtype=DT) * 0.1,
        "vocab_layer_norm.weight": 1.0 + 0.1 * torch.randn(h, dtype=DT),
        "vocab_layer_norm.bias": 0.1 * torch.randn(h, dtype=DT),
        "vocab_projector.weight": torch.randn(v, h, dtype=DT) * 0.7,
        "tau": torch.tensor([tau], dtype=DT),
    }
    # Round to float32 so that Rust (f32) and this script start from identical values.
    params = {k: p.float().double().requires_grad_(True) for k, p in params.items()}
    x_t = x_t.float().double()
    x_i = x_i.float().double()

    def encode(x, side):
        e = F.normalize(x @ params[f"{side}.weight"].T + params[f"{side}.bias"], dim=-1)
        z = e @ params["proj.weight"].T + params["proj.bias"]
        z = F.layer_norm(z, (h,), params["vocab_layer_norm.weight"],
                         params["vocab_layer_norm.bias"], eps=1e-5)
        pre = z @ params["vocab_projector.weight"].T
        return e, torch.log1p(torch.relu(pre)), pre

    e_t, s_t, pre_t = encode(x_t, "text_proj")
    e_i, s_i, pre_i = encode(x_i, "vision_proj")
    min_abs_pre = float(torch.cat([pre_t.abs().flatten(), pre_i.abs().flatten()]).min().detach())

    s_d = (e_i @ e_t.T) / params["tau"]
    s_s = s_i @ s_t.T
    s_int = w1 * s_d + w2 * s_s
    diag = torch.arange(b)

    def nce(s):
        return (F.cross_entropy(s, diag) + F.cross_entropy(s.T, diag)) / 2

    big_l = lam1 * nce(s_d) + lam2 * nce(s_s) + nce(s_int)

    def kd(s, t):
        return -(t * torch.log_softmax(s, dim=1)).sum(dim=1).mean()

    if self_distillation:
        p = torch.softmax(s_int, dim=1)
        q = p if teacher == "untransposed" else torch.softmax(s_int.T, dim=1)
        if detach_teacher:
            p, q = p.detach(), q.detach()
        l_prime = lam1 * (kd(s_d, p) + kd(s_d.T, q)) / 2 + lam2 * (kd(s_s, p) + kd(s_s.T, q)) / 2
    else:
        l_prime = torch.zeros((), dtype=DT)
    r_t = q_w * s_t.abs().sum(dim=1).mean()
    r_i = d_w * s_i.abs().sum(dim=1).mean()
    if form == "released":
        parts = {"contrastive": big_l / 4, "distill": l_prime / 4,
                 "reg_text": r_t / 2, "reg_image": r_i / 2}
    else:
        parts = {"contrastive": big_l, "distill": l_prime, "reg_text": r_t, "reg_image": r_i}
    total = sum(parts.values())
    total.backward()
    flat = lambda t: [float(x) for x in t.detach().flatten()]
    return {
        "name": name,
        "batch": b, "d_feature": d_feat, "d_embed": d, "d_hidden": h, "vocab": v,
        "w1": w1, "w2": w2, "lambda1": lam1, "lambda2": lam2, "q_weight": q_w, "d_weight": d_w,
        "self_distillation": self_distillation, "detach_teacher": detach_teacher,
        "t2i_teacher": teacher, "form": form,
        "text_features": flat(x_t), "image_features": flat(x_i),
        "params": {k: {"shape": list(p.shape), "data": flat(p)} for k, p in params.items()},
        "loss": {"total": float(total.detach()), **{k: float(x.detach()) for k, x in parts.items()}},
        "grads": {k: flat(p.grad) for k, p in params.items()},
        "min_abs_preactivation": min_abs_pre,
    }


cases = [
    # The released blip-coco weights, released switches.
    case("released_blip_coco", 6, 7, 4, 5, 9, 0.07, 0.1, 0.1, 0.9, 0.3, 5e-4, 3e-5,
         True, False, "untransposed", "released"),
    case("detached_teacher", 5, 6, 4, 5, 8, 0.2, 0.2, 0.5, 0.9, 0.3, 1e-2, 3e-2,
         True, True, "untransposed", "released"),
    case("transposed_teacher", 6, 6, 3, 4, 7, 0.1, 0.3, 0.4, 0.7, 0.7, 1e-3, 1e-3,
         True, False, "transposed", "released"),
    case("paper_form_detached_transposed", 4, 5, 3, 6, 10, 0.05, 0.1, 0.2, 0.3, 0.3, 1e-2,
         2e-2, True, True, "transposed", "paper"),
    case("no_self_distillation", 5, 6, 4, 5, 8, 0.07, 0.1, 0.1, 0.9, 0.3, 5e-3, 3e-3,
         False, False, "untransposed", "released"),
]
out = sys.argv[1] if len(sys.argv) > 1 else "crates/mmlsr-model/tests/data/joint_grad.json"
with open(out, "w") as f:
    json.dump({"generator": "scripts/joint_grad_fixture.py", "torch": torch.__version__,
               "cases": cases}, f, indent=1)
print(f"wrote {out}: " + ", ".join(f"{c['name']} loss {c['loss']['total']:.6f}" for c in cases))
