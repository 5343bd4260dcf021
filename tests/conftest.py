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
