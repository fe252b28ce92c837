#!/usr/bin/python3
"""Have real torch (1.13 or 2.x) load a file written by our TypeScript stack and compare it deeply with
the original fixture.

usage:
  /usr/bin/python3 generator/check_ours.py ORIGINAL OURS [--byte-identical] [-q]
  /usr/bin/python3 generator/check_ours.py --batch PAIRS.json [-q]
      PAIRS.json: [{"original": "...", "ours": "...", "byte_identical": false, "name": "...",
                    "fallback": "..."?}, ...]  (fallback: compared with when ORIGINAL cannot be loaded)
      (relative paths are resolved against the JSON file's directory)

Before OURS is unpickled, every global its pickles reference is checked against an allowlist
(torch rebuild functions, storage classes, dtypes and other torch value types, torch.nn modules,
torch.optim classes, collections, numpy array/scalar reconstruction, harmless builtins, and the
classes of generator/models.py); a file naming anything else is refused without loading it.
Loading then goes through an unpickler that resolves only those names.

Compared, recursively: exact classes; values bitwise (NaN payloads, -0.0); dtypes, shapes,
strides, storage offsets, whole storage bytes and sizes; storage sharing (tensors sharing one
storage in the original share one in ours, and only those); object identity (an object reached
twice in the original is one object in ours, and the reverse); dict order and OrderedDict
attributes (`_metadata`); Parameter vs Tensor; requires_grad; quantization parameters; sparse
layouts; numpy arrays and scalars; modules (class, full __dict__, state_dict()).

Prints one line per check (only failures with -q), then `N passed, N failed`; exit status 1 when
any check fails, 2 when a file is refused or cannot be loaded. When this torch cannot load the
original (a torch 2.x fixture in torch 1.13), the pair is skipped: `SKIP  <label>: reason`.
Runs under torch 1.13 and torch 2.x.
"""
import argparse
import collections
import io
import json
import os
import pickle
import pickletools
import signal
import struct
import sys
import types
import weakref
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class Refused(Exception):
    """OURS names a global outside the allowlist, or is not a torch.save file."""


# --------------------------------------------------------------------------------------
# allowlist
# --------------------------------------------------------------------------------------
SAFE_BUILTINS = {'set', 'frozenset', 'bytearray', 'bytes', 'complex', 'slice', 'range', 'list', 'dict', 'tuple',
                 'int', 'float', 'str', 'bool', 'object'}
TORCH_VALUE_TYPES = (torch.dtype, torch.layout, torch.memory_format, torch.qscheme)
NN_FUNCTIONAL = {'relu', 'gelu', 'silu', 'tanh', 'sigmoid', 'leaky_relu', 'elu'}


MEMORY_FORMATS = ('contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format')


def _memory_format_getattr(obj, attr):
    """builtins.getattr as Python 3.12+ pickles a memory format below protocol 4
    (getattr(torch._utils.torch, 'channels_last')): only that, nothing else."""
    if obj is torch and attr in MEMORY_FORMATS:
        return getattr(torch, attr)
    raise Refused(f'getattr({obj!r}, {attr!r}) is not allowed')


def resolve_allowed(module, name):
    """The object for an allow-listed global, else None. Never imports anything outside
    torch, numpy, collections, builtins, copyreg, _codecs and generator/models.py."""
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    # memory formats: torch pickles them as torch._utils + 'torch.<name>' (protocol 4+), or as
    # getattr(torch._utils.torch, '<name>') below 4 (Python 3.12+)
    if module in ('torch._utils', 'torch') and name.startswith('torch.') and name[6:] in MEMORY_FORMATS:
        return getattr(torch, name[6:])
    if module == 'torch._utils' and name == 'torch':
        return torch
    if module in ('builtins', '__builtin__') and name == 'getattr':
        return _memory_format_getattr
    if '.' in name:
        return None
    top = module.split('.')[0]
    if module in ('builtins', '__builtin__'):
        if name in SAFE_BUILTINS:
            import builtins
            return getattr(builtins, name)
        return None
    if module in ('copyreg', 'copy_reg') and name == '_reconstructor':
        import copyreg
        return copyreg._reconstructor
    if module == '_codecs' and name == 'encode':
        import _codecs
        return _codecs.encode
    if module == 'collections' and name in ('OrderedDict', 'defaultdict', 'Counter', 'deque'):
        return getattr(collections, name)
    if top == 'numpy':
        allowed = {('numpy.core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
                   ('numpy._core.multiarray', '_reconstruct'), ('numpy._core.multiarray', 'scalar'),
                   ('numpy', 'ndarray'), ('numpy', 'dtype')}
        if (module, name) in allowed:
            import importlib
            return getattr(importlib.import_module(module), name)
        return None
    if top == 'torch':
        if module == 'torch':
            obj = getattr(torch, name, None)
            if isinstance(obj, TORCH_VALUE_TYPES) or obj in (torch.Size, torch.device, torch.Tensor):
                return obj
            if isinstance(obj, type) and name.endswith('Storage'):
                return obj
            return None
        if module == 'torch._utils' and name.startswith('_rebuild_'):
            return getattr(torch._utils, name, None)
        if module == 'torch._tensor' and name == '_rebuild_from_type_v2':
            return torch._tensor._rebuild_from_type_v2
        if module == 'torch.serialization' and name == '_get_layout':
            return getattr(torch.serialization, name, None)
        if module == 'torch.storage' and name in ('TypedStorage', 'UntypedStorage', '_LegacyStorage'):
            return getattr(torch.storage, name, None)
        if module == 'torch.nn.parameter' and name in ('Parameter', 'UninitializedParameter', 'UninitializedBuffer'):
            return getattr(torch.nn.parameter, name)
        if module == 'torch.masked.maskedtensor.core' and name == 'MaskedTensor':
            from torch.masked.maskedtensor.core import MaskedTensor
            return MaskedTensor
        if module == 'torch.nn.functional' and name in NN_FUNCTIONAL:
            return getattr(torch.nn.functional, name)
        if module.startswith('torch.nn.modules.') or module.startswith('torch.optim.'):
            import importlib
            try:
                obj = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                return None
            if isinstance(obj, type) and (issubclass(obj, torch.nn.Module) or issubclass(obj, torch.optim.Optimizer)):
                return obj
            return None
        return None
    if module == 'subclasses':
        import subclasses
        obj = getattr(subclasses, name, None)
        if isinstance(obj, type) and issubclass(obj, torch.Tensor) and obj.__module__ == 'subclasses':
            return obj
        return None
    if module == 'models':
        import models
        obj = getattr(models, name, None)
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and obj.__module__ == 'models':
            return obj
        return None
    return None


def _scan_one(data, start):
    """Globals of one pickle starting at `start` (GLOBAL and STACK_GLOBAL), and its end offset."""
    globs = []
    strings = []  # the values pushed by string opcodes, None for anything else
    memo = {}
    n_memo = 0
    stream = io.BytesIO(data)
    stream.seek(start)
    try:
        for op, arg, pos in pickletools.genops(stream):
            name = op.name
            if name == 'GLOBAL':
                mod, _, nm = arg.partition(' ')
                globs.append((mod, nm))
                strings.append(None)
            elif name == 'STACK_GLOBAL':
                if len(strings) >= 2 and isinstance(strings[-1], str) and isinstance(strings[-2], str):
                    globs.append((strings[-2], strings[-1]))
                else:
                    globs.append(('?', '?STACK_GLOBAL'))
                strings.append(None)
            elif name in ('SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE', 'STRING', 'BINSTRING',
                          'SHORT_BINSTRING'):
                strings.append(arg if isinstance(arg, str) else None)
            elif name == 'MEMOIZE':
                memo[n_memo] = strings[-1] if strings else None
                n_memo += 1
            elif name in ('PUT', 'BINPUT', 'LONG_BINPUT'):
                memo[arg] = strings[-1] if strings else None
            elif name in ('GET', 'BINGET', 'LONG_BINGET'):
                strings.append(memo.get(arg))
            elif name == 'STOP':
                return globs, pos + 1
            elif name not in ('FRAME', 'PROTO'):
                strings.append(None)
    except Exception as e:  # malformed pickle: refuse
        raise Refused(f'pickle at offset {start} does not parse: {e}') from None
    raise Refused(f'pickle at offset {start} has no STOP')


def scan_globals(path):
    """Every (module, name) the file's pickles reference. Raises Refused for a file that is
    neither a torch zip archive nor a legacy stream."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] == b'PK\x03\x04':
        z = zipfile.ZipFile(io.BytesIO(data))
        pkls = [n for n in z.namelist() if n.endswith('.pkl')]
        if not [n for n in pkls if n.endswith('/data.pkl')]:
            raise Refused('zip archive without data.pkl')
        out = []
        for n in pkls:
            out += _scan_one(z.read(n), 0)[0]
        return out
    globs, end = _scan_one(data, 0)
    try:
        magic = pickle.loads(data[:end])
    except Exception:
        magic = None
    if magic != LEGACY_MAGIC or globs:
        raise Refused('neither a zip archive nor a legacy torch stream (magic number missing)')
    out = []
    for _ in range(4):  # protocol version, sys_info, object pickle, storage key list
        g, end2 = _scan_one(data, end)
        out += g
        end = end2
    return out


def check_allowlist(path):
    bad = sorted({f'{m}.{n}' for m, n in scan_globals(path) if resolve_allowed(m, n) is None})
    if bad:
        raise Refused(f'{path}: globals outside the allowlist: {", ".join(bad)}')


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        obj = resolve_allowed(module, name)
        if obj is None:
            raise Refused(f'global {module}.{name} is not allowed')
        return obj


_restricted = types.ModuleType('check_ours_restricted_pickle')
_restricted.Unpickler = _RestrictedUnpickler
_restricted.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()
_restricted.__name__ = 'check_ours_restricted_pickle'


def load_restricted(path):
    """torch.load(path, map_location='cpu') through the allowlist unpickler (torch 1.13's
    internal loaders are called directly because torch.load swaps the pickle module)."""
    import warnings
    from torch import serialization as S
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with open(path, 'rb') as f:
            if S._is_zipfile(f):
                with S._open_zipfile_reader(f) as zr:
                    return S._load(zr, 'cpu', _restricted, encoding='utf-8')
            return S._legacy_load(f, 'cpu', _restricted, encoding='utf-8')


def load_trusted(path):
    """Load a file this generator wrote (still through the allowlist unpickler)."""
    return load_restricted(path)


# --------------------------------------------------------------------------------------
# deep comparison
# --------------------------------------------------------------------------------------

class Report:
    def __init__(self, quiet=False, out=sys.stdout):
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.quiet = quiet
        self.out = out

    def check(self, ok, what, detail=''):
        if ok:
            self.passed += 1
            if not self.quiet:
                print(f'PASS  {what}', file=self.out)
        else:
            self.failed += 1
            self.failures.append(f'{what}: {detail}')
            print(f'FAIL  {what}: {detail}', file=self.out)
        return ok


def qualname(o):
    t = type(o)
    return f'{t.__module__}.{t.__qualname__}'


def _float_bits(x):
    return struct.pack('<d', x)


def _untyped(t):
    """A tensor's UntypedStorage (torch 1.13: through TypedStorage._storage; 2.x: untyped_storage())."""
    if hasattr(t, 'untyped_storage'):
        return t.untyped_storage()
    return t.storage()._storage


def _storage_bytes(u):
    nb = u.nbytes()
    if nb == 0:
        return b''
    b = torch.empty(0, dtype=torch.uint8)
    b.set_(u, 0, (nb,), (1,))
    return b.numpy().tobytes()


COMPRESSED_LAYOUTS = tuple(getattr(torch, n) for n in ('sparse_csc', 'sparse_bsr', 'sparse_bsc') if hasattr(torch, n))
ATOMS = (type(None), bool, int, float, str, bytes, complex)


class Comparer:
    def __init__(self, rep):
        self.rep = rep
        self.o2u = {}  # id(original object) -> ours object
        self.u2o = {}  # id(ours object) -> original object
        self.keep = []
        self.st_o2u = {}  # original StorageImpl -> ours StorageImpl
        self.st_u2o = {}

    def fail(self, path, msg):
        return self.rep.check(False, path, msg)

    # identity: an object reached twice must be reached twice on the other side too
    def identity(self, o, u, path):
        if isinstance(o, ATOMS) or isinstance(o, (torch.dtype, torch.device, torch.layout, torch.qscheme,
                                                  torch.memory_format)):
            return None
        a = self.o2u.get(id(o))
        b = self.u2o.get(id(u))
        if a is None and b is None:
            self.o2u[id(o)] = u
            self.u2o[id(u)] = o
            self.keep += [o, u]
            return None
        if a is u and b is o:
            return self.rep.check(True, f'{path} identity', '')
        if a is None:
            return self.fail(path + ' identity', 'ours reuses an object that is distinct in the original')
        return self.fail(path + ' identity', 'the original reaches this object a second time, ours has a distinct object')

    def storage(self, t_o, t_u, path):
        so = _untyped(t_o)._cdata
        su = _untyped(t_u)._cdata
        a = self.st_o2u.get(so)
        b = self.st_u2o.get(su)
        if a is None and b is None:
            self.st_o2u[so] = su
            self.st_u2o[su] = so
            return True
        if a == su and b == so:
            return True
        if a is None:
            self.fail(path + ' storage sharing', 'ours shares a storage that is separate in the original')
        else:
            self.fail(path + ' storage sharing', 'the original shares this storage with an earlier tensor, ours does not')
        return False

    def tensor(self, o, u, path):
        errs = []
        for attr in ('dtype', 'layout', 'device', 'requires_grad', 'is_quantized'):
            if getattr(o, attr) != getattr(u, attr):
                errs.append(f'{attr} {getattr(o, attr)} != {getattr(u, attr)}')
        if tuple(o.shape) != tuple(u.shape):
            errs.append(f'shape {list(o.shape)} != {list(u.shape)}')
        if errs:
            return self.fail(path, '; '.join(errs))
        if o.layout == torch.sparse_coo:
            if (o.is_coalesced(), o.sparse_dim(), o.dense_dim()) != (u.is_coalesced(), u.sparse_dim(), u.dense_dim()):
                return self.fail(path, 'sparse coalesced/sparse_dim/dense_dim differ')
            self.rep.check(True, f'{path} sparse_coo {list(o.shape)}')
            a = self.value(o._indices(), u._indices(), path + '._indices()', fresh=True)
            b = self.value(o._values(), u._values(), path + '._values()', fresh=True)
            return a and b
        if o.layout == torch.sparse_csr:
            self.rep.check(True, f'{path} sparse_csr {list(o.shape)}')
            a = self.value(o.crow_indices(), u.crow_indices(), path + '.crow_indices()', fresh=True)
            b = self.value(o.col_indices(), u.col_indices(), path + '.col_indices()', fresh=True)
            c = self.value(o.values(), u.values(), path + '.values()', fresh=True)
            return a and b and c
        if o.layout in COMPRESSED_LAYOUTS:  # torch 2.x: CSC, BSR, BSC
            row = o.layout in (torch.sparse_bsr,)
            ci, pi = ('crow_indices', 'col_indices') if row else ('ccol_indices', 'row_indices')
            self.rep.check(True, f'{path} {str(o.layout).replace("torch.", "")} {list(o.shape)}')
            a = self.value(getattr(o, ci)(), getattr(u, ci)(), f'{path}.{ci}()', fresh=True)
            b = self.value(getattr(o, pi)(), getattr(u, pi)(), f'{path}.{pi}()', fresh=True)
            c = self.value(o.values(), u.values(), path + '.values()', fresh=True)
            return a and b and c
        if tuple(o.stride()) != tuple(u.stride()):
            errs.append(f'stride {list(o.stride())} != {list(u.stride())}')
        if o.storage_offset() != u.storage_offset():
            errs.append(f'storage_offset {o.storage_offset()} != {u.storage_offset()}')
        uo, uu = _untyped(o), _untyped(u)
        if uo.nbytes() != uu.nbytes():
            errs.append(f'storage nbytes {uo.nbytes()} != {uu.nbytes()}')
        elif _storage_bytes(uo) != _storage_bytes(uu):
            bo, bu = _storage_bytes(uo), _storage_bytes(uu)
            first = next(i for i in range(len(bo)) if bo[i] != bu[i])
            errs.append(f'storage bytes differ (first at byte {first})')
        if o.is_quantized:
            qs = o.qscheme()
            if qs != u.qscheme():
                errs.append(f'qscheme {qs} != {u.qscheme()}')
            elif qs in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                if _float_bits(o.q_scale()) != _float_bits(u.q_scale()) or o.q_zero_point() != u.q_zero_point():
                    errs.append(f'q_scale/zero_point {o.q_scale()},{o.q_zero_point()} != {u.q_scale()},{u.q_zero_point()}')
            else:
                if o.q_per_channel_axis() != u.q_per_channel_axis():
                    errs.append('q_per_channel_axis differs')
                for fn in ('q_per_channel_scales', 'q_per_channel_zero_points'):
                    a, b = getattr(o, fn)(), getattr(u, fn)()
                    if a.dtype != b.dtype or a.shape != b.shape or a.contiguous().numpy().tobytes() != b.contiguous().numpy().tobytes():
                        errs.append(f'{fn} differ')
        if errs:
            return self.fail(path, '; '.join(errs))
        if not self.storage(o, u, path):
            return False
        ok = True
        od, ud = getattr(o, '__dict__', {}), getattr(u, '__dict__', {})
        if od or ud:
            ok = self.value(dict(od), dict(ud), path + '.__dict__', fresh=True)
        return self.rep.check(ok, f'{path} {qualname(o)} {str(o.dtype).replace("torch.", "")} {list(o.shape)} '
                                  f'stride={list(o.stride())} offset={o.storage_offset()}')

    def value(self, o, u, path='$', fresh=False):
        """Compare o (original) with u (ours). `fresh`: objects made by accessors (not part of the
        loaded graph) take no part in identity checks."""
        if type(o) is not type(u):
            return self.fail(path, f'class {qualname(o)} != {qualname(u)}')
        if not fresh:
            ident = self.identity(o, u, path)
            if ident is not None:
                return ident
        if o is None or isinstance(o, (bool, str, bytes, bytearray)):
            return self.rep.check(o == u, f'{path} {type(o).__name__}', f'{o!r:.80} != {u!r:.80}')
        if isinstance(o, int):
            return self.rep.check(o == u, f'{path} int', f'{o} != {u}')
        if isinstance(o, float):
            return self.rep.check(_float_bits(o) == _float_bits(u), f'{path} float',
                                  f'{o!r} ({_float_bits(o).hex()}) != {u!r} ({_float_bits(u).hex()})')
        if isinstance(o, complex):
            ok = _float_bits(o.real) == _float_bits(u.real) and _float_bits(o.imag) == _float_bits(u.imag)
            return self.rep.check(ok, f'{path} complex', f'{o!r} != {u!r}')
        if isinstance(o, (torch.dtype, torch.device, torch.layout, torch.qscheme, torch.memory_format)):
            return self.rep.check(o == u, f'{path} {qualname(o)}', f'{o} != {u}')
        if isinstance(o, torch.Size):
            return self.rep.check(tuple(o) == tuple(u), f'{path} torch.Size', f'{o} != {u}')
        if isinstance(o, torch.Tensor):
            return self.tensor(o, u, path)
        if isinstance(o, torch.storage.TypedStorage):
            if o.dtype != u.dtype or o.size() != u.size():
                return self.fail(path, f'storage {o.dtype}[{o.size()}] != {u.dtype}[{u.size()}]')
            t_o = torch.empty(0, dtype=o.dtype).set_(o)
            t_u = torch.empty(0, dtype=u.dtype).set_(u)
            return self.tensor(t_o, t_u, path + '.as_tensor')
        if isinstance(o, np.ndarray):
            errs = []
            if o.dtype != u.dtype or o.dtype.str != u.dtype.str:
                errs.append(f'dtype {o.dtype.str} != {u.dtype.str}')
            if o.shape != u.shape:
                errs.append(f'shape {o.shape} != {u.shape}')
            elif o.strides != u.strides:
                errs.append(f'strides {o.strides} != {u.strides}')
            if not errs and o.dtype != object and np.ascontiguousarray(o).tobytes() != np.ascontiguousarray(u).tobytes():
                errs.append('values differ')
            if errs:
                return self.fail(path, '; '.join(errs))
            if o.dtype == object:
                return all([self.value(a, b, f'{path}[{i}]') for i, (a, b) in enumerate(zip(o.reshape(-1), u.reshape(-1)))])
            return self.rep.check(True, f'{path} numpy.ndarray {o.dtype} {list(o.shape)}')
        if isinstance(o, np.generic):
            return self.rep.check(o.dtype.str == u.dtype.str and o.tobytes() == u.tobytes(),
                                  f'{path} {qualname(o)}', f'{o!r} != {u!r}')
        if isinstance(o, np.dtype):
            return self.rep.check(o.str == u.str and o == u, f'{path} numpy.dtype', f'{o} != {u}')
        if isinstance(o, dict):
            ok = True
            ko, ku = list(o.keys()), list(u.keys())
            if len(ko) != len(ku):
                return self.fail(path, f'{qualname(o)} has {len(ko)} keys, ours {len(ku)}: '
                                       f'missing {[k for k in ko if k not in u][:5]}, extra {[k for k in ku if k not in o][:5]}')
            order_ok = all(_same_key(a, b) for a, b in zip(ko, ku))
            if not order_ok:
                return self.fail(path, f'keys differ or are in another order: {ko[:8]!r} vs {ku[:8]!r}')
            if isinstance(o, collections.defaultdict) and o.default_factory is not u.default_factory:
                ok = self.fail(path, 'default_factory differs')
            for k in ko:
                ok = self.value(o[k], u[k], f'{path}[{k!r}]') and ok
            od, ud = getattr(o, '__dict__', None), getattr(u, '__dict__', None)
            if od or ud:
                ok = self.value(dict(od or {}), dict(ud or {}), path + '.__dict__', fresh=True) and ok
            return self.rep.check(ok, f'{path} {qualname(o)} with {len(ko)} keys', 'items differ (see above)')
        if isinstance(o, (list, tuple)):
            if len(o) != len(u):
                return self.fail(path, f'{qualname(o)} length {len(o)} != {len(u)}')
            ok = True
            for i, (a, b) in enumerate(zip(o, u)):
                ok = self.value(a, b, f'{path}[{i}]') and ok
            if type(o) not in (list, tuple) and getattr(o, '__dict__', None):
                ok = self.value(dict(vars(o)), dict(vars(u)), path + '.__dict__', fresh=True) and ok
            return self.rep.check(ok, f'{path} {qualname(o)} of {len(o)}', 'items differ (see above)')
        if isinstance(o, (set, frozenset)):
            ok = len(o) == len(u) and all(any(_same_key(a, b) for b in u) for a in o)
            return self.rep.check(ok, f'{path} {qualname(o)} of {len(o)}', f'{sorted(map(repr, o))[:8]} != {sorted(map(repr, u))[:8]}')
        if isinstance(o, torch.nn.Module):
            ok = self.value(dict(vars(o)), dict(vars(u)), path + '.__dict__', fresh=True)
            sd_ok = self.value(o.state_dict(), u.state_dict(), path + '.state_dict()', fresh=True)
            return self.rep.check(ok and sd_ok, f'{path} {qualname(o)}', 'module differs (see above)')
        if isinstance(o, weakref.ref):  # torch 2.x RNN modules keep weak references to their weights
            return self.value(o(), u(), path + '()', fresh=True)
        if isinstance(o, (types.FunctionType, types.BuiltinFunctionType, type)):
            return self.rep.check(o is u, f'{path} {qualname(o)} {getattr(o, "__qualname__", "")}', f'{o!r} is not {u!r}')
        st_o = o.__getstate__() if hasattr(o, '__getstate__') else getattr(o, '__dict__', None)
        st_u = u.__getstate__() if hasattr(u, '__getstate__') else getattr(u, '__dict__', None)
        if st_o is None and st_u is None:
            return self.rep.check(o == u, f'{path} {qualname(o)}', f'{o!r:.80} != {u!r:.80}')
        return self.value(st_o, st_u, path + '.__getstate__()', fresh=True)


def _same_key(a, b):
    """Equal and of the same class, recursively for tuples; floats bitwise."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return _float_bits(a) == _float_bits(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same_key(x, y) for x, y in zip(a, b))
    return a == b


def compare_objects(original, ours, rep):
    """Deep comparison of two loaded objects; results go to `rep` (a Report)."""
    c = Comparer(rep)
    c.value(original, ours, '$')
    return rep


def compare_files(original, ours, byte_identical=False, rep=None, name=None, fallback=None):
    """`fallback`: the same value as written by this torch (the same case of its own fixture set),
    compared with when this torch cannot load `original` (a torch 2.x fixture in torch 1.13)."""
    rep = rep or Report()
    label = name or os.path.basename(ours)
    if byte_identical:
        with open(original, 'rb') as f:
            a = f.read()
        with open(ours, 'rb') as f:
            b = f.read()
        if a == b:
            rep.check(True, f'{label}: byte-identical ({len(a)} bytes)')
        else:
            first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            rep.check(False, f'{label}: byte-identical', f'sizes {len(a)} vs {len(b)}, first difference at byte {first}')
    try:
        o = load_trusted(original)
    except Exception as e:  # noqa: BLE001 - this torch cannot load the original
        why = f'{type(e).__name__}: {e}'
        o = None
        if fallback:
            try:
                o = load_trusted(fallback)
                if not rep.quiet:
                    print(f'NOTE  {label}: torch {torch.__version__} cannot load the original ({why[:120]}); '
                          f'compared with {os.path.basename(fallback)} of its own fixtures', file=rep.out)
            except Exception:  # noqa: BLE001
                o = None
        if o is None:  # nothing to compare with
            print(f'SKIP  {label}: torch {torch.__version__} cannot load the original: {why}'[:300], file=rep.out)
            return rep
    try:
        check_allowlist(ours)
        rep.check(True, f'{label}: pickle globals within the allowlist')
    except Refused as e:
        rep.check(False, f'{label}: pickle globals within the allowlist', str(e))
        raise
    u = load_restricted(ours)
    rep.check(True, f'{label}: torch {torch.__version__} loads it')
    Comparer(rep).value(o, u, label + ':$')
    return rep


def main(argv):
    if hasattr(signal, 'SIGPIPE'):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    ap = argparse.ArgumentParser(description='Compare files written by our stack with the original fixtures, in real torch.')
    ap.add_argument('original', nargs='?')
    ap.add_argument('ours', nargs='?')
    ap.add_argument('--byte-identical', action='store_true', help='also require identical bytes')
    ap.add_argument('--batch', help='JSON list of {"original", "ours", "byte_identical"?, "name"?}')
    ap.add_argument('-q', '--quiet', action='store_true', help='print failures only (and the totals)')
    args = ap.parse_args(argv)
    rep = Report(quiet=args.quiet)
    pairs = []
    if args.batch:
        base = os.path.dirname(os.path.abspath(args.batch))
        with open(args.batch) as f:
            for p in json.load(f):
                pairs.append((os.path.join(base, p['original']), os.path.join(base, p['ours']),
                              bool(p.get('byte_identical', False)), p.get('name'),
                              os.path.join(base, p['fallback']) if p.get('fallback') else None))
    if args.original or args.ours:
        if not (args.original and args.ours):
            ap.error('give ORIGINAL and OURS')
        pairs.append((args.original, args.ours, args.byte_identical, None, None))
    if not pairs:
        ap.error('nothing to compare')
    status = 0
    for orig, ours, bi, name, fallback in pairs:
        try:
            compare_files(orig, ours, bi, rep, name, fallback)
        except Refused:
            status = 2
        except Exception as e:  # a load failure is a failed check, not a crash
            rep.check(False, f'{name or os.path.basename(ours)}: load and compare', f'{type(e).__name__}: {e}'[:300])
            status = 2
    print(f'{rep.passed} passed, {rep.failed} failed')
    if rep.failed and status == 0:
        status = 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
