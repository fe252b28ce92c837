"""Reverse check for torch-roundtrip.test.ts: real torch 1.13 loads whole modules our code pickled.

argv[1] is a directory of cases, each with data.pkl, data/<key> records and an optional
input.json ([shape]); the files were written by the test itself. Each case is packed into a
torch zip archive, torch.load()ed, and described as JSON on stdout.
"""
import hashlib
import io
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'apps', 'conformance', 'generator'))

import torch  # noqa: E402


def describe(case):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        with open(os.path.join(case, 'data.pkl'), 'rb') as f:
            z.writestr('archive/data.pkl', f.read())
        for key in sorted(os.listdir(os.path.join(case, 'data'))):
            with open(os.path.join(case, 'data', key), 'rb') as f:
                z.writestr('archive/data/' + key, f.read())
        z.writestr('archive/version', '3\n')
    buf.seek(0)
    m = torch.load(buf)
    sd = m.state_dict()
    out = {
        'class': type(m).__module__ + '.' + type(m).__name__,
        'training': m.training,
        'keys': list(sd.keys()),
        'shapes': [list(t.shape) for t in sd.values()],
        'dtypes': [str(t.dtype).replace('torch.', '') for t in sd.values()],
        'sha256': [hashlib.sha256(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()
                   for t in sd.values()],
        'metadata': {k: dict(v) for k, v in sd._metadata.items()},
        'named_modules': [n for n, _ in m.named_modules()],
        'named_parameters': [n for n, _ in m.named_parameters()],
        'dict_keys': list(m.__dict__.keys()),
    }
    shape_file = os.path.join(case, 'input.json')
    if os.path.exists(shape_file):
        with open(shape_file) as f:
            shape = json.load(f)
        m.eval()
        with torch.no_grad():
            y = m(torch.ones(shape))
        y = y[0] if isinstance(y, tuple) else y
        out['output_shape'] = list(y.shape)
        out['output_finite'] = bool(torch.isfinite(y).all())
    return out


root = sys.argv[1]
print(json.dumps({name: describe(os.path.join(root, name)) for name in sorted(os.listdir(root))}))
