#!/usr/bin/python3
"""One measured torch operation in a fresh process (the torch side of the benchmark pairs).

usage: /usr/bin/python3 apps/bench/torch_child.py --op load|save|list --file F [--out O] [--format zip|legacy]

  load  torch.load(F)                                        (timed)
  save  obj = torch.load(F) (not timed); torch.save(obj, O)  (timed; legacy: _use_new_zipfile_serialization=False)
  list  torch.load(F), then walk it for names, dtypes and shapes (timed: torch has no lazy listing,
        so its figure for W6 is its full load)

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--op", choices=("load", "save", "list"), required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--out")
    parser.add_argument("--format", choices=("zip", "legacy"), default="zip")
    args = parser.parse_args()
    if args.op == "save" and not args.out:
        parser.error("--op save needs --out")

    result = {"ok": True, "side": "torch", "op": args.op, "torch": torch.__version__}
    obj = None
    if args.op == "save":
        obj = torch.load(args.file)
    gc.collect()
    before = status_kib()
    exact = reset_peak()
    t0 = time.perf_counter()
    if args.op == "load":
        obj = torch.load(args.file)
    elif args.op == "list":
        obj = torch.load(args.file)
        listing = summarize(obj)[2]
    else:
        torch.save(obj, args.out, _use_new_zipfile_serialization=(args.format == "zip"))
    seconds = time.perf_counter() - t0
    after = status_kib()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kib = after["VmHWM"] if exact else maxrss_kib
    result["seconds"] = seconds
    result["rss_before"] = before["VmRSS"] * 1024
    result["rss_after"] = after["VmRSS"] * 1024
    result["peak_rise"] = max(0, peak_kib - before["VmRSS"]) * 1024
    result["peak_method"] = "clear_refs" if exact else "maxrss"
    if args.op == "list":
        result["listed"] = len(listing)
    tensors, elements, _ = summarize(obj)
    result["tensors"] = tensors
    result["elements"] = elements
    if args.op == "save":
        result["out_size"] = os.path.getsize(args.out)
        os.unlink(args.out)
    sys.stdout.write("PT_BENCH_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
