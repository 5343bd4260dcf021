"""Convert torchvision / timm DenseNet ImageNet weights (``.safetensors``) to a medzoo Keras backbone file.

::

    python -m medzoo_transfer.convert model.safetensors                 # → $KERAS_HOME/models/DENSENET161_FILE
    python -m medzoo_transfer.convert model.safetensors out.weights.h5  # anywhere
    medzoo-convert-densenet model.safetensors                           # the same, as a console script

(``DENSENET161_FILE`` = ``densenet161_tv_imagenet_notop.weights.h5``, what ``densenet161-tl`` looks for.)

Sources for DenseNet161: timm's ``densenet161.tv_in1k`` ``model.safetensors`` (https://huggingface.co/timm/densenet161.tv_in1k),
or torchvision's ``densenet161-8d451a50.pth`` saved as safetensors on a machine with torch::

    import torch, safetensors.torch
    safetensors.torch.save_file(torch.load("densenet161-8d451a50.pth"), "densenet161.safetensors")

The file is read with a small numpy reader (no torch needed). The configuration (layers per block, growth
rate, stem width, bottleneck size, compression) is read off the tensor shapes, so DenseNet121/169/201 and
custom configurations convert too. Name mapping (PyTorch module → Keras layer):

================================================  =========================================
``features.conv0``                                ``conv1_conv`` (kernel OIHW → HWIO)
``features.norm0``                                ``conv1_bn``
``features.denseblockB.denselayerL.norm1``        ``conv{B+1}_block{L}_0_bn``
``features.denseblockB.denselayerL.conv1``        ``conv{B+1}_block{L}_1_conv``
``features.denseblockB.denselayerL.norm2``        ``conv{B+1}_block{L}_1_bn``
``features.denseblockB.denselayerL.conv2``        ``conv{B+1}_block{L}_2_conv``
``features.transitionT.norm`` / ``.conv``         ``pool{T+1}_bn`` / ``pool{T+1}_conv``
``features.norm5`` (the last norm)                ``bn``
================================================  =========================================

Batch norm ``weight, bias, running_mean, running_var`` become ``gamma, beta, moving_mean,
moving_variance``; ``num_batches_tracked`` and the ``classifier`` are dropped. Old torchvision names
(``norm.1``, ``conv.2``) and a ``module.`` prefix are accepted.

Note: torchvision's batch norms use epsilon 1e-5, the Keras-Applications-style backbone
(:mod:`medzoo.nets.densenet`) 1.001e-5. The difference scales each normalised activation by
``1 - 5e-9 / (var + eps)`` (5e-9 relative for unit variance, 5e-5 for a variance of 1e-4) and is ignored.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from medzoo import MedzooError
from medzoo.nets.densenet import build_densenet_backbone
from medzoo_transfer.backbone import keras_models_dir
from medzoo_transfer.densenet import DENSENET161, DENSENET161_FILE
from medzoo_transfer.safetensors_io import read_safetensors, write_safetensors

BN_PARAMS = ("weight", "bias", "running_mean", "running_var")  # = gamma, beta, moving_mean, moving_variance
DENSE_SUBLAYERS = {"norm1": "0_bn", "conv1": "1_conv", "norm2": "1_bn", "conv2": "2_conv"}
_DENSE_RE = re.compile(r"^features\.denseblock(\d+)\.denselayer(\d+)\.(norm1|conv1|norm2|conv2)$")
_TRANSITION_RE = re.compile(r"^features\.transition(\d+)\.(norm|conv)$")
_NORM_RE = re.compile(r"^features\.norm(\d+)$")
_K_DENSE_RE = re.compile(r"^conv(\d+)_block(\d+)_(0_bn|1_conv|1_bn|2_conv)$")
_K_POOL_RE = re.compile(r"^pool(\d+)_(bn|conv)$")


class ConversionError(MedzooError):
    """The source file does not hold a DenseNet that maps onto the Keras backbone."""


def normalize_key(key: str) -> str:
    """Drop a ``module.`` prefix and rename old torchvision keys (``norm.1`` → ``norm1``)."""
    key = key.removeprefix("module.")
    return re.sub(r"\.(norm|relu|conv)\.([12])\.", r".\1\2.", key)


def keras_layer_name(module: str) -> str | None:
    """The Keras layer for a PyTorch DenseNet module path, or ``None`` for modules without one (classifier)."""
    if module == "features.conv0":
        return "conv1_conv"
    if m := _DENSE_RE.match(module):
        return f"conv{int(m.group(1)) + 1}_block{m.group(2)}_{DENSE_SUBLAYERS[m.group(3)]}"
    if m := _TRANSITION_RE.match(module):
        return f"pool{int(m.group(1)) + 1}_{'bn' if m.group(2) == 'norm' else 'conv'}"
    if m := _NORM_RE.match(module):
        return "conv1_bn" if m.group(1) == "0" else "bn"
    return None


def torch_module_name(layer: str, n_blocks: int) -> str:
    """The inverse of :func:`keras_layer_name` for a backbone with ``n_blocks`` dense blocks."""
    if layer == "conv1_conv":
        return "features.conv0"
    if layer == "conv1_bn":
        return "features.norm0"
    if layer == "bn":
        return f"features.norm{n_blocks + 1}"
    if m := _K_DENSE_RE.match(layer):
        sub = {v: k for k, v in DENSE_SUBLAYERS.items()}[m.group(3)]
        return f"features.denseblock{int(m.group(1)) - 1}.denselayer{m.group(2)}.{sub}"
    if m := _K_POOL_RE.match(layer):
        return f"features.transition{int(m.group(1)) - 1}.{'norm' if m.group(2) == 'bn' else 'conv'}"
    raise ConversionError(f"Keras layer {layer!r} has no PyTorch DenseNet counterpart")


def infer_config(tensors: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``blocks``, ``growth_rate``, ``stem_filters``, ``bn_size`` and ``compression`` from the tensor shapes."""
    layers_per_block: dict[int, int] = {}
    for key in tensors:
        if m := _DENSE_RE.match(key.rsplit(".", 1)[0]):
            b, n = int(m.group(1)), int(m.group(2))
            layers_per_block[b] = max(layers_per_block.get(b, 0), n)
    try:
        stem = tensors["features.conv0.weight"]
        conv1 = tensors["features.denseblock1.denselayer1.conv1.weight"]
        conv2 = tensors["features.denseblock1.denselayer1.conv2.weight"]
    except KeyError as exc:
        raise ConversionError(f"not a torchvision/timm DenseNet state dict: missing {exc.args[0]!r}") from exc
    if sorted(layers_per_block) != list(range(1, len(layers_per_block) + 1)):
        raise ConversionError(f"dense blocks are not numbered 1..n: {sorted(layers_per_block)}")
    blocks = tuple(layers_per_block[b] for b in sorted(layers_per_block))
    growth, stem_filters = int(conv2.shape[0]), int(stem.shape[0])
    compression = 0.5
    if "features.transition1.conv.weight" in tensors:
        out_channels = int(tensors["features.transition1.conv.weight"].shape[0])
        compression = out_channels / (stem_filters + blocks[0] * growth)
    return {"blocks": blocks, "growth_rate": growth, "stem_filters": stem_filters,
            "bn_size": int(conv1.shape[0]) // growth, "compression": compression}


def _layer_weights(module: str, params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The Keras weight list of one layer from its PyTorch parameters."""
    if "running_mean" in params:
        missing = [p for p in BN_PARAMS if p not in params]
        if missing:
            raise ConversionError(f"{module}: batch norm without {missing}")
        return [params[p] for p in BN_PARAMS]
    if set(params) != {"weight"}:
        raise ConversionError(f"{module}: expected a bias-free convolution, got parameters {sorted(params)}")
    return [np.transpose(params["weight"], (2, 3, 1, 0))]  # OIHW -> HWIO


def load_torch_state(backbone: keras.Model, tensors: Mapping[str, np.ndarray]) -> int:
    """Copy a PyTorch DenseNet ``features`` state dict into ``backbone``; returns the number of tensors used.

    Raises:
        ConversionError: a tensor with no Keras layer, a shape mismatch, or a backbone layer left unset.
    """
    grouped: dict[str, dict[str, np.ndarray]] = {}
    used = 0
    for key, value in tensors.items():
        module, _, param = key.rpartition(".")
        if param == "num_batches_tracked" or module.startswith("classifier") or module in ("fc", "head.fc"):
            continue
        layer = keras_layer_name(module)
        if layer is None:
            raise ConversionError(f"tensor {key!r} has no counterpart in the Keras DenseNet backbone")
        grouped.setdefault(layer, {})[param] = np.asarray(value, dtype="float32")
        used += 1
    expected = {layer.name for layer in backbone.layers if layer.weights}
    if missing := sorted(expected - set(grouped)):
        raise ConversionError(f"the source has no weights for {len(missing)} backbone layer(s), e.g. {missing[:3]}")
    if extra := sorted(set(grouped) - expected):
        raise ConversionError(f"the backbone has no layer(s) {extra[:3]} that the source has weights for")
    for name, params in grouped.items():
        layer = backbone.get_layer(name)
        values = _layer_weights(name, params)
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ConversionError(f"{name}: source shapes {[v.shape for v in values]} do not match {shapes}")
        layer.set_weights(values)
    return used


def torch_state(backbone: keras.Model, n_blocks: int) -> dict[str, np.ndarray]:
    """The inverse: ``backbone``'s weights as a PyTorch DenseNet ``features`` state dict (OIHW kernels)."""
    state: dict[str, np.ndarray] = {}
    for layer in backbone.layers:
        if not layer.weights:
            continue
        module = torch_module_name(layer.name, n_blocks)
        values = [keras.ops.convert_to_numpy(w) for w in layer.weights]
        if isinstance(layer, keras.layers.BatchNormalization):
            state.update({f"{module}.{p}": v for p, v in zip(BN_PARAMS, values, strict=True)})
        else:
            state[f"{module}.weight"] = np.transpose(values[0], (3, 2, 0, 1))  # HWIO -> OIHW
    return state


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None) -> Path:
    """Convert ``src`` (a DenseNet ``.safetensors``) to the Keras backbone weights file ``dst`` and return it.

    Args:
        src: torchvision/timm DenseNet state dict as safetensors.
        dst: a ``.weights.h5`` path; default ``$KERAS_HOME/models/densenet161_tv_imagenet_notop.weights.h5``
            (only for a DenseNet161 source).

    Raises:
        ConversionError: ``src`` is not a DenseNet, or a DenseNet other than 161 without an explicit ``dst``.
    """
    tensors = {normalize_key(k): v for k, v in read_safetensors(src).items()}
    config = infer_config(tensors)
    if dst is None:
        if config != DENSENET161:
            raise ConversionError(f"{src} holds a DenseNet with {config}, not DenseNet161; pass an explicit DST")
        dst = keras_models_dir() / DENSENET161_FILE
    dst = Path(dst)
    if not dst.name.endswith(".weights.h5"):
        raise ConversionError(f"the output must be a .weights.h5 file, got {dst}")
    backbone = build_densenet_backbone((None, None, 3), name="densenet", **config)
    load_torch_state(backbone, tensors)
    dst.parent.mkdir(parents=True, exist_ok=True)
    backbone.save_weights(str(dst))
    return dst


def write_torch_safetensors(backbone: keras.Model, path: str | os.PathLike[str], n_blocks: int) -> None:
    """Write ``backbone`` as a PyTorch-named safetensors file (the converter's inverse; for tests and export)."""
    write_safetensors(path, torch_state(backbone, n_blocks), metadata={"format": "pt"})


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m medzoo_transfer.convert SRC.safetensors [DST.weights.h5]``."""
    parser = argparse.ArgumentParser(prog="python -m medzoo_transfer.convert",
                                     description="Convert torchvision/timm DenseNet safetensors to medzoo Keras "
                                                 "backbone weights (no torch needed).")
    parser.add_argument("src", help="DenseNet state dict as .safetensors (e.g. timm densenet161.tv_in1k)")
    parser.add_argument("dst", nargs="?", default=None,
                        help=f"output .weights.h5 (default: $KERAS_HOME/models/{DENSENET161_FILE})")
    args = parser.parse_args(argv)
    try:
        dst = convert(args.src, args.dst)
    except (MedzooError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
