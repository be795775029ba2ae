#!/usr/bin/python3
"""PyTorch eager SFT step for tools/bench_sft: the same Llama/Qwen2 model, loss and AdamW as rlvr.

Builds the decoder from a config.json (as transformers' modeling_llama.py eager attention does:
RMSNorm, rotary embeddings, grouped-query causal attention, SwiGLU), then times full training
steps (forward, masked cross-entropy sum / targets, backward, clip, AdamW) on random tokens.
Prints one JSON line: {"tokens_per_second": ..., "step_seconds": ...}. --dtype bfloat16 runs the
forward and the loss under torch.autocast("cpu", dtype=torch.bfloat16), float32 master weights and
AdamW, as a Python user turns on mixed precision.

    /usr/bin/python3 tools/bench_sft.py --config configs/bench/tiny.json \
        --batch 4 --seq 256 --steps 5 --warmup 2 --threads 2 [--dtype bfloat16]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, nh, nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.nh, self.nkv, self.d = nh, nkv, c.get("head_dim", h // nh)
        qkv_bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
        self.q_proj = nn.Linear(h, nh * self.d, bias=qkv_bias)
        self.k_proj = nn.Linear(h, nkv * self.d, bias=qkv_bias)
        self.v_proj = nn.Linear(h, nkv * self.d, bias=qkv_bias)
        self.o_proj = nn.Linear(nh * self.d, h, bias=False)
        i = c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)
        self.ln1 = RMSNorm(h, c["rms_norm_eps"])
        self.ln2 = RMSNorm(h, c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.ln1(x)
        q = self.q_proj(a).view(B, T, self.nh, self.d).transpose(1, 2)
        k = self.k_proj(a).view(B, T, self.nkv, self.d).transpose(1, 2)
        v = self.v_proj(a).view(B, T, self.nkv, self.d).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(self.d) + mask, -1, dtype=torch.float32).to(q.dtype)
        x = x + self.o_proj((s @ v).transpose(1, 2).reshape(B, T, -1))
        m = self.ln2(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = None if c.get("tie_word_embeddings") else nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=c.get("initializer_range", 0.02))

    def forward(self, tokens):
        T = tokens.shape[1]
        d = self.layers[0].d
        inv = 1.0 / (self.c["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
        ang = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat((ang, ang), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)[None, None]
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        return x @ self.embed.weight.T if self.lm_head is None else self.lm_head(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    a = ap.parse_args()
    autocast = a.dtype == "bfloat16"
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.config) as f:
        c = json.load(f)
    model = CausalLM(c)
    decay = [p for n, p in model.named_parameters() if "norm" not in n and "ln" not in n and "bias" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n or "ln" in n or "bias" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4)
    tokens = torch.randint(0, c["vocab_size"], (a.batch, a.seq))
    labels = torch.cat([tokens[:, 1:], torch.full((a.batch, 1), -100)], 1)
    targets = int((labels != -100).sum())

    phases = [0.0, 0.0, 0.0]

    def step():
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(tokens)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                   ignore_index=-100, reduction="sum") / targets
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        phases[0] += t1 - t0
        phases[1] += t2 - t1
        phases[2] += t3 - t2
        return loss.item()

    for _ in range(a.warmup):
        step()
    phases[:] = [0.0, 0.0, 0.0]
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"tokens_per_second": a.batch * a.seq / dt, "step_seconds": dt,
                      "forward_seconds": phases[0] / a.steps, "backward_seconds": phases[1] / a.steps,
                      "optimizer_seconds": phases[2] / a.steps,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "dtype": a.dtype}))


if __name__ == "__main__":
    main()
