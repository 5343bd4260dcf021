"""Shared test setup: make ``tests/tinyzoo.py`` importable as ``medzoo_tests_tinyzoo`` (pytest runs with
``--import-mode=importlib``, so test modules cannot import their neighbours by name)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "medzoo_tests_tinyzoo"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("tinyzoo.py"))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def lgg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic LGG set in the real layout: 4 patients of 6 slices of 32×32."""
    from medzoo_lgg_mri.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("lgg"), patients=4, slices=6, size=32)
