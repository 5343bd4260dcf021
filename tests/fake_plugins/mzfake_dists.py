"""Write fake installed distributions (``.dist-info`` folders) whose entry points name the fake plugins.

``importlib.metadata`` reads them like any installed distribution, so their entry points carry a real
``dist`` (name and version), and a folder holding them on ``sys.path`` / ``PYTHONPATH`` is found by
``importlib.metadata.entry_points(group="medzoo")``.
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

HERE = Path(__file__).resolve().parent

# distribution name -> (entry-point name, module)
FAKES = {
    "mzfake-alpha": ("alpha", "mzfake_alpha"),
    "mzfake-beta": ("beta", "mzfake_beta"),
    "mzfake-dup": ("dup", "mzfake_dup"),
    "mzfake-broken": ("broken", "mzfake_broken"),
    "mzfake-badhooks": ("badhooks", "mzfake_badhooks"),
    "mzfake-wrongkind": ("wrongkind", "mzfake_wrongkind"),
    "mzfake-exit": ("exit", "mzfake_exit"),
    "mzfake-hookraises": ("hookraises", "mzfake_hookraises"),
}


def write_dist(site: Path, dist: str, version: str = "1.0") -> md.Distribution:
    """Write ``site/<dist>-<version>.dist-info`` with one ``medzoo`` entry point; return the distribution."""
    ep_name, module = FAKES[dist]
    info = Path(site) / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[medzoo]\n{ep_name} = {module}\n")
    return md.PathDistribution(info)


def entry_points(site: Path, *dists: str) -> list[md.EntryPoint]:
    """The ``medzoo`` entry points of fake distributions ``dists`` (written under ``site``)."""
    return [ep for d in dists for ep in write_dist(site, d).entry_points if ep.group == "medzoo"]
