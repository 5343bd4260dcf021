"""Fast validation of image files before they reach tf.data (whose decode errors do not name the file).

Each file is opened and fully decoded with Pillow (large JPEGs in DCT draft mode, which still reads every
byte of entropy-coded data), on a thread pool; one larger than :func:`medzoo.images.max_pixels` (a
decompression bomb) is refused from its header, before decoding. Verdicts are cached on disk keyed by path,
size and mtime (and the pixel limit), so re-checking an unchanged data set costs one ``stat`` per file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("medzoo.chest_xray")

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
FORMATS = {"JPEG", "PNG"}
MODES = {"L", "RGB", "RGBA", "LA", "P", "I;16", "I;16B", "I", "1"}
_VERSION = 2


def check_image(path: str | Path) -> str | None:
    """``None`` if ``path`` is a complete JPEG or PNG that decodes; otherwise what is wrong with it."""
    from PIL import Image, UnidentifiedImageError

    from medzoo.images import max_pixels, too_large

    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty file (0 bytes)"
        with path.open("rb") as f:
            head = f.read(8)
            f.seek(max(0, size - 1024))
            tail = f.read()
        limit = max_pixels()
        if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
            Image.MAX_IMAGE_PIXELS = limit  # the user allowed larger images than Pillow's default
        with Image.open(path) as img:
            if img.width * img.height > limit:
                return too_large(f"{img.width}×{img.height}", img.width * img.height, limit)
            fmt = img.format
            if fmt not in FORMATS:
                return f"{fmt} image; expected JPEG or PNG"
            if img.mode not in MODES:
                return f"unsupported {fmt} colour mode {img.mode}"
            if img.width < 1 or img.height < 1:
                return f"empty image ({img.width}×{img.height})"
            if fmt == "JPEG":
                if not head.startswith(b"\xff\xd8"):
                    return "not a JPEG file (no start-of-image marker)"
                if b"\xff\xd9" not in tail:
                    return "truncated JPEG (no end-of-image marker)"
                img.draft("L", (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()
    except UnidentifiedImageError:
        return "not an image (Pillow cannot identify it as JPEG or PNG)"
    except Image.DecompressionBombError as exc:  # over Pillow's own limit: refused from the header
        found = re.search(r"\((\d+) pixels\)", str(exc))
        return too_large("size in its header", int(found.group(1)) if found else limit + 1, limit)
    except (OSError, SyntaxError, ValueError) as exc:
        return f"corrupt or truncated image ({type(exc).__name__}: {exc})"
    return None


def _cache_file(root: Path) -> Path:
    from medzoo.paths import cache_dir

    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "chest-xray" / f"checked-{key}.json"


def _load(path: Path) -> dict[str, list]:
    from medzoo.images import max_pixels

    try:
        data = json.loads(path.read_text())
        return data["files"] if data.get("version") == _VERSION and data.get("max_pixels") == max_pixels() else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _save(path: Path, files: dict[str, list]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        from medzoo.images import max_pixels

        tmp.write_text(json.dumps({"version": _VERSION, "max_pixels": max_pixels(), "files": files}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs speed
        log.debug("could not write the check cache %s: %s", path, exc)


def check_images(paths: Iterable[Path], root: Path, use_cache: bool = True, workers: int | None = None
                 ) -> dict[str, str | None]:
    """Check many files (see :func:`check_image`); returns ``{str(path): problem or None}``.

    With ``use_cache``, verdicts of unchanged files (same size and mtime) come from the medzoo cache.
    """
    paths = [Path(p) for p in paths]
    cache_path = _cache_file(root)
    cached = _load(cache_path) if use_cache else {}
    out: dict[str, str | None] = {}
    todo: list[tuple[str, list]] = []
    for p in paths:
        st = p.stat()
        stamp = [st.st_size, st.st_mtime_ns]
        hit = cached.get(str(p))
        if hit is not None and hit[:2] == stamp:
            out[str(p)] = hit[2]
        else:
            todo.append((str(p), stamp))
    if todo:
        workers = workers or min(8, (os.cpu_count() or 1) + 2)
        with ThreadPoolExecutor(workers) as pool:
            verdicts = list(pool.map(check_image, [t[0] for t in todo]))
        for (p, _), why in zip(todo, verdicts, strict=True):
            out[p] = why
        stamps = dict(todo)
        if use_cache:
            _save(cache_path, {p: (stamps[p] if p in stamps else cached[p][:2]) + [why] for p, why in out.items()})
    return out
