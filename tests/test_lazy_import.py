"""``import medzoo`` is cheap: no TensorFlow, no Keras, no plugin, and well under a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HEAVY = {"tensorflow", "keras", "jax", "keras_cv"}

IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import medzoo
t1 = time.perf_counter()
mods = sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m.startswith("medzoo_"))
print(json.dumps({{"import_s": t1 - t0, "modules": mods}}))
"""

LIST_PROBE = """
import json, sys
import medzoo
entries, models, datasets = medzoo.list_entries(), medzoo.list_models(), medzoo.list_datasets()
mods = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(json.dumps({{"entries": entries, "modules": mods}}))
"""


def _probe(code: str) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if k != "MEDZOO_PLUGINS"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code.format(heavy=repr(HEAVY))], capture_output=True, text=True,
                          env=env, timeout=120)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def test_import_medzoo_is_light_and_fast() -> None:
    result, wall = _probe(IMPORT_PROBE)
    print(f"`import medzoo`: {result['import_s']:.3f} s; fresh interpreter + import: {wall:.3f} s wall")
    assert result["modules"] == [], "import medzoo must not import TensorFlow, Keras or any plugin"
    assert wall < 1.5


def test_listing_the_zoo_imports_no_tensorflow() -> None:
    result, _ = _probe(LIST_PROBE)
    assert result["modules"] == [], "listing the zoo must not import TensorFlow or Keras"
