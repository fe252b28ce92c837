#!/usr/bin/env python3
"""Seeded torch.export archives (.pt2) written by torch 2.x, with what torch says about their tensors.

usage: scripts/torch2-python generator/pt2.py [--out fixtures-2.14/pt2]

For every case: <case>.pt2 (torch.export.save of torch.export.export(model, sample)) and
<case>.pt2.json: torch's own reading of the archive (torch.export.load): per weight (the exported
state dict) and constant, its name, kind, dtype, shape, stride, storage offset, requires_grad,
whether it is a Parameter, and the SHA-256 of its logical little-endian bytes, and which names
share storage. Deterministic: seeded per case, and the archive has no timestamps.
"""
import argparse
import hashlib
import json
import os
import sys
import zlib

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.dirname(HERE)


class Small(nn.Module):
    """A Linear (parameters), a buffer and a constant tensor attribute."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer('scale', torch.tensor([2.0, 3.0]))
        self.c = torch.arange(4.0)

    def forward(self, x):
        return self.fc(x) * self.scale + self.c[:2]


class Tied(nn.Module):
    """An embedding whose weight is also the output layer's (one storage, two names)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.out = nn.Linear(4, 5, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, i):
        return self.out(self.emb(i))


class Mixed(nn.Module):
    """Parameters of several dtypes, a frozen one, a non-contiguous buffer and an int64 constant."""

    def __init__(self):
        super().__init__()
        self.w16 = nn.Parameter(torch.randn(2, 3).to(torch.bfloat16))
        self.frozen = nn.Parameter(torch.randn(3), requires_grad=False)
        self.register_buffer('t', torch.randn(2, 3).t())
        self.register_buffer('steps', torch.tensor(7))
        self.idx = torch.tensor([0, 2], dtype=torch.int64)

    def forward(self, x):
        return (x @ self.t + self.frozen[self.idx].sum()) * self.w16.float().sum() + self.steps


CASES = {
    'export_small': (Small, lambda: (torch.randn(1, 3),)),
    'export_tied': (Tied, lambda: (torch.tensor([[0, 3, 4]]),)),
    'export_mixed': (Mixed, lambda: (torch.randn(4, 3),)),
}


def logical_sha(t):
    c = t.detach().contiguous()
    es = c.element_size()
    b = torch.empty(0, dtype=torch.uint8)
    if c.numel():
        b.set_(c.untyped_storage(), c.storage_offset() * es, (c.numel() * es,), (1,))
    return hashlib.sha256(b.numpy().tobytes()).hexdigest()


def describe(name, kind, t):
    return {'name': name, 'kind': kind, 'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape),
            'stride': list(t.stride()), 'storage_offset': t.storage_offset(), 'requires_grad': t.requires_grad,
            'is_param': isinstance(t, nn.Parameter), 'data_sha256': logical_sha(t),
            'storage_nbytes': t.untyped_storage().nbytes()}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(APP, 'fixtures-2.14', 'pt2'))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, (cls, sample) in CASES.items():
        torch.manual_seed(zlib.crc32(name.encode()) & 0x7fffffff)
        ep = torch.export.export(cls(), sample())
        path = os.path.join(args.out, f'{name}.pt2')
        torch.export.save(ep, path)
        back = torch.export.load(path)
        tensors = [describe(k, 'weight', v) for k, v in back.state_dict.items()]
        tensors += [describe(k, 'constant', v) for k, v in back.constants.items() if isinstance(v, torch.Tensor)]
        groups = {}
        for k, v in list(back.state_dict.items()) + list(back.constants.items()):
            if isinstance(v, torch.Tensor):
                groups.setdefault(v.untyped_storage()._cdata, []).append(k)
        with open(path, 'rb') as f:
            data = f.read()
        out = {'file': f'{name}.pt2', 'bytes': len(data), 'sha256': hashlib.sha256(data).hexdigest(),
               'torch_version': torch.__version__, 'tensors': tensors,
               'shared_storage': sorted(sorted(g) for g in groups.values() if len(g) > 1)}
        with open(path + '.json', 'w') as f:
            json.dump(out, f, indent=1)
            f.write('\n')
        print(f'{name}.pt2\t{len(data)}\t{len(tensors)} tensors')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
