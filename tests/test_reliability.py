"""Training inputs that used to fail silently or with a traceback now stop with a named, one-line error:
epochs and batch sizes that cannot train, unknown losses, ``--out`` that is a file, a training set smaller than
one batch, two trainings on one folder, and ``--resume`` on other data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import medzoo
from medzoo.cli import main
from medzoo.errors import MedzooError, RecipeError

SMALL = {"base_filters": 4, "depth": 1}
FAST = {"epochs": 1, "batch_size": 4, "augment": {}, "evaluate": False, "verbose": 0}


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDZOO_HOME", str(tmp_path / "home"))


def _entry() -> Any:
    return attrs.evolve(medzoo.get_entry("unet-lgg"), model_kwargs=SMALL)


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "recipe epochs=0: must be a whole number >= 1"),
    (["--epochs", "-1"], "recipe epochs=-1: must be a whole number >= 1"),
    (["--batch-size", "0"], "recipe batch_size=0: must be a whole number >= 1"),
    (["--set", "val_fraction=1.5"], "recipe val_fraction=1.5: must be between 0 and 1"),
])
def test_recipes_that_cannot_train_are_refused(args: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "unet-lgg", "--out", str(tmp_path / "run"), *args]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the note that no --data means synthetic data
    assert last == f"medzoo: error: {message}"
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_unknown_loss_and_optimizer_are_recipe_errors(lgg_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train

    with pytest.raises(RecipeError, match="unknown segmentation loss 'xyz'; choose from"):
        train(_entry(), data=lgg_root, out=tmp_path / "a", loss="xyz", **FAST)
    with pytest.raises(RecipeError, match="unknown optimizer 'adamx'"):
        train(_entry(), data=lgg_root, out=tmp_path / "b", optimizer="adamx", **FAST)


def test_out_that_is_a_file_or_unwritable(lgg_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train

    afile = tmp_path / "notadir"
    afile.write_text("x")
    with pytest.raises(MedzooError, match="is a file; a run needs a folder"):
        train(_entry(), data=lgg_root, out=afile, **FAST)
    with pytest.raises(MedzooError, match="cannot write the run folder"):
        train(_entry(), data=lgg_root, out=afile / "run", **FAST)


def test_a_training_set_smaller_than_one_batch_is_refused(lgg_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train

    whole_epochs = attrs.evolve(_entry(), recipe=medzoo.Recipe(loss="bce_dice", val_fraction=0.25))
    with pytest.raises(MedzooError, match=r"18 training records cannot fill one batch of 64"):
        train(whole_epochs, data=lgg_root, out=tmp_path / "run", **{**FAST, "batch_size": 64})
    with pytest.raises(MedzooError, match="holds no run to continue"):
        train(_entry(), data=lgg_root, out=tmp_path / "never", resume=True, **FAST)


def test_two_trainings_on_one_folder(lgg_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train

    run = tmp_path / "run"
    run.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".lock").write_text(f"{sleeper.pid}@{os.uname().nodename}")
        with pytest.raises(MedzooError, match=rf"in use by another training \(process {sleeper.pid}\)"):
            train(_entry(), data=lgg_root, out=run, **FAST)
    finally:
        sleeper.kill()
        sleeper.wait()
    # the owner is gone (a crash, kill -9): its lock is stale and is taken over, then released at the end
    done = train(_entry(), data=lgg_root, out=run, **FAST)
    assert len(done.history["loss"]) == 1 and not (run / ".lock").exists()


def test_resume_on_other_data_is_refused(lgg_root: Path, tmp_path: Path) -> None:
    from medzoo.runner import train
    from medzoo_lgg_mri.synthetic import write_synthetic

    train(_entry(), data=lgg_root, out=tmp_path / "run", **FAST)
    other = write_synthetic(tmp_path / "other", patients=4, slices=7, size=32, seed=3)
    before = json.loads((tmp_path / "run" / "config.json").read_text())
    with pytest.raises(MedzooError, match="differ from those .* was trained on"):
        train(_entry(), data=other, out=tmp_path / "run", resume=True, **{**FAST, "epochs": 2})
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == before  # not overwritten
