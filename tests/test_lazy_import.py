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


CLI_PROBE = """
import json, sys
from medzoo.cli import main
status = main({argv!r})
mods = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(json.dumps({{"status": status, "modules": mods}}))
"""


def test_list_and_info_import_no_tensorflow() -> None:
    """``medzoo list`` and ``medzoo info`` (card, JSON, an architecture) read specs and cards: no TensorFlow,
    no Keras, no model built."""
    for argv in (["list"], ["list", "--json"], ["info", "cnn1-chest-xray"], ["info", "cnn1-chest-xray", "--json"],
                 ["info", "unet-lgg"], ["info", "cnn1"], ["info", "resnet152-tl-chest-xray"]):
        env = {k: v for k, v in os.environ.items() if k != "MEDZOO_PLUGINS"}
        proc = subprocess.run([sys.executable, "-c", CLI_PROBE.format(argv=argv, heavy=repr(HEAVY))],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, (argv, proc.stderr)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result == {"status": 0, "modules": []}, argv
        assert proc.stderr == "", (argv, proc.stderr)


def test_info_is_fast() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDZOO_PLUGINS"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "medzoo.cli", "info", "cnn1-chest-xray"], capture_output=True,
                          text=True, env=env, timeout=120)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "8,673,793 parameters" in proc.stdout  # counted in the shipped weights file, not by building
    print(f"`medzoo info cnn1-chest-xray`: {wall:.2f} s")
    assert wall < 5
