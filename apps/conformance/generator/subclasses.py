"""A user-defined torch.Tensor subclass that the tensor-subclass fixtures pickle by reference
(`subclasses.ScaledTensor`): torch.save writes `_rebuild_from_type_v2(_rebuild_tensor_v2,
subclasses.ScaledTensor, args, state)` with the instance's __dict__ as state. Loading those
fixtures in Python needs generator/ on sys.path (check_ours.py puts it there)."""
import torch


class ScaledTensor(torch.Tensor):
    """A plain subclass with one Python attribute (`scale`) set per instance."""
