"""The ``medzoo`` command: subprocess runs for the real entry points, ``main(argv)`` in-process elsewhere."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import medzoo
from medzoo.cli import main
from medzoo.registry import build_registry

FAKE_DIR = Path(__file__).resolve().parent / "fake_plugins"
REGISTRY_MODULE = importlib.import_module("medzoo.registry")  # medzoo.registry is also the function
COMMANDS = ("plugins", "list", "info", "train", "evaluate", "predict")


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m medzoo.cli ARGS`` in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "MEDZOO_PLUGINS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "medzoo.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Make the process-wide registry the fake ``alpha`` and ``beta`` plugins (no real plugin is loaded)."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    monkeypatch.delenv("MEDZOO_PLUGINS", raising=False)
    helper = importlib.import_module("mzfake_dists")
    reg = build_registry(entry_points=helper.entry_points(tmp_path / "site", "mzfake-alpha", "mzfake-beta"))
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", reg)
    return reg


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("medzoo: error: "), err
    return lines[0]


# ----------------------------------------------------------------------------------------------- subprocess runs
def test_help_lists_every_command() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: medzoo")
    for command in COMMANDS:
        assert command in proc.stdout


def test_plugins_lists_the_installed_entry_points() -> None:
    proc = run_cli("plugins")
    assert proc.returncode == 0, proc.stderr
    eps = list(md.entry_points(group="medzoo"))
    assert eps, "no medzoo plugin installed"
    for ep in eps:
        line = next((ln for ln in proc.stdout.splitlines() if ln.split()[:1] == [ep.name]), None)
        assert line is not None, proc.stdout
        assert f"{ep.dist.metadata['Name']} {ep.dist.version}" in line
        assert "FAILED" not in line


def test_plugins_shows_a_broken_plugin_and_keeps_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    helper = importlib.import_module("mzfake_dists")
    site = tmp_path / "site"
    helper.write_dist(site, "mzfake-broken", "2.3")
    helper.write_dist(site, "mzfake-alpha")
    path = os.pathsep.join([str(site), str(FAKE_DIR), os.environ.get("PYTHONPATH", "")])
    proc = run_cli("plugins", env_extra={"PYTHONPATH": path})
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert "mzfake-broken 2.3" in lines["broken"]
    assert "FAILED: RuntimeError: mzfake_broken is broken on purpose" in lines["broken"]
    assert "mzfake-alpha 1.0" in lines["alpha"]
    assert "1 model, 1 dataset, 2 entries" in lines["alpha"]
    for ep in md.entry_points(group="medzoo"):  # the installed plugins still load
        assert ep.name in lines and "FAILED" not in lines[ep.name]
    warned = [ln for ln in proc.stderr.splitlines() if "broken on purpose" in ln]
    assert len(warned) == 1 and warned[0].startswith("medzoo: warning: medzoo plugin 'broken' (mzfake-broken)")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["plugins", "list"])
def test_bad_plugins_never_take_the_zoo_down(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin calling sys.exit on import, hooks returning junk, specs of the wrong kind or with a missing
    module, a duplicate name: every command still runs, each problem is one warning line, and `plugins`
    lists them."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    helper = importlib.import_module("mzfake_dists")
    site = tmp_path / "site"
    for dist in ("mzfake-alpha", "mzfake-exit", "mzfake-badhooks", "mzfake-wrongkind", "mzfake-dup"):
        helper.write_dist(site, dist)
    path = os.pathsep.join([str(site), str(FAKE_DIR), os.environ.get("PYTHONPATH", "")])
    proc = run_cli(command, env_extra={"PYTHONPATH": path})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith("medzoo: warning: ") for ln in warned), proc.stderr
    assert len(warned) == 1 + 4 + 4 + 1, proc.stderr  # exit; badhooks' 4 hooks; wrongkind's 4 specs; dup
    assert any("'exit' (mzfake-exit) failed to load: SystemExit" in ln for ln in warned)
    assert any("'dup' (mzfake-dup): model 'alpha-net' is provided by both 'mzfake-alpha' and 'mzfake-dup'" in ln
               for ln in warned)
    if command == "plugins":
        assert "FAILED: SystemExit: called sys.exit(3)" in proc.stdout
        assert "9 problem(s) in what plugins provide" in proc.stdout
        assert "medzoo plugin 'wrongkind' (mzfake-wrongkind): ModelSpec 'ghost-net'" in proc.stdout
    else:
        assert "alpha-trained" in proc.stdout and "good-net" in proc.stdout and "ghost-net" not in proc.stdout
        for ep in md.entry_points(group="medzoo"):  # the installed plugins still load
            assert ep.dist.metadata["Name"] in proc.stdout


def test_list_shows_every_installed_name() -> None:
    proc = run_cli("list")
    assert proc.returncode == 0, proc.stderr
    words = set(proc.stdout.split())
    for name in medzoo.list_entries() + medzoo.list_models() + medzoo.list_datasets():
        assert name in words


def test_unknown_name_is_one_line_with_a_suggestion() -> None:
    entries = medzoo.list_entries()
    assert entries, "no zoo entry installed"
    wrong = entries[0] + "x"
    proc = run_cli("info", wrong)
    assert proc.returncode == 2
    line = _error_line(proc.stderr)
    assert repr(wrong) in line and f"did you mean {entries[0]!r}" in line
    assert "Traceback" not in proc.stdout + proc.stderr


def test_info_dataset_counts_a_synthetic_root(tmp_path: Path) -> None:
    if "lgg-mri" not in medzoo.list_datasets():
        pytest.skip("the medzoo-lgg-mri plugin is not installed")
    import numpy as np
    import tifffile

    synthetic = importlib.import_module("medzoo_lgg_mri.synthetic")
    root = synthetic.write_synthetic(tmp_path / "lgg", patients=3, slices=4, size=32)
    masks = sorted(root.glob("*/*_mask.tif"))
    lesions = sum(bool(np.any(tifffile.imread(m))) for m in masks)
    proc = run_cli("info", "lgg-mri", "--data", str(root))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "licence:" in out and "citation:" in out and "layout:" in out
    assert re.search(r"patients:\s+3\b", out), out
    assert re.search(rf"slices:\s+{len(masks)}\b", out), out
    assert re.search(rf"slices_with_lesion:\s+{lesions}\b", out), out
    header = next(i for i, ln in enumerate(out.splitlines()) if ln.split()[:3] == ["split", "patients", "records"])
    columns = out.splitlines()[header].split()
    rows = [ln.split() for ln in out.splitlines()[header + 2:] if ln.split()[:1] and ln.split()[0] in
            ("train", "val", "test")]
    assert {r[0] for r in rows} >= {"train", "val"}
    assert sum(int(r[1]) for r in rows) == 3
    assert sum(int(r[2]) for r in rows) == len(masks)
    # the split shown is the one training and `medzoo evaluate` use for the entries on this dataset
    recipe = medzoo.get_entry("unet-lgg").recipe
    assert f"Split by patient (val_fraction={recipe.val_fraction}, seed={recipe.seed}) used by unet-lgg" in out
    assert sum(int(r[columns.index("lesion") + 1]) for r in rows) == lesions  # "no lesion" is two words


# ----------------------------------------------------------------------------------------------- in-process runs
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: medzoo {command}")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"medzoo {medzoo.__version__}"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: medzoo" in capsys.readouterr().err


def test_list_filters(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("alpha-entry", "alpha-trained", "alpha-net", "beta-net", "alpha-data"):
        assert name in out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
    assert rows["alpha-entry"][1:5] == ["classification", "alpha-net", "alpha-data", "no"]
    assert rows["alpha-trained"][4] == "yes"

    assert main(["list", "--trained"]) == 0
    out = capsys.readouterr().out
    assert "alpha-trained" in out and "alpha-entry" not in out and "beta-net" not in out

    assert main(["list", "beta*", "--models"]) == 0
    out = capsys.readouterr().out
    assert "beta-net" in out and "alpha-net" not in out and "alpha-data" not in out

    assert main(["list", "--datasets"]) == 0
    out = capsys.readouterr().out
    assert "alpha-data" in out and "alpha-net" not in out


def test_plugins_counts_what_each_provides(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.strip()}
    assert "mzfake-alpha 1.0" in lines["alpha"] and "1 model, 1 dataset, 2 entries" in lines["alpha"]
    assert "mzfake-beta 1.0" in lines["beta"] and lines["beta"].rstrip().endswith("1 model")


def test_info_dataset_and_task(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "alpha-data"]) == 0
    out = capsys.readouterr().out
    assert "a fake dataset" in out and "ROOT/<class>/<image>.png" in out and "CC0" in out and "Nobody" in out
    assert main(["info", "segmentation"]) == 0
    assert "per-pixel" in capsys.readouterr().out


def test_info_entry_without_cards_module(fake_registry, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "medzoo.cards", None)  # importing it now raises ImportError
    assert main(["info", "alpha-trained"]) == 0
    out = capsys.readouterr().out
    assert "alpha-net" in out and "a trained fake entry" in out and '"threshold": 0.9' in out


def test_unknown_name_in_process(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "alpha-entri"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "did you mean 'alpha-entry'" in line
    assert main(["train", "beta-nett"]) == 2
    assert "unknown entry 'beta-nett'" in _error_line(capsys.readouterr().err)


def test_bad_data_root_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if "lgg-mri" not in medzoo.list_datasets():
        pytest.skip("the medzoo-lgg-mri plugin is not installed")
    missing = tmp_path / "nowhere"
    assert main(["info", "lgg-mri", "--data", str(missing)]) == 2
    assert str(missing) in _error_line(capsys.readouterr().err)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["info", "lgg-mri", "--data", str(empty)]) == 2
    assert "layout" in _error_line(capsys.readouterr().err)


def test_train_passes_options_and_sets(fake_registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def fake_train(entry, data=None, out=None, **kwargs):
        calls.append((entry, data, out, kwargs))

    monkeypatch.setattr(medzoo, "train", fake_train)
    argv = ["train", "alpha-entry", "--data", str(tmp_path), "--epochs", "3", "--out", str(tmp_path / "run"),
            "--resume", "--set", "learning_rate=1e-4", "--set", "optimizer=adam", "--set", 'augment={"hflip": 1}',
            "--set", "class_weights=true", "--set", "deterministic=true", "--on-error", "skip"]
    assert main(argv) == 0
    (entry, data, out, kwargs), = calls
    assert (entry, data, out) == ("alpha-entry", str(tmp_path), str(tmp_path / "run"))
    assert kwargs == {"resume": True, "seed": None, "on_error": "skip", "epochs": 3,  # no --batch-size: not passed
                      "learning_rate": 1e-4, "optimizer": "adam", "augment": {"hflip": 1}, "class_weights": True,
                      "deterministic": True}

    assert main(["train", "alpha-entry", "--set", "learning_rat=0.1"]) == 2
    assert "learning_rat" in _error_line(capsys.readouterr().err)
    assert main(["train", "alpha-entry", "--set", "epochs"]) == 2
    assert "KEY=VALUE" in _error_line(capsys.readouterr().err)
    assert main(["train", "alpha-entry", "--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in _error_line(capsys.readouterr().err)
    assert len(calls) == 1


def test_evaluate_passes_options(fake_registry, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def fake_evaluate(entry, data=None, split="val", weights="default", out=None, **kwargs):
        calls.append((entry, data, split, weights, out))
        return {"auc": 0.75, "n": 12}

    monkeypatch.setattr(medzoo, "evaluate", fake_evaluate)
    assert main(["evaluate", "alpha-trained", "--split", "test", "--weights", "none"]) == 0
    assert main(["evaluate", "alpha-trained", "--weights", "w.weights.h5", "--out", "rep"]) == 0
    assert calls == [("alpha-trained", None, "test", None, None), ("alpha-trained", None, "val", "w.weights.h5", "rep")]
    out = capsys.readouterr().out
    assert re.search(r"auc\s+0\.7500", out) and re.search(r"n\s+12", out)


def test_evaluate_without_data_says_it_is_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))
    assert main(["evaluate", "unet-lgg", "--weights", "none", "--out", str(tmp_path / "ev")]) == 0
    err = capsys.readouterr().err
    assert "no --data given: evaluating on the small SYNTHETIC copy of 'lgg-mri'" in err
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["context"]["synthetic"] is True


# ----------------------------------------------------------------------------------------------- a quiet CLI
def test_evaluate_is_quiet_and_prints_its_table_once(tmp_path: Path) -> None:
    """No TensorFlow banner or cuInit line without --verbose; the report's table once, not a second flat one."""
    env = {"MEDZOO_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "medzoo.cli", "evaluate", "unet-lgg", "--weights", "none",
                           "--out", str(tmp_path / "ev")], capture_output=True, text=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items()
                                  if k not in ("MEDZOO_PLUGINS", "TF_CPP_MIN_LOG_LEVEL")}, **env})
    assert proc.returncode == 0, proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("medzoo: no --data given"), proc.stderr
    assert [ln for ln in proc.stdout.splitlines() if ln.startswith("metric")] == [
        next(ln for ln in proc.stdout.splitlines() if ln.startswith("metric"))], proc.stdout
    assert proc.stdout.count("Dice per volume") == 1, proc.stdout
    assert str(tmp_path / "ev" / "metrics.json") in proc.stdout


def test_native_stderr_is_hidden_and_replayed_on_failure(capfd: pytest.CaptureFixture[str]) -> None:
    from medzoo.cli import native_stderr_captured

    with native_stderr_captured():
        os.write(2, b"I0000 oneDNN banner\n")
    assert "banner" not in capfd.readouterr().err
    with pytest.raises(ImportError), native_stderr_captured():
        os.write(2, b"libfoo.so: cannot open shared object file\n")
        raise ImportError("no backend")
    assert "libfoo.so" in capfd.readouterr().err  # a failed import shows what it wrote
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"  # fd 2 restored


def test_quiet_tensorflow_sets_the_log_level_unless_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    from medzoo.cli import quiet_tensorflow

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    quiet_tensorflow(verbose=True)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    quiet_tensorflow(verbose=False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own choice stays
    quiet_tensorflow(verbose=False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_verbose_is_accepted_before_and_after_the_command(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--verbose", "list"]) == 0
    assert main(["list", "-v", "--models"]) == 0
    assert "alpha-net" in capsys.readouterr().out


def test_train_ends_with_the_run_folder_not_the_metrics(fake_registry, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"auc": 0.9, "per_patient": [{"p": i} for i in range(50)]},
                                                     indent=1))
    (run_dir / "best.weights.h5").write_bytes(b"")

    class FakeRun:
        dir = run_dir

    monkeypatch.setattr(medzoo, "train", lambda *a, **k: FakeRun())
    assert main(["train", "alpha-entry", "--data", str(tmp_path), "--out", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"run saved in {run_dir} (best.weights.h5, metrics.json)"
    assert "per_patient" not in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_evaluate_counts_batches_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import medzoo.weights as weights_module
    from medzoo.cli import evaluation_progress

    class Model:
        def predict_on_batch(self, x):
            return [0.5] * len(x)

    monkeypatch.setattr(weights_module, "load_entry", lambda *a, **k: Model())
    original = weights_module.load_entry
    terminal = _Terminal()
    with evaluation_progress("evaluating e", terminal):
        model = weights_module.load_entry("e")
        assert model.predict_on_batch([1, 2, 3]) == [0.5] * 3
        model.predict_on_batch([4, 5])
    assert weights_module.load_entry is original
    assert terminal.getvalue() == "\revaluating e: 1 batches, 3 images\revaluating e: 2 batches, 5 images\n"

    pipe = io.StringIO()  # not a terminal: nothing wrapped, nothing written
    with evaluation_progress("evaluating e", pipe):
        assert weights_module.load_entry is original
    assert pipe.getvalue() == ""


# ----------------------------------------------------------------------------------------------- --json
def test_list_json(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in data["entries"]] == ["alpha-entry", "alpha-trained"]
    assert {e["name"]: e["trained"] for e in data["entries"]} == {"alpha-entry": False, "alpha-trained": True}
    assert data["entries"][0]["distribution"] == "mzfake-alpha"
    assert [m["name"] for m in data["models"]] == ["alpha-net", "beta-net"]
    assert [d["name"] for d in data["datasets"]] == ["alpha-data"]
    assert main(["list", "--json", "--trained"]) == 0
    assert json.loads(capsys.readouterr().out) == {"entries": [
        {"name": "alpha-trained", "task": "classification", "model": "alpha-net", "dataset": "alpha-data",
         "trained": True, "distribution": "mzfake-alpha", "summary": "a trained fake entry"}]}


def test_info_json(fake_registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "alpha-trained", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "entry" and data["name"] == "alpha-trained" and data["trained"] is True
    assert data["threshold"] == 0.9 and data["architecture"]["name"] == "alpha-net"
    assert "params" not in data["architecture"] and "build_error" not in data["architecture"]  # nothing built
    assert main(["info", "alpha-net", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "model" and data["entries"] == ["alpha-entry", "alpha-trained"]
    assert data["kwargs"] == {"width": 4}
    assert main(["info", "alpha-data", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "dataset" and data["factory"] == "mzfake_alpha:build" and data["licence"] == "CC0"
    assert main(["info", "alpha-data", "--json", "--data", "x"]) == 2
    assert "--json" in _error_line(capsys.readouterr().err)


def test_info_names_a_skipped_architecture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An entry whose architecture was skipped (its build module is not installed): info says so in the card,
    predict-time is not the first to know."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    monkeypatch.delenv("MEDZOO_PLUGINS", raising=False)
    helper = importlib.import_module("mzfake_dists")
    with pytest.warns(Warning):
        reg = build_registry(entry_points=helper.entry_points(tmp_path / "site", "mzfake-alpha", "mzfake-wrongkind"))
    reg.entries["ghost-entry"] = medzoo.Entry(name="ghost-entry", model="ghost-net", dataset="alpha-data",
                                              task="classification")
    monkeypatch.setattr(REGISTRY_MODULE, "_REGISTRY", reg)
    assert main(["info", "ghost-entry"]) == 0
    size = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("size:"))
    assert "model 'ghost-net' is not available" in size and "mzfake_no_such_module.nets" in size
    assert main(["info", "ghost-net"]) == 2
    assert "not installed" in _error_line(capsys.readouterr().err)


def test_predict_counts_files_on_a_terminal_only() -> None:
    from medzoo.cli import FileCounter

    terminal = _Terminal()
    counter = FileCounter("predicting", 3, terminal)
    for done in range(4):
        counter.show(done)
    counter.close()
    assert terminal.getvalue() == "".join(f"\rpredicting: {d}/3 files" for d in range(4)) + "\n"
    pipe = io.StringIO()
    quiet = FileCounter("predicting", 3, pipe)
    quiet.show(1)
    quiet.close()
    assert pipe.getvalue() == ""
