"""The documentation site builds strictly, and the tutorial's example plugin installs and works.

``mkdocs build --strict`` fails on any warning: a broken internal link or anchor, a snippet file that is
missing (``pymdownx.snippets`` with ``check_paths``), an API object that mkdocstrings cannot find, a nav
item without its page. The example plugin at ``docs/examples/medzoo-hello`` is installed with
``pip install --no-deps --target`` into a temporary folder and used from a subprocess whose ``PYTHONPATH``
is that folder, so its entry point is discovered exactly as for a user who ``pip install``\\ s it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "medzoo-hello"
TASK_EXAMPLE = ROOT / "docs" / "examples" / "medzoo-hello-task"
MKDOCS = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "NO_MKDOCS_2_WARNING": "1", **extra}
    env.pop("MEDZOO_PLUGINS", None)
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict`` into a temporary folder (once for this module)."""
    if MKDOCS is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("site")
    home = tmp_path_factory.mktemp("medzoo-home")
    proc = subprocess.run([MKDOCS, "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                           "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=_env(MEDZOO_HOME=str(home)))
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return out


@pytest.mark.slow
def test_site_builds_strictly_with_every_page(site: Path) -> None:
    import medzoo

    for page in ("index.html", "getting-started.html", "concepts.html", "writing-a-plugin.html",
                 "datasets.html", "zoo/index.html", "reference/cli.html", "reference/api.html", "bench.html",
                 "how-to/gpu.html", "how-to/robust-classifiers.html", "how-to/resume.html", "how-to/offline.html",
                 "how-to/export.html",
                 "reliability.html"):
        assert (site / page).is_file(), page
    zoo = (site / "zoo" / "index.html").read_text()
    for entry in medzoo.list_entries():
        assert (site / "zoo" / f"{entry}.html").is_file(), entry
        assert f'href="{entry}.html"' in zoo, entry
    assert "<!-- zoo-status -->" not in (site / "index.html").read_text()
    assert "Status at build time:" in (site / "index.html").read_text()


@pytest.mark.slow
def test_tutorial_includes_the_example_files_verbatim(site: Path) -> None:
    import html
    import re

    page = html.unescape(re.sub(r"<[^>]+>", "", (site / "writing-a-plugin.html").read_text()))
    files = [EXAMPLE / rel for rel in ("pyproject.toml", "src/medzoo_hello/plugin.py", "src/medzoo_hello/model.py",
                                       "tests/test_hello.py")]
    files += [TASK_EXAMPLE / rel for rel in ("src/medzoo_hello_task/task.py", "src/medzoo_hello_task/plugin.py",
                                             "tests/test_task.py")]
    for path in files:
        for line in path.read_text().splitlines():
            assert line.strip() in page, f"{path.relative_to(ROOT)}: line not in the tutorial: {line!r}"
    assert "--8<--" not in page


@pytest.mark.slow
def test_cli_reference_is_the_parsers_help(site: Path) -> None:
    import html
    import re

    from medzoo.cli import build_parser

    page = html.unescape(re.sub(r"<[^>]+>", "", (site / "reference" / "cli.html").read_text()))
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        assert f"medzoo {name}" in page
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in page, f"{name} {flag}"


@pytest.mark.slow
def test_site_needs_no_network(site: Path) -> None:
    """Material must not pull Google Fonts or a CDN script: the site is read offline."""
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis.com" not in text, page
        assert "fonts.gstatic.com" not in text, page
        assert "cdn.jsdelivr.net" not in text and "unpkg.com" not in text, page


@pytest.mark.slow
def test_example_plugin_installs_and_runs(tmp_path: Path) -> None:
    """pip-install the tutorial's plugin into a folder and use it from a fresh interpreter (< 60 s)."""
    src = tmp_path / "medzoo-hello"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site-packages"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(src)],
                         capture_output=True, text=True, timeout=300, env=_env())
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert list(target.glob("medzoo_hello-*.dist-info/entry_points.txt"))

    env = _env(PYTHONPATH=str(target), MEDZOO_HOME=str(tmp_path / "home"))
    listed = subprocess.run([sys.executable, "-c", "import medzoo, medzoo_hello; print(medzoo.list_models()); "
                             "print(medzoo_hello.__file__)"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert listed.returncode == 0, listed.stderr
    models, module = listed.stdout.splitlines()[-2:]
    assert "'hello-cnn'" in models
    assert Path(module).resolve().is_relative_to(target.resolve())  # the installed copy, not the source

    # The example's own tests (shown in the tutorial): discovery, and one forward pass on raw pixels.
    tests = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(src), "-c", str(src / "pyproject.toml"), str(src / "tests")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "2 passed" in tests.stdout

    cli = Path(sys.executable).parent / "medzoo"
    if cli.exists():
        out = subprocess.run([str(cli), "list", "hello*"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert "hello-chest-xray" in out.stdout and "medzoo-hello" in out.stdout


@pytest.mark.slow
def test_task_example_installs_and_runs(tmp_path: Path) -> None:
    """The tutorial's "write a task" chapter: pip-install medzoo-hello-task into a folder; from a fresh interpreter
    its task is registered beside the built-in ones and its own tests (shown in the chapter) pass."""
    src = tmp_path / "medzoo-hello-task"
    shutil.copytree(TASK_EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site-packages"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(src)],
                         capture_output=True, text=True, timeout=300, env=_env())
    assert pip.returncode == 0, pip.stdout + pip.stderr

    env = _env(PYTHONPATH=str(target), MEDZOO_HOME=str(tmp_path / "home"))
    code = ("import json; from medzoo.registry import registry; reg = registry(); t = reg.tasks['regression']; "
            "print(json.dumps([sorted(reg.tasks), t.distribution, type(t.load()).__module__]))")
    listed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=env)
    assert listed.returncode == 0, listed.stderr
    tasks, dist, module = json.loads(listed.stdout.splitlines()[-1])
    assert {"classification", "regression", "segmentation"} <= set(tasks)
    assert (dist, module) == ("medzoo-hello-task", "medzoo_hello_task.task")

    tests = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(src), "-c", str(src / "pyproject.toml"), str(src / "tests")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "2 passed" in tests.stdout


# ------------------------------------------------------------------------------------------------ the mkdocs hook
def _load(name: str, path: Path) -> Any:
    """Import a module from a file path once (tests run with ``--import-mode=importlib``)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_zoo_table_shows_validation_beside_study_numbers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    hook = _load("medzoo_docs_zoo_hook", ROOT / "docs" / "hooks" / "zoo.py")
    tz = _load("medzoo_tests_tinyzoo", Path(__file__).with_name("tinyzoo.py"))
    reg = tz.install(monkeypatch, tmp_path / "home")
    tz.add_trained(reg, "x.weights.h5", "0" * 64,
                   metrics={"task": "segmentation", "dice_per_volume": {"value": 0.8123, "ci95": [0.7, 0.9]},
                            "dice_per_slice": {"value": 0.7}})
    page = hook.zoo_index(reg, {"tiny-trained": 1234, "tiny-untrained": None})
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in page.splitlines() if line.startswith("| [")}
    assert rows["[tiny-trained](tiny-trained.md)"] == [
        "segmentation", "tiny-data", "1,234", "yes", "Dice/volume 0.812, Dice/slice 0.700", "dice 0.83 (slice-level)"]
    assert rows["[tiny-untrained](tiny-untrained.md)"] == ["segmentation", "tiny-data", "—", "no", "—", "—"]
    assert "2 entries from the installed plugins, 1 with trained weights" in page


def test_card_page_lists_the_committed_figures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    hook = _load("medzoo_docs_zoo_hook", ROOT / "docs" / "hooks" / "zoo.py")
    tz = _load("medzoo_tests_tinyzoo", Path(__file__).with_name("tinyzoo.py"))
    reg = tz.install(monkeypatch, tmp_path / "home")
    docs = tmp_path / "docs"
    folder = docs / "zoo" / "figures" / "tiny-untrained"
    folder.mkdir(parents=True)
    for name in ("zz_extra.png", "roc.png", "learning_curves.png", "notes.txt"):
        (folder / name).write_bytes(b"")
    assert hook.figures_of(docs, "tiny-untrained") == ["learning_curves.png", "roc.png", "zz_extra.png"]
    assert hook.figures_of(docs, "tiny-trained") == []
    monkeypatch.setitem(sys.modules, "medzoo.cards", None)  # the fallback card: no Keras needed
    page = hook.card_page(reg, "tiny-untrained", docs)
    images = [line for line in page.splitlines() if line.startswith("![")]
    assert images == ["![Learning curves of tiny-untrained](figures/tiny-untrained/learning_curves.png)",
                      "![Roc of tiny-untrained](figures/tiny-untrained/roc.png)",
                      "![Zz extra of tiny-untrained](figures/tiny-untrained/zz_extra.png)"]
    assert page.startswith("# tiny-untrained")


# ------------------------------------------------------------------------------------------------ the API reference
def test_docstring_extension_makes_roles_code_and_doctests_code_blocks() -> None:
    ext = _load("medzoo_docs_docstrings_hook", ROOT / "docs" / "hooks" / "docstrings.py")
    paths = {"Dataset": "medzoo.data.Dataset", "decode": "medzoo.data.Dataset.decode"}
    text = ("Reads :class:`~medzoo.data.Dataset` through :meth:`decode`, see :func:`medzoo.load` and\n"
            ":mod:`keras`; ``:class:`kept` `` stays code. The layout::\n"
            "\n"
            "    RUN/config.json\n"
            "\n"
            ">>> import medzoo\n"
            ">>> medzoo.list_entries()          # doctest: +SKIP\n"
            "['unet-lgg']\n")
    out = ext.rewrite(text, lambda name: paths.get(name) or (name if name.startswith("medzoo.") else None))
    assert ('<autoref identifier="medzoo.data.Dataset" optional><code>Dataset</code></autoref>' in out)
    assert '<autoref identifier="medzoo.data.Dataset.decode" optional><code>decode()</code></autoref>' in out
    assert '<autoref identifier="medzoo.load" optional><code>medzoo.load()</code></autoref>' in out
    assert "<code>keras</code>;" in out                    # unknown: plain code, no link to fail the build
    assert "``:class:`kept` ``" in out                     # a role inside a code span is the code itself
    assert "The layout:\n" in out
    assert "```pycon\n>>> import medzoo\n>>> medzoo.list_entries()\n['unet-lgg']\n```" in out
    assert "doctest" not in out


def test_every_api_docstring_loses_its_roles_and_bare_doctests() -> None:
    """The extension over the real package, as mkdocstrings loads it (griffe, no build): nothing left raw."""
    griffe = pytest.importorskip("griffe")
    ext = _load("medzoo_docs_docstrings_hook", ROOT / "docs" / "hooks" / "docstrings.py")
    pkg = griffe.load("medzoo", search_paths=[str(ROOT / "src")],
                      extensions=griffe.load_extensions(ext.SphinxRolesToMarkdown))
    raw: list[str] = []

    def walk(obj: Any) -> None:
        if obj.docstring is not None:
            value, fenced = obj.docstring.value, False
            for line in value.splitlines():
                fenced = fenced != bool(ext.FENCE_RE.match(line))
                roles = [m.group(0) for m in ext.TOKEN_RE.finditer(line) if m["role"]]
                if roles or (not fenced and ext.DOCTEST_RE.match(line)):
                    raw.append(f"{obj.path}: {line.strip()}")
        for member in obj.members.values():
            if not member.is_alias:
                walk(member)

    walk(pkg)
    assert not raw, "\n".join(raw[:20])
    assert "```pycon" in pkg.docstring.value  # the package docstring too (griffe's on_object skips it)


@pytest.mark.slow
def test_api_page_reads_cleanly(site: Path) -> None:
    """No literal Sphinx roles, no doctest block quotes, no internal helpers; precise return types; links."""
    import html
    import re

    page = (site / "reference" / "api.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    roles = re.findall(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`?\w", text)
    assert not roles, roles[:10]
    assert "<blockquote>" not in page and "doctest:" not in text
    assert 'class="language-pycon' in page or '<span class="gp">&gt;&gt;&gt; </span>' in page
    assert not re.search(r"\bBold\b", text)
    assert "<autoref" not in page                          # every cross-reference was resolved or dropped
    assert re.search(r'class="autorefs autorefs-internal"[^>]*href="#medzoo\.data\.Dataset"', page)
    for name, returns in (("load", "keras.Model"), ("create_model", "keras.Model"), ("get_dataset", "Dataset")):
        signature = re.search(rf"\n{name}\((?:[^()]|\([^()]*\))*\) -> ([\w.]+)", text)
        assert signature and signature.group(1) == returns, (name, signature and signature.group(0))


# ------------------------------------------------------------------------------------------------ pages for users
def _sections(page: str) -> list[str]:
    return [line[3:].strip() for line in page.splitlines() if line.startswith("## ")]


def test_getting_started_installs_then_predicts_before_it_trains() -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text()
    assert _sections(page)[:4] == ["Install", "Predict", "Evaluate", "Train"]
    install = page.split("## Predict")[0]
    assert "pip install . plugins/medzoo-cnn plugins/medzoo-chest-xray" in install
    assert "--no-index --find-links" in install                       # the offline install from wheels
    assert "requirements-dev.txt" not in install                      # the developer set-up comes last
    predict = page.split("## Predict")[1].split("## Evaluate")[0]
    assert "medzoo predict cnn1-chest-xray image.jpeg" in predict
    assert 'medzoo.load("cnn1-chest-xray")' in predict


def test_pages_and_cards_for_users_cite_no_repository_internals() -> None:
    """No issue numbers, no scripts of this checkout, no paths of its data share in what users read."""
    import re

    bad = re.compile(r"\bissue \d+|\bscripts/|shared/data/README")
    found = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in sorted((ROOT / "docs").rglob("*.md"))
             for m in bad.finditer(path.read_text())]
    export = _load("medzoo_scripts_export_zoo_text", ROOT / "scripts" / "export_zoo.py")  # the cards' texts
    for table in (export.NOTES, export.DATA_COPIES, export.LICENCES):
        found += [f"export_zoo: {m.group(0)}" for text in table.values() for m in bad.finditer(text)]
    assert not found, found


def test_reliability_page_names_a_test_for_every_fault() -> None:
    page = (ROOT / "docs" / "reliability.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| Fault")]
    assert len(rows) >= 25
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4, row
        named = re.findall(r"`((?:tests|plugins/[\w-]+/tests)/[\w/]+\.py)`", cells[3])
        assert named or "(being added)" in cells[1] or "same two files" in cells[3], row
        for rel in named:
            assert (ROOT / rel).is_file(), rel
    for fault in ("Corrupt", "Missing mask", "NaN", "not binary", "Duplicate slice", "Wrong folder layout",
                  "one batch", "Two trainings", "Crash", "other data", "recipe values", "Unknown entry",
                  "Bad plugins", "decompression bomb", "sha256", "ImageNet"):
        assert fault in page, fault
