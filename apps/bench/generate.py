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
  w7.pt        W7: W2's structure at 5x its size (~5 GiB), for `pt convert` to safetensors
  w9b.pt       W9B: W2 with four tensors changed (B of W9's diff; A is w2.pt)
  w10.dcp/     W10: W2 saved as a torch.distributed.checkpoint folder in 4 shard files
               (needs torch 2.x: the runner generates it with scripts/torch2-python)
  manifest.json  per workload: file, size, scale, seed, tensor count, total elements; torch version

W6 (W2 listed lazily), W8 (over HTTP) and W11 (hashed) read w2.pt; W9 reads w2.pt and w9b.pt;
W12 reads apps/conformance/corpus/files: they have no file of their own.

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
SEEDS = {"W1": 1001, "W2": 1002, "W3": 1003, "W4": 1004, "W5": 1002, "W7": 1007, "W9B": 1002, "W10": 1002}
FILES = {
    "W1": "w1.pt",
    "W2": "w2.pt",
    "W3": "w3.pt",
    "W4": "w4.pt",
    "W5": "w5.pt",
    "W7": "w7.pt",
    "W9B": "w9b.pt",
    "W10": "w10.dcp",
}
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


def w7(scale):
    """W2's structure at five times its size (~5 GiB at scale 1)."""
    return w2(scale * 5)


def w9b(sd):
    """B of W9's diff: W2 with four tensors changed (two values nudged, one block, one tensor scaled)."""
    b = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    g = torch.Generator().manual_seed(1009)
    b["model.layers.0.self_attn.q_proj.weight"][0, 0] += 1e-3
    b["model.layers.5.fc1.bias"][3] = 1.0
    b["model.layers.11.fc2.weight"][:4, :4] = torch.randn(4, 4, generator=g)
    b["lm_head.weight"].mul_(1.0001)
    return b


def save_dcp(sd, path):
    """A torch.distributed.checkpoint folder of 4 shard files (one process: thread_count=4)."""
    import shutil

    import torch.distributed.checkpoint as dcp

    shutil.rmtree(path, ignore_errors=True)
    dcp.save(dict(sd), storage_writer=dcp.FileSystemWriter(path, thread_count=4))
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


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
    if "W9" in wanted:
        wanted.discard("W9")
        wanted.add("W9B")
    unknown = wanted - set(FILES)
    if unknown:
        parser.error(f"unknown workloads: {sorted(unknown)}")

    manifest_path = os.path.join(out, "manifest.json")
    manifest = {"workloads": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    # W10 is made by torch 2.x (DCP): its versions are kept apart from the oracle's
    which = "torch2" if wanted == {"W10"} else "torch"
    manifest[which] = torch.__version__
    manifest["python2" if which == "torch2" else "python"] = sys.version.split()[0]

    makers = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w2, "W7": w7, "W9B": w2, "W10": w2}
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
        if name == "W10":
            size = save_dcp(obj, path)
        else:
            torch.save(w9b(obj) if name == "W9B" else obj, path, _use_new_zipfile_serialization=(name != "W5"))
            size = os.path.getsize(path)
        tensors, elements = count_tensors(obj)
        if name == "W7":
            cached.pop(seed_key)  # 5 GiB: not kept for the next workload
        manifest["workloads"][name] = {
            "file": FILES[name],
            "size": size,
            "scale": args.scale,
            "seed": seed_key,
            "format": "legacy" if name == "W5" else "zip",
            "tensors": tensors,
            "elements": elements,
        }
        print(
            f"{name}: {path} {size / (1 << 20):.1f} MiB, {tensors} tensors "
            f"({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(out)


if __name__ == "__main__":
    main()
