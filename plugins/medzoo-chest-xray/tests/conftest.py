"""Fixtures for medzoo-chest-xray: the real data (skipped when absent), synthetic roots, an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[3]
REAL = REPO / ".." / "shared" / "data" / "chest_xray"


@pytest.fixture(scope="session", autouse=True)
def medzoo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep the check cache and synthetic copies of this session out of the user's cache."""
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
    """The shared chest_xray copy, or a skip."""
    if not (REAL / "train").is_dir():
        pytest.skip(f"real data absent: {REAL.resolve()} (see ../shared/data/README.md)")
    return REAL.resolve()


@pytest.fixture(scope="session")
def real(real_root: Path):  # noqa: ANN201 - a ChestXray
    """The real data set, records read once per session."""
    from medzoo_chest_xray.reader import ChestXray

    ds = ChestXray(real_root)
    ds.records()
    return ds


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic set in the real layout (train and test)."""
    from medzoo_chest_xray.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synth"), patients=12, size=64, seed=3)
