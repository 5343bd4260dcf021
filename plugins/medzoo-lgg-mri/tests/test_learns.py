"""A small U-Net trained a few epochs through ``medzoo.train`` learns the synthetic LGG lesions."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs
import numpy as np
import pytest

import medzoo
from medzoo_lgg_mri.synthetic import write_synthetic


@pytest.mark.slow
def test_unet_learns_synthetic_lesions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medzoo.runner import train

    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    root = write_synthetic(tmp_path / "lgg", patients=6, slices=10, size=32)
    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs={"base_filters": 8, "depth": 1})
    run = train(entry, data=root, out=tmp_path / "run", strategy="default", evaluate=False, verbose=0, seed=0,
                deterministic=True, epochs=16, steps_per_epoch=12, batch_size=8, learning_rate=3e-3, loss="bce_dice",
                augment={})
    # trivial baselines on the validation patients: all background (Dice 0) or all lesion
    _, masks = run.dataset.load_arrays(run.splits["val"])
    all_lesion = 2 * masks.sum() / (masks.sum() + masks.size)
    images, _ = run.dataset.load_arrays(run.splits["val"])
    pred = run.model.predict(images.astype("float32"), verbose=0) > 0.5
    dice = 2 * (pred & (masks > 0)).sum() / (pred.sum() + masks.sum())
    assert all_lesion < 0.2
    assert dice > 0.6, f"val Dice {dice:.3f} (history {run.history.get('val_dice')})"
    assert max(run.history["val_dice"]) > 0.6
    assert np.isfinite(run.history["loss"]).all()
