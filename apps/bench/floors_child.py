#!/usr/bin/python3
"""The floor probe of one workload file, torch's side (`run.mjs --floors`), in one fresh process.

usage: /usr/bin/python3 apps/bench/floors_child.py --file F --out O

In this order (the first load as cold as the bench's own torch_child.py):
  load_cold   torch.load(F), the first call in the process
  save_cold   torch.save(obj, O) + fdatasync, the first call (CPU beside it)
  read        F read into fresh memory (one f.read() of the whole file into a new bytes object):
              what an eager load pays before parsing anything
  load_warm   the fastest of 5 more torch.load(F)
  parse_warm  the fastest of 3 torch.load(io.BytesIO(bytes)) over the bytes already read (torch
              still copies each storage out of them: it has no zero-copy load)
  save_warm   the fastest of 3 more torch.save + fdatasync

Prints `PT_BENCH_RESULT {json}` with milliseconds (and `*_cpu_ms`), as src/floors-child.mjs does.
"""
import argparse
import gc
import io
import json
import os
import sys
import time

import torch


def timed(body):
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    body()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def fastest(n, body):
    return min((timed(body) for _ in range(n)), key=lambda t: t[0])


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = {"ok": True, "side": "torch", "torch": torch.__version__, "size": os.path.getsize(args.file)}
    state = {}

    def put(key, t):
        result[key + "_ms"], result[key + "_cpu_ms"] = t

    def load():
        state["obj"] = torch.load(args.file)

    def save():
        torch.save(state["obj"], args.out)
        fsync_path(args.out)

    def read():
        with open(args.file, "rb") as f:
            state["bytes"] = f.read()

    put("load_cold", timed(load))
    put("save_cold", timed(save))
    put("read", timed(read))
    put("load_warm", fastest(5, load))
    put("parse_warm", fastest(3, lambda: torch.load(io.BytesIO(state["bytes"]))))
    put("save_warm", fastest(3, save))
    os.unlink(args.out)
    sys.stdout.write("PT_BENCH_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
