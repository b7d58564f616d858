#!/usr/bin/python3
"""Writes the example bundle's sets with Python's torch.save (Debian: python3-torch): Fashion-MNIST,
IPC 1, two seeds, as a dict {'images': float32 [10,1,28,28], 'labels': int64 [10]} in the dataset's
normalised space. A real submission saves its distilled sets the same way (or as an (images, labels)
pair)."""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "sets"), exist_ok=True)
for seed in (0, 1):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(10, 1, 28, 28, generator=g)
    labels = torch.arange(10, dtype=torch.long)  # one image per class: ipc 1
    torch.save({"images": images, "labels": labels},
               os.path.join(here, "sets", f"fashion-mnist-ipc1-s{seed}.pt"))
print("wrote", os.path.join(here, "sets"))
