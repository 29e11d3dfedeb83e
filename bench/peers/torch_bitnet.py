"""The training-throughput peer of `npm run bench:train`: our BitNet model in PyTorch (CPU).

  python3 bench/peers/torch_bitnet.py CONFIG.json STEPS THREADS   ->  one JSON line

The same graph as src/train/model.ts (DESIGN.md): tied embedding, L x [attn_norm -> BitLinear q,k,v
(one shared int8 activation quantization) -> RoPE (rotate-half) -> causal attention -> attn_sub_norm
-> BitLinear o -> residual; ffn_norm -> gate, up -> SwiGLU or ReLU^2 -> ffn_sub_norm -> down ->
residual] -> output_norm -> head, with straight-through estimators for the absmax int8 activations and
the absmean ternary / sign binary weights, cross-entropy, AdamW, gradient clipping at 1.0. Tokens are
random ids (throughput does not depend on their values). Tokens/s is measured over the steps after
the first 3 (warm-up).
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def ste(x, q):
    return x + (q - x).detach()


def quant_act(x, kind):
    if kind == "none":
        return x
    qmax = 127.0 if kind == "int8" else 7.0
    s = qmax / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return ste(x, (x * s).round().clamp(-qmax - 1, qmax) / s)


def quant_weight(w, kind):
    if kind == "fp":
        return w
    if kind == "binary":
        beta = w.abs().mean()
        return ste(w, torch.where(w >= 0, beta, -beta))
    gamma = w.abs().mean().clamp(min=1e-5)
    return ste(w, (w / gamma).round().clamp(-1, 1) * gamma)


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


class Model(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        d, ff, L = m["d_model"], m["d_ff"], m["n_layers"]
        self.m = m
        std = m.get("init_std", 0.02)
        eps = m.get("norm_eps", 1e-5)
        kv = m.get("n_kv_heads", m["n_heads"]) * (d // m["n_heads"])
        lin = lambda o, i: torch.nn.Parameter(torch.randn(o, i) * std)
        self.emb = torch.nn.Parameter(torch.randn(m.get("vocab_size", 4096), d) * std)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            blk = torch.nn.Module()
            blk.attn_norm, blk.ffn_norm = RMSNorm(d, eps), RMSNorm(d, eps)
            blk.attn_sub = RMSNorm(d, eps) if m.get("subln", "on") == "on" else None
            blk.ffn_sub = RMSNorm(ff, eps) if m.get("subln", "on") == "on" else None
            blk.q, blk.k, blk.v, blk.o = lin(d, d), lin(kv, d), lin(kv, d), lin(d, d)
            blk.gate, blk.up, blk.down = lin(ff, d), lin(ff, d), lin(d, ff)
            self.layers.append(blk)
        self.out_norm = RMSNorm(d, eps)

    def bitlinear(self, x, w):
        return F.linear(x, quant_weight(w, self.m.get("weight_quant", "ternary")))

    def forward(self, ids):
        m = self.m
        B, T = ids.shape
        H = m["n_heads"]
        KV = m.get("n_kv_heads", H)
        hd = m["d_model"] // H
        aq = m.get("act_quant", "int8")
        inv = 1.0 / (m.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(T).float(), inv)
        cos, sin = ang.cos(), ang.sin()

        def rope(x):  # [B, heads, T, hd]
            x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
            return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

        x = self.emb[ids]
        for b in self.layers:
            h = quant_act(b.attn_norm(x), aq)
            q = self.bitlinear(h, b.q).view(B, T, H, hd).transpose(1, 2)
            k = self.bitlinear(h, b.k).view(B, T, KV, hd).transpose(1, 2)
            v = self.bitlinear(h, b.v).view(B, T, KV, hd).transpose(1, 2)
            q, k = rope(q), rope(k)
            if KV != H:
                k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
            a = (att @ v).transpose(1, 2).reshape(B, T, -1)
            if b.attn_sub is not None:
                a = b.attn_sub(a)
            x = x + self.bitlinear(quant_act(a, aq), b.o)
            h = quant_act(b.ffn_norm(x), aq)
            g, u = self.bitlinear(h, b.gate), self.bitlinear(h, b.up)
            f = F.silu(g) * u if m.get("activation", "swiglu") == "swiglu" else F.relu(g).pow(2) * u
            if b.ffn_sub is not None:
                f = b.ffn_sub(f)
            x = x + self.bitlinear(quant_act(f, aq), b.down)
        return self.out_norm(x) @ self.emb.t()


def main():
    cfg = json.load(open(sys.argv[1]))
    steps, threads = int(sys.argv[2]), int(sys.argv[3])
    # "bf16": the forward and its backward under CPU autocast (bf16 matmul inputs, fp32 master
    # weights and optimizer), the mixed precision a PyTorch user would reach for first.
    precision = sys.argv[4] if len(sys.argv) > 4 else "fp32"
    if precision not in ("fp32", "bf16"):
        sys.exit(f"torch_bitnet.py: precision must be fp32 or bf16, got {precision}")
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m, t = cfg["model"], cfg["train"]
    B, T = t.get("batch_size", 8), t.get("seq_len", 128)
    V = m.get("vocab_size", 4096)
    model = Model(m)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    warm = 3
    t0 = None
    for step in range(steps):
        if step == warm:
            t0 = time.perf_counter()
        ids = torch.randint(0, V, (B, T + 1))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    dt = time.perf_counter() - t0
    print(json.dumps({"tokens_per_s": (steps - warm) * B * T / dt, "steps": steps - warm, "threads": threads, "precision": precision,
                      "torch": torch.__version__, "params": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
