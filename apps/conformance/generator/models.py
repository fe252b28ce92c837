"""User-defined nn.Module classes for the conformance fixtures.

Whole-model fixtures pickle these classes by reference (`models.Net`, ...), so whoever loads
such a fixture with real torch must have this directory on `sys.path` (check_ours.py adds it).
Keep the classes small and their definitions stable: the legacy format stores each module
class's source text in the file, so editing this file changes the legacy fixtures.
"""
import torch
from torch import nn


class Net(nn.Module):
    """A user model with a submodule, a persistent and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer('scale', torch.tensor([0.5, 2.0]))
        self.register_buffer('scratch', torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


class SmallCNN(nn.Module):
    """Conv2d + BatchNorm2d (running statistics updated once) + pooling + Linear head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.flatten(self.pool(torch.relu(self.bn(self.conv(x))))))


class TiedLM(nn.Module):
    """Embedding whose weight Parameter is also the output projection's weight (tied)."""

    def __init__(self, vocab=11, dim=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, ids):
        return self.out(self.norm(self.embed(ids)))
