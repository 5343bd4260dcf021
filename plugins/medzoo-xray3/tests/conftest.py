"""Fixtures for medzoo-xray3: the real chest X-rays (skipped when absent), a synthetic set, an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[3]
REAL = REPO / ".." / "shared" / "data" / "chest_xray"


@pytest.fixture(scope="session", autouse=True)
def medzoo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep caches and synthetic copies of this session out of the user's cache."""
    home = tmp_path_factory.mktemp("medzoo_home")
    old = os.environ.get("MEDZOO_HOME")
    os.environ["MEDZOO_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MEDZOO_HOME", None)
    else:
        os.environ["MEDZOO_HOME"] = old


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The shared chest_xray copy, or a skip saying where it was looked for."""
    if not (REAL / "train").is_dir():
        pytest.skip(f"real data absent: {REAL.resolve()} (see ../shared/data/README.md)")
    return REAL.resolve()


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic set in the Kermany layout with all three classes (train and test)."""
    from medzoo_xray3.dataset import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synth3"), patients=16, size=48, seed=5)
