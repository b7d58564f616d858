#!/usr/bin/python3
"""PIL's ImageFilter.GaussianBlur(radius) and ImageOps.invert on a deterministic 8-bit image, as RDD's
data_processing.ipynb applies them (Debian's python3-pil 9.4.0). Run by hand to regenerate the values
hard-coded in tests/robustness/test_shifted_tests.cpp; test_shifted_tests.cpp also runs this script
(when /usr/bin/python3 has PIL) with arguments `C H W radius out.bin` and compares all bytes.
Without arguments it prints the expectations for the hard-coded tests."""
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps


def image(c, h, w):
    ch, r, col = np.mgrid[0:c, 0:h, 0:w]
    return ((r * 7 + col * 13 + (r * col) % 11 + 37 * ch) % 256).astype(np.uint8)


def pil(a):  # C x H x W uint8 -> PIL image (L or RGB), as to_pil_image does
    return Image.fromarray(a[0], "L") if a.shape[0] == 1 else Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), "RGB")


def back(img, c):
    out = np.asarray(img)
    return out[None] if c == 1 else out.transpose(2, 0, 1)


def blur(a, radius):
    return back(pil(a).filter(ImageFilter.GaussianBlur(radius=radius)), a.shape[0])


if len(sys.argv) == 6:
    c, h, w = (int(v) for v in sys.argv[1:4])
    a = image(c, h, w)
    out = np.concatenate([blur(a, float(sys.argv[4])).ravel(), back(ImageOps.invert(pil(a)), c).ravel()])
    open(sys.argv[5], "wb").write(out.astype(np.uint8).tobytes())
else:
    for c, h, w in ((1, 5, 7), (3, 4, 6), (1, 3, 1)):
        print(f"blur r=2 {c}x{h}x{w}:", blur(image(c, h, w), 2.0).ravel().tolist())
