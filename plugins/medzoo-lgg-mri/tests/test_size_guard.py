"""The LGG reader under the pixel limit: an oversized slice is a named bad file (raised, or skipped and logged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from medzoo.data import DataError
from medzoo_lgg_mri.reader import LGGMRI
from medzoo_lgg_mri.synthetic import write_synthetic


def test_an_oversized_slice_is_named_not_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_synthetic(tmp_path / "lgg", patients=2, slices=3, size=32)
    n_good = len(LGGMRI(root).records())
    case = sorted(d for d in root.iterdir() if d.is_dir())[0]
    big = case / f"{case.name}_9.tif"
    tifffile.imwrite(big, np.zeros((64, 48, 3), np.uint8))
    tifffile.imwrite(case / f"{case.name}_9_mask.tif", np.zeros((64, 48), np.uint8))
    monkeypatch.setenv("MEDZOO_MAX_PIXELS", str(32 * 32))
    with pytest.raises(DataError, match=rf"{big.name}: image too large \(64×48×3, 3,072 pixels; the limit is 1,024\)"):
        LGGMRI(root).records()
    ds = LGGMRI(root, on_error="skip")
    assert len(ds.records()) == n_good and [p for p, _ in ds.skipped] == [str(big)]
    monkeypatch.delenv("MEDZOO_MAX_PIXELS")
    assert len(LGGMRI(root).records()) == n_good + 1
