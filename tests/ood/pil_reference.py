#!/usr/bin/python3
"""Generator of the PIL expectations hard-coded in tests/ood/test_poe_corruptions.cpp (run by hand with
Debian's python3-pil; the tests need no Python). It applies the reference's "pixelate"
(utils/gen_ood_loader_cifar.py: BOX resize to int(size * 0.2), then BOX resize back) to a
deterministic 8-bit ramp, in mode "L" (8-bit, what the reference does) and mode "F" (32-bit float).
The output is constant on blocks; the script prints the block edges and one value per block."""
import numpy as np
from PIL import Image


def ramp(n):
    r, c = np.mgrid[0:n, 0:n]
    return ((r * 7 + c * 13 + (r * c) % 11) % 256).astype(np.uint8)


for n in (32, 28):
    a = ramp(n)
    s = int(n * 0.2)
    out_l = np.asarray(Image.fromarray(a, "L").resize((s, s), Image.BOX).resize((n, n), Image.BOX))
    f = Image.fromarray(a.astype(np.float32) / 255.0, "F")
    out_f = np.asarray(f.resize((s, s), Image.BOX).resize((n, n), Image.BOX))
    edges = [0] + [i for i in range(1, n) if out_l[0, i] != out_l[0, i - 1] or out_f[0, i] != out_f[0, i - 1]]
    print(f"size {n}: small {s}, block starts {edges}")
    print("L :", [[int(out_l[i, j]) for j in edges] for i in edges])
    print("F :", [[repr(float(out_f[i, j])) for j in edges] for i in edges])
