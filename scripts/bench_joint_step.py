#!/usr/bin/env python3
"""Time one joint sparse–dense training step (Song et al., CIKM 2025; the released
holi-lab/mm-sparse-retrieval `finetune_from_proj`) in PyTorch, the same computation as the
`joint_batch256_V…` rows of the criterion bench `benches/benches/train_step.rs`: batch 256,
768-d pre-projection features through text_proj / vision_proj (Linear 768→256, L2-normalised),
the shared head Linear 256→768 → LayerNorm (eps 1e-5) → Linear 768→|V| (no bias) → relu →
log1p, |V| = 571 and 30,522; scores S_d = e_I e_Cᵀ/τ, S_s = s_I s_Cᵀ, S_int = w1 S_d + w2 S_s;
InfoNCE on all three, self-distillation towards softmax(S_int) (not detached, untransposed),
L1 on both sides, the released form (L/2 + L'/2)/2 + (R_C + R_I)/2 with the blip-coco values;
backward, clip_grad_norm_(1.0), one AdamW group (lr 5e-5, weight decay 0.05, eps 1e-8) over
every parameter and τ, τ clamped to [0.001, 0.5].

Usage: python3 scripts/bench_joint_step.py [--threads N] [--steps N] [--flush-denormal] [--json]
                                           [--device cpu|cuda]
Prints milliseconds per step (median of the timed steps); with --json, one JSON object per
measurement. A benchmark, not a test: it needs `pip install torch`.
"""
import torch

from bench_common import setup, time_and_report

args = setup()
B, F_IN, D, H = 256, 768, 256, 768
W1, W2, LAM1, LAM2, Q_REG, D_REG = 0.1, 0.1, 0.9, 0.3, 5e-4, 3e-5  # released blip-coco
F = torch.nn.functional
torch.manual_seed(1)
x_t = torch.rand(B, F_IN) * 2 - 1
x_i = torch.rand(B, F_IN) * 2 - 1
for V in (571, 30522):
    text_proj, vision_proj = torch.nn.Linear(F_IN, D), torch.nn.Linear(F_IN, D)
    head = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.LayerNorm(H, eps=1e-5),
                               torch.nn.Linear(H, V, bias=False))
    tau = torch.nn.Parameter(torch.tensor(0.07))
    params = [*text_proj.parameters(), *vision_proj.parameters(), *head.parameters(), tau]
    opt = torch.optim.AdamW(params, lr=5e-5, eps=1e-8, weight_decay=0.05)
    diag = torch.arange(B)

    def encode(proj, x):
        e = F.normalize(proj(x), dim=-1)
        return e, torch.log1p(torch.relu(head(e)))

    def nce(s):
        return (F.cross_entropy(s, diag) + F.cross_entropy(s.T, diag)) / 2

    def kd(s, t):
        return -(t * torch.log_softmax(s, dim=1)).sum(dim=1).mean()

    def forward_backward():
        e_t, s_t = encode(text_proj, x_t)
        e_i, s_i = encode(vision_proj, x_i)
        s_d = (e_i @ e_t.T) / tau
        s_s = s_i @ s_t.T
        s_int = W1 * s_d + W2 * s_s
        big_l = LAM1 * nce(s_d) + LAM2 * nce(s_s) + nce(s_int)
        p_ = torch.softmax(s_int, dim=1)
        l_prime = LAM1 * (kd(s_d, p_) + kd(s_d.T, p_)) / 2 + LAM2 * (kd(s_s, p_) + kd(s_s.T, p_)) / 2
        reg = (Q_REG * s_t.abs().sum(1).mean() + D_REG * s_i.abs().sum(1).mean()) / 2
        total = (big_l / 2 + l_prime / 2) / 2 + reg
        total.backward()
        return total

    def step():
        opt.zero_grad()
        total = forward_backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            tau.clamp_(0.001, 0.5)
        return float(total.detach())

    time_and_report(args, f"joint_batch256_V{V}", step)
