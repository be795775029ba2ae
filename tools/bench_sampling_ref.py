#!/usr/bin/python3
"""Baseline for tools/bench_sampling.cpp: a Python PyTorch eager sampling loop with a KV cache.

A plain re-implementation of the Llama/Qwen2 decoder as transformers' eager code runs it
(RMSNorm, rotary embeddings, repeat_kv grouped-query attention, SwiGLU, KV cache grown with
torch.cat as transformers' DynamicCache does), greedy decoding of `--new` tokens after
`--prompt-len` random prompt tokens per row; one warm-up run, then the fastest of `--repeats`. Loads the same safetensors checkpoint. Prints one
JSON line per batch size. Run with Debian's /usr/bin/python3 (python3-torch 1.13).
"""
import argparse
import json
import math
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        s, e = meta["data_offsets"]
        t = torch.frombuffer(bytearray(data[s:e]), dtype=DTYPES[meta["dtype"]]) if e > s else torch.empty(0)
        out[name] = t.reshape(meta["shape"]).float()
    return out


class EagerLM:
    def __init__(self, model_dir):
        self.cfg = json.load(open(model_dir + "/config.json"))
        self.w = load_safetensors(model_dir + "/model.safetensors")
        c = self.cfg
        self.L = c["num_hidden_layers"]
        self.H = c["num_attention_heads"]
        self.KV = c.get("num_key_value_heads", self.H)
        self.D = c.get("head_dim", c["hidden_size"] // self.H)
        self.eps = c["rms_norm_eps"]
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.D, 2).float() / self.D))
        t = torch.arange(c["max_position_embeddings"]).float()
        freqs = torch.outer(t, inv)
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.lm_head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def p(self, i, name):
        return self.w.get("model.layers.%d.%s" % (i, name))

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    @staticmethod
    def rot(x):
        h = x.shape[-1] // 2
        return torch.cat([-x[..., h:], x[..., :h]], -1)

    def linear(self, x, i, name):
        b = self.p(i, name + ".bias")
        return torch.nn.functional.linear(x, self.p(i, name + ".weight"), b)

    def forward(self, ids, cache, start):
        B, T = ids.shape
        x = self.w["model.embed_tokens.weight"][ids]
        cos = self.cos[start:start + T][None, None]
        sin = self.sin[start:start + T][None, None]
        mask = None
        if T > 1:
            mask = torch.full((T, start + T), float("-inf")).triu(start + 1)
        for i in range(self.L):
            h = self.rms(x, self.p(i, "input_layernorm.weight"))
            q = self.linear(h, i, "self_attn.q_proj").view(B, T, self.H, self.D).transpose(1, 2)
            k = self.linear(h, i, "self_attn.k_proj").view(B, T, self.KV, self.D).transpose(1, 2)
            v = self.linear(h, i, "self_attn.v_proj").view(B, T, self.KV, self.D).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], 2)
                v = torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
            g = self.H // self.KV
            kr = k.repeat_interleave(g, 1) if g > 1 else k
            vr = v.repeat_interleave(g, 1) if g > 1 else v
            s = q @ kr.transpose(-1, -2) / math.sqrt(self.D)
            if mask is not None:
                s = s + mask
            o = (s.softmax(-1) @ vr).transpose(1, 2).reshape(B, T, self.H * self.D)
            x = x + self.linear(o, i, "self_attn.o_proj")
            h = self.rms(x, self.p(i, "post_attention_layernorm.weight"))
            gate = self.linear(h, i, "mlp.gate_proj")
            up = self.linear(h, i, "mlp.up_proj")
            x = x + self.linear(torch.nn.functional.silu(gate) * up, i, "mlp.down_proj")
        x = self.rms(x[:, -1], self.w["model.norm.weight"])
        return x @ self.lm_head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batches", default="1,4,8,32")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs after a warm-up; the fastest is reported")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    lm = EagerLM(args.model)
    V = lm.lm_head.shape[0]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for B in [int(b) for b in args.batches.split(",")]:
            ids = torch.randint(4, V, (B, args.prompt_len), generator=g)
            best = None
            for rep in range(args.repeats + 1):  # the first run is a warm-up
                t0 = time.perf_counter()
                cache = [None] * lm.L
                logits = lm.forward(ids, cache, 0)
                tok = logits.argmax(-1)
                t1 = time.perf_counter()
                for step in range(1, args.new):
                    logits = lm.forward(tok.view(B, 1), cache, args.prompt_len + step - 1)
                    tok = logits.argmax(-1)
                t2 = time.perf_counter()
                if rep > 0 and (best is None or t2 - t0 < best[2] - best[0]):
                    best = (t0, t1, t2)
            t0, t1, t2 = best
            print(json.dumps({"batch": B, "prefill_s": t1 - t0, "decode_s": t2 - t1, "total_s": t2 - t0,
                              "decode_tok_s": B * (args.new - 1) / (t2 - t1), "samples_s": B / (t2 - t0),
                              "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
