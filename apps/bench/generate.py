#!/usr/bin/python3
"""Seeded generator of the benchmark workloads of issue 9 (run with /usr/bin/python3: real torch 1.13).

usage: /usr/bin/python3 apps/bench/generate.py [--out DIR] [--scale S] [--only W1,W3]

Writes into DIR (default: $TMPDIR/pt-bench/s<scale>, i.e. /tmp/pt-bench/s1 at full scale;
never committed):

  w1.pt        W1: one float32 tensor of 1 GiB (268,435,456 elements)
  w2.pt        W2: a transformer-like state dict, ~1 GiB in ~390 float32 tensors
               (24 encoder layers of d_model 896, token/position embeddings, final norm, head)
  w3.pt        W3: 50,000 small tensors (pickle-dominated: shapes up to 64 elements, 5 dtypes)
  w4.pt        W4: 10,000 views (as_strided: slices, 2-D blocks, transposes) of one 16 MiB storage
  w5.pt        W5: W2 saved with _use_new_zipfile_serialization=False (the legacy format)
  manifest.json  per workload: file, size, scale, seed, tensor count, total elements; torch version

W6 (W2 listed lazily) reads w2.pt: it has no file of its own.

--scale shrinks every workload (sizes and counts) by that factor, keeping the structure: W2
keeps its tensor count (its widths shrink by sqrt(scale)); W3 and W4 shrink their counts.
Deterministic: every workload seeds torch from its own fixed seed, so the same scale gives the
same tensors (legacy files may still differ in their storage keys: torch 1.13 names legacy
storages by memory address).
"""
import argparse
import collections
import json
import math
import os
import sys
import tempfile
import time

import torch

GIB = 1 << 30
SEEDS = {"W1": 1001, "W2": 1002, "W3": 1003, "W4": 1004, "W5": 1002}
FILES = {"W1": "w1.pt", "W2": "w2.pt", "W3": "w3.pt", "W4": "w4.pt", "W5": "w5.pt"}
# W2's dimensions at scale 1: 12 * d^2 * layers + (vocab + positions + 1) * d + ... ~= 1 GiB of float32.
W2_LAYERS = 24
W2_D = 896
W2_VOCAB = 32000
W2_POSITIONS = 2048


def w1(scale):
    torch.manual_seed(SEEDS["W1"])
    n = max(1024, int(GIB // 4 * scale))
    return torch.randn(n, dtype=torch.float32)


def w2(scale):
    """A transformer encoder/LM state dict with realistic names and shapes (16 tensors per layer)."""
    torch.manual_seed(SEEDS["W2"])
    root = math.sqrt(scale)
    d = max(8, int(round(W2_D * root / 8)) * 8)
    ff = 4 * d
    vocab = max(16, int(round(W2_VOCAB * root)))
    positions = max(16, int(round(W2_POSITIONS * root)))
    sd = {}
    sd["model.embed_tokens.weight"] = torch.randn(vocab, d) * 0.02
    sd["model.embed_positions.weight"] = torch.randn(positions, d) * 0.02
    for i in range(W2_LAYERS):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            sd[p + f"self_attn.{proj}.weight"] = torch.randn(d, d) * 0.02
            sd[p + f"self_attn.{proj}.bias"] = torch.zeros(d)
        sd[p + "self_attn_layer_norm.weight"] = torch.ones(d)
        sd[p + "self_attn_layer_norm.bias"] = torch.zeros(d)
        sd[p + "fc1.weight"] = torch.randn(ff, d) * 0.02
        sd[p + "fc1.bias"] = torch.zeros(ff)
        sd[p + "fc2.weight"] = torch.randn(d, ff) * 0.02
        sd[p + "fc2.bias"] = torch.zeros(d)
        sd[p + "final_layer_norm.weight"] = torch.ones(d)
        sd[p + "final_layer_norm.bias"] = torch.zeros(d)
    sd["model.layer_norm.weight"] = torch.ones(d)
    sd["model.layer_norm.bias"] = torch.zeros(d)
    sd["lm_head.weight"] = torch.randn(vocab, d) * 0.02
    return collections.OrderedDict(sd)


def w3(scale):
    """50,000 small tensors, each with its own storage: the pickle dominates the file."""
    torch.manual_seed(SEEDS["W3"])
    count = max(10, int(round(50_000 * scale)))
    shapes = [(), (1,), (4,), (16,), (64,), (4, 4), (8, 8), (2, 3, 4), (3, 3, 3)]
    dtypes = [torch.float32, torch.float32, torch.float32, torch.float16, torch.int64, torch.bool, torch.bfloat16]
    sd = collections.OrderedDict()
    for i in range(count):
        shape = shapes[int(torch.randint(len(shapes), ()))]
        dtype = dtypes[int(torch.randint(len(dtypes), ()))]
        if dtype == torch.bool:
            t = torch.rand(shape) > 0.5
        elif dtype == torch.int64:
            t = torch.randint(-1000, 1000, shape, dtype=torch.int64)
        else:
            t = torch.randn(shape).to(dtype)
        sd[f"blocks.{i // 100}.cells.{i % 100}.param"] = t
    return sd


def w4(scale):
    """10,000 views of one storage: contiguous slices, 2-D blocks and transposed blocks."""
    torch.manual_seed(SEEDS["W4"])
    count = max(10, int(round(10_000 * scale)))
    n = max(4096, int(16 * (1 << 20) // 4 * scale))
    base = torch.randn(n)
    views = collections.OrderedDict()
    for i in range(count):
        kind = i % 3
        if kind == 0:  # a 1-D slice
            length = int(torch.randint(1, min(4096, n) + 1, ()))
            offset = int(torch.randint(0, n - length + 1, ()))
            v = base.as_strided((length,), (1,), offset)
        else:  # a rows x cols block of a row-major matrix with row stride `ld`, maybe transposed
            rows = int(torch.randint(1, 33, ()))
            cols = int(torch.randint(1, 33, ()))
            ld = cols + int(torch.randint(0, 16, ()))
            span = (rows - 1) * ld + cols
            offset = int(torch.randint(0, n - span + 1, ()))
            v = base.as_strided((rows, cols), (ld, 1), offset)
            if kind == 2:
                v = v.t()
        views[f"views.{i}"] = v
    return views


def count_tensors(obj):
    tensors = 0
    elements = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, torch.Tensor):
            tensors += 1
            elements += o.numel()
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
    return tensors, elements


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", default="W1,W2,W3,W4,W5", help="comma-separated workloads (W6 needs W2)")
    args = parser.parse_args()
    if not (0 < args.scale <= 4):
        parser.error(f"--scale must be in (0, 4], got {args.scale}")
    out = args.out or os.path.join(tempfile.gettempdir(), "pt-bench", f"s{args.scale:g}")
    os.makedirs(out, exist_ok=True)
    wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    if "W6" in wanted:
        wanted.discard("W6")
        wanted.add("W2")
    unknown = wanted - set(FILES)
    if unknown:
        parser.error(f"unknown workloads: {sorted(unknown)}")

    manifest_path = os.path.join(out, "manifest.json")
    manifest = {"workloads": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest["torch"] = torch.__version__
    manifest["python"] = sys.version.split()[0]

    makers = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w2}
    cached = {}
    for name in sorted(wanted):
        t0 = time.perf_counter()
        seed_key = SEEDS[name]
        obj = cached.get(seed_key)
        if obj is None:
            obj = makers[name](args.scale)
            cached[seed_key] = obj
        path = os.path.join(out, FILES[name])
        # Written in place (so the archive's inner folder is "w1" etc., as torch names it); an
        # interrupted write is caught by the runner, which checks each file's size against this
        # manifest, written last.
        torch.save(obj, path, _use_new_zipfile_serialization=(name != "W5"))
        tensors, elements = count_tensors(obj)
        manifest["workloads"][name] = {
            "file": FILES[name],
            "size": os.path.getsize(path),
            "scale": args.scale,
            "seed": seed_key,
            "format": "legacy" if name == "W5" else "zip",
            "tensors": tensors,
            "elements": elements,
        }
        print(
            f"{name}: {path} {os.path.getsize(path) / (1 << 20):.1f} MiB, {tensors} tensors "
            f"({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(out)


if __name__ == "__main__":
    main()
