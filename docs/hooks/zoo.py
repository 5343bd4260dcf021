"""MkDocs hook: generate the zoo pages, the model cards and the CLI reference from the installed registry.

Registered in ``mkdocs.yml`` under ``hooks:``. At build time it

* expands the nav item ``zoo/index.md`` into the zoo table plus one page per entry (``zoo/<entry>.md``),
  each the entry's model card (:func:`medzoo.cards.card_markdown` when that module exists, else rendered
  from the :class:`~medzoo.specs.Entry` fields) followed by the figures committed under
  ``docs/zoo/figures/<entry>/``;
* writes ``reference/cli.md`` from the ``medzoo`` argument parser (``medzoo.cli.build_parser``), so the
  reference is the ``--help`` text itself;
* replaces ``<!-- zoo-status -->`` in any page with a one-line count of entries and trained weights.

Parameter counts come from ``Weights.meta["params"]`` when present; otherwise the hook builds each
architecture (this imports Keras, about half a minute). ``MEDZOO_DOCS_PARAMS=0`` skips the building.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.zoo")

ZOO_INDEX = "zoo/index.md"
CLI_PAGE = "reference/cli.md"
FIGURES = "zoo/figures"
STATUS_MARK = "<!-- zoo-status -->"
FIGURE_ORDER = ("learning_curves", "confusion_matrix", "roc", "gallery", "per_patient_dice")

# Headline metrics, in order of preference, per task: (label, path into the metrics dict).
HEADLINES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "segmentation": [("Dice/volume", ("dice_per_volume",)), ("Dice/slice", ("dice_per_slice",)),
                     ("Dice", ("dice",)), ("IoU/volume", ("iou_per_volume",))],
    "classification": [("AUC", ("auc",)), ("accuracy", ("operating_points", "default", "accuracy")),
                        ("recall", ("operating_points", "default", "recall")), ("accuracy", ("accuracy",)),
                        ("recall", ("recall",))],
}


# ------------------------------------------------------------------------------------------------ registry
def _registry() -> Any:
    from medzoo.registry import registry

    return registry()


def _number(value: Any) -> float | None:
    """A float from ``0.83``, ``{"value": 0.83, ...}`` or None."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _dig(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = metrics
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def headline(task: str, metrics: dict[str, Any], limit: int = 3) -> str:
    """The entry's main validation numbers as ``"Dice/volume 0.812, ..."``; ``"—"`` when none."""
    parts: list[str] = []
    seen: set[str] = set()
    for label, path in HEADLINES.get(task, []):
        value = _number(_dig(metrics, path))
        if value is None or label in seen:
            continue
        seen.add(label)
        parts.append(f"{label} {value:.3f}")
        if len(parts) == limit:
            break
    return ", ".join(parts) or "—"


def study_numbers(study: dict[str, Any]) -> str:
    """The study's published numbers, e.g. ``"accuracy 0.89, recall 0.94 (Kermany test set)"``."""
    nums = [f"{k.replace('_', ' ')} {v:g}" for k, v in study.items() if isinstance(v, (int, float))]
    text = ", ".join(nums) or "—"
    if study.get("split"):
        text += f" ({study['split']})"
    return text


def param_counts(reg: Any) -> dict[str, int | None]:
    """Parameters per entry: ``Weights.meta["params"]``, else counted by building the architecture."""
    out: dict[str, int | None] = {}
    build = os.environ.get("MEDZOO_DOCS_PARAMS", "1") != "0"
    built: dict[tuple[str, str], int | None] = {}
    for name, entry in sorted(reg.entries.items()):
        meta = entry.weights.meta if entry.weights is not None else {}
        if isinstance(meta.get("params"), int):
            out[name] = meta["params"]
            continue
        if not build or entry.model not in reg.models:
            out[name] = None
            continue
        key = (entry.model, repr(sorted(entry.model_kwargs.items())))
        if key not in built:
            built[key] = _count_params(reg.models[entry.model], entry.model_kwargs)
        out[name] = built[key]
    return out


def _count_params(spec: Any, kwargs: dict[str, Any]) -> int | None:
    """Build ``spec`` and count its parameters; a transfer model is built without its ImageNet backbone
    weights (same parameter count) when those are not in the Keras cache."""
    import inspect

    from medzoo.specs import resolve

    attempts = [dict(kwargs)]
    try:
        if "backbone_weights" in inspect.signature(resolve(spec.build)).parameters:
            attempts.append({**kwargs, "backbone_weights": None})
    except (TypeError, ValueError, ImportError, AttributeError):
        pass
    for attempt in attempts:
        try:
            return int(spec.create(**attempt).count_params())
        except Exception as exc:  # noqa: BLE001 - a model that cannot be built still gets its page
            log.info("cannot build %s with %s to count its parameters: %s", spec.name, attempt,
                     str(exc).split(". ")[0][:160])
    return None


def figures_of(docs_dir: Path, entry: str) -> list[str]:
    """The PNG names under ``docs/zoo/figures/<entry>/``, known figures first."""
    folder = docs_dir / FIGURES / entry
    names = sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []
    rank = {stem: i for i, stem in enumerate(FIGURE_ORDER)}
    return sorted(names, key=lambda n: (rank.get(Path(n).stem, len(rank)), n))


# ------------------------------------------------------------------------------------------------ pages
def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def zoo_index(reg: Any, params: dict[str, int | None]) -> str:
    """The zoo table: every entry, then the architectures and the datasets."""
    entries = sorted(reg.entries.values(), key=lambda e: e.name)
    trained = sum(e.trained for e in entries)
    lines = [
        "---", "hide:", "  - toc", "---", "",  # the table needs the width of the table of contents
        "# The zoo", "",
        f"{len(entries)} entries from the installed plugins, {trained} with trained weights. This page is "
        "generated from the registry when the site is built, so it lists exactly what `medzoo list` shows "
        "for the plugins installed at build time.", "",
        "*Validation* numbers are measured on the validation **patients** of our patient-level split "
        "(no patient in both training and validation). The *study* numbers are the ones the original "
        "study published, on its own split, which is named beside them; the two are not directly comparable.",
        "",
        "| entry | task | data | params | trained | validation (ours) | study |",
        "|---|---|---|---:|---|---|---|",
    ]
    for e in entries:
        n = params.get(e.name)
        metrics = e.weights.metrics if e.weights is not None else {}
        lines.append(
            f"| [{e.name}]({e.name}.md) | {e.task} | {e.dataset} | "
            f"{f'{n:,}' if n else '—'} | {'yes' if e.trained else 'no'} | "
            f"{_cell(headline(e.task, metrics)) if e.trained else '—'} | {_cell(study_numbers(e.study))} |")
    if not entries:
        lines.append("| *(no entries installed)* | | | | | | |")
    lines += ["", "## Architectures", "", "| model | task | distribution | description |", "|---|---|---|---|"]
    for name, spec in sorted(reg.models.items()):
        lines.append(f"| `{name}` | {spec.task} | {spec.distribution} | {_cell(spec.description)} |")
    lines += ["", "## Datasets", "", "| dataset | task | distribution | licence |", "|---|---|---|---|"]
    for name, spec in sorted(reg.datasets.items()):
        lines.append(f"| `{name}` | {spec.task} | {spec.distribution} | {_cell(spec.licence) or '—'} |")
    lines += ["", "See [Datasets](../datasets.md) for layouts, downloads and licences.", ""]
    return "\n".join(lines)


def _fallback_card(reg: Any, name: str) -> str:
    """A model card rendered from the Entry fields (used when ``medzoo.cards`` is not available)."""
    import attrs

    e = reg.entries[name]
    spec = reg.models.get(e.model)
    data = reg.datasets.get(e.dataset)
    lines = [f"# {name}", "", e.summary or "", "",
             "| | |", "|---|---|",
             f"| task | {e.task} |", f"| architecture | `{e.model}` ({e.distribution}) |",
             f"| dataset | `{e.dataset}` |", f"| trained weights | {'yes' if e.trained else 'no'} |"]
    if spec is not None and spec.reference:
        lines.append(f"| reference | {_cell(spec.reference)} |")
    lines.append("")
    if e.intended_use:
        lines += ["## Intended use", "", e.intended_use, ""]
    if spec is not None and spec.description:
        lines += ["## Architecture", "", spec.description, ""]
    lines += ["## Recipe", "", "| field | value |", "|---|---|"]
    lines += [f"| {k} | `{_cell(v)}` |" for k, v in attrs.asdict(e.recipe).items() if v not in (None, {}, "")]
    lines += ["", "## Results", ""]
    if e.weights is not None:
        lines += [f"Validation (ours): {headline(e.task, e.weights.metrics, limit=5)}.", ""]
        if e.weights.licence:
            lines += [f"Weights licence: {e.weights.licence}", ""]
    else:
        lines += [f"No trained weights ship with this entry. Train it with `medzoo train {name} --data ROOT`.", ""]
    if e.study:
        lines += [f"Study: {study_numbers(e.study)}.", ""]
    if data is not None and data.licence:
        lines += ["## Data licence", "", data.licence, ""]
    return "\n".join(lines)


def card_page(reg: Any, name: str, docs_dir: Path) -> str:
    """The model card of entry ``name`` plus its committed figures."""
    try:
        from medzoo.cards import card_markdown
    except ImportError:
        text = _fallback_card(reg, name)
    else:
        text = card_markdown(name)
    figures = figures_of(docs_dir, name)
    if figures and f"figures/{name}/" not in text:
        text = text.rstrip() + "\n\n## Figures\n\n"
        for fig in figures:
            title = Path(fig).stem.replace("_", " ").capitalize()
            text += f"### {title}\n\n![{title} of {name}](figures/{name}/{fig})\n\n"
    return text.rstrip() + "\n\n[← back to the zoo](index.md)\n"


def cli_reference() -> str:
    """``reference/cli.md``: the help of ``medzoo`` and of each subcommand, straight from argparse."""
    try:
        from medzoo.cli import build_parser
    except ImportError:
        return "# Command line\n\nThe `medzoo` command is not installed in this build environment.\n"
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to this; a code block of the theme shows about 90 columns
    try:
        return _cli_pages(build_parser())
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns


def _cli_pages(parser: argparse.ArgumentParser) -> str:
    """The markdown of the CLI reference for ``parser`` and its subcommands."""
    parser.prog = "medzoo"
    out = ["# Command line", "",
           "Generated from the `medzoo` argument parser when the site is built: each block is the command's "
           "`--help` output. User errors (an unknown name, a missing data folder, a bad file) print "
           "`medzoo: error: <message>` on one line and exit with status 2.", "",
           "```text", parser.format_help().rstrip(), "```", ""]
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, sub in action.choices.items():
            out += [f"## medzoo {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ mkdocs events
_STATE: dict[str, Any] = {}


def _expand_nav(nav: list[Any], pages: list[dict[str, str]]) -> bool:
    """Replace the nav item that points at ``zoo/index.md`` by a section with the index and the cards."""
    for i, item in enumerate(nav):
        if isinstance(item, dict):
            (title, value), = item.items()
            if value == ZOO_INDEX:
                nav[i] = {title: [{"Overview": ZOO_INDEX}, *pages]}
                return True
            if isinstance(value, list) and _expand_nav(value, pages):
                return True
        elif item == ZOO_INDEX:
            nav[i] = {"The zoo": [{"Overview": ZOO_INDEX}, *pages]}
            return True
    return False


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Read the registry once and add one nav item per zoo entry."""
    reg = _registry()
    _STATE["reg"] = reg
    _STATE["docs_dir"] = Path(config["docs_dir"])
    if config["nav"] is not None:
        pages = [{name: f"zoo/{name}.md"} for name in sorted(reg.entries)]
        _expand_nav(config["nav"], pages)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages (replacing any stale copies on disk)."""
    reg = _STATE["reg"]
    docs_dir = _STATE["docs_dir"]
    params = param_counts(reg)
    generated = {ZOO_INDEX: zoo_index(reg, params), CLI_PAGE: cli_reference()}
    for name in reg.entries:
        generated[f"zoo/{name}.md"] = card_page(reg, name, docs_dir)
    for uri, content in generated.items():
        old = files.get_file_from_path(uri)
        if old is not None:
            files.remove(old)
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill ``<!-- zoo-status -->`` with the current counts."""
    if STATUS_MARK not in markdown:
        return markdown
    reg = _STATE["reg"]
    entries = reg.entries
    trained = sorted(n for n, e in entries.items() if e.trained)
    status = (f"**Status at build time:** {len(reg.plugins)} plugins installed, providing {len(reg.models)} "
              f"architectures, {len(reg.datasets)} datasets and {len(entries)} zoo entries; "
              f"{len(trained)} of the entries ship trained weights"
              + (f" ({', '.join(f'`{n}`' for n in trained)})." if trained else ".")
              + " Entries without weights are recipes: train them with `medzoo train`.")
    return markdown.replace(STATUS_MARK, status)
