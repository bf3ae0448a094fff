#!/usr/bin/env python3
"""Time one D2S training step in PyTorch, the same computation as the criterion bench
`benches/benches/train_step.rs`: batch 512, 256-d inputs, 768 hidden, |V| outputs
(571 and 30,522); head Linear → LayerNorm → Linear → relu → log1p on both towers, dense
teacher softmax(z_I z_Cᵀ / 1e-3), soft cross-entropy both ways, L1 with weight 1e-3, backward,
two AdamW groups (1e-3 for the first projection, 5e-5 for the rest, eps 1e-8, no decay).

Usage: python3 scripts/bench_d2s_step.py [--threads N] [--steps N] [--flush-denormal] [--json]
                                         [--device cpu|cuda]
Prints milliseconds per step (median of the timed steps) and steps per second; with --json,
one JSON object per measurement instead. --flush-denormal calls
torch.set_flush_denormal(True), as mmlsr's trainer flushes subnormals (FlushDenormals).
A benchmark, not a test: it needs `pip install torch`.
"""
import torch

from bench_common import setup, time_and_report

args = setup()
B, D, H = 512, 256, 768
torch.manual_seed(1)
zt = torch.nn.functional.normalize(torch.rand(B, D) * 2 - 1, dim=1)
zi = torch.nn.functional.normalize(torch.rand(B, D) * 2 - 1, dim=1)
for V in (571, 30522):
    proj = torch.nn.Linear(D, H)
    norm = torch.nn.LayerNorm(H, eps=1e-12)
    vocab = torch.nn.Linear(H, V)
    opt1 = torch.optim.AdamW(list(norm.parameters()) + list(vocab.parameters()), lr=5e-5,
                             eps=1e-8, weight_decay=0.0)
    opt2 = torch.optim.AdamW(proj.parameters(), lr=1e-3, eps=1e-8, weight_decay=0.0)

    def head(z):
        return torch.log1p(torch.relu(vocab(norm(proj(z)))))

    def forward_backward():
        st, si = head(zt), head(zi)
        with torch.no_grad():
            dense = zi @ zt.T
            p_i2t = torch.softmax(dense / 1e-3, dim=1)
            p_t2i = torch.softmax(dense.T / 1e-3, dim=1)
        sparse = si @ st.T
        ce = lambda s, t: -(t * torch.log_softmax(s, dim=1)).sum(1).mean()
        loss = (ce(sparse, p_i2t) + ce(sparse.T, p_t2i)) / 2
        reg = (1e-3 * st.abs().sum(1).mean() + 1e-3 * si.abs().sum(1).mean()) / 2
        (loss + reg).backward()
        return loss

    def step():
        opt1.zero_grad()
        opt2.zero_grad()
        loss = forward_backward()
        opt1.step()
        opt2.step()
        return float(loss.detach())

    for name, fn in ((f"batch512_V{V}", step), (f"batch512_V{V}_forward_backward", forward_backward)):
        time_and_report(args, name, fn)
