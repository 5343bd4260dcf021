"""The zoo's trained entries load offline and score sanely on real validation patients from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import medzoo

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not found at {SHARED} (CI has it)")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the zoo must not touch the network."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("medzoo.load tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("name", ["unet-lgg", "cnn1-chest-xray"])
def test_zoo_entries_ship_verified_weights(name: str) -> None:
    entry = medzoo.get_entry(name)
    assert entry.trained, f"{name} must ship trained weights"
    assert len(entry.weights.sha256) == 64
    assert entry.weights.metrics, "the card must carry the validation metrics"
    assert "command" in entry.weights.meta


def test_untrained_entries_are_not_passed_off_as_zoo_models() -> None:
    for name in medzoo.list_entries(trained=False):
        with pytest.raises(medzoo.MedzooError, match="weights"):
            medzoo.load(name)


@needs_data
def test_unet_lgg_segments_a_real_validation_patient() -> None:
    entry = medzoo.get_entry("unet-lgg")
    dataset = medzoo.get_dataset("lgg-mri", SHARED / "kaggle_3m")
    val = dataset.splits(val_fraction=entry.recipe.val_fraction, seed=entry.recipe.seed)["val"]
    assert sorted({r.patient for r in val}) == sorted(entry.weights.meta["val_patients"])
    lesion = {}
    for r in val:
        lesion[r.patient] = lesion.get(r.patient, 0) + r.meta["lesion_pixels"]
    patient = max(lesion, key=lesion.get)  # the largest lesion volume: chosen without looking at the model
    records = [r for r in val if r.patient == patient]
    images, masks = dataset.load_arrays(records)
    model = medzoo.load("unet-lgg")
    probs = model.predict(images, batch_size=8, verbose=0)  # raw uint8 pixels in
    assert probs.shape == masks.shape and 0.0 <= probs.min() and probs.max() <= 1.0
    pred = probs >= 0.5
    dice = 2 * np.logical_and(pred, masks > 0).sum() / (pred.sum() + (masks > 0).sum())
    assert dice > 0.7, f"volume Dice {dice:.3f} on validation patient {patient}"


@needs_data
def test_cnn1_classifies_real_validation_images() -> None:
    entry = medzoo.get_entry("cnn1-chest-xray")
    dataset = medzoo.get_dataset("chest-xray", SHARED / "chest_xray")
    val = dataset.splits(val_fraction=entry.recipe.val_fraction, seed=entry.recipe.seed)["val"]
    picked = [val[i] for i in np.linspace(0, len(val) - 1, 100).astype(int)]
    assert {r.target for r in picked} == {0, 1}
    model = medzoo.load("cnn1-chest-xray")
    batch = next(iter(dataset.pipeline(picked, training=False, batch_size=100)))
    probs = model.predict(batch[0], verbose=0)[:, 0]
    labels = np.asarray([r.target for r in picked])
    accuracy = float(((probs >= 0.5) == labels).mean())
    assert accuracy > 0.85, f"accuracy {accuracy:.2f} on 100 validation images"
