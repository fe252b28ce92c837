#!/usr/bin/env python3
"""torch's weights_only verdict for every fixture, corpus file and hostile sample.

usage: scripts/torch2-python generator/weights_only.py [--out weights-only-2.14.json]

For each file, `torch.load(path, map_location='cpu', weights_only=True)` (torch 2.x's restricted
unpickler: nothing is executed) gives `ok`, `refused` (torch's "Weights only load failed" with the
unpickler's reason) or `error` (anything else: a malformed file), with the first line of the
message (memory addresses and temporary paths removed, so two runs write the same JSON). Each load
has 20 seconds and the process 8 GiB of address space. The runner's test
(`test/weights-only.test.ts`) compares our default policy (`load(file)`) with these verdicts.
"""
import argparse
import json
import os
import re
import resource
import signal
import sys
import warnings

warnings.filterwarnings('ignore')
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(APP))
SETS = [
    ('fixtures', os.path.join(APP, 'fixtures'), lambda n: n.endswith('.pt')),
    ('fixtures-2.14', os.path.join(APP, 'fixtures-2.14'), lambda n: n.endswith('.pt')),
    ('corpus', os.path.join(APP, 'corpus', 'files'), lambda n: True),
    ('hostile', os.path.join(ROOT, 'packages', 'serialization', 'fixtures', 'hostile', 'files'), lambda n: True),
]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout('took more than 20 s')


def clean(msg):
    line = msg.strip().split('\n')[0]
    line = re.sub(r'0x[0-9a-fA-F]+', '0x…', line)
    line = line.replace(ROOT + '/', '')
    return line[:240]


def verdict(path):
    signal.alarm(20)
    try:
        torch.load(path, map_location='cpu', weights_only=True)
        return {'torch': 'ok'}
    except Timeout as e:
        return {'torch': 'error', 'message': str(e)}
    except MemoryError:
        return {'torch': 'error', 'message': 'MemoryError'}
    except BaseException as e:  # noqa: BLE001 - every failure is a verdict
        text = str(e)
        if 'Weights only load failed' in text:
            # the unpickler's own reason follows torch's boilerplate
            m = re.search(r'WeightsUnpickler error:\s*([^\n]+)', text)
            return {'torch': 'refused', 'message': clean(m.group(1) if m else text)}
        return {'torch': 'error', 'message': clean(f'{type(e).__name__}: {text}')}
    finally:
        signal.alarm(0)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(APP, f"weights-only-{'.'.join(torch.__version__.split('+')[0].split('.')[:2])}.json"))
    args = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
    torch.set_num_threads(1)
    files = {}
    for label, d, keep in SETS:
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if os.path.isfile(p) and keep(n):
                files[f'{label}/{n}'] = verdict(p)
    out = {
        'generator': 'generator/weights_only.py',
        'torch_version': torch.__version__,
        'note': 'torch.load(path, map_location="cpu", weights_only=True); keys are <set>/<file name>: fixtures, '
                'fixtures-2.14, corpus (corpus/files), hostile (packages/serialization/fixtures/hostile/files)',
        'files': files,
    }
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write('\n')
    counts = {}
    for v in files.values():
        counts[v['torch']] = counts.get(v['torch'], 0) + 1
    print(f'{len(files)} files: {counts} -> {os.path.relpath(args.out, APP)}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
