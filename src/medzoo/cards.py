"""Model cards: what a zoo entry is, what it was trained on, how well it does, and what it is not for.

:func:`card` gathers the facts as a plain dict (from the entry, its ``Weights.metrics`` / ``Weights.meta`` and
the built model); :func:`card_text` (``medzoo info NAME``) and :func:`card_markdown` (the docs) render the
same sections, so the two never disagree. Metrics are rendered from whatever keys are present: a
``{"value", "ci95": [lo, hi]}`` or ``{"value", "ci_low", "ci_high"}`` dict becomes "value (95% CI lo–hi)".
"""

from __future__ import annotations

import importlib.metadata as md
from typing import Any

import attrs

from medzoo.registry import registry
from medzoo.specs import Entry

CODE_LICENCE = "MIT"
WARNING = ("NOT FOR CLINICAL USE. Research and teaching only: not a medical device, not validated for diagnosis "
           "or treatment decisions, and not checked on data from other scanners, hospitals or populations.")
INPUT_CONTRACT = "raw pixels (uint8, or float in [0, 255]); no normalisation needed, the model holds its own"
META_NOT_TRAINING = {"command", "threshold", "threshold_rule", "classes", "recipe", "overrides"}  # own sections
METRICS_SKIPPED = {"per_patient", "roc", "figures", "context", "definitions", "task", "bootstrap", "notes", "rule",
                   "shift_check"}
MAX_LIST = 12


class Bold(str):
    """A paragraph rendered in bold in Markdown (the clinical-use warning)."""


# ------------------------------------------------------------------------------------------ the facts


def count_params(model: Any) -> dict[str, int]:
    """Parameters of a built Keras model: ``total``, ``trainable`` and ``non_trainable`` (batch-norm statistics,
    frozen layers)."""
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


def _shape(shape: Any) -> str:
    return "(" + ", ".join("N" if i == 0 else ("any" if s is None else str(s)) for i, s in enumerate(shape)) + ")"


def _architecture(model_name: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    spec = registry().get("models", model_name)
    arch: dict[str, Any] = {"name": spec.name, "description": spec.description, "reference": spec.reference,
                            "kwargs": {**spec.defaults, **kwargs}, "plugin": spec.distribution}
    try:
        model = spec.create(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a card still shows everything else
        arch["build_error"] = f"{type(exc).__name__}: {exc}"
        return arch, None
    arch["params"] = count_params(model)
    arch["input"] = {"shape": _shape(model.input_shape), "dtype": str(model.inputs[0].dtype),
                     "contract": INPUT_CONTRACT}
    arch["output"] = {"shape": _shape(model.output_shape)}
    return arch, model


def _licence_of(dist: str) -> str:
    try:
        meta = md.metadata(dist)
    except md.PackageNotFoundError:
        return "licence not found"
    return meta.get("License-Expression") or meta.get("License") or "licence not stated"


def card(name: str) -> dict[str, Any]:
    """The model card of zoo entry ``name`` as a JSON-able dict (see the module docstring)."""
    reg = registry()
    entry: Entry = reg.get("entries", name)
    arch, _ = _architecture(entry.model, entry.model_kwargs)
    task = reg.tasks.get(entry.task)
    if task is not None and "output" in arch:
        arch["output"]["meaning"] = task.description
    dataset = reg.datasets.get(entry.dataset)
    w = entry.weights
    meta = dict(w.meta) if w is not None else {}
    recipe = attrs.asdict(entry.recipe)
    overrides = {**meta.get("recipe", {}), **meta.get("overrides", {})}
    recipe.update(overrides)
    out: dict[str, Any] = {
        "name": entry.name, "summary": entry.summary, "trained": w is not None, "task": entry.task,
        "architecture": arch,
        "dataset": {"name": entry.dataset, "installed": dataset is not None,
                    **({"description": dataset.description, "homepage": dataset.homepage,
                        "citation": dataset.citation} if dataset is not None else {})},
        "training_data": {k: v for k, v in meta.items() if k not in META_NOT_TRAINING},
        "recipe": recipe, "recipe_overrides": sorted(overrides),
        "metrics": dict(w.metrics) if w is not None else {},
        "study": dict(entry.study),
        "threshold": meta.get("threshold"),
        "threshold_rule": meta.get("threshold_rule"),
        "classes": meta.get("classes"),
        "intended_use": entry.intended_use,
        "warning": WARNING,
        "licences": {"code": f"{CODE_LICENCE} (medzoo); {_licence_of(entry.distribution)} ({entry.distribution})"
                     if entry.distribution and entry.distribution != "medzoo" else CODE_LICENCE,
                     "weights": (w.licence or "not stated") if w is not None else "no weights ship",
                     "dataset": (dataset.licence or "not stated") if dataset is not None
                     else f"dataset plugin for {entry.dataset!r} not installed"},
        "weights": {"file": w.file, "sha256": w.sha256} if w is not None else None,
        "command": meta.get("command") or f"medzoo train {entry.name} --data ROOT",
        "plugin": entry.distribution,
    }
    if w is None:
        out["no_weights"] = (
            f"No trained weights ship with this entry: it has not been trained and validated here, so there "
            f"are no measured numbers, and medzoo.load({entry.name!r}) refuses rather than return an untrained "
            f"network. Train it with `medzoo train {entry.name} --data ROOT`, or build the untrained "
            f"architecture with medzoo.load({entry.name!r}, weights=None).")
    return out


# ----------------------------------------------------------------------------------------- formatting


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}"


def _value(v: Any) -> str:
    """One value as text: numbers trimmed, value/CI dicts as 'v (95% CI lo–hi)', long lists shortened."""
    if isinstance(v, dict) and "value" in v:
        lo, hi = v.get("ci_low"), v.get("ci_high")
        if lo is None and isinstance(v.get("ci95"), (list, tuple)) and len(v["ci95"]) == 2:
            lo, hi = v["ci95"]
        ci = f" (95% CI {_num(lo)}–{_num(hi)})" if lo is not None and hi is not None else ""
        return f"{_num(v['value'])}{ci}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, tuple) and len(v) <= MAX_LIST:
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, (list, tuple)):
        items = [f"[{_value(x)}]" if isinstance(x, (list, tuple)) else _value(x) for x in v[:MAX_LIST]]
        more = f", … ({len(v)} in all)" if len(v) > MAX_LIST else ""
        return ", ".join(items) + more
    return _num(v)


def _is_leaf(v: Any) -> bool:
    return not isinstance(v, dict) or "value" in v


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k in METRICS_SKIPPED and not prefix:
            continue
        if _is_leaf(v):
            numeric = isinstance(v, (int, float, dict)) or (isinstance(v, (list, tuple)) and len(v) <= 4)
            if numeric and not isinstance(v, str):
                rows.append((key, v))
        else:
            rows.extend(_flatten(v, key + "."))
    return rows


def metrics_table(metrics: dict[str, Any], study: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows ``[metric, measured here, the study]``: a study number sits beside the metric of the same name
    (or the first whose dotted key ends with it); study numbers without a match get rows of their own."""
    ours = _flatten(metrics)
    theirs = {k: v for k, v in study.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    rows, used = [], set()
    for key, v in ours:
        match = next((k for k in theirs if k not in used and (key == k or key.endswith("." + k))), None)
        if match is not None:
            used.add(match)
        rows.append([key, _value(v), _num(theirs[match]) if match is not None else ""])
    rows += [[k, "", _num(v)] for k, v in theirs.items() if k not in used]
    return ["metric", "measured here (validation patients)", "the study"], rows


def shift_table(shift: dict[str, Any] | None) -> tuple[list[str], list[list[str]]] | None:
    """The card's shift check (:func:`medzoo.shift.shift_check`) as ``(header, rows)``; ``None`` without one."""
    if not shift or "perturbed" not in shift:
        return None
    t = _num(shift.get("threshold", 0.5))
    header = ["condition", "AUC", "AUC change", f"recall at {t}", f"specificity at {t}"]
    clean = shift["clean"]
    rows = [["clean", _num(clean["auc"]), "", _num(clean["recall"]), _num(clean["specificity"])]]
    for name, p in shift["perturbed"].items():
        rows.append([f"{name}: {p.get('what', '')}", _num(p["auc"]), f"{-p['auc_drop']:+.3f}", _num(p["recall"]),
                     _num(p["specificity"])])
    return header, rows


def _sections(c: dict[str, Any]) -> list[tuple[str, Any]]:
    """The card as ``(title, body)``; a body is a paragraph, ``[(label, value)]`` or ``(header, rows)``."""
    arch = c["architecture"]
    params = arch.get("params")
    size = (f"{params['total']:,} parameters ({params['trainable']:,} trainable)" if params
            else f"not built: {arch.get('build_error')}")
    io = arch.get("input", {})
    out_ = arch.get("output", {})
    secs: list[tuple[str, Any]] = [
        ("", c["summary"]),
        ("", Bold(c["warning"])),
        ("Architecture", [("model", arch["name"]), ("size", size), ("description", arch["description"]),
                          ("settings", arch["kwargs"]), ("reference", arch["reference"]), ("plugin", arch["plugin"])]),
        ("Input and output", [("input", f"{io.get('contract', '?')}; shape {io.get('shape', '?')}, "
                                        f"dtype {io.get('dtype', '?')}"),
                              ("output", f"probabilities, shape {out_.get('shape', '?')}"),
                              ("meaning", out_.get("meaning", ""))]),
    ]
    if not c["trained"]:
        secs.append(("Weights", c["no_weights"]))
    else:
        secs.append(("Weights", [("file", c["weights"]["file"]), ("sha256", c["weights"]["sha256"]),
                                 ("recommended threshold", c["threshold"] if c["threshold"] is not None
                                  else "not stated"),
                                 ("how the threshold was chosen", c["threshold_rule"]),
                                 ("classes", " / ".join(c["classes"]) if c["classes"] else None)]))
        secs.append(("Training data", [("dataset", c["dataset"]["name"]),
                                       *((k.replace("_", " "), v) for k, v in c["training_data"].items())]))
    header, rows = metrics_table(c["metrics"], c["study"])
    title = "Metrics on the validation patients, with the study's numbers" if c["trained"] \
        else "The study's numbers (not reproduced here)"
    if rows:
        secs.append((title, (header, rows) if c["trained"] else [(r[0], r[2]) for r in rows]))
    shift = shift_table(c["metrics"].get("shift_check"))
    if shift is not None:
        secs.append(("Shift check: the validation images under fixed acquisition changes", shift))
    notes = [(f"study {k}", v) for k, v in c["study"].items() if isinstance(v, str)]
    for key in ("rule", "bootstrap", "notes"):
        if c["metrics"].get(key):
            notes.append((key, c["metrics"][key]))
    if notes:
        secs.append(("How the numbers were measured", notes))
    recipe = [(k + (" (changed)" if k in c["recipe_overrides"] else ""), v) for k, v in c["recipe"].items()]
    secs += [
        ("Training recipe", recipe),
        ("Reproduce", f"`{c['command']}`"),
        ("Intended use", c["intended_use"] or "not stated"),
        ("Licences", [("code", c["licences"]["code"]), ("weights", c["licences"]["weights"]),
                      ("dataset", c["licences"]["dataset"])]),
    ]
    return secs


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|")


def _render(title: str, secs: list[tuple[str, Any]], md: bool) -> str:
    lines = [f"# {title}"] if md else [title, "=" * len(title)]
    for head, body in secs:
        lines.append("")
        if head:
            lines += [f"## {head}", ""] if md else [head, "-" * len(head)]
        if isinstance(body, str):
            lines.append(f"**{body}**" if md and isinstance(body, Bold) else body)
        elif isinstance(body, tuple):
            header, rows = body
            if md:
                lines += ["| " + " | ".join(_cell(x) for x in r) + " |" for r in [header, ["---"] * len(header), *rows]]
            else:
                widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
                for r in [header, *rows]:
                    lines.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
        else:
            pairs = [(k, v if isinstance(v, str) else _value(v)) for k, v in body if v not in ("", None, {})]
            if md:
                lines += [f"- **{k}**: {v}" for k, v in pairs]
            else:
                width = max((len(k) for k, _ in pairs), default=0) + 1
                lines += [f"{k + ':':<{width}} {v}" for k, v in pairs]
    return "\n".join(lines).strip() + "\n"


def card_text(name: str) -> str:
    """The card as plain text (``medzoo info NAME``); an architecture name gives its layer table."""
    if name not in registry().entries and name in registry().models:
        return model_card_for_architecture(name)
    return _render(name, _sections(card(name)), md=False)


def card_markdown(name: str) -> str:
    """The card as Markdown (for the docs)."""
    return _render(name, _sections(card(name)), md=True)


def model_card_for_architecture(name: str, **kwargs: Any) -> str:
    """An architecture's description, parameter counts and layer table (``model.summary``), as text."""
    arch, model = _architecture(name, kwargs)
    secs: list[tuple[str, Any]] = [("", arch["description"]), ("", Bold(WARNING))]
    if model is None:
        secs.append(("Size", f"not built: {arch['build_error']}"))
    else:
        lines: list[str] = []
        model.summary(line_length=110, print_fn=lambda s, *a, **k: lines.append(s))
        p = arch["params"]
        secs += [("Size", [("total parameters", p["total"]), ("trainable", p["trainable"]),
                           ("non-trainable", p["non_trainable"]), ("input", f"{INPUT_CONTRACT}; shape "
                                                                           f"{arch['input']['shape']}"),
                           ("output", f"probabilities, shape {arch['output']['shape']}")]),
                 ("Layers", "\n".join(lines).rstrip())]
    entries = sorted(n for n, e in registry().entries.items() if e.model == name)
    secs += [("Settings", [("defaults and overrides", arch["kwargs"]), ("reference", arch["reference"]),
                           ("plugin", arch["plugin"]), ("zoo entries", ", ".join(entries) or "none")])]
    return _render(name, secs, md=False)
