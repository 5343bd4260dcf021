"""A small synthetic chest X-ray set in the real Kermany layout (for the zoo's synthetic default and tests).

Each image is a grayscale "radiograph": a bright chest silhouette on a dark background with two darker lung
fields; PNEUMONIA images add bright, patchy opacities inside one or both lungs. Several images per patient,
with Kermany file names, under ``train/{NORMAL,PNEUMONIA}/`` and ``test/{NORMAL,PNEUMONIA}/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def xray(rng: np.random.Generator, size: int, pneumonia: bool) -> np.ndarray:
    """One synthetic chest X-ray, ``(size, size)`` uint8."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    dy, dx = rng.normal(0, 0.02, 2)
    body = ((yy - 0.55 - dy) / 0.5) ** 2 + ((xx - 0.5 - dx) / 0.42) ** 2 < 1.0
    img = np.full((size, size), 25.0, np.float32)
    img[body] = 165.0 - 40.0 * yy[body]  # a soft top-to-bottom gradient
    lungs = []
    for side in (-1, 1):
        cx = 0.5 + dx + side * rng.uniform(0.17, 0.21)
        cy = 0.5 + dy + rng.uniform(-0.02, 0.02)
        ry, rx = rng.uniform(0.26, 0.31), rng.uniform(0.11, 0.14)
        lung = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
        img[lung] = 60.0 + 15.0 * yy[lung]
        lungs.append((lung, cy, cx, ry, rx))
    if pneumonia:
        for k in rng.choice([0, 1], size=rng.integers(1, 3), replace=False):
            lung, cy, cx, ry, rx = lungs[k]
            for _ in range(rng.integers(3, 7)):
                py, px = cy + rng.uniform(-0.6, 0.6) * ry, cx + rng.uniform(-0.6, 0.6) * rx
                r = rng.uniform(0.04, 0.08)
                blob = np.exp(-(((yy - py) ** 2 + (xx - px) ** 2) / (2 * r * r)))
                img += 70.0 * blob * lung
    img += rng.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def write_synthetic(root: str | Path, patients: int = 24, size: int = 128, seed: int = 0,
                    test_patients: int | None = None, max_images: int = 3) -> Path:
    """Write a synthetic set under ``root`` and return ``root``.

    Args:
        root: where ``train/`` and ``test/`` are written.
        patients: training patients, half NORMAL and half PNEUMONIA, 1 to ``max_images`` images each.
        size: image side in pixels.
        seed: random seed (same seed, same files).
        test_patients: patients in ``test/`` (default ``max(2, patients // 4)``); 0 writes no test split.
        max_images: most images per patient.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    test_patients = max(2, patients // 4) if test_patients is None else test_patients
    image_no = 0
    for split, count, first in (("train", patients, 1), ("test", test_patients, 1 + patients)):
        for p in range(first, first + count):
            pneumonia = p % 2 == 0
            folder = root / split / ("PNEUMONIA" if pneumonia else "NORMAL")
            folder.mkdir(parents=True, exist_ok=True)
            subtype = "bacteria" if p % 4 == 0 else "virus"
            for n in range(1, int(rng.integers(1, max_images + 1)) + 1):
                image_no += 1
                if pneumonia:
                    name = f"person{p}_{subtype}_{image_no}.jpeg"
                elif p % 4 == 1:
                    name = f"IM-{p:04d}-{n:04d}.jpeg"
                else:
                    name = f"NORMAL2-IM-{p:04d}-{n:04d}.jpeg"
                Image.fromarray(xray(rng, size, pneumonia), mode="L").save(folder / name, quality=92)
    return root
