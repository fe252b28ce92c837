#!/usr/bin/python3
"""Seeded generator of the conformance fixtures (run with /usr/bin/python3: real torch 1.13).

usage: /usr/bin/python3 generator/generate.py [--out DIR] [--only CASE ...]

For every case it writes, into fixtures/ (or --out):
  <case>.zip.pt          torch.save(obj, f)                                    (zip format)
  <case>.legacy.pt       torch.save(obj, f, _use_new_zipfile_serialization=False)
  <case>.<fmt>.pt.json   the description written by torch (the corpus schema, see README.md)
  MANIFEST.json          every case with its tags and per-format facts

Deterministic: running it twice gives byte-identical outputs.
  * every case seeds torch, numpy and random from a CRC of its name;
  * the script re-executes itself with PYTHONHASHSEED=0 so that sets of strings pickle in a
    fixed order;
  * torch 1.13's legacy writer names storages by their memory address (str(storage._cdata)),
    so after torch.save each legacy file is rewritten with the keys "0", "1", ... in order of
    first use: the strings in the object pickle are replaced, the sorted key list is pickled
    again and the storage records are put in that sorted order -- exactly the file torch
    writes when its storages have those keys. The rewritten file must load to the same object
    as torch's own file (check_ours.compare_objects: deep, bitwise, identity, sharing);
  * every case's zip and legacy files must load to the same object;
  * the legacy format stores each module class's source file name: `models.__file__` is set
    to the relative "generator/models.py" (the script runs from apps/conformance).

The descriptions are produced by the shared corpus describer
(apps/conformance/corpus/tools/describe.py, or $CORPUS_TOOLS), so one
comparator serves the corpus and the fixtures.
"""
import argparse
import collections
import hashlib
import importlib.util
import io
import json
import math
import os
import pickle
import pickletools
import random
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.dirname(HERE)

import warnings  # noqa: E402

warnings.filterwarnings('ignore')

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, HERE)
import check_ours  # noqa: E402
import models  # noqa: E402


def prepare_environment(argv=None):
    """Everything that makes torch.save deterministic here. With `argv`, re-executes the script
    with PYTHONHASHSEED=0 when it is not set (string sets pickle in hash order)."""
    if os.environ.get('PYTHONHASHSEED') != '0':
        if argv is None:
            raise RuntimeError('generate.py: run with PYTHONHASHSEED=0')
        os.environ['PYTHONHASHSEED'] = '0'
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + list(argv))
    torch.set_num_threads(1)
    os.chdir(APP)
    models.__file__ = 'generator/models.py'  # stable source file name in legacy ('module', ...) ids


def load_describe():
    """Import the corpus describer (corpus/tools/describe.py)."""
    candidates = [os.environ.get('CORPUS_TOOLS', ''),
                  os.path.join(APP, 'corpus', 'tools')]
    for c in candidates:
        p = os.path.join(c, 'describe.py')
        if c and os.path.isfile(p):
            spec = importlib.util.spec_from_file_location('corpus_describe', p)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise SystemExit('generate.py: cannot find corpus/tools/describe.py (set CORPUS_TOOLS)')


# --------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------
CASES = []


TORCH_MAJOR = int(torch.__version__.split('.')[0])
TORCH_LABEL = '.'.join(torch.__version__.split('+')[0].split('.')[:2])  # '1.13', '2.14'


def case(name, tags, summary, byte_identical=True, formats=('zip', 'legacy'), model=None, exact=False, note=None,
         min_torch=1, save=None):
    """Register a case builder. `model` (a callable on the built value) returns the nn.Module
    whose state_dict() facts go into the description; `exact` adds typed exact encodings of the
    top-level values (big ints, float bits) to the description. `min_torch`: the torch major
    version the case needs (2: only in the torch 2.x fixture set). `save(value, path, fmt)`:
    writes the file instead of plain torch.save (save options)."""

    def deco(fn):
        if TORCH_MAJOR < min_torch:
            return fn
        CASES.append({'name': name, 'tags': list(tags), 'summary': summary, 'build': fn,
                      'byte_identical': byte_identical, 'formats': list(formats), 'model': model,
                      'exact': exact, 'note': note, 'save': save})
        return fn

    return deco


def seed_all(name):
    s = zlib.crc32(name.encode()) & 0x7fffffff
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    return s


def f32_bits(*bits):
    return torch.tensor(list(bits), dtype=torch.int64).to(torch.int32).view(torch.float32)


def f64_from_bits(b):
    return struct.unpack('<d', struct.pack('<Q', b))[0]


# --- seed examples --------------------------------------------------------------------
@case('seed_two_slices', ['seed', 'views', 'storage_sharing', 'large_storage'],
      'two slices of one 1e6-element float32 storage: the whole 4 MB storage is written once')
def _():
    base = torch.randn(1_000_000)
    return {'first': base[:10], 'last': base[999_990:]}


@case('seed_expand', ['seed', 'views', 'expand', 'stride0'],
      'zeros(4).expand(4,4): stride (0,1) over a 4-element storage')
def _():
    return torch.zeros(4).expand(4, 4)


@case('seed_clone_breaks_sharing', ['seed', 'views', 'storage_sharing'],
      'a base, a view of it and a clone of that view: the clone has its own storage')
def _():
    base = torch.randn(10)
    view = base[2:5]
    return {'base': base, 'view': view, 'clone': view.clone()}


# --- dtypes ---------------------------------------------------------------------------
def _dtype_case(dt):
    def build():
        if dt in (torch.float32,):
            return torch.cat([torch.randn(6), f32_bits(0x7fc00000, 0x7fc00001, -0x00400000, 0x7f800000,
                                                       -0x00800000, 0x00000001, -0x80000000, 0x7f7fffff)])
        if dt == torch.float64:
            sp = [f64_from_bits(b) for b in (0x7ff8000000000001, 0xfff8000000000000, 0x0000000000000001)]
            return torch.cat([torch.randn(6, dtype=torch.float64),
                              torch.tensor(sp + [math.inf, -math.inf, -0.0, 1.7976931348623157e308],
                                           dtype=torch.float64)])
        if dt == torch.float16:
            special = torch.tensor([0x7e01, 0xfc00, 0x7c00, 0x8000, 0x0001, 0x7bff], dtype=torch.int32)
            return torch.cat([torch.randn(6).to(torch.float16), special.to(torch.int16).view(torch.float16)])
        if dt == torch.bfloat16:
            special = torch.tensor([0x7fc1, 0xff80, 0x7f80, 0x8000, 0x0001, 0x7f7f], dtype=torch.int32)
            return torch.cat([torch.randn(6).to(torch.bfloat16), special.to(torch.int16).view(torch.bfloat16)])
        if dt in (torch.complex64, torch.complex128):
            fdt = torch.float32 if dt == torch.complex64 else torch.float64
            re = torch.cat([torch.randn(4, dtype=fdt), torch.tensor([math.nan, -0.0], dtype=fdt)])
            im = torch.cat([torch.randn(4, dtype=fdt), torch.tensor([math.inf, 0.0], dtype=fdt)])
            return torch.complex(re, im).reshape(2, 3)
        if dt == torch.bool:
            return torch.tensor([[True, False, True], [False, False, True]])
        info = torch.iinfo(dt)
        vals = torch.randint(info.min, info.max, (6,), dtype=torch.int64)
        return torch.cat([vals, torch.tensor([info.min, info.max, 0, -1 if info.min < 0 else 1], dtype=torch.int64)]
                         ).to(dt).reshape(2, 5)

    return build


for _dt in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex128, torch.complex64,
            torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
    _n = str(_dt).replace('torch.', '')
    if _dt.is_floating_point or _dt.is_complex:
        _what = 'random values, NaN payloads, -0.0, +-inf, subnormals'
    elif _dt == torch.bool:
        _what = 'a 2x3 pattern'
    else:
        _what = 'random values, min, max, 0 and -1 (or 1)'
    case(f'dtype_{_n}', ['dtype', _n], f'one {_n} tensor: {_what}')(_dtype_case(_dt))


@case('dtype_all_in_one', ['dtype', 'many_storages'], 'a dict of small tensors of every dtype, one storage each')
def _():
    out = {}
    for dt in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex128, torch.complex64,
               torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
        out[str(dt).replace('torch.', '')] = torch.arange(3).to(dt)
    return out


@case('quantized_per_tensor', ['quantized', 'qint8', 'quint8', 'qint32', 'per_tensor_affine'],
      'quantize_per_tensor to qint8, quint8 and qint32')
def _():
    x = torch.randn(2, 3)
    return {'qint8': torch.quantize_per_tensor(x, 0.05, 3, torch.qint8),
            'quint8': torch.quantize_per_tensor(x, 0.1, 128, torch.quint8),
            'qint32': torch.quantize_per_tensor(x, 0.001, -7, torch.qint32)}


@case('quantized_per_channel', ['quantized', 'qint8', 'quint8', 'qint32', 'per_channel_affine'],
      'quantize_per_channel along axis 0 and axis 1')
def _():
    x = torch.randn(3, 4)
    s0 = torch.tensor([0.1, 0.05, 0.2], dtype=torch.float64)
    z0 = torch.tensor([0, 1, -2], dtype=torch.int64)
    s1 = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    z1 = torch.tensor([10, 20, 30, 40], dtype=torch.int64)
    return {'qint8_axis0': torch.quantize_per_channel(x, s0, z0, 0, torch.qint8),
            'quint8_axis1': torch.quantize_per_channel(x, s1, z1, 1, torch.quint8),
            'qint32_axis0': torch.quantize_per_channel(x, s0, z0, 0, torch.qint32)}


# --- views ----------------------------------------------------------------------------
@case('views_shared_base', ['views', 'storage_sharing', 'non_contiguous', 'transpose', 'permute', 'narrow',
                            'step_slice', 'select', '0d', 'empty', 'expand', 'as_strided'],
      'a 3x4x5 base and many views of it in one dict: one storage, many strides and offsets')
def _():
    base = torch.randn(3, 4, 5)
    col = torch.randn(3, 1)
    return {
        'base': base,
        'transpose': base.transpose(0, 2),
        'permute': base.permute(2, 0, 1),
        'narrow': base.narrow(1, 1, 2),
        'step_slice': base[:, ::2, 1::2],
        'select': base[1],
        'scalar_view': base[1, 2, 3],
        'empty_view': base[:, 4:4],
        'overlap': base.view(-1).as_strided((3, 3), (1, 1), 7),
        'expand': col.expand(3, 4),
        'flat_tail': base.view(-1)[50:],
    }


@case('view_alone', ['views', 'partial_storage'], 'a narrow slice saved without its base: the whole storage is written')
def _():
    return torch.randn(6, 7)[2:4, 1:6]


@case('tensor_0d', ['0d'], 'a top-level 0-d tensor')
def _():
    return torch.tensor(3.25, dtype=torch.float64)


@case('empty_tensors', ['empty'], 'tensors with zero elements, and a tuple of them')
def _():
    return (torch.empty(0), torch.zeros(0, 3, dtype=torch.int64), torch.ones(2, 0, 4, dtype=torch.float16),
            torch.empty(0, dtype=torch.bool))


@case('bare_storage', ['storage', 'storage_sharing'], 'a TypedStorage saved beside a tensor that views it')
def _():
    t = torch.arange(6, dtype=torch.int32)
    return [t[1:4], t.storage()]


# --- containers -----------------------------------------------------------------------
@case('nested_shared', ['containers', 'identity', 'storage_sharing', 'non_string_keys'],
      'nested dict/list/tuple with the same list, dict and tensor reached twice, and int, tuple, None, float, '
      'frozenset and bytes keys')
def _():
    t = torch.randn(3)
    shared_list = [t, 1, 'x']
    shared_dict = {'k': t}
    return {
        'a': shared_list,
        'b': shared_list,
        'c': (shared_dict, shared_dict, [t, t[1:]]),
        1: 'int key',
        -5: 'negative int key',
        (1, 'two'): 'tuple key',
        None: 'None key',
        2.5: 'float key',
        frozenset({3, 4}): 'frozenset key',
        b'raw': 'bytes key',
        'ordered': collections.OrderedDict([('z', 1), ('a', 2), ('m', shared_dict)]),
        'empty': ([], {}, (), collections.OrderedDict()),
    }


@case('recursive_list', ['containers', 'identity', 'recursion'], 'a list that contains itself, and a dict that does')
def _():
    a = [1, 2]
    a.append(a)
    d = {'name': 'd'}
    d['self'] = d
    return {'list': a, 'dict': d}


@case('parameters', ['Parameter', 'requires_grad', 'storage_sharing'],
      'Parameters (requires_grad True and False), a plain tensor with requires_grad, and a Parameter over a view')
def _():
    base = torch.randn(6)
    return collections.OrderedDict([
        ('param', nn.Parameter(torch.randn(2, 3))),
        ('param_frozen', nn.Parameter(torch.randn(3), requires_grad=False)),
        ('tensor_grad', torch.randn(4).requires_grad_()),
        ('tensor_plain', torch.randn(2)),
        ('param_view', nn.Parameter(base[1:4])),
        ('base', base),
    ])


@case('python_values', ['python_values', 'big_int', 'float_special', 'bytes', 'set', 'complex', 'unicode',
                        'torch.Size', 'dtype', 'device'],
      'Python values of every kind (no tensors)', exact=True)
def _():
    return collections.OrderedDict([
        ('none', None), ('true', True), ('false', False),
        ('int_small', 7), ('int_neg', -3), ('int_byte', 255), ('int_2_31', 2 ** 31), ('int_neg_2_31', -2 ** 31 - 1),
        ('int_2_53_plus_1', 2 ** 53 + 1), ('int_2_63', 2 ** 63), ('int_2_64', 2 ** 64),
        ('int_big', 2 ** 100 + 12345), ('int_neg_big', -(2 ** 70) - 1),
        ('float', 1.5), ('float_integral', 2.0), ('neg_zero', -0.0), ('inf', math.inf), ('neg_inf', -math.inf),
        ('nan', math.nan), ('nan_payload', f64_from_bits(0x7ff8000000000abc)), ('neg_nan', f64_from_bits(0xfff8000000000000)),
        ('subnormal', 5e-324), ('float_max', 1.7976931348623157e308), ('tenth', 0.1),
        ('str_empty', ''), ('unicode', 'h\u00e9llo w\u00f6rld \u2713 \U0001d518 \u65e5\u672c\u8a9e'),
        ('str_nul', 'a\x00b\n'), ('str_long', 'abcdefghij' * 40),
        ('bytes', b'\x00\x01\x7f\x80\xff'), ('bytes_empty', b''), ('bytearray', bytearray(b'abc\x80\xff')),
        ('tuple_empty', ()), ('tuple_1', (1,)), ('tuple_nested', (1, (2.0, (None,)), ['x'])),
        ('list', [1, 'two', 3.0, [4]]),
        ('set_int', {3, 1, 2}), ('set_str', {'pear', 'apple', 'fig'}), ('set_empty', set()),
        ('frozenset', frozenset({1, 'x', (2, 3)})),
        ('complex', 1.5 - 2.25j), ('complex_special', complex(-0.0, math.inf)),
        ('size', torch.Size([2, 3, 4])), ('size_empty', torch.Size([])),
        ('dtypes', [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex128, torch.complex64,
                    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool, torch.qint8,
                    torch.quint8, torch.qint32]),
        ('device_cpu', torch.device('cpu')), ('device_cuda_1', torch.device('cuda', 1)),
        ('device_meta', torch.device('meta')),
        ('layout', torch.strided), ('layout_sparse', torch.sparse_coo), ('qscheme', torch.per_channel_affine),
    ])  # torch.memory_format objects cannot be pickled by torch 1.13


@case('numpy_arrays', ['numpy', 'numpy_array'], 'numpy arrays: dtypes, Fortran order, 0-d, empty, beside a tensor')
def _():
    return {
        'f32': np.random.randn(2, 3).astype(np.float32),
        'f64_fortran': np.asfortranarray(np.random.randn(3, 2)),
        'i64': np.arange(5, dtype=np.int64),
        'u8': np.array([0, 255, 7], dtype=np.uint8),
        'bool': np.array([True, False]),
        'c128': np.array([1 + 2j, -0.0 - 1j]),
        'f16': np.array([1.5, -2.0], dtype=np.float16),
        'zero_d': np.array(4.5),
        'empty': np.zeros((0, 2), dtype=np.int32),
        'tensor': torch.arange(3),
    }


@case('numpy_scalars', ['numpy', 'numpy_scalar'], 'numpy scalars and dtypes', byte_identical=False,
      note='numpy dtypes are singletons when saved (the pickler writes BINGET for a repeated np.dtype) but '
           'numpy.dtype(...) builds new objects on load, so even torch re-saving the loaded value writes other bytes')
def _():
    return [np.float32(1.5), np.float64(-0.0), np.float64(np.nan), np.int64(-7), np.int32(3), np.uint8(200),
            np.bool_(True), np.complex64(1 - 1j), np.float16(0.25), np.dtype('float32'), np.dtype('>i4')]


@case('sparse_coo', ['sparse', 'sparse_coo'], 'sparse COO tensors: uncoalesced, coalesced and hybrid')
def _():
    i = torch.tensor([[0, 1, 1, 0], [2, 0, 2, 2]])
    v = torch.tensor([3.0, 4.0, 5.0, 1.0])
    unc = torch.sparse_coo_tensor(i, v, (2, 3))
    hyb = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.randn(2, 3), (4, 3))
    c = unc.coalesce()
    # coalesce() leaves uninitialised slack at the end of its storages: rebuild from exact copies
    coalesced = torch.sparse_coo_tensor(c._indices().clone(), c._values().clone(), c.shape)._coalesced_(True)
    return {'uncoalesced': unc, 'coalesced': coalesced, 'hybrid': hyb}


@case('sparse_csr', ['sparse', 'sparse_csr'], 'a sparse CSR tensor')
def _():
    return torch.sparse_csr_tensor(torch.tensor([0, 2, 3, 5]), torch.tensor([0, 2, 1, 0, 3]),
                                   torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), (3, 4))


# --- models, state dicts, optimizers --------------------------------------------------
def _trained_cnn():
    m = models.SmallCNN()
    m.train()
    m(torch.randn(2, 1, 5, 5))
    m.eval()
    return m


def _mlp():
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))


def _lstm():
    return nn.LSTM(input_size=4, hidden_size=5, num_layers=2, batch_first=True)


def _transformer():
    return nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)


def _cnn_seq():
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 3 * 3, 2))
    m.train()
    m(torch.randn(2, 1, 5, 5))
    return m


NN_MODELS = {
    'mlp': (_mlp, 'an MLP (nn.Sequential of Linear/ReLU/Tanh)', ['Sequential', 'Linear']),
    'cnn_bn': (_cnn_seq, 'a small CNN (Sequential of Conv2d, BatchNorm2d after one training step, ReLU, Flatten, '
                         'Linear)', ['Sequential', 'Conv2d', 'BatchNorm2d', 'num_batches_tracked']),
    'user_cnn': (_trained_cnn, 'models.SmallCNN: a user class with Conv2d + BatchNorm2d + pooling + Linear',
                 ['user_class', 'Conv2d', 'BatchNorm2d']),
    'lstm': (_lstm, 'a 2-layer LSTM (flat weights)', ['LSTM']),
    'transformer_layer': (_transformer, 'a TransformerEncoderLayer (MultiheadAttention, LayerNorm, Linear)',
                          ['TransformerEncoderLayer', 'MultiheadAttention', 'LayerNorm']),
    'tied_embedding': (models.TiedLM, 'models.TiedLM: Embedding whose weight is also the output Linear weight',
                       ['user_class', 'Embedding', 'tied_weights', 'LayerNorm']),
    'user_net': (models.Net, 'models.Net: a user class with a persistent and a non-persistent buffer',
                 ['user_class', 'Linear', 'non_persistent_buffer']),
}


def _register_nn(key, factory, summary, extra_tags):
    user = 'user_class' in extra_tags

    @case(f'nn_{key}_state_dict', ['nn', 'state_dict', '_metadata'] + extra_tags, f'state_dict() of {summary}',
          model=lambda v, f=factory, k=key: _rebuilt(k, f))
    def _sd(f=factory):
        return f().state_dict()

    @case(f'nn_{key}_model', ['nn', 'whole_model'] + extra_tags + (['needs_models_module'] if user else []),
          f'the whole pickled module: {summary}', model=lambda v: v)
    def _whole(f=factory):
        return f()


def _rebuilt(key, factory):
    seed_all(f'nn_{key}_state_dict')
    return factory()


for _k, (_f, _s, _t) in NN_MODELS.items():
    _register_nn(_k, _f, _s, _t)


@case('state_dict_checkpoint', ['state_dict', '_metadata', 'checkpoint', 'optimizer', 'python_values'],
      'a training checkpoint: model state_dict, SGD-with-momentum state_dict after a step, epoch and loss')
def _():
    m = _mlp()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss = m(torch.randn(4, 5)).pow(2).sum()
    loss.backward()
    opt.step()
    return {'epoch': 3, 'loss': float(loss), 'model': m.state_dict(), 'optimizer': opt.state_dict()}


@case('optimizer_sgd_momentum', ['optimizer', 'SGD', 'non_string_keys'],
      'SGD(momentum=0.9) state_dict after one step: int keys in state, momentum buffers')
def _():
    m = nn.Linear(3, 2)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    m(torch.randn(5, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


@case('optimizer_adam', ['optimizer', 'Adam', 'non_string_keys', '0d'],
      'Adam state_dict after two steps: step tensors, exp_avg, exp_avg_sq, betas tuple')
def _():
    m = nn.Linear(3, 2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.8, 0.99), amsgrad=True)
    for _ in range(2):
        opt.zero_grad()
        m(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
    return opt.state_dict()


@case('handmade_state_dict', ['state_dict', '_metadata', 'buildable_in_ts'],
      'a state dict that TypeScript can build from scratch: OrderedDict(weight=arange(6, float32).reshape(2, 3), '
      'bias=zeros(2), steps=tensor(7, int64)) with _metadata {"": {"version": 1}}; saving the same value from '
      'TypeScript must give these exact bytes')
def _():
    sd = collections.OrderedDict([('weight', torch.arange(6, dtype=torch.float32).reshape(2, 3)),
                                  ('bias', torch.zeros(2)),
                                  ('steps', torch.tensor(7))])
    sd._metadata = collections.OrderedDict([('', {'version': 1})])
    return sd


def _protocol_saver(protocol):
    """torch.save(..., pickle_protocol=protocol) in either format."""
    def save(value, path, fmt):
        kw = {} if fmt == 'zip' else {'_use_new_zipfile_serialization': False}
        torch.save(value, path, pickle_protocol=protocol, **kw)
    return save


MEMORY_FORMATS = ('contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format')


def _memory_formats():
    x = torch.randn(2, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    return {'formats': [getattr(torch, n) for n in MEMORY_FORMATS], 'x': x, 'x_format': torch.channels_last}


# torch 1.13's Python (3.11) cannot pickle memory formats below protocol 4 ("cannot pickle 'module'
# object"); at 4 both torches write STACK_GLOBAL('torch._utils', 'torch.channels_last')
case('memory_format', ['memory_format', 'protocol4'],
     'torch.memory_format values (every one, and channels_last again) beside a channels-last tensor, saved with '
     'pickle_protocol=4: STACK_GLOBAL torch._utils / torch.<name> (zip only: the generator renames legacy '
     'storage keys in protocol-2 pickles only)', formats=('zip',), save=_protocol_saver(4))(_memory_formats)


if TORCH_MAJOR >= 2:
    import cases_torch2  # noqa: E402

    cases_torch2.register(case)  # the cases only torch 2.x can write


# --------------------------------------------------------------------------------------
# load_state_dict error messages
# --------------------------------------------------------------------------------------

def _apply_ops(sd, ops):
    sd = collections.OrderedDict(sd)
    sd._metadata = getattr(sd, '_metadata', None)
    for op in ops:
        if op['op'] == 'remove':
            del sd[op['key']]
        else:  # 'add' or 'replace': a zeros tensor of the given shape and dtype
            sd[op['key']] = torch.zeros(op['shape'], dtype=getattr(torch, op['dtype']))
    return sd


def load_state_dict_scenarios():
    """torch's load_state_dict behaviour for edited state dicts of the nn fixtures. Each
    scenario names the whole-model fixture, the state-dict fixture and the edits (in order;
    'replace' keeps the key's position, 'add' appends); the result is torch's error text with
    strict=True and the missing/unexpected key lists (or error) with strict=False."""
    out = []
    for key in NN_MODELS:
        seed_all(f'nn_{key}_state_dict')
        sd = NN_MODELS[key][0]().state_dict()
        keys = list(sd.keys())
        first, last = keys[0], keys[-1]
        bad_shape = [d + 1 for d in sd[first].shape] or [2]
        scenarios = {
            'missing_one': [{'op': 'remove', 'key': last}],
            'missing_two': [{'op': 'remove', 'key': first}, {'op': 'remove', 'key': last}],
            'unexpected_one': [{'op': 'add', 'key': 'extra.weight', 'shape': [1], 'dtype': 'float32'}],
            'shape_mismatch': [{'op': 'replace', 'key': first, 'shape': bad_shape,
                                'dtype': str(sd[first].dtype).replace('torch.', '')}],
            'all_three': [{'op': 'remove', 'key': last},
                          {'op': 'add', 'key': 'extra.weight', 'shape': [1], 'dtype': 'float32'},
                          {'op': 'add', 'key': 'zz_unexpected', 'shape': [], 'dtype': 'int64'},
                          {'op': 'replace', 'key': first, 'shape': bad_shape,
                           'dtype': str(sd[first].dtype).replace('torch.', '')}],
        }
        for sname, ops in scenarios.items():
            entry = {'model_fixture': f'nn_{key}_model', 'state_dict_fixture': f'nn_{key}_state_dict',
                     'scenario': sname, 'ops': ops}
            for strict in (True, False):
                seed_all(f'nn_{key}_model')
                m = NN_MODELS[key][0]()
                try:
                    r = m.load_state_dict(_apply_ops(sd, ops), strict=strict)
                    res = {'error': None, 'missing_keys': list(r.missing_keys),
                           'unexpected_keys': list(r.unexpected_keys)}
                except RuntimeError as e:
                    res = {'error': str(e)}
                entry['strict' if strict else 'non_strict'] = res
            out.append(entry)
    return out


def save_error_scenarios():
    """Values torch.save refuses, with torch's exception class and text for each format."""
    t = torch.arange(4.0)
    scenarios = [
        ('two_dtypes_one_storage', "{'a': arange(4.0) (float32), 'b': the same tensor .view(torch.int32)}",
         lambda: {'a': t, 'b': t.view(torch.int32)}),
        ('storage_and_other_dtype_view', "[arange(4.0).storage(), the same tensor .view(torch.int16)]",
         lambda: [t.storage(), t.view(torch.int16)]),
    ]
    out = []
    for name, what, build in scenarios:
        entry = {'scenario': name, 'value': what}
        for fmt in ('zip', 'legacy'):
            try:
                torch.save(build(), io.BytesIO(), _use_new_zipfile_serialization=(fmt == 'zip'))
                entry[fmt] = {'error': None}
            except Exception as e:  # noqa: BLE001 - recording torch's exception is the point
                entry[fmt] = {'error_class': type(e).__name__, 'error': str(e)}
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------
# legacy key normalisation
# --------------------------------------------------------------------------------------

def _pickle_end(data, start):
    for op, _arg, pos in pickletools.genops(io.BytesIO(data[start:])):
        if op.name == 'STOP':
            return start + pos + 1
    raise ValueError('pickle without STOP')


def normalize_legacy(data, describe):
    """Rename a torch-1.13 legacy file's storage keys (memory addresses) to "0", "1", ... in order
    of first use, and rewrite the file as torch writes it for those keys."""
    p = 0
    for _ in range(3):  # magic number, protocol version, sys_info
        p = _pickle_end(data, p)
    head = data[:p]
    main_start = p
    _obj, pids, main_end = describe.stub_unpickle(data, main_start)
    keys_end = _pickle_end(data, main_end)
    old_keys = pickle.loads(data[main_end:keys_end])
    mapping = {}
    elsize = {}
    for pid in pids:
        if isinstance(pid, tuple) and pid and pid[0] == 'storage':
            k = pid[2]
            if k not in mapping:
                mapping[k] = str(len(mapping))
                name = pid[1]._qualname.split('.')[-1]
                elsize[k] = getattr(torch, name)().element_size()
            if pid[5] is not None:
                raise ValueError('storage views are not produced by torch 1.13')
    if sorted(mapping) != sorted(old_keys):
        raise ValueError('legacy key list and persistent ids disagree')
    # object pickle with the string arguments replaced
    out = bytearray()
    ops = list(pickletools.genops(io.BytesIO(data[main_start:main_end])))
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else main_end - main_start
        raw = data[main_start + pos:main_start + end]
        if op.name == 'BINUNICODE' and arg in mapping:
            b = mapping[arg].encode()
            raw = b'X' + struct.pack('<I', len(b)) + b
        elif op.name in ('SHORT_BINUNICODE', 'UNICODE', 'BINUNICODE8') and arg in mapping:
            raise ValueError(f'unexpected opcode {op.name} for a storage key')
        out += raw
    # storage records, old order
    records = {}
    q = keys_end
    for k in old_keys:
        n = struct.unpack('<q', data[q:q + 8])[0]
        nb = n * elsize[k]
        records[k] = data[q:q + 8 + nb]
        q += 8 + nb
    if q != len(data):
        raise ValueError(f'legacy: {len(data) - q} trailing bytes after the storages')
    inverse = {v: k for k, v in mapping.items()}
    new_keys = sorted(mapping.values())
    tail = pickle.dumps(new_keys, protocol=2)
    return bytes(head) + bytes(out) + tail + b''.join(records[inverse[k]] for k in new_keys)


# --------------------------------------------------------------------------------------
# descriptions
# --------------------------------------------------------------------------------------

def exact_encode(o):
    """Typed, lossless JSON encoding of Python scalars and containers (for `exact` cases)."""
    if o is None or isinstance(o, bool):
        return {'t': type(o).__name__, 'v': o}
    if isinstance(o, int):
        return {'t': 'int', 'v': str(o)}
    if isinstance(o, float):
        return {'t': 'float', 'bits': struct.pack('>d', o).hex(), 'repr': repr(o)}
    if isinstance(o, complex):
        return {'t': 'complex', 'real_bits': struct.pack('>d', o.real).hex(),
                'imag_bits': struct.pack('>d', o.imag).hex()}
    if isinstance(o, str):
        return {'t': 'str', 'v': o}
    if isinstance(o, (bytes, bytearray)):
        return {'t': type(o).__name__, 'hex': bytes(o).hex()}
    if isinstance(o, torch.Size):
        return {'t': 'torch.Size', 'v': list(o)}
    if isinstance(o, (tuple, list)):
        return {'t': type(o).__name__, 'items': [exact_encode(x) for x in o]}
    if isinstance(o, (set, frozenset)):
        enc = [exact_encode(x) for x in o]
        return {'t': type(o).__name__, 'items': sorted(enc, key=lambda e: json.dumps(e, sort_keys=True))}
    if isinstance(o, dict):
        return {'t': type(o).__module__ + '.' + type(o).__qualname__,
                'items': [[exact_encode(k), exact_encode(v)] for k, v in o.items()]}
    return {'t': type(o).__module__ + '.' + type(o).__qualname__, 'repr': repr(o)}


def state_dict_facts(model, describe):
    sd = model.state_dict()
    meta = getattr(sd, '_metadata', None)
    D = describe.Describer()
    obj = D(sd)
    D.resolve_views()
    return {
        'class': type(model).__module__ + '.' + type(model).__qualname__,
        'keys': list(sd.keys()),
        'shapes': [list(v.shape) for v in sd.values()],
        'dtypes': [str(v.dtype).replace('torch.', '') for v in sd.values()],
        'metadata': {k: dict(v) for k, v in meta.items()} if meta is not None else None,
        'named_parameters': [n for n, _ in model.named_parameters()],
        'named_buffers': [n for n, _ in model.named_buffers()],
        'named_modules': [n for n, _ in model.named_modules()],
        'object': obj,
        'storages': D.storage_info,
    }


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1, sort_keys=False, default=lambda x: repr(x))
        f.write('\n')


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    # torch 1.x writes fixtures/, torch 2.x fixtures-<major.minor>/ (fixtures-2.14)
    ap.add_argument('--out', default=os.path.join(APP, 'fixtures' if TORCH_MAJOR < 2 else f'fixtures-{TORCH_LABEL}'))
    ap.add_argument('--only', nargs='*', default=None)
    args = ap.parse_args(argv)
    out_dir = os.path.abspath(args.out)
    prepare_environment(argv)
    describe = load_describe()
    os.makedirs(out_dir, exist_ok=True)
    describe.EXPECTED = out_dir
    manifest = {
        'generator': 'generator/generate.py',
        'torch_version': torch.__version__,
        'numpy_version': np.__version__,
        'python_version': '.'.join(map(str, sys.version_info[:3])),
        'description_schema': 'corpus/tools/describe.py (see README.md)',
        'cases': [],
    }
    total = 0
    failures = []
    for c in CASES:
        if args.only and c['name'] not in args.only:
            continue
        seed = seed_all(c['name'])
        value = c['build']()
        entry = {'name': c['name'], 'summary': c['summary'], 'tags': c['tags'], 'seed': seed, 'formats': {}}
        if c['note']:
            entry['note'] = c['note']
        loaded = {}
        descriptions = {}
        for fmt in c['formats']:
            torch_error = None
            fname = f"{c['name']}.{fmt}.pt"
            path = os.path.join(out_dir, fname)
            if c['save'] is not None and fmt == 'zip':
                c['save'](value, path, fmt)
            elif fmt == 'zip':
                torch.save(value, path)
            else:
                buf = io.BytesIO()
                if c['save'] is not None:
                    c['save'](value, buf, fmt)
                else:
                    torch.save(value, buf, _use_new_zipfile_serialization=False)
                raw_path = path + '.raw-keys.tmp'
                with open(raw_path, 'wb') as f:
                    f.write(buf.getvalue())
                with open(path, 'wb') as f:
                    f.write(normalize_legacy(buf.getvalue(), describe))
                # the renamed-keys file must load to exactly what torch's own file loads to
                rep = check_ours.Report(quiet=True, out=sys.stderr)
                try:
                    raw_loaded = check_ours.load_trusted(raw_path)
                except Exception as e:  # noqa: BLE001 - torch 2.x cannot load some of its own legacy files
                    raw_loaded = torch_error = f'{type(e).__name__}: {e}'
                if torch_error is None:
                    check_ours.compare_objects(raw_loaded, check_ours.load_trusted(path), rep)
                os.remove(raw_path)
                if rep.failed:
                    failures.append(f'{fname}: key renaming changed the loaded object: ' + '; '.join(rep.failures[:3]))
            reloaded = None
            if torch_error is None:
                reloaded = check_ours.load_trusted(path)
                loaded[fmt] = reloaded
            res = describe.process(path)
            if torch_error is not None:
                # torch cannot load this file (torch 2.x legacy files of dtypes without a storage class:
                # UntypedStorage has no dtype): describe the same value through the case's zip file
                if 'zip' not in descriptions:
                    failures.append(f'{fname}: torch cannot load it and the case has no zip file: {torch_error}')
                    continue
                for k in ('object', 'storages', 'n_tensors'):
                    res[k] = descriptions['zip'][k]
                res['described_from'] = f"{c['name']}.zip.pt"
                res['torch_load_error'] = torch_error
            descriptions[fmt] = res
            res['case'] = {'name': c['name'], 'format': fmt, 'tags': c['tags'], 'seed': seed}
            if c['model'] is not None:
                res['torch_state_dict'] = state_dict_facts(c['model'](value), describe)
                if isinstance(reloaded, nn.Module):
                    res['loaded_model_state_dict'] = state_dict_facts(reloaded, describe)
            if c['exact']:
                res['exact'] = exact_encode(value)
            write_json(path + '.json', res)
            with open(path, 'rb') as f:
                data = f.read()
            total += len(data)
            entry['formats'][fmt] = {
                'file': fname, 'description': fname + '.json', 'bytes': len(data),
                'sha256': hashlib.sha256(data).hexdigest(),
                'weights_only': res['load'].get('weights_only') == 'ok',
                'byte_identical_resave': c['byte_identical'],
                'globals': res['globals'],
            }
            if torch_error is not None:
                entry['formats'][fmt]['torch_load_error'] = torch_error
                entry['formats'][fmt]['compare_with'] = res['described_from']
            print(f"{fname}\t{len(data)}\tweights_only={entry['formats'][fmt]['weights_only']}", flush=True)
        if len(loaded) == 2:  # both formats load to the same object
            rep = check_ours.Report(quiet=True, out=sys.stderr)
            check_ours.compare_objects(loaded['zip'], loaded['legacy'], rep)
            entry['zip_equals_legacy'] = rep.failed == 0
            if rep.failed:
                failures.append(f"{c['name']}: zip and legacy load differently: " + '; '.join(rep.failures[:3]))
        manifest['cases'].append(entry)
    if not args.only:
        write_json(os.path.join(out_dir, 'load_state_dict_errors.json'),
                   {'torch_version': torch.__version__, 'scenarios': load_state_dict_scenarios()})
        write_json(os.path.join(out_dir, 'save_errors.json'),
                   {'torch_version': torch.__version__, 'scenarios': save_error_scenarios()})
        manifest['extra_files'] = {
            'load_state_dict_errors.json': 'torch load_state_dict messages and key lists for edited state dicts '
                                           'of the nn fixtures',
            'save_errors.json': 'values torch.save refuses, with the exception class and text per format',
        }
        manifest['total_fixture_bytes'] = total
        write_json(os.path.join(out_dir, 'MANIFEST.json'), manifest)
    print(f'{len(manifest["cases"])} cases, {total} bytes of fixtures')
    if failures:
        print('\n'.join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
