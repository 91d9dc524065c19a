"""Checks that an image file holds a picture someone could read, not a blank canvas."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def pixels(path: Path, frame: int = 0) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.seek(frame)
        return np.asarray(im.convert("RGB"), dtype=float)


def n_frames(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))


def assert_picture(path: Path, min_size=(400, 300), frame: int = 0) -> np.ndarray:
    """At least ``min_size`` pixels (width, height), with ink: the grey levels vary (standard
    deviation above 20 of 255) and more than 2% of the pixels are not white."""
    a = pixels(path, frame)
    h, w = a.shape[:2]
    assert w >= min_size[0] and h >= min_size[1], f"{path}: {w}x{h} is too small"
    grey = a.mean(axis=2)
    assert grey.std() > 20, f"{path}: nearly uniform (std {grey.std():.1f})"
    ink = (grey < 235).mean()
    assert ink > 0.02, f"{path}: only {100 * ink:.1f}% of the pixels are not white"
    return a
