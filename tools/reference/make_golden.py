#!/usr/bin/python3
"""Writes the golden files the engine's tests compare against (tests/Engram.Nn.Tests/Golden/*.safetensors).

Run with Debian's python3-torch (apt-get install python3-torch):  /usr/bin/python3 tools/reference/make_golden.py
Each file holds the initial weights, the inputs, the forward output, the loss, the gradient of the loss with
respect to every weight, and the loss after each of 5 AdamW steps. Names follow PyTorch's state-dict names.
Safetensors are written by hand (header JSON + raw little-endian data) so no extra package is needed.
"""
import json, math, os, struct
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Engram.Nn.Tests", "Golden")
torch.manual_seed(1234)

def save(path, tensors, meta):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw); at += len(raw)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

ADAM = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)

def run(name, params, inputs, forward, loss_fn):
    init = {k: v.detach().clone() for k, v in params.items()}
    for p in params.values(): p.requires_grad_(True)
    out = forward()
    loss = loss_fn(out)
    loss.backward()
    tensors = {f"init.{k}": v for k, v in init.items()}
    tensors.update({f"input.{k}": v for k, v in inputs.items()})
    tensors["output"] = out
    tensors["loss"] = loss.reshape(1)
    tensors.update({f"grad.{k}": p.grad for k, p in params.items()})
    opt = torch.optim.AdamW(list(params.values()), **ADAM)
    losses = []
    for p in params.values(): p.grad = None
    for step in range(5):
        opt.zero_grad()
        l = loss_fn(forward()); l.backward(); opt.step()
        losses.append(loss_fn(forward()).item())
    tensors["adamw_losses"] = torch.tensor(losses, dtype=torch.float64)
    save(os.path.join(OUT, name + ".safetensors"), tensors, {"torch": torch.__version__, **{f"adamw.{k}": v for k, v in ADAM.items()}})
    print(name, "loss", loss.item(), "after 5 AdamW steps", losses[-1])

def mlp():
    # x [4, 6] -> Linear(6, 8) -> GELU (exact) -> Linear(8, 3) -> cross-entropy (one target ignored)
    p = {"fc1.weight": torch.randn(8, 6) * 0.4, "fc1.bias": torch.randn(8) * 0.1,
         "fc2.weight": torch.randn(3, 8) * 0.4, "fc2.bias": torch.randn(3) * 0.1}
    x = torch.randn(4, 6); y = torch.tensor([0, 2, -100, 1])
    fwd = lambda: F.linear(F.gelu(F.linear(x, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])
    run("mlp", p, {"x": x, "targets": y}, fwd, lambda o: F.cross_entropy(o, y, ignore_index=-100))

def rotate_half(t):
    a, b = t.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)

def attention():
    # x [2, 5, 8] -> RMSNorm(gain) -> q/k/v (2 heads of 4) -> RoPE -> causal softmax attention -> o_proj -> + x
    B, T, C, H = 2, 5, 8, 2; D = C // H
    p = {"norm.weight": 1 + 0.1 * torch.randn(C),
         "attn.q_proj.weight": torch.randn(C, C) * 0.3, "attn.k_proj.weight": torch.randn(C, C) * 0.3,
         "attn.v_proj.weight": torch.randn(C, C) * 0.3, "attn.o_proj.weight": torch.randn(C, C) * 0.3}
    x = torch.randn(B, T, C); target = torch.randn(B, T, C)
    inv = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).float(); sin = torch.cat([ang.sin(), ang.sin()], -1).float()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    def fwd():
        h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * p["norm.weight"]
        def heads(w): return F.linear(h, w).view(B, T, H, D).transpose(1, 2)
        q, k, v = heads(p["attn.q_proj.weight"]), heads(p["attn.k_proj.weight"]), heads(p["attn.v_proj.weight"])
        q = q * cos + rotate_half(q) * sin; k = k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        a = s.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return x + F.linear(a.transpose(1, 2).reshape(B, T, C), p["attn.o_proj.weight"])
    run("attention", p, {"x": x, "target": target}, fwd, lambda o: F.mse_loss(o, target))

os.makedirs(OUT, exist_ok=True)
mlp(); attention()
