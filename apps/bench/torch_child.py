#!/usr/bin/python3
"""One measured torch operation in a fresh process (the torch side of the benchmark pairs).

usage: /usr/bin/python3 apps/bench/torch_child.py --op OP --file F [--out O] [--format zip|legacy]
                                                  [--other B] [--url U]

  load  torch.load(F)                                        (timed)
  save  obj = torch.load(F) (not timed); torch.save(obj, O)  (timed; legacy: _use_new_zipfile_serialization=False)
  list  torch.load(F), then walk it for names, dtypes and shapes (timed: torch has no lazy listing,
        so its figure for W6 is its full load); with --url U (W8): download U into memory,
        then torch.load and the walk (`fetched`: bytes downloaded)
  convert  F a file (W7): torch.load(F), then write every tensor to O in the safetensors layout
        by hand (8-byte header length, JSON header, raw little-endian bytes), fdatasync;
        F a folder (W10, torch 2.x): dcp_to_torch_save(F, O), fdatasync
  diff  torch.load(F) and torch.load(B), then per common name: dtype/shape, torch.equal, and
        where unequal the largest absolute difference and the number of differing elements
  hash  torch.load(F), then hashlib.sha256 over every tensor's contiguous bytes
  scan  every file in the folder F: its pickles (zip members *.pkl, the legacy stream's
        pickles, a tar's pickle members, a plain pickle) walked with pickletools.genops for
        GLOBAL / STACK_GLOBAL / INST, as pickle scanners do

Saves and converts call fdatasync on the output inside the timed region (the write reaches the
disk in the run that made it, not in a later one). `cpu_seconds` is time.process_time() over the
operation, beside the wall time.

Prints one line `PT_BENCH_RESULT {json}` on stdout: seconds (the operation only, not the
interpreter start or `import torch`), the peak RSS rise in bytes over the RSS just before the
operation, and a summary (tensor count, total elements) the runner compares with ours.

Peak RSS: the kernel's high-water mark VmHWM is reset to the current RSS just before the
operation by writing "5" to /proc/self/clear_refs, so VmHWM afterwards is the peak during the
operation. Where that reset is refused, the rise is max(ru_maxrss after - RSS before, 0) and
`peak_method` says "maxrss" (then only a rise above the process's earlier peak is visible).
"""
import argparse
import gc
import hashlib
import io
import pickletools
import tarfile
import urllib.request
import zipfile
import json
import os
import resource
import sys
import time

import torch


def status_kib():
    """VmRSS and VmHWM of this process in KiB, from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def summarize(obj):
    """Tensor count, total elements and the listing (name, dtype, shape) of every tensor."""
    tensors = 0
    elements = 0
    listing = []
    stack = [("", obj)]
    while stack:
        name, o = stack.pop()
        if isinstance(o, torch.Tensor):
            tensors += 1
            elements += o.numel()
            listing.append((name, str(o.dtype), tuple(o.shape)))
        elif isinstance(o, dict):
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in o.items())
        elif isinstance(o, (list, tuple)):
            stack.extend((f"{name}.{i}" if name else str(i), v) for i, v in enumerate(o))
    return tensors, elements, listing


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def flat_tensors(obj):
    """(dotted name, tensor) for every tensor of a nested dict/list value."""
    out = []
    stack = [("", obj)]
    while stack:
        name, o = stack.pop()
        if isinstance(o, torch.Tensor):
            out.append((name, o))
        elif isinstance(o, dict):
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in o.items())
        elif isinstance(o, (list, tuple)):
            stack.extend((f"{name}.{i}" if name else str(i), v) for i, v in enumerate(o))
    out.sort(key=lambda x: x[0])
    return out


ST_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def raw_bytes(t):
    """The tensor's contiguous bytes as a buffer, without a copy when already contiguous."""
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy()


def write_safetensors(obj, path):
    """The safetensors layout written by hand: what a user without our tool would do after torch.load."""
    tensors = flat_tensors(obj)
    header = {}
    offset = 0
    for name, t in tensors:
        n = t.numel() * t.element_size()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, t in tensors:
            f.write(raw_bytes(t))
    return tensors


def safetensors_summary(path):
    """Tensor count and total elements from a safetensors file's header (both sides read it alike)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    elements = 0
    for v in header.values():
        k = 1
        for d in v["shape"]:
            k *= d
        elements += k
    return len(header), elements


def pickles_of(path):
    """The pickle byte streams of one checkpoint file, as a scanner finds them."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            return [t.extractfile(m).read() for m in t.getmembers() if m.name in ("sys_info", "pickle")]
    with open(path, "rb") as f:
        data = f.read()
    # the legacy stream: magic, protocol, sys_info, the object, storage keys; a plain pickle: one
    out = []
    pos = 0
    for _ in range(5):
        if pos >= len(data):
            break
        end = None
        for op, arg, at in pickletools.genops(io.BytesIO(data[pos:])):
            if op.name == "STOP":
                end = pos + at + 1
        if end is None:
            break
        out.append(data[pos:end])
        pos = end
    return out


def scan_file(path):
    """Globals referenced by a file's pickles (GLOBAL / INST arguments, STACK_GLOBAL operands)."""
    found = 0
    for blob in pickles_of(path):
        strings = []
        for op, arg, _ in pickletools.genops(blob):
            if op.name in ("GLOBAL", "INST"):
                found += 1
            elif op.name == "STACK_GLOBAL":
                found += 1
            elif isinstance(arg, str):
                strings.append(arg)
    return found


def compare(a, b):
    """torch's side of `pt diff`: per common name, equal values or the largest |a - b| and the count.

    Returns the number of tensors whose values differ and the total of differing elements."""
    fa, fb = dict(flat_tensors(a)), dict(flat_tensors(b))
    compared = 0
    differing = 0
    for name in sorted(fa.keys() & fb.keys()):
        x, y = fa[name], fb[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            continue
        if torch.equal(x, y):
            continue
        compared += 1
        if x.is_floating_point():
            ne = (x != y) & ~(torch.isnan(x) & torch.isnan(y))
            (x.double() - y.double()).abs().max()
        else:
            ne = x != y
        differing += int(ne.sum())
    return compared, differing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--op", choices=("load", "save", "list", "convert", "diff", "hash", "scan"), required=True)
    parser.add_argument("--file")
    parser.add_argument("--other")
    parser.add_argument("--url")
    parser.add_argument("--out")
    parser.add_argument("--format", choices=("zip", "legacy"), default="zip")
    args = parser.parse_args()
    if args.op in ("save", "convert") and not args.out:
        parser.error(f"--op {args.op} needs --out")
    if not args.file and not args.url:
        parser.error("--file or --url is needed")

    result = {"ok": True, "side": "torch", "op": args.op, "torch": torch.__version__}
    obj = None
    if args.op == "save":
        obj = torch.load(args.file)
    gc.collect()
    before = status_kib()
    exact = reset_peak()
    extra = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    if args.op == "load":
        obj = torch.load(args.file)
    elif args.op == "list":
        if args.url:
            with urllib.request.urlopen(args.url) as r:
                buf = io.BytesIO(r.read())
            extra["fetched"] = buf.getbuffer().nbytes
            obj = torch.load(buf)
        else:
            obj = torch.load(args.file)
        listing = summarize(obj)[2]
    elif args.op == "save":
        torch.save(obj, args.out, _use_new_zipfile_serialization=(args.format == "zip"))
        fsync_path(args.out)
    elif args.op == "convert":
        if os.path.isdir(args.file):
            from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

            dcp_to_torch_save(args.file, args.out)
        else:
            write_safetensors(torch.load(args.file), args.out)
        fsync_path(args.out)
    elif args.op == "diff":
        compared, differing = compare(torch.load(args.file), torch.load(args.other))
    elif args.op == "hash":
        obj = torch.load(args.file)
        digests = sorted(hashlib.sha256(raw_bytes(t)).hexdigest() for _, t in flat_tensors(obj))
    else:
        files = sorted(os.listdir(args.file))
        found = 0
        for name in files:
            try:
                found += scan_file(os.path.join(args.file, name))
            except Exception:  # a damaged file: scanners go on to the next
                pass
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    after = status_kib()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kib = after["VmHWM"] if exact else maxrss_kib
    result["seconds"] = seconds
    result["cpu_seconds"] = cpu_seconds
    result.update(extra)
    result["rss_before"] = before["VmRSS"] * 1024
    result["rss_after"] = after["VmRSS"] * 1024
    result["peak_rise"] = max(0, peak_kib - before["VmRSS"]) * 1024
    result["peak_method"] = "clear_refs" if exact else "maxrss"
    if args.op == "list":
        result["listed"] = len(listing)
    if args.op in ("load", "save", "list"):
        tensors, elements, _ = summarize(obj)
    elif args.op == "convert":
        tensors, elements = safetensors_summary(args.out) if args.out.endswith(".safetensors") else (0, 0)
    elif args.op == "diff":
        tensors, elements = compared, differing
    elif args.op == "hash":
        tensors, elements = len(digests), sum(t.numel() for _, t in flat_tensors(obj))
        result["digest"] = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    else:
        tensors, elements = len(files), 0
    result["tensors"] = tensors
    result["elements"] = elements
    if args.op in ("save", "convert"):
        result["out_size"] = os.path.getsize(args.out)
        os.unlink(args.out)
    sys.stdout.write("PT_BENCH_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
