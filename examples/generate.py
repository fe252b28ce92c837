#!/usr/bin/python3
"""Writes the bundled example checkpoints with real PyTorch (seeded, deterministic).

usage: /usr/bin/python3 examples/generate.py
"""
import os
from collections import OrderedDict

import torch

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))

model = torch.nn.Sequential(OrderedDict([
    ("fc1", torch.nn.Linear(4, 8)),
    ("act", torch.nn.ReLU()),
    ("bn", torch.nn.BatchNorm1d(8)),
    ("fc2", torch.nn.Linear(8, 2)),
]))
torch.save(model.state_dict(), os.path.join(here, "mlp.pt"))

base = torch.arange(12, dtype=torch.float32)
torch.save({"a": base[:6], "b": base[6:], "t": base.view(3, 4).t(), "e": torch.zeros(4).expand(4, 4)},
           os.path.join(here, "views.pt"))
