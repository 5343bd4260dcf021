"""Where medzoo keeps its files: ``$MEDZOO_HOME`` or the platform's user cache directory."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The medzoo cache (downloaded weights, synthetic datasets)."""
    env = os.environ.get("MEDZOO_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("medzoo"))
