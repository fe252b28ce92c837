"""The fixture cases only torch 2.x can write (generate.py registers them when it runs under torch 2):
dtypes torch 1.13 lacks, every sparse layout, tensors with Python attributes, channels-last strides,
frozen parameters, a full training checkpoint, and the save-time options of torch 2.x's zip writer.
Everything is seeded by generate.py (per case, from a CRC of its name)."""
import collections
import contextlib
import io
import math

import torch
from torch import nn

import models


def _exact(t):
    """A copy with a storage of exactly its own size (no uninitialised slack)."""
    return t.clone()


@contextlib.contextmanager
def _save_config(**kw):
    """torch.utils.serialization.config.save.<name> = value for the duration of a save."""
    cfg = torch.utils.serialization.config.save
    old = {k: getattr(cfg, k) for k in kw}
    try:
        for k, v in kw.items():
            setattr(cfg, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(cfg, k, v)


def _saver(zip_kwargs=None, config=None, skip_data=False):
    def save(value, path, fmt):
        ctx = torch.serialization.skip_data() if skip_data else contextlib.nullcontext()
        with _save_config(**(config or {})), ctx:
            if fmt == 'zip':
                torch.save(value, path, **(zip_kwargs or {}))
            else:
                torch.save(value, path, _use_new_zipfile_serialization=False)
    return save


NEW_INTS = (torch.uint16, torch.uint32, torch.uint64)
FLOAT8 = tuple(getattr(torch, n) for n in ('float8_e4m3fn', 'float8_e5m2', 'float8_e4m3fnuz', 'float8_e5m2fnuz',
                                           'float8_e8m0fnu') if hasattr(torch, n))
PACKED = tuple(getattr(torch, n) for n in ('float4_e2m1fn_x2', 'bits8', 'bits16', 'bits1x8', 'bits2x4',
                                           'bits4x2') if hasattr(torch, n))


def _name(dt):
    return str(dt).replace('torch.', '')


def register(case):
    # --- dtypes torch 1.13 cannot write ---------------------------------------------------
    def new_int(dt):
        def build():
            bits = torch.iinfo(dt).bits if hasattr(torch, 'iinfo') else 16
            top = (1 << bits) - 1
            raw = torch.randint(0, 1 << 15, (6,), dtype=torch.int64).tolist() + [0, 1, top, top - 1]
            if dt == torch.uint64:  # values above 2^63 go through their int64 bit patterns
                vals = torch.tensor([v if v < (1 << 63) else v - (1 << 64) for v in raw], dtype=torch.int64)
                return vals.view(torch.uint64).reshape(2, 5)
            return torch.tensor(raw, dtype=torch.int64).to(dt).reshape(2, 5)
        return build

    for dt in NEW_INTS:
        case(f'dtype_{_name(dt)}', ['dtype', _name(dt), 'torch2'],
             f'one {_name(dt)} tensor: random values, 0, 1, max and max-1', min_torch=2)(new_int(dt))

    def bit_patterns(dt):
        def build():
            return torch.arange(256, dtype=torch.int64).to(torch.uint8).view(dt).reshape(16, -1)
        return build

    for dt in FLOAT8 + PACKED:
        case(f'dtype_{_name(dt)}', ['dtype', _name(dt), 'torch2', 'bit_patterns'],
             f'one {_name(dt)} tensor holding every byte value 0..255 (arange(256) as uint8 viewed as it, 16 rows)',
             min_torch=2)(bit_patterns(dt))

    @case('dtype_complex32', ['dtype', 'complex32', 'torch2'], 'one complex32 (chalf) tensor: random values, NaN, inf, -0.0',
          min_torch=2)
    def _():
        re = torch.cat([torch.randn(4), torch.tensor([math.nan, -0.0])])
        im = torch.cat([torch.randn(4), torch.tensor([math.inf, 0.0])])
        return torch.complex(re, im).to(torch.complex32).reshape(2, 3)

    @case('dtype_all_in_one_torch2', ['dtype', 'many_storages', 'torch2'],
          'a dict of small tensors of every dtype torch 1.13 lacks, one storage each', min_torch=2)
    def _():
        out = collections.OrderedDict()
        for dt in NEW_INTS:
            out[_name(dt)] = torch.arange(3).to(dt)
        for dt in FLOAT8 + PACKED:
            out[_name(dt)] = torch.tensor([0, 56, 120, 7], dtype=torch.uint8).view(dt)
        out['complex32'] = torch.arange(3.0).to(torch.complex32)
        return out

    # --- sparse layouts ------------------------------------------------------------------------
    def _csr():
        return torch.sparse_csr_tensor(torch.tensor([0, 2, 3, 5]), torch.tensor([0, 2, 1, 0, 3]),
                                       torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), (3, 4))

    @case('sparse_csc', ['sparse', 'sparse_csc', 'torch2'], 'a sparse CSC tensor', min_torch=2)
    def _():
        return torch.sparse_csc_tensor(torch.tensor([0, 2, 3, 3, 5]), torch.tensor([0, 2, 1, 0, 2]),
                                       torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), (3, 4))

    @case('sparse_bsr', ['sparse', 'sparse_bsr', 'torch2'], 'a sparse BSR tensor: 2x2 blocks of a 4x6 matrix',
          min_torch=2)
    def _():
        return torch.sparse_bsr_tensor(torch.tensor([0, 2, 3]), torch.tensor([0, 2, 1]),
                                       torch.randn(3, 2, 2), (4, 6))

    @case('sparse_bsc', ['sparse', 'sparse_bsc', 'torch2'], 'a sparse BSC tensor: 2x3 blocks of a 4x6 matrix',
          min_torch=2)
    def _():
        return torch.sparse_bsc_tensor(torch.tensor([0, 1, 3]), torch.tensor([0, 0, 1]),
                                       torch.randn(3, 2, 3), (4, 6))

    @case('sparse_all_layouts', ['sparse', 'sparse_coo', 'sparse_csr', 'sparse_csc', 'sparse_bsr', 'sparse_bsc',
                                 'torch2'],
          'one tensor of every sparse layout in a dict (COO coalesced and not)', min_torch=2)
    def _():
        dense = torch.tensor([[0.0, 1.0, 0.0, 2.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 4.0, 5.0], [0.0, 6.0, 0.0, 0.0]])
        i = torch.tensor([[0, 1, 1, 0], [2, 0, 2, 2]])
        unc = torch.sparse_coo_tensor(i, torch.tensor([3.0, 4.0, 5.0, 1.0]), (2, 3))
        c = unc.coalesce()
        return {
            'coo_uncoalesced': unc,
            'coo_coalesced': torch.sparse_coo_tensor(_exact(c._indices()), _exact(c._values()), c.shape)._coalesced_(True),
            'csr': _csr(),
            'csc': dense.to_sparse_csc(),
            'bsr': dense.to_sparse_bsr((2, 2)),
            'bsc': dense.to_sparse_bsc((2, 2)),
        }

    # --- Python attributes, subclasses, memory formats, frozen parameters ------------------------
    @case('tensor_attributes', ['python_attributes', 'torch2', '_rebuild_from_type_v2'],
          'tensors carrying Python attributes (t.note = ..., t.step = ...): pickled through _rebuild_from_type_v2 '
          'with a state dict; a Parameter with an attribute (_rebuild_parameter_with_state)', min_torch=2)
    def _():
        t = torch.randn(3)
        t.note = 'hello'
        t.step = 7
        p = nn.Parameter(torch.randn(2, 2))
        p.tag = 'frozen?'
        plain = torch.arange(4)
        return {'with_attrs': t, 'param_with_attr': p, 'plain': plain}

    @case('channels_last', ['memory_format', 'channels_last', 'non_contiguous', 'torch2'],
          'channels-last (NHWC strides) 4-d and channels-last-3d 5-d tensors', min_torch=2,
          formats=('zip', 'legacy'))
    def _():
        x = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
        y = torch.randn(1, 2, 3, 2, 2).to(memory_format=torch.channels_last_3d)
        conv = nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
        # (torch.memory_format values themselves pickle as builtins.getattr(torch, name): left out)
        return {'nhwc': x, 'ndhwc': y, 'conv_weight': conv.weight.detach()}

    @case('frozen_parameters', ['Parameter', 'requires_grad', 'nn', 'state_dict', 'torch2'],
          'a model with its first layer frozen (requires_grad False), saved whole and as named parameters',
          min_torch=2)
    def _():
        m = models.Net()
        for p in m.fc1.parameters():
            p.requires_grad_(False)
        params = collections.OrderedDict(m.named_parameters())
        # the same name objects in both (distinct equal str objects would pickle twice)
        return collections.OrderedDict([('params', params),
                                        ('trainable', [n for n, p in params.items() if p.requires_grad])])

    # --- a full training checkpoint ----------------------------------------------------------------
    @case('training_checkpoint', ['checkpoint', 'optimizer', 'AdamW', 'lr_scheduler', 'GradScaler', 'rng_state',
                                  'state_dict', 'torch2'],
          'a full training checkpoint: model state_dict, AdamW state after two steps, StepLR state, GradScaler state, '
          'torch RNG state and epoch', min_torch=2)
    def _():
        m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.05)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        scaler = torch.amp.GradScaler('cpu', init_scale=1024.0, enabled=True)
        for _ in range(2):
            opt.zero_grad()
            loss = m(torch.randn(3, 4)).pow(2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
        return {'epoch': 2, 'model': m.state_dict(), 'optimizer': opt.state_dict(),
                'scheduler': sched.state_dict(), 'scaler': scaler.state_dict(),
                'rng_state': torch.get_rng_state(), 'loss': float(loss)}

    # --- save options of torch 2.x's zip writer --------------------------------------------------
    def _small():
        return collections.OrderedDict([('w', torch.randn(3, 5)), ('b', torch.arange(5)), ('s', torch.tensor(2.5))])

    # Python 3.12+ (torch 2.14's) pickles a memory format below protocol 4 as
    # getattr(torch._utils.torch, 'channels_last'); torch.save's default protocol is 2
    def _memory_formats_p2():
        x = torch.randn(2, 3, 2, 2).contiguous(memory_format=torch.channels_last)
        names = ('contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format')
        return {'formats': [getattr(torch, n) for n in names], 'x': x, 'x_format': torch.channels_last}

    case('memory_format_protocol2', ['memory_format', 'torch2'],
         'torch.memory_format values (every one, and channels_last again) beside a channels-last tensor at torch.save\'s '
         'default protocol 2: builtins.getattr(torch._utils.torch, \'<name>\')', min_torch=2)(_memory_formats_p2)

    # --- tensor subclasses torch ships, and a user subclass ---------------------------------
    def _buffers():
        b = torch.nn.Buffer(torch.randn(3))
        p = nn.Parameter(torch.randn(2))
        return {'buffer': b, 'parameter': p}

    case('tensor_subclass_buffer', ['tensor_subclass', 'torch2'],
         'torch.nn.Buffer (pickled as _rebuild_from_type_v2 of torch.Tensor) beside a Parameter',
         min_torch=2)(_buffers)

    def _user_subclass():
        import subclasses
        t = torch.randn(2, 3).as_subclass(subclasses.ScaledTensor)
        t.scale = 0.5
        return {'scaled': t, 'plain': torch.arange(3)}

    case('tensor_subclass_user', ['tensor_subclass', 'user_class', 'torch2'],
         'a user torch.Tensor subclass (subclasses.ScaledTensor) with a Python attribute: '
         '_rebuild_from_type_v2(_rebuild_tensor_v2, subclasses.ScaledTensor, args, {"scale": 0.5})',
         min_torch=2)(_user_subclass)

    case('save_no_crc32', ['save_options', 'compute_crc32', 'torch2'],
         'zip written with torch.utils.serialization.config.save.compute_crc32 = False (every CRC-32 is 0)',
         min_torch=2, formats=('zip',), save=_saver(config={'compute_crc32': False}))(_small)
    case('save_no_byteorder', ['save_options', 'byteorder', 'torch2'],
         'zip written with torch.save(..., _disable_byteorder_record=True) (no byteorder record)',
         min_torch=2, formats=('zip',), save=_saver(zip_kwargs={'_disable_byteorder_record': True}))(_small)
    case('save_alignment_4096', ['save_options', 'storage_alignment', 'torch2'],
         'zip written with torch.utils.serialization.config.save.storage_alignment = 4096',
         min_torch=2, formats=('zip',), save=_saver(config={'storage_alignment': 4096}))(_small)
    case('save_skip_data', ['save_options', 'skip_data', 'torch2'],
         'zip written inside torch.serialization.skip_data(): storage records are zeros with CRC 0 (torch loads zeros)',
         min_torch=2, formats=('zip',), save=_saver(skip_data=True))(_small)
