"""Synthetic copies of datasets in their real layouts, written once into the medzoo cache."""

from __future__ import annotations

from pathlib import Path

from medzoo.errors import MedzooError
from medzoo.paths import cache_dir
from medzoo.specs import DatasetSpec, resolve


def synthetic_root(spec: DatasetSpec, root: str | Path | None = None) -> Path:
    """Write (once) and return a synthetic copy of ``spec``'s dataset in its real on-disk layout."""
    if spec.synthetic is None:
        raise MedzooError(f"dataset {spec.name!r} has no synthetic default; pass data=ROOT")
    root = Path(root) if root is not None else cache_dir() / "synthetic" / spec.name
    done = root / ".complete"
    if not done.exists():
        root.mkdir(parents=True, exist_ok=True)
        resolve(spec.synthetic)(root)
        done.write_text("ok\n")
    return root
