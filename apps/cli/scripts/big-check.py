"""torch's side of big-check.mjs: the safetensors file (read by hand, numpy memmap) and the zip
file converted back (torch.load) hold exactly the values big-make.mjs generated.

    /usr/bin/python3 big-check.py FILE.safetensors FILE.pt
"""
import json, struct, sys
import numpy as np
import torch


def expected(name, shape):
    n = int(np.prod(shape)) if shape else 1
    if name.startswith("layers."):
        layer = int(name.split(".")[1])
        i = np.arange(n, dtype=np.int64)
        return ((i + layer * 7919) % 65521).astype(np.float32) / np.float32(64)
    if name == "steps":
        return np.arange(n, dtype=np.int64) * 1000000007
    if name == "half":
        return (0x3C00 + (np.arange(n) % 1024)).astype(np.uint16).view(np.float16)
    raise KeyError(name)


def check(name, arr, layer0_cols):
    flat = np.ascontiguousarray(arr).reshape(-1)
    if name == "view":
        # layers.0.weight rows 0..7, transposed
        want = expected("layers.0.weight", [8 * layer0_cols]).reshape(8, layer0_cols).T.reshape(-1)
    else:
        want = expected(name, list(arr.shape))
    assert flat.dtype == want.dtype, (name, flat.dtype, want.dtype)
    assert np.array_equal(flat, want), name


st, pt = sys.argv[1], sys.argv[2]
with open(st, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
data = np.memmap(st, dtype=np.uint8, mode="r", offset=8 + n)
codes = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
names = [k for k in header if k != "__metadata__"]
cols = header["layers.0.weight"]["shape"][-1]
for k in names:
    e = header[k]
    a, b = e["data_offsets"]
    arr = np.frombuffer(data[a:b], dtype=codes[e["dtype"]]).reshape(e["shape"])
    check(k, arr, cols)
print("safetensors ok", len(names), "tensors", flush=True)
del data

sd = torch.load(pt)
assert sorted(sd) == sorted(names), (sorted(sd), sorted(names))
for k, t in sd.items():
    check(k, t.numpy(), cols)
print("torch.load ok", len(sd), "tensors")
