"""A small numpy reader and writer for the ``safetensors`` format (no torch, no ``safetensors`` package).

Format: 8-byte little-endian unsigned header length ``n``; ``n`` bytes of JSON mapping each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the data that follows, row-major,
little-endian), plus an optional ``"__metadata__"`` dict of strings; then the raw bytes.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping

import numpy as np

DTYPES: dict[str, str] = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                          "I8": "i1", "U8": "u1", "BOOL": "?"}
MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """The file is not a valid safetensors file."""


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every tensor of a ``.safetensors`` file into numpy arrays (``BF16`` becomes float32).

    Raises:
        SafetensorsError: truncated file, bad header, or unsupported dtype.
    """
    with open(path, "rb") as f:
        raw_len = f.read(8)
        if len(raw_len) != 8:
            raise SafetensorsError(f"{path}: too short to be a safetensors file")
        (n,) = struct.unpack("<Q", raw_len)
        if n > MAX_HEADER:
            raise SafetensorsError(f"{path}: header length {n} is implausible; not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except ValueError as exc:
            raise SafetensorsError(f"{path}: header is not JSON ({exc})") from exc
        data = f.read()
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if end > len(data) or begin > end:
            raise SafetensorsError(f"{path}: tensor {name!r} lies outside the file (truncated?)")
        buf = data[begin:end]
        dtype, shape = info["dtype"], tuple(info["shape"])
        if dtype == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif dtype in DTYPES:
            array = np.frombuffer(buf, dtype=DTYPES[dtype]).copy()
        else:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise SafetensorsError(f"{path}: tensor {name!r} has {array.size} values for shape {shape}")
        tensors[name] = array.reshape(shape)
    return tensors


def write_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray],
                      metadata: Mapping[str, str] | None = None) -> None:
    """Write numpy arrays as a ``.safetensors`` file (readable by ``safetensors.torch.load_file``)."""
    codes = {np.dtype(v): k for k, v in DTYPES.items()}
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        code = codes.get(little.dtype)
        if code is None:
            raise SafetensorsError(f"tensor {name!r}: dtype {array.dtype} cannot be written to safetensors")
        blob = np.ascontiguousarray(little).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the format pads the header to a multiple of 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in chunks:
            f.write(blob)
