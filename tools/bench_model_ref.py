#!/usr/bin/python3
"""Python PyTorch eager reference for tools/bench_model.cpp: the same Llama/Qwen2 model written
the way transformers 4.40 writes it in eager mode (nn.Linear modules, repeat_kv, rotary cos/sin
computed per forward, a KV cache grown with torch.cat), timed on the same workloads:

  training:   forward + backward + AdamW step on batch 4 x 128 random tokens
  generation: batch 4, 32 random prompt tokens, 64 new tokens, greedy, prefill included

Prints one JSON object: {"train_tokens_per_s": ..., "generate_tokens_per_s": ...}.
    /usr/bin/python3 tools/bench_model_ref.py --config configs/bench/small.json
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
        self.d = c.get("head_dim") or c["hidden_size"] // self.nh
        qwen = c["model_type"] == "qwen2"
        bias = qwen or c.get("attention_bias", False)
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.nh * self.d, bias=bias)
        self.k_proj = nn.Linear(h, self.nkv * self.d, bias=bias)
        self.v_proj = nn.Linear(h, self.nkv * self.d, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.d, h, bias=(not qwen) and c.get("attention_bias", False))

    def forward(self, x, cos, sin, mask, cache=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            cache[0], cache[1] = k, v
        g = self.nh // self.nkv
        k = k[:, :, None].expand(b, self.nkv, g, k.shape[2], self.d).reshape(b, self.nh, k.shape[2], self.d)
        v = v[:, :, None].expand(b, self.nkv, g, v.shape[2], self.d).reshape(b, self.nh, v.shape[2], self.d)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.d)
        if mask is not None:
            att = att + mask
        att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(att, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(o)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = Mlp(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.tied = c.get("tie_word_embeddings", False)
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        d = self.layers[0].self_attn.d
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        for p in self.parameters():
            nn.init.normal_(p, std=c.get("initializer_range", 0.02))

    def forward(self, tokens, positions, caches=None):
        b, t = tokens.shape
        x = self.embed_tokens(tokens)
        freqs = (self.inv_freq[None, :, None].expand(b, -1, 1) @ positions[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        past = 0 if caches is None or caches[0][0] is None else caches[0][0].shape[2]
        mask = None
        if t > 1:
            mask = torch.full((t, past + t), torch.finfo(x.dtype).min).triu(past + 1)[None, None]
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, caches[i] if caches is not None else None)
        x = self.norm(x)
        return F.linear(x, self.embed_tokens.weight if self.tied else self.lm_head.weight)


def timed(fn, min_runs, min_seconds):
    fn()  # warm-up
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < min_seconds:
        fn()
        runs += 1
    return (time.perf_counter() - start) / runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--generate-runs", type=int, default=3)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with open(args.config) as f:
        c = json.load(f)
    torch.manual_seed(0)
    model = CausalLM(c)
    v = c["vocab_size"]

    tokens = torch.randint(v, (4, 128))
    positions = torch.arange(128)[None].expand(4, 128)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step():
        logits = model(tokens, positions)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, v), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    train_s = timed(train_step, args.train_steps, 0)

    prompt = torch.randint(v, (4, 32))

    @torch.no_grad()
    def generate():
        caches = [[None, None] for _ in model.layers]
        logits = model(prompt, torch.arange(32)[None].expand(4, 32), caches)
        nxt = logits[:, -1].argmax(-1)
        for step in range(63):
            pos = torch.full((4, 1), 32 + step)
            logits = model(nxt[:, None], pos, caches)
            nxt = logits[:, -1].argmax(-1)

    model.eval()
    gen_s = timed(generate, args.generate_runs, 0)
    print(json.dumps({"train_tokens_per_s": 4 * 128 / train_s, "generate_tokens_per_s": 4 * 64 / gen_s,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
