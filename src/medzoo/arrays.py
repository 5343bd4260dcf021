"""Decode once: a dataset's records as two uint8 arrays, in memory or memory-mapped under ``$MEDZOO_HOME``.

Every backend trains from the same decoded pixels. :func:`decoded` calls ``Dataset.decode(record)`` for
each record (on a thread pool, with a progress bar on a terminal) and stacks the results:

* ``images``: ``(N, H, W, C)`` uint8, raw pixels (the model holds its own preprocessing);
* ``targets``: ``(N,)`` float32 labels, or ``(N, H, W, 1)`` uint8 masks in {0, 1}.

``cache="disk"`` keeps them as ``.npy`` files in ``$MEDZOO_HOME/arrays/<dataset>-<key>/``, keyed by the
dataset's decode settings and the records' fingerprint (names, sizes, targets), so a second run, or another
process, maps them without decoding; a change on disk makes a new key. The files are written under a
temporary name and renamed, so a killed run never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from medzoo.data import Record, fingerprint
from medzoo.errors import MedzooError

log = logging.getLogger("medzoo.arrays")

CACHES = ("memory", "disk", None)
MEMORY_ENTRIES = 4  # decoded sets kept in memory (the train and val splits of two datasets)
_MEMORY: OrderedDict[str, DecodedArrays] = OrderedDict()
_LOCK = threading.Lock()


@attrs.frozen(eq=False)
class DecodedArrays:
    """A dataset's records, decoded: ``images`` (N, H, W, C) uint8 and ``targets`` (labels or masks)."""

    images: np.ndarray
    targets: np.ndarray
    key: str = ""

    def __len__(self) -> int:
        return len(self.images)

    @property
    def segmentation(self) -> bool:
        """Whether the targets are masks."""
        return self.targets.ndim == 4


def cache_key(dataset: Any, records: Sequence[Record]) -> str:
    """What the decoded arrays depend on: the dataset, its decode settings and the records."""
    settings = json.dumps(dataset.decode_settings(), sort_keys=True, default=str)
    h = hashlib.sha256(f"{dataset.name}|{settings}|{fingerprint(records)}".encode())
    for r in records:  # where and when: a file rewritten in place with the same size still makes a new key
        for part in (r.image, r.target if isinstance(r.target, str) else None):
            if part is not None:
                st = os.stat(part)
                h.update(f"{os.path.abspath(part)}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _progress(done: int, total: int, what: str) -> None:
    if not sys.stderr.isatty():
        return
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\rdecoding {what}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def decode_all(dataset: Any, records: Sequence[Record], workers: int | None = None) -> DecodedArrays:
    """Decode ``records`` with ``dataset.decode`` on a thread pool (decoders release the GIL)."""
    if not records:
        raise MedzooError("no records to decode")
    first_x, first_y = dataset.decode(records[0])
    first_x, first_y = np.asarray(first_x), np.asarray(first_y)
    n = len(records)
    images = np.empty((n, *first_x.shape), np.uint8)
    targets = np.empty((n, *first_y.shape), np.uint8 if first_y.ndim else np.float32)
    images[0], targets[0] = first_x, first_y

    def one(i: int) -> None:
        x, y = dataset.decode(records[i])
        x = np.asarray(x)
        if x.shape != first_x.shape:
            raise MedzooError(f"{records[i].image}: decoded to shape {x.shape}, but {records[0].image} gave "
                              f"{first_x.shape}; every image of a dataset must decode to one shape")
        images[i], targets[i] = x, y

    workers = workers or min(8, (os.cpu_count() or 2) * 2)
    done = 1
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, range(1, n)):
            done += 1
            if done % 64 == 0 or done == n:
                _progress(done, n, dataset.name)
    return DecodedArrays(images, targets)


def _disk_dir(name: str, key: str) -> Path:
    from medzoo.paths import cache_dir

    return cache_dir() / "arrays" / f"{name}-{key}"


def _read_disk(folder: Path, key: str) -> DecodedArrays | None:
    try:
        images = np.load(folder / "images.npy", mmap_mode="r")
        targets = np.load(folder / "targets.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if len(images) != len(targets):
        return None
    return DecodedArrays(images, targets, key)


def _write_disk(folder: Path, arrays: DecodedArrays) -> None:
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "images.npy", arrays.images)
    np.save(tmp / "targets.npy", arrays.targets)
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)


def decoded(dataset: Any, records: Sequence[Record], cache: str | None = "memory",
            workers: int | None = None) -> DecodedArrays:
    """``records`` decoded to arrays, from the cache where the same records were decoded before.

    Args:
        dataset: a :class:`medzoo.data.Dataset` (its ``decode`` and ``decode_settings``).
        records: the records, in the order the arrays will have.
        cache: ``"memory"`` (this process), ``"disk"`` (memory-mapped ``.npy`` under ``$MEDZOO_HOME/arrays``,
            shared between runs and processes) or ``None`` (decode every time).
        workers: decoding threads.
    """
    if cache not in CACHES:
        raise MedzooError(f"cache must be one of {CACHES}, got {cache!r}")
    records = list(records)
    if cache is None:
        return decode_all(dataset, records, workers)
    key = cache_key(dataset, records)
    with _LOCK:
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return _MEMORY[key]
    arrays = None
    if cache == "disk":
        folder = _disk_dir(dataset.name, key)
        arrays = _read_disk(folder, key) if folder.is_dir() else None
        if arrays is None:
            fresh = decode_all(dataset, records, workers)
            _write_disk(folder, fresh)
            arrays = _read_disk(folder, key) or attrs.evolve(fresh, key=key)
            log.info("decoded %d records of %s into %s", len(records), dataset.name, folder)
    else:
        arrays = attrs.evolve(decode_all(dataset, records, workers), key=key)
    with _LOCK:
        _MEMORY[key] = arrays
        while len(_MEMORY) > MEMORY_ENTRIES:
            _MEMORY.popitem(last=False)
    return arrays


def forget() -> None:
    """Drop the in-memory cache."""
    with _LOCK:
        _MEMORY.clear()
