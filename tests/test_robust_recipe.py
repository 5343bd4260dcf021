"""The classifier-robustness recipe fields: EMA of the weights (and resuming with it), label smoothing, weight
decay, and the blur augmentation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs
import numpy as np
import pytest

import medzoo
from medzoo.errors import MedzooError, RecipeError
from medzoo.specs import Recipe

SMALL = {"base_filters": 4, "depth": 1}
ARGS = {"steps_per_epoch": 4, "batch_size": 4, "augment": {}, "seed": 3, "ema": True, "optimizer": "adamw",
        "learning_rate": 1e-2, "verbose": 0, "evaluate": False, "deterministic": True}


class _Crash(Exception):
    pass


class _CrashAtEpoch:
    """A callback factory: raise at the start of epoch ``n`` (a kill, in-process)."""

    def __new__(cls, n: int) -> Any:
        import keras

        class Crash(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                if epoch == n:
                    raise _Crash

        return Crash()


def _small_unet() -> Any:
    from medzoo.registry import registry

    return registry().get("models", "unet").create(**SMALL)


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    model = _small_unet()
    model.load_weights(path)
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]


@pytest.fixture
def small_lgg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from medzoo_lgg_mri.synthetic import write_synthetic

    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    return write_synthetic(tmp_path / "lgg", patients=4, slices=6, size=32)


def test_ema_run_resumes_to_the_same_weights(small_lgg: Path, tmp_path: Path) -> None:
    """A run with ``ema=True`` killed after epoch 1 and resumed ends with the weights of an unbroken run."""
    from medzoo.runner import train

    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)
    whole = train(entry, data=small_lgg, out=tmp_path / "whole", epochs=3, **ARGS)
    with pytest.raises(_Crash):
        train(entry, data=small_lgg, out=tmp_path / "broken", epochs=3, callbacks=[_CrashAtEpoch(1)], **ARGS)
    resumed = train(entry, data=small_lgg, out=tmp_path / "broken", epochs=3, resume=True, **ARGS)
    assert resumed.history["epoch"] == whole.history["epoch"] == [0, 1, 2]
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-3)
    np.testing.assert_allclose(resumed.history["val_loss"], whole.history["val_loss"], rtol=1e-3)
    # close, not equal: the dropout masks' random state is not part of a Keras backup (batch-norm statistics
    # drift by ~1 %)
    for a, b in zip(_weights(tmp_path / "whole" / "last.weights.h5"),
                    _weights(tmp_path / "broken" / "last.weights.h5"), strict=True):
        np.testing.assert_allclose(a, b, rtol=0.03, atol=1e-2)


def test_ema_checkpoints_hold_the_averaged_weights(small_lgg: Path, tmp_path: Path) -> None:
    """With EMA the saved weights are the average, not the last step's: they differ from the same run without."""
    from medzoo.runner import train

    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)
    with_ema = train(entry, data=small_lgg, out=tmp_path / "ema", epochs=1, **ARGS)
    plain = train(entry, data=small_lgg, out=tmp_path / "plain", epochs=1, **{**ARGS, "ema": False})
    # same seed, same batches: the same training steps (same training loss), but what is saved is not the same
    np.testing.assert_allclose(with_ema.history["loss"], plain.history["loss"], rtol=1e-4)
    ema_w, plain_w = _weights(tmp_path / "ema" / "last.weights.h5"), _weights(tmp_path / "plain" / "last.weights.h5")
    assert max(float(np.abs(a - b).max()) for a, b in zip(ema_w, plain_w, strict=True)) > 1e-3
    assert with_ema.model.optimizer.use_ema and not plain.model.optimizer.use_ema


def test_label_smoothing_and_weight_decay_reach_keras() -> None:
    from medzoo.runner import _loss, _optimizer
    from medzoo.tasks import get_task

    recipe = Recipe(optimizer="adamw", weight_decay=0.01, label_smoothing=0.05, ema=True)
    opt = _optimizer(recipe)
    assert opt.weight_decay == pytest.approx(0.01) and opt.use_ema
    loss = _loss(get_task("classification"), recipe)
    assert loss.label_smoothing == pytest.approx(0.05)
    y = np.array([[1.0], [0.0]], "float32")
    soft, sure = np.array([[0.975], [0.025]], "float32"), np.array([[0.999], [0.001]], "float32")
    plain = _loss(get_task("classification"), Recipe())
    assert float(plain(y, sure)) < float(plain(y, soft))
    assert float(loss(y, soft)) < float(loss(y, sure))  # smoothed: certainty no longer pays


def test_segmentation_loss_refuses_label_smoothing() -> None:
    from medzoo.runner import _loss
    from medzoo.tasks import get_task

    with pytest.raises(RecipeError, match="label_smoothing"):
        _loss(get_task("segmentation"), Recipe(loss="dice", label_smoothing=0.1))


@pytest.mark.parametrize(("field", "value"), [("label_smoothing", 1.0), ("label_smoothing", -0.1),
                                              ("weight_decay", -1.0), ("ema", "yes")])
def test_bad_robustness_fields_are_refused(field: str, value: Any) -> None:
    with pytest.raises(RecipeError, match=field):
        Recipe(**{field: value})


def test_blur_augmentation_matches_a_gaussian_filter() -> None:
    from skimage.filters import gaussian

    from medzoo.augment import BLUR_SIGMA, apply_intensity, check_augment, gaussian_blur, sample_intensity

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 24, 30, 1)).astype("float32")
    ref = np.stack([gaussian(im[..., 0], sigma=BLUR_SIGMA, mode="reflect", truncate=3.0, preserve_range=True)
                    for im in x])[..., None]
    np.testing.assert_allclose(np.asarray(gaussian_blur(x)), ref, atol=1e-3)
    # weight 1: the blurred image; weight 0: unchanged
    params = np.array([[0, 1, 1, 1.0], [0, 1, 1, 0.0]], "float32")
    out = np.asarray(apply_intensity(x, params))
    np.testing.assert_allclose(out[0], ref[0], atol=1e-3)
    np.testing.assert_allclose(out[1], x[1], atol=1e-3)
    weights = sample_intensity(rng, 1000, {"blur": 0.5})[:, 3]
    assert 0 <= weights.min() and weights.max() <= 0.5 and weights.std() > 0.1
    with pytest.raises(MedzooError, match="blur"):
        check_augment({"blur": 1.5}, {})


def test_recalibrate_batch_norm_averages_the_batch_statistics() -> None:
    """The moving statistics become the plain mean of the per-batch mean and (biased) variance, in nested
    models too; momentum is left as it was."""
    import keras

    from medzoo.layers import batch_norm_layers, recalibrate_batch_norm

    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, use_bias=False),
                              keras.layers.BatchNormalization(momentum=0.9)])
    inputs = keras.Input((3,))
    model = keras.Model(inputs, inner(inputs))
    inner.layers[0].set_weights([np.eye(3, dtype=np.float32)])
    rng = np.random.default_rng(0)
    batches = [rng.normal(k, 1 + k, (8, 3)).astype(np.float32) for k in range(3)]
    (bn,) = batch_norm_layers(model)
    assert recalibrate_batch_norm(model, iter(batches)) == 3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance),
                               np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    assert bn.momentum == 0.9
    assert recalibrate_batch_norm(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]), batches) == 0


def test_ema_validates_with_batch_norm_statistics_of_the_averaged_weights(small_lgg: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Before each validation the averaged weights are in the model and the batch-norm statistics are recomputed
    for them from unaugmented training images; the checkpoint keeps those statistics."""
    import keras

    import medzoo.layers
    from medzoo.runner import train

    real = medzoo.layers.recalibrate_batch_norm
    calls: list[dict[str, Any]] = []

    def spy(model: Any, batches: Any) -> int:
        trainable = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_weights]
        batches = list(batches)
        n = real(model, batches)
        bn = medzoo.layers.batch_norm_layers(model)[0]
        calls.append({"trainable": trainable, "n": n, "shapes": {b.shape for b in batches},
                      "integers": all(np.array_equal(b, np.round(b)) for b in batches),
                      "mean": keras.ops.convert_to_numpy(bn.moving_mean).copy()})
        return n

    monkeypatch.setattr(medzoo.layers, "recalibrate_batch_norm", spy)
    entry = attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)
    train(entry, data=small_lgg, out=tmp_path / "ema", epochs=2, **ARGS)
    # 18 training slices in batches of 4: all of them (10 batches asked for), as raw pixels without augmentation
    assert len(calls) == 2 and all(c["n"] == 5 for c in calls)
    assert calls[0]["shapes"] == {(4, 32, 32, 3), (2, 32, 32, 3)} and all(c["integers"] for c in calls)
    saved = _small_unet()
    saved.load_weights(tmp_path / "ema" / "last.weights.h5")  # the averaged weights (see the test above)
    for a, b in zip(saved.trainable_weights, calls[-1]["trainable"], strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), b, rtol=1e-6)  # in the model when recalibrated
    bn = medzoo.layers.batch_norm_layers(saved)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), calls[-1]["mean"], rtol=1e-5)
    assert not np.allclose(calls[-1]["mean"], calls[0]["mean"])  # recomputed for each epoch's weights
