"""Batches from decoded arrays, for any Keras backend and no TensorFlow: :class:`ArrayBatches`.

Why a ``keras.utils.PyDataset`` rather than tf.data or grain: it is Keras' own, so ``fit``, ``evaluate`` and
``predict`` take it on every backend (with ``class_weight``), its thread workers overlap batch assembly with
the train step, and it needs nothing installed beyond Keras, which matters on a GPU box that has JAX and no
TensorFlow. The heavy part of a batch is on the accelerator anyway: the host only gathers uint8 rows of the
decoded arrays (and crops them), draws a few random numbers per image, and the joint affine resampling of
:mod:`medzoo.augment` runs jit-compiled on the device.

Every batch is a pure function of ``(seed, epoch, batch index)``: the same run gives the same batches,
whatever the number of workers and whichever order they finish in.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from medzoo.augment import (
    apply_affine,
    apply_intensity,
    check_augment,
    compile_fn,
    sample_affine,
    sample_intensity,
)
from medzoo.data import PipelineOptions, Record
from medzoo.errors import MedzooError


def _augment(x: Any, t: Any, i: Any, m: Any = None, *, fill_mode: str = "constant") -> Any:
    """The affine resampling (images and masks), then the intensity changes (images)."""
    out = apply_affine(x, t, m, fill_mode=fill_mode)
    if m is None:
        return apply_intensity(out, i)
    return apply_intensity(out[0], i), out[1]


@functools.lru_cache(maxsize=8)
def _cached_augmenter(backend: str, fill_mode: str) -> Any:
    return compile_fn(functools.partial(_augment, fill_mode=fill_mode))


class ArrayBatches(keras.utils.PyDataset):
    """``(x, y)`` batches of decoded uint8 arrays, shuffled, cropped and augmented for training.

    Pass it to ``fit``, ``evaluate`` or ``predict``, or iterate over it.

    Args:
        images: ``(N, H, W, C)`` uint8.
        targets: ``(N,)`` labels or ``(N, H, W, 1)`` masks.
        batch_size: examples per batch.
        training: shuffle every epoch, crop and augment; the short last batch is dropped (stable shapes for
            XLA) unless it is the only one.
        augment: strengths (:mod:`medzoo.augment`); ``None`` or ``{}``: none.
        fill_mode: how rotated-in pixels are filled (``"constant"`` 0, ``"nearest"``...).
        seed: seeds the order, crops and augmentation.
        steps: batches per epoch (default: one pass over the records).
        patch_size: train on random ``patch_size``² crops (segmentation; centred on the lesion for examples
            drawn as positives when ``lesion_fraction`` is set); images no larger than that are used whole.
        positive: ``(N,)`` bool, which records are positive (for ``lesion_fraction``).
        lesion_fraction: draw this fraction of each training batch from the positive records.
        workers: threads assembling batches ahead of the train step.
    """

    @classmethod
    def from_dataset(cls, dataset: Any, records: Sequence[Record], training: bool = False,
                     options: PipelineOptions | None = None, steps: int | None = None) -> ArrayBatches:
        """Batches of ``dataset``'s ``records``, decoded once (:func:`medzoo.arrays.decoded`); ``steps``
        batches per epoch (default: one pass, or as many batches as records fill with ``lesion_fraction``)."""
        from medzoo.arrays import decoded

        opts = options or PipelineOptions()
        arrays = decoded(dataset, records, cache=opts.cache)
        positive = np.array([bool(r.meta.get("positive", r.target == 1)) for r in records])
        augment = check_augment(opts.augment, dataset.default_augment) if training else {}
        if steps is None and training and opts.lesion_fraction is not None:
            steps = max(1, len(records) // opts.batch_size)
        return ArrayBatches(arrays.images, arrays.targets, batch_size=opts.batch_size, training=training,
                            augment=augment, fill_mode=dataset.fill_mode, seed=opts.seed, steps=steps,
                            patch_size=opts.patch_size if training else None, positive=positive,
                            lesion_fraction=opts.lesion_fraction if training else None)

    def __init__(self, images: np.ndarray, targets: np.ndarray, *, batch_size: int = 32,
                 training: bool = False, augment: Mapping[str, float] | None = None,
                 fill_mode: str = "constant", seed: int = 0, steps: int | None = None,
                 patch_size: int | None = None, positive: np.ndarray | None = None,
                 lesion_fraction: float | None = None, workers: int = 2) -> None:
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=4)
        if len(images) != len(targets):
            raise MedzooError(f"{len(images)} images but {len(targets)} targets")
        if batch_size < 1:
            raise MedzooError(f"batch_size must be at least 1, got {batch_size}")
        if len(images) == 0:
            raise MedzooError("no images to batch")
        self.images, self.targets = images, targets
        self.batch_size, self.training, self.seed = int(batch_size), bool(training), int(seed)
        self.augment = dict(augment or {})
        self.fill_mode = fill_mode
        self.segmentation = targets.ndim == 4
        # patches as large as the images are the images themselves (a preset's 128² patches on smaller images)
        self.patch_size = patch_size if patch_size and patch_size < min(images.shape[1:3]) else None
        self.lesion_fraction = lesion_fraction
        self.positive = np.asarray(positive, bool) if positive is not None else None
        if lesion_fraction is not None:
            if self.positive is None or not self.positive.any() or self.positive.all():
                raise MedzooError("lesion_fraction needs records both with and without a lesion")
            if not 0.0 <= lesion_fraction <= 1.0:
                raise MedzooError(f"lesion_fraction must be in [0, 1], got {lesion_fraction}")
        n = len(images)
        full = n // self.batch_size if training and n > self.batch_size else math.ceil(n / self.batch_size)
        self.steps = int(steps) if steps is not None else max(1, full)
        self.epoch = 0
        self._order_epoch = -1
        self._order: np.ndarray | None = None
        self._aug = None
        if self.training and any(self.augment.values()):
            self._aug = _cached_augmenter(keras.backend.backend(), fill_mode)

    # --------------------------------------------------------------------------------- PyDataset API
    @property
    def num_batches(self) -> int:
        return self.steps

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not 0 <= index < self.steps:
            raise IndexError(index)
        idx, centre = self._indexes(index)
        x, y = self.images[idx], self.targets[idx]
        if self.patch_size:
            x, y = self._crop(x, y, centre, self._rng(index, 1))
        y = y.astype(np.float32)  # labels and masks as the losses and metrics expect them, as on tf.data
        if not self.training:
            return x, y
        if self._aug is not None:
            rng = self._rng(index, 2)
            t = sample_affine(rng, len(x), x.shape[1], x.shape[2], self.augment)
            i = sample_intensity(rng, len(x), self.augment)
            if self.segmentation:
                return self._aug(x, t, i, y)
            return self._aug(x, t, i), y
        return x, y

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for i in range(self.steps):
            yield self[i]

    # ------------------------------------------------------------------------------------- helpers
    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def _indexes(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(self.images)
        if not self.training:
            return np.arange(index * self.batch_size, min(n, (index + 1) * self.batch_size)), None
        if self.lesion_fraction is not None:
            assert self.positive is not None
            rng = self._rng(index, 0)
            pos, neg = np.flatnonzero(self.positive), np.flatnonzero(~self.positive)
            take_pos = rng.uniform(size=self.batch_size) < self.lesion_fraction
            idx = np.where(take_pos, rng.choice(pos, self.batch_size), rng.choice(neg, self.batch_size))
            return idx, take_pos
        if self._order_epoch != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            reps = math.ceil(self.steps * self.batch_size / n)
            self._order = np.concatenate([rng.permutation(n) for _ in range(reps)])
            self._order_epoch = self.epoch
        assert self._order is not None
        batch = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        return np.sort(batch) if isinstance(self.images, np.memmap) else batch, None

    def _crop(self, x: np.ndarray, y: np.ndarray, centred: np.ndarray | None,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = int(self.patch_size or 0)
        h, w = x.shape[1], x.shape[2]
        xs = np.empty((len(x), p, p, x.shape[3]), x.dtype)
        ys = np.empty((len(y), p, p, *y.shape[3:]), y.dtype) if self.segmentation else y
        for i in range(len(x)):
            top, left = rng.integers(0, h - p + 1), rng.integers(0, w - p + 1)
            if centred is not None and centred[i] and self.segmentation:
                lesion = np.argwhere(y[i, ..., 0] > 0)
                if len(lesion):
                    cy, cx = lesion[rng.integers(len(lesion))] + rng.integers(-p // 4, p // 4 + 1, 2)
                    top, left = np.clip(cy - p // 2, 0, h - p), np.clip(cx - p // 2, 0, w - p)
            xs[i] = x[i, top:top + p, left:left + p]
            if self.segmentation:
                ys[i] = y[i, top:top + p, left:left + p]
        return xs, ys

