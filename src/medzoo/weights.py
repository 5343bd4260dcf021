"""Weight files: bundled with a plugin, on disk, or downloaded into the cache; sha256-verified; never pickle.

:func:`load_entry` (behind :func:`medzoo.load`) builds an entry's architecture and loads its weights.
A weights file is named by one of:

* ``"package:relative/path.weights.h5"``: package data of an installed plugin (``importlib.resources``);
* a plain path (``~`` expanded);
* a ``file://`` or ``https://`` URL: copied once into ``$MEDZOO_HOME/weights/`` (see
  :func:`medzoo.paths.cache_dir`), via a temporary file that is verified before it is renamed into place.

Only Keras weight formats are read: ``.weights.h5`` and the weights inside a ``.keras`` archive, both with
``model.load_weights`` into the entry's own architecture, so no code or config from the file is ever run.
Weights may be stored as float16 (:func:`export_weights`); they load into the float32 model unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from medzoo.errors import MedzooError
from medzoo.paths import cache_dir as default_cache_dir
from medzoo.registry import registry
from medzoo.specs import Entry, ModelSpec

SUFFIXES = (".weights.h5", ".keras")
TIMEOUT_S = 30.0
PROGRESS_MIN_BYTES = 1 << 20  # show a progress line for downloads over 1 MiB
_CHUNK = 1 << 20


class WeightsError(MedzooError):
    """A weights file that cannot be fetched, fails its sha256 check, or does not fit the model."""


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, expected: str | None, what: str) -> None:
    """Raise :class:`WeightsError` if ``path``'s sha256 is not ``expected`` (no check when ``expected`` is empty)."""
    if not expected:
        return
    actual = sha256_file(path)
    if actual.lower() != expected.lower():
        size = path.stat().st_size
        raise WeightsError(f"sha256 mismatch for weights {what} ({size} bytes): expected {expected.lower()}, "
                           f"got {actual}; the file is corrupt, truncated or not the published one, so it "
                           f"was not loaded")


def _check_suffix(name: str) -> None:
    if not name.endswith(SUFFIXES):
        raise WeightsError(f"weights file {name!r} is neither .weights.h5 nor .keras; medzoo reads only Keras "
                           f"weight files (never pickle)")


# ---------------------------------------------------------------------------------------------- fetching


def _open_url(url: str, timeout: float) -> Any:
    """Open ``url`` for reading (a seam for tests)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - only file:// and https:// reach here


def cached_path(url: str, cache_dir: str | Path | None = None) -> Path:
    """Where the download of ``url`` is kept: ``CACHE/weights/<hash of the URL>/<file name>``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or "weights.weights.h5"
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return root / "weights" / key / name


def _progress(done: int, total: int | None, name: str, out: IO[str]) -> None:
    mb = 1 << 20
    if total:
        out.write(f"\rdownloading {name}: {done / mb:.1f}/{total / mb:.1f} MiB ({100 * done // total}%)")
    else:
        out.write(f"\rdownloading {name}: {done / mb:.1f} MiB")
    out.flush()


def _copy_response(resp: Any, dest: IO[bytes], name: str) -> tuple[int, int | None]:
    length = resp.headers.get("Content-Length") if getattr(resp, "headers", None) is not None else None
    total = int(length) if length and str(length).isdigit() else None
    show = total is None or total >= PROGRESS_MIN_BYTES
    done, shown = 0, 0
    while True:
        chunk = resp.read(_CHUNK)
        if not chunk:
            break
        dest.write(chunk)
        done += len(chunk)
        if show and done - shown >= 4 * _CHUNK:
            _progress(done, total, name, sys.stderr)
            shown = done
    if show and shown:
        _progress(done, total, name, sys.stderr)
        sys.stderr.write("\n")
    return done, total


def download(url: str, expected_sha256: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """Return the cached copy of ``url``, downloading it first if it is not cached (or fails verification).

    The file is written to a temporary name beside its final place, checked for truncation (against
    ``Content-Length``) and against ``expected_sha256``, then renamed into place, so the cache never holds
    a partial or unverified file. Without ``expected_sha256`` the download's own sha256 is recorded beside it
    (``<file>.sha256``), so a cached copy that changes on disk later is caught and fetched again all the same.
    """
    _check_suffix(urllib.parse.urlparse(url).path)
    target = cached_path(url, cache_dir)
    recorded = target.with_name(target.name + ".sha256")
    if target.exists():
        try:
            known = expected_sha256 or (recorded.read_text().strip() if recorded.is_file() else None)
            _verify(target, known, f"{target} (cached from {url})")
            return target
        except WeightsError:
            target.unlink()  # corrupt cache entry: fetch it again
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, _open_url(url, TIMEOUT_S) as resp:
                done, total = _copy_response(resp, out, target.name)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WeightsError(f"cannot download weights from {url}: {reason}. If this machine is offline, "
                               f"fetch the file elsewhere and put it at {target} (it is verified against "
                               f"its sha256 on use), or pass weights=PATH") from exc
        if total is not None and done != total:
            raise WeightsError(f"download of {url} is truncated: got {done} of {total} bytes; not loaded")
        _verify(tmp, expected_sha256, f"downloaded from {url}")
        recorded.write_text(sha256_file(tmp) + "\n")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _package_file(spec: str) -> Path:
    """Resolve ``"package:relative/path"`` to a file on disk."""
    import importlib.resources

    package, _, rel = spec.partition(":")
    try:
        res = importlib.resources.files(package).joinpath(rel)
    except ModuleNotFoundError as exc:
        raise WeightsError(f"weights {spec!r}: package {package!r} is not installed") from exc
    if not res.is_file():
        raise WeightsError(f"weights {spec!r} are missing from the installed package {package!r}; "
                           f"reinstall it (package data may have been left out of the build)")
    if isinstance(res, Path):
        return res
    # a zipped package: copy the resource out once, keyed by its name
    out = default_cache_dir() / "weights" / "package" / package / rel
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with importlib.resources.as_file(res) as p:
            shutil.copyfile(p, out)
    return out


_PACKAGE_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[^/\\]")


def _is_package_spec(spec: str) -> bool:
    """``"package.module:relative/path"``, but not a Windows drive (``"C:\\x"``) or a URL."""
    return bool(_PACKAGE_SPEC.match(spec)) and len(spec.partition(":")[0]) > 1


def resolve_file(spec: str | Path, expected_sha256: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """A local, verified path for a weights file given as package resource, path, ``file://`` or ``https://`` URL."""
    if isinstance(spec, Path):
        spec = str(spec)
    scheme = urllib.parse.urlparse(spec).scheme
    if scheme in ("file", "https", "http"):
        if scheme == "http":
            raise WeightsError(f"refusing plain-http weights URL {spec}; use https://")
        return download(spec, expected_sha256, cache_dir)
    if _is_package_spec(spec):
        path = _package_file(spec)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist")
    _check_suffix(path.name)
    _verify(path, expected_sha256, str(path))
    return path


# ------------------------------------------------------------------------------------------------ loading


def _lookup(name: str, weights: Any) -> tuple[Entry | None, ModelSpec]:
    """The entry (``None`` for a bare architecture) and the architecture that ``name`` stands for."""
    reg = registry()
    if name in reg.entries:
        entry = reg.entries[name]
        return entry, reg.get("models", entry.model)
    if name not in reg.models:
        reg.get("entries", name)  # raises UnknownNameError with suggestions
    if weights == "default":
        trained = ", ".join(n for n, e in sorted(reg.entries.items()) if e.model == name) or "none installed"
        raise MedzooError(f"{name!r} is an architecture, not a zoo entry, so it has no default weights; pass "
                          f"weights=None for an untrained {name!r} or weights=PATH for your own, or load one of "
                          f"its entries ({trained})")
    return None, reg.models[name]


def _no_weights_error(entry: Entry) -> MedzooError:
    return MedzooError(
        f"no trained weights ship with {entry.name!r}: it was not trained and validated here, so loading it would "
        f"pass an untrained {entry.model!r} off as a zoo model. Train it with `medzoo train {entry.name} --data "
        f"ROOT` and load the run's best.weights.h5 with weights=PATH, or pass weights=None for the untrained "
        f"architecture")


def _count_arrays(path: Path) -> int:
    """How many model arrays a Keras weights file holds (a ``.keras`` archive: its ``model.weights.h5``).

    The optimizer state that a compiled model's checkpoint carries (the runner's ``best.weights.h5``) is
    training state, not model weights, and is not counted.
    """
    import h5py

    def count(f: Any) -> int:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        return sum(not n.startswith("optimizer/") for n in names)

    if path.name.endswith(".keras"):
        import io
        import zipfile

        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            return count(f)
    with h5py.File(path, "r") as f:
        return count(f)


def weights_path(entry: Entry | None, weights: str | Path, cache_dir: str | Path | None = None,
                 sha256: str | None = None) -> Path:
    """The local file behind ``weights`` (``"default"``: ``entry``'s own), fetched and sha256-checked."""
    if weights == "default":
        if entry is None:
            raise MedzooError("weights='default' needs a zoo entry")
        if entry.weights is None:
            raise _no_weights_error(entry)
        file, expected = entry.weights.file, sha256 or entry.weights.sha256
    else:
        file = str(weights)
        own = entry.weights if entry is not None else None
        expected = sha256 or (own.sha256 if own is not None and own.file == file else None)
    return resolve_file(file, expected, cache_dir)


def load_into(model: Any, path: Path, label: str) -> None:
    """``model.load_weights(path)``, refusing a file whose arrays do not cover the model's weights exactly."""
    try:
        n_file, n_model = _count_arrays(path), len(model.weights)
        if n_file != n_model:
            raise ValueError(f"the file holds {n_file} arrays, the model has {n_model} weights")
        model.load_weights(str(path))
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types; the user needs one clear message
        raise WeightsError(f"cannot load weights {path} into {label}: {type(exc).__name__}: {exc}. The file "
                           f"is truncated, not a Keras weights file, or made for another architecture") from exc


def load_entry(name: str, weights: str | Path | None = "default", cache_dir: str | Path | None = None,
               sha256: str | None = None) -> Any:
    """Build zoo entry ``name`` and load its weights; see :func:`medzoo.load`.

    Args:
        name: a zoo entry, or (with ``weights=None`` or an explicit file) an architecture name.
        weights: ``"default"`` (the entry's published weights), ``None`` (untrained), or a path /
            ``file://`` / ``https://`` URL to a ``.weights.h5`` or ``.keras`` file.
        cache_dir: where downloads are kept (default :func:`medzoo.paths.cache_dir`).
        sha256: the expected sha256 of the file; the entry's own is used when ``weights`` is its default file.

    Returns:
        A ``keras.Model`` mapping raw pixels to probabilities, with ``medzoo_entry`` set to ``name`` and
        ``medzoo_meta`` to :func:`medzoo.predict.entry_meta` (class names, operating threshold and its rule,
        the weights loaded and their sha256).
    """
    from medzoo.predict import entry_meta

    entry, spec = _lookup(name, weights)
    kwargs = dict(entry.model_kwargs) if entry is not None else {}
    if "backbone_weights" in spec.defaults:
        # an untrained model, or every weight comes from the file: no pretrained backbone to fetch
        kwargs.setdefault("backbone_weights", None)
    if weights is None:
        model = spec.create(**kwargs)
        model.medzoo_entry = name
        model.medzoo_meta = entry_meta(name, None)
        return model
    path = weights_path(entry, weights, cache_dir, sha256)
    model = spec.create(**kwargs)
    load_into(model, path, f"{name!r} ({spec.name})")
    model.medzoo_entry = name
    # the file was verified against this hash when one was known; otherwise say what was loaded
    own = entry.weights.sha256 if entry is not None and entry.weights is not None and weights == "default" else None
    model.medzoo_meta = entry_meta(name, weights, (sha256 or own or sha256_file(path)).lower())
    return model


# ---------------------------------------------------------------------------------------------- exporting


def export_weights(model: Any, path: str | Path, dtype: str = "float16") -> str:
    """Write ``model``'s weights to ``path`` (a ``.weights.h5``) and return the file's sha256.

    Keras writes the file in its own layout; with ``dtype="float16"`` every float32 array is then rewritten
    as float16 in place (h5py), which halves the size. ``model.load_weights`` reads it back into a float32
    model (values cast on assignment). Arrays whose values would overflow float16 stay float32.
    The file is written to a temporary name and renamed, so ``path`` is never left half-written.
    """
    import h5py
    import numpy as np

    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise WeightsError(f"export path {path} must end in .weights.h5")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part.weights.h5")
    try:
        model.save_weights(str(tmp))
        if dtype == "float16":
            limit = float(np.finfo(np.float16).max)
            with h5py.File(tmp, "r+") as f:
                datasets: list[str] = []
                f.visititems(lambda n, o: datasets.append(n) if isinstance(o, h5py.Dataset) else None)
                for ds_name in datasets:
                    ds = f[ds_name]
                    if ds.dtype != np.float32:
                        continue
                    data = ds[()]
                    if data.size and not np.all(np.abs(data[np.isfinite(data)]) <= limit):
                        continue
                    attrs = dict(ds.attrs)
                    parent, leaf = ds.parent, ds_name.rsplit("/", 1)[-1]
                    del parent[leaf]
                    new = parent.create_dataset(leaf, data=data.astype(np.float16))
                    new.attrs.update(attrs)
            _repack(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return sha256_file(path)


def _repack(path: Path) -> None:
    """Copy the h5 file into a fresh one so the space of deleted float32 arrays is given back."""
    import h5py

    fresh = path.with_name(path.name + ".repack")
    try:
        with h5py.File(path, "r") as src, h5py.File(fresh, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src:
                src.copy(src[key], dst, name=key)
        os.replace(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)
