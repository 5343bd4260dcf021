"""Render ``bench/results/*.json`` into ``docs/bench.md`` and the results block of ``bench/README.md``.

Every number on those pages comes from a results file written by a benchmark run; nothing is typed in.

Run::

    python bench/render.py
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from _common import BENCH, REPO, RESULTS

BEGIN, END = "<!-- results:begin (bench/render.py) -->", "<!-- results:end -->"
SCRIPTS = ("pipeline", "training", "inference", "quality", "profile_lgg_augment")


def load(results: Path) -> dict[str, dict[str, Any]]:
    """The results files present, by script name."""
    out = {}
    for name in SCRIPTS:
        path = results / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    def cell(v: Any) -> str:
        return "–" if v is None else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _x(v: Any) -> str | None:
    return None if v is None else f"{v}×"


def _load(res: dict[str, Any]) -> str:
    start = res.get("machine", {}).get("loadavg_start", [None])[0]
    end = res.get("loadavg_end", [None])[0]
    fmt = lambda v: "?" if v is None else f"{v:.1f}"  # noqa: E731
    return f"load average {fmt(start)} at the start, {fmt(end)} at the end"


def _run_line(res: dict[str, Any]) -> str:
    return f"`{res.get('command', '')}` on {res.get('date', '?')} ({_load(res)})."


def machine_section(results: dict[str, dict[str, Any]]) -> str:
    """Where the numbers come from: one line per distinct machine in the results."""
    seen: dict[str, list[str]] = {}
    for name, res in results.items():
        m = res.get("machine", {})
        gpu = ", ".join(m.get("gpus") or []) or "no GPU"
        v = m.get("versions", {})
        key = (f"{m.get('nproc')} cores ({m.get('cpu')}), {m.get('mem_gib')} GiB memory, {gpu}; "
               f"TensorFlow {v.get('tensorflow', '?')}, Keras {v.get('keras', '?')}, keras-cv {v.get('keras-cv', '?')}")
        seen.setdefault(key, []).append(name)
    return "\n".join(f"- {key} — {', '.join(names)}" for key, names in seen.items())


def pipeline_section(res: dict[str, Any]) -> str:
    """Tables of the pipeline benchmark."""
    parts = ["## Input pipeline (decode + preprocess + augment, training mode)", "",
             "images/s by wall clock; CPU ms per image counts every thread of the process, so it is the steadier "
             "number on a busy machine. Ratio: medzoo / baseline images/s (target ≥ 2×).", ""]
    for name, d in res.get("datasets", {}).items():
        rows = [[ln["name"], ln["images_per_s"], ln["cpu_ms_per_image"], ln["images"], ln["loadavg"][0]]
                for ln in d["lines"]]
        r = d.get("ratios", {})
        parts += [f"### {name}", "",
                  f"{d['records']} training records per line (of {d['split_records']}), batch {d['batch_size']}, "
                  f"augmentation `{d.get('augment')}`.", "",
                  table(["line", "images/s", "CPU ms/image", "images timed", "load"], rows), "",
                  f"medzoo / baseline: cold **{_x(r.get('cold'))}**, cached **{_x(r.get('cached'))}** "
                  f"(CPU time per image: cold {_x(r.get('cold_cpu'))}, cached {_x(r.get('cached_cpu'))} less).", ""]
    parts += [_run_line(res), ""]
    return "\n".join(parts)


def profile_section(res: dict[str, Any]) -> str:
    """The LGG augmentation profile: the shipped ``RandomAffine`` against the keras-cv layer chain."""
    m = res.get("micro", {})
    rows = [[("keras-cv chain, " + k.removeprefix("chain_").replace("_", " ")
              + (" layers" if k == "chain_all" else " only")), v]
            for k, v in m.items() if k.startswith("chain_") and k != "chain_over_shipped"]
    rows.append(["shipped RandomAffine (one resampling)", m.get("shipped_all")])
    prow = [[ln["name"], ln["images_per_s"], ln["cpu_ms_per_image"], ln["first_batch_seconds"]]
            for ln in res.get("pipelines", [])]
    return "\n".join([
        "## LGG augmentation profile", "",
        "CPU ms per image of the joint image + mask augmentation on a batch of 32 real slices: the chain of "
        "keras-cv layers a user would otherwise write (all layers, then each alone) and the plugin's "
        "`RandomAffine`, which composes them into one projective resampling (its mask alignment IoU "
        f"{m.get('mask_alignment_iou')}, mask stays binary: {m.get('mask_binary')}).", "",
        table(["augmenter", "CPU ms/image"], rows), "",
        f"keras-cv chain / shipped CPU time per image: **{_x(m.get('chain_over_shipped'))}**.", "",
        f"Cold training pipelines on {res.get('records')} records:", "",
        table(["pipeline", "images/s", "CPU ms/image", "first batch (s)"], prow), "",
        f"shipped / keras-cv chain images/s: **{_x(res.get('pipeline_gain_shipped_over_chain'))}**.", "",
        _run_line(res), ""])


def training_section(res: dict[str, Any]) -> str:
    """Tables of the training benchmark."""
    rows = []
    for name, c in res.get("cases", {}).items():
        for side in ("runner", "ceiling"):
            s = c.get(side, {})
            rows.append([name, c.get("backend", "tensorflow"), side, s.get("loader"), s.get("batch_size"),
                         s.get("images"), s.get("images_per_s"), s.get("images_per_s_epoch"), s.get("peak_rss_mib"),
                         s.get("error")])
    ratios = [[name, c["entry"], c.get("backend", "tensorflow"), c.get("records", res.get("records", "all")),
               _x(c.get("ratio")), _x(c.get("ratio_epoch"))] for name, c in res.get("cases", {}).items()]
    return "\n".join([
        "## Training (runner versus plain `model.fit` on preloaded arrays)", "",
        "Whole epochs (one pass over the training images each) over a patient-complete subset of the real "
        "training set (`records` below); epoch 2 of 2 timed by a callback. "
        "*train* images/s: epoch start to the end of its last step; *epoch*: also the epoch-end callbacks "
        "(checkpoints, backup), without validation. The ceiling feeds the same images, decoded beforehand, through "
        "the same augmentation. Peak RSS per subprocess. Validation is shrunk "
        f"(`val_fraction={res.get('val_fraction')}`) as it is not timed.", "",
        table(["case", "backend", "side", "loader", "batch", "images", "train images/s", "epoch images/s",
               "peak RSS MiB", "error"], rows), "",
        "runner / ceiling (target ≥ 0.9):", "",
        table(["case", "entry", "backend", "records", "train steps", "whole epoch"], ratios), "",
        _run_line(res), ""])


def inference_section(res: dict[str, Any]) -> str:
    """Tables of the inference benchmark."""
    parts = ["## Inference", "",
             "Latency: median of `predict_on_batch` on one image (and of `model.predict`); throughput: batch of "
             "32 through `predict_on_batch`. Inputs are raw pixels.", ""]
    for trained, title in ((True, "Trained zoo entries (`medzoo.load(name)`)"),
                           (False, "Untrained architectures (random weights: speed only, no quality)")):
        rows = [[r["name"], r.get("built_with"), "×".join(map(str, r.get("input_shape", []))), r.get("params"),
                 r.get("load_seconds"), r.get("latency_ms"), r.get("latency_predict_ms"),
                 r.get("batch32_images_per_s"), r.get("error")]
                for r in res.get("rows", []) if r["trained"] == trained]
        parts += [f"### {title}", ""]
        if rows:
            parts += [table(["model", "built with", "input", "parameters", "load s", "1 image ms",
                             "1 image `predict` ms", "batch 32 images/s", "error"], rows), ""]
        else:
            parts += ["No entry ships trained weights yet." if trained else "None timed.", ""]
    parts += [_run_line(res), ""]
    return "\n".join(parts)


def quality_section(res: dict[str, Any]) -> str:
    """Table of the quality reproduction."""
    parts = [f"## Quality (split `{res.get('split')}`)", ""]
    rows = res.get("rows", [])
    if not rows:
        parts += ["No zoo entry ships trained weights yet, so there is nothing to evaluate.", ""]
    for r in rows:
        if "error" in r:
            parts += [f"- {r['entry']}: error: {r['error']}"]
            continue
        cells = []
        for k, v in r["summary"].items():
            val = v.get("value") if isinstance(v, dict) else v
            if isinstance(val, float):
                ci = v.get("ci95") if isinstance(v, dict) else None
                val = f"{val:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else "")
            cells.append([k, val])
        parts += [f"### {r['entry']} on {r['data']}", "", table(["metric", "value [95% CI]"], cells), ""]
        if "reproduced" in r:
            rep = r["reproduced"]
            verdict = "reproduced" if rep["ok"] else "**not reproduced**"
            parts += [f"Card {verdict}: every number on the shipped card is within {rep['tolerance']} of the "
                      "value measured here." if rep["ok"] else f"Card {verdict}: " + ", ".join(
                          f"{k} card {m['card']:.3f}, measured {m['measured']}" for k, m in rep["metrics"].items()),
                      ""]
    parts += [_run_line(res), ""]
    return "\n".join(parts)


SECTIONS = {"pipeline": pipeline_section, "profile_lgg_augment": profile_section, "training": training_section,
            "inference": inference_section, "quality": quality_section}


def render(results: dict[str, dict[str, Any]]) -> str:
    """The body of the results (everything below the page intro)."""
    if not results:
        return "No benchmark has been run yet.\n"
    parts = ["Measured on:", "", machine_section(results), ""]
    for name in SCRIPTS:
        if name in results:
            parts.append(SECTIONS[name](results[name]))
    return "\n".join(parts)


DOCS_INTRO = """# Benchmarks

Speed of medzoo's input pipelines, training runner and inference, against the obvious alternatives measured
in the same run, and the commands that reproduce the zoo's quality numbers. Every number below was written
by a script in `bench/` and rendered by `bench/render.py`; rerun them with the commands shown (see
`bench/README.md` for what each one measures). Numbers from a shared, loaded machine vary from run to run;
the ratios compare lines measured in the same run.

"""


def replace_block(text: str, body: str) -> str:
    """``text`` with the part between the results markers replaced by ``body`` (appended if missing)."""
    block = f"{BEGIN}\n{body.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return text.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/bench.md`` and the results block of ``bench/README.md``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "bench.md")
    p.add_argument("--readme", type=Path, default=BENCH / "README.md")
    args = p.parse_args(argv)
    results = load(args.results)
    body = render(results)
    args.docs.write_text(DOCS_INTRO + body.rstrip() + "\n")
    print(f"wrote {args.docs}")
    if args.readme.exists():
        shifted = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.MULTILINE)  # under the README's own headings
        args.readme.write_text(replace_block(args.readme.read_text(), shifted))
        print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
