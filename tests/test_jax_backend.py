"""Every architecture builds and trains one step under the JAX backend.

Runs in a subprocess with ``KERAS_BACKEND=jax`` (the backend is fixed when Keras is first imported). Inputs
are tiny: builders that take ``image_size`` get 32, inputs with free sides are 32×32 (unet: 32×32×3), and
transfer models are built with ``backbone_weights=None``.

Every model runs at full depth, the ImageNet backbones included: 4 min 38 s for all of them on two quiet CPU
cores, XLA's compiles being most of it. ``MEDZOO_JAX_FULL=0`` gives a quick variant: densenet121 with shallow
dense blocks (2, 2, 2, 2), the two ImageNet backbones (resnet152-tl, densenet161-tl) left out.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import inspect, json, math, sys, time
import numpy as np
import keras
import medzoo
from medzoo.registry import registry
from medzoo.specs import resolve

assert keras.backend.backend() == "jax", keras.backend.backend()
import os
FULL = os.environ.get("MEDZOO_JAX_FULL", "1") != "0"
LARGE_BACKBONES = {"resnet152-tl", "densenet161-tl"}
results = {}
for name in medzoo.list_models():
    if name in LARGE_BACKBONES and not FULL:
        print(name, "left out (MEDZOO_JAX_FULL=0)", file=sys.stderr)
        continue
    t0 = time.process_time()
    spec = registry().models[name]
    params = inspect.signature(resolve(spec.build)).parameters
    kwargs = {}
    if "backbone_weights" in params:
        kwargs["backbone_weights"] = None
    if "image_size" in params:
        kwargs["image_size"] = 32
    if "blocks" in params and not FULL:
        kwargs["blocks"] = (2, 2, 2, 2)
    keras.utils.set_random_seed(0)
    model = spec.create(**kwargs)
    if "backbone_weights" in params:
        # A frozen backbone with random weights (no ImageNet file here) runs its batch norms with untouched
        # statistics, so its features are huge and the new head's sigmoid saturates: zero gradient. Starting
        # the head's kernel at 0 puts the output at 0.5, so one step must move the head.
        head = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None][-1]
        head.kernel.assign(np.zeros(head.kernel.shape, "float32"))
    # open sides: 32; an open channel axis (the models convert any count): RGB, as the published JPEGs are
    shape = tuple((32 if i < 2 else 3) if d is None else d for i, d in enumerate(model.input_shape[1:]))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2, *shape)).astype("uint8")
    out_shape = tuple(2 if d is None else d for d in model.compute_output_shape((2, *shape)))
    y = rng.integers(0, 2, size=out_shape).astype("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy")  # jitted: one XLA compile per model
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    loss = float(model.train_on_batch(x, y))
    changed = any(not np.allclose(b, keras.ops.convert_to_numpy(w)) for b, w in zip(before, model.trainable_weights))
    pred = np.asarray(model.predict_on_batch(x))
    results[name] = {"loss": loss, "finite": math.isfinite(loss), "changed": changed,
                     "shape": list(pred.shape), "in_range": bool(np.all((pred >= 0) & (pred <= 1)))}
    print(name, results[name], round(time.process_time() - t0, 1), file=sys.stderr, flush=True)
print("RESULTS " + json.dumps({"models": results, "failed_plugins": [
    f"{p.name}: {p.error}" for p in registry().plugins if p.error]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install 'jax[cpu]')")
def test_every_model_trains_one_step_under_jax() -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS "))
    report = json.loads(line.removeprefix("RESULTS "))
    results = report["models"]
    assert results, f"no models registered; plugin errors: {report['failed_plugins']}"
    if os.environ.get("MEDZOO_JAX_FULL", "1") != "0":
        import medzoo

        assert sorted(results) == medzoo.list_models(), "every registered architecture must run under JAX"
    for name, r in results.items():
        assert r["finite"] and r["changed"], (name, r)
        assert r["in_range"], (name, r)
        assert r["shape"][0] == 2, (name, r)
