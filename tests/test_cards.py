"""Model cards: facts gathered from the entry, its weights' metrics and meta, and the built model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import attrs
import pytest

import medzoo
import medzoo_tests_tinyzoo as tz  # noqa: E402 - registered by tests/conftest.py
from medzoo import cards

METRICS = {
    "task": "segmentation",
    "n_patients": 2,
    "dice_per_volume": {"value": 0.8123, "ci95": [0.7512, 0.8634]},
    "auc": {"value": 0.9311, "ci_low": 0.9012, "ci_high": 0.9544},
    "operating_points": {"default": {"accuracy": {"value": 0.8765, "ci95": [0.8401, 0.9102]}, "threshold": 0.5}},
    "per_patient": [{"patient": "TCGA_SECRET_1", "dice": 0.5}],
    "bootstrap": {"n_boot": 1000, "resampled": "patients"},
}
META = {"data_root": "/data/lgg", "splits": {"val": ["TCGA_A", "TCGA_B"]}, "seed": 3, "threshold": 0.4,
        "command": "medzoo train tiny-trained --data /data/lgg --epochs 3", "overrides": {"epochs": 3, "batch_size": 8}}


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A tiny registry with a trained entry whose weights carry metrics and meta."""
    reg = tz.install(monkeypatch, tmp_path / "home")
    study = {"accuracy": 0.89, "dice": 0.83, "split": "slice-level (not by patient)"}
    entry = tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=METRICS, meta=META, licence="CC BY-NC 4.0")
    reg.entries["tiny-trained"] = attrs.evolve(entry, study=study)
    return reg


def _line(text: str, start: str) -> str:
    found = [ln for ln in text.splitlines() if ln.startswith(start)]
    assert found, f"no line starting with {start!r} in:\n{text}"
    return found[0]


def _section(text: str, title: str) -> str:
    """The body of the text card's section ``title`` (up to the next underlined heading)."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    end = next((i - 1 for i in range(start + 1, len(lines)) if set(lines[i]) == {"-"}), len(lines))
    return "\n".join(lines[start:end])


def test_card_counts_parameters_of_the_built_model(zoo: Any) -> None:
    c = cards.card("tiny-trained", params=True)
    model = tz.build_tiny(filters=2)
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert c["architecture"]["params"] == {"total": model.count_params(), "trainable": trainable,
                                           "non_trainable": model.count_params() - trainable}
    assert c["architecture"]["params"]["non_trainable"] > 0  # batch-norm statistics
    assert c["architecture"]["input"]["shape"] == "(N, 8, 8, 3)"
    assert c["architecture"]["output"]["shape"] == "(N, 8, 8, 1)"
    assert c["trained"] and c["threshold"] == 0.4
    assert c["recipe"]["epochs"] == 3 and c["recipe"]["batch_size"] == 8 and c["recipe"]["optimizer"] == "adam"
    assert c["licences"]["weights"] == "CC BY-NC 4.0" and c["licences"]["dataset"] == "CC BY 4.0"


def test_card_text_renders_metrics_with_intervals_beside_the_study(zoo: Any) -> None:
    text = cards.card_text("tiny-trained")
    row = _line(text, "dice_per_volume")
    assert "0.8123 (95% CI 0.7512–0.8634)" in row
    assert "0.9311 (95% CI 0.9012–0.9544)" in _line(text, "auc")
    acc = _line(_section(text, "At each operating point (validation patients)"), "accuracy")
    assert "0.8765 (95% CI 0.8401–0.9102)" in acc and acc.rstrip().endswith("0.89")  # the study's, beside ours
    assert "operating_points" not in text
    assert _line(text, "dice ").split()[-1] == "0.83"  # a study number without a match gets its own row
    assert "TCGA_SECRET_1" not in text  # per-patient lists stay in metrics.json
    assert "slice-level (not by patient)" in text
    assert "TCGA_A, TCGA_B" in text and "/data/lgg" in text
    assert "0.4" in _line(text, "recommended threshold")
    assert "epochs (changed):" in text and "batch_size (changed):" in text
    assert META["command"] in text
    assert "NOT FOR CLINICAL USE" in text and "Testing only." in text
    licences = _section(text, "Licences")
    assert "CC BY-NC 4.0" in _line(licences, "weights:") and "CC BY 4.0" in _line(licences, "dataset:")
    assert "MIT (medzoo)" in _line(licences, "code:")


def test_card_markdown(zoo: Any) -> None:
    md = cards.card_markdown("tiny-trained")
    assert md.startswith("# tiny-trained\n")
    assert "**NOT FOR CLINICAL USE." in md
    assert ("| metric | measured here (validation patients) | the study: slice-level (not by patient) (other data) |"
            in md)
    assert "| dice_per_volume | 0.8123 (95% CI 0.7512–0.8634) |  |" in md
    assert "## Training data" in md and "## Licences" in md


def test_untrained_entry_card_says_so(zoo: Any) -> None:
    c = cards.card("tiny-untrained")
    assert not c["trained"] and c["weights"] is None and c["metrics"] == {}
    text = cards.card_text("tiny-untrained")
    assert "No trained weights ship with this entry" in text
    assert "medzoo train tiny-untrained --data ROOT" in text
    assert "measured here" not in text and "recommended threshold" not in text
    assert "no weights ship" in _line(_section(text, "Licences"), "weights:")


def test_architecture_card_has_layers_and_counts(zoo: Any) -> None:
    text = cards.model_card_for_architecture("tiny")
    model = tz.build_tiny(filters=2)
    assert f"{model.count_params():,}" in _line(text, "total parameters:")
    for layer in ("conv (Conv2D)", "bn (BatchNormalization)", "mask (Conv2D)"):
        assert layer in text
    assert "tiny-trained" in _line(text, "zoo entries:")
    assert cards.card_text("wide").startswith("wide\n")  # info on an architecture name gives this card
    assert "none" in _line(cards.card_text("wide"), "zoo entries:")


def test_unknown_name(zoo: Any) -> None:
    with pytest.raises(medzoo.UnknownNameError):
        cards.card("nope")


def test_card_shows_the_shift_check_and_the_threshold_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from medzoo.shift import PERTURBATIONS

    reg = tz.install(monkeypatch, tmp_path / "home")
    shift = {"threshold": 0.5, "n": 40, "clean": {"auc": 0.99, "accuracy": 0.95, "recall": 0.97, "specificity": 0.92},
             "perturbed": {"blur": {"what": PERTURBATIONS["blur"][0], "auc": 0.96, "auc_drop": 0.03,
                                    "accuracy": 0.8, "recall": 0.99, "specificity": 0.62}},
             "worst_auc_drop": 0.03}
    meta = {"threshold": 0.74, "threshold_rule": "the highest threshold with recall >= 0.95 on 40 records",
            "classes": ["NORMAL", "PNEUMONIA"]}
    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics={"task": "classification", "shift_check": shift},
                   meta=meta)
    text = cards.card_text("tiny-trained")
    body = _section(text, "Shift check: the validation images under fixed acquisition changes")
    assert _line(body, "clean").split() == ["clean", "0.99", "0.97", "0.92"]
    assert _line(body, "blur").split()[-4:] == ["0.96", "-0.030", "0.99", "0.62"]
    weights = _section(text, "Weights")
    assert _line(weights, "how the threshold was chosen:").endswith("recall >= 0.95 on 40 records")
    assert _line(weights, "classes:").endswith("NORMAL / PNEUMONIA")
    assert "shift_check" not in text  # not flattened into the metrics table as well


def test_card_shows_the_postprocess_and_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg = tz.install(monkeypatch, tmp_path / "home")
    meta = {"postprocess": "largest", "postprocess_rule": "per-volume Dice on 11 patients: 0.61 against 0.58"}
    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics={"task": "segmentation"}, meta=meta)
    weights = _section(cards.card_text("tiny-trained"), "Weights")
    assert _line(weights, "3-D postprocess for a patient's volume:").endswith("largest")
    assert _line(weights, "how the postprocess was chosen:").endswith("0.61 against 0.58")
    assert "postprocess" not in _section(cards.card_text("tiny-trained"), "Training data")


# ------------------------------------------------------------------------------------- fast, grouped, quiet cards
CLASSIFIER_METRICS = {
    "task": "classification",
    "auc": {"value": 0.99, "ci95": [0.98, 0.995]},
    "default": {"threshold": 0.5, "accuracy": {"value": 0.9588, "ci95": [0.94, 0.97]},
                "recall": {"value": 0.97, "ci95": [0.95, 0.98]}, "tn": 180, "fp": 15, "fn": 17, "tp": 564,
                "confusion_matrix": [[180, 15], [17, 564]]},
    "target_recall": {"threshold": 0.7414, "accuracy": {"value": 0.951, "ci95": [0.93, 0.96]},
                      "recall": {"value": 0.9501, "ci95": [0.93, 0.968]}, "tn": 186, "fp": 9, "fn": 29, "tp": 552,
                      "target_recall": 0.95, "optimistic": True, "chosen_on": "the evaluated records"},
    "lesion_free": {"value": 0.1287, "count": 39, "of": 303},
}


def test_metrics_are_grouped_by_operating_point_beside_the_study(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    reg = tz.install(monkeypatch, tmp_path / "home")
    entry = tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=CLASSIFIER_METRICS, meta={"threshold": 0.7414})
    reg.entries["tiny-trained"] = attrs.evolve(entry, study={"accuracy": 0.89, "recall": 0.94,
                                                              "split": "Kermany test set"})
    text = cards.card_text("tiny-trained")
    label = "the study: Kermany test set (other data)"
    top = _section(text, "Metrics on the validation patients")
    assert top.splitlines()[0].split("  ")[-1].strip() == label
    assert "0.99 (95% CI 0.98–0.995)" in _line(top, "auc")
    assert _line(top, "lesion_free").endswith("0.1287 (39 of 303)")
    points = _section(text, "At each operating point (validation patients)")
    header = points.splitlines()[0]
    assert "default (threshold 0.5)" in header and "target_recall (threshold 0.7414)" in header
    assert header.rstrip().endswith(label)
    acc = _line(points, "accuracy")
    assert "0.9588 (95% CI 0.94–0.97)" in acc and "0.951 (95% CI 0.93–0.96)" in acc and acc.endswith("0.89")
    assert _line(points, "recall").endswith("0.94")
    assert "TN 180, FP 15, FN 17, TP 564" in _line(points, "counts") and "TN 186, FP 9" in _line(points, "counts")
    for flattened in ("default.tn", "target_recall.optimistic", "confusion_matrix", "default.threshold"):
        assert flattened not in text
    how = _section(text, "How the numbers were measured")
    assert "optimistic: True" in _line(how, "target_recall threshold")
    md = cards.card_markdown("tiny-trained", params=False)  # the docs render the same groups
    assert f"| metric | default (threshold 0.5) | target_recall (threshold 0.7414) | {label} |" in md
    assert "| counts | TN 180, FP 15, FN 17, TP 564 | TN 186, FP 9, FN 29, TP 552 |  |" in md


def _titles(text: str, md: bool) -> list[str]:
    lines = text.splitlines()
    if md:
        return [ln[3:] for ln in lines if ln.startswith("## ")]
    return [lines[i - 1] for i in range(1, len(lines)) if lines[i] and set(lines[i]) == {"-"}]


def test_text_and_markdown_cards_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg = tz.install(monkeypatch, tmp_path / "home")
    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=CLASSIFIER_METRICS, meta=META)
    for params in (False, True):
        text, md = cards.card_text("tiny-trained", params=params), cards.card_markdown("tiny-trained", params=params)
        assert _titles(text, md=False) == _titles(md, md=True)
        size = _line(_section(text, "Architecture"), "size:").split(":", 1)[1].strip()
        assert f"- **size**: {size}" in md


def test_card_without_params_builds_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg = tz.install(monkeypatch, tmp_path / "home")

    def must_not_build(**kwargs: Any) -> Any:
        raise AssertionError("the card built the model")

    reg.models["tiny"] = attrs.evolve(reg.models["tiny"], build=must_not_build)
    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=METRICS, meta=META)
    text = cards.card_text("tiny-trained")
    assert "`medzoo info tiny-trained --params` builds the model" in _line(text, "size:")
    assert "shape" not in _line(text, "input:")
    arch_card = cards.card_text("tiny")  # an architecture name, without --params: no layer table
    assert "`medzoo info tiny --params`" in arch_card and "Layers" not in arch_card

    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=METRICS, meta={**META, "params": 1234})
    assert _line(cards.card_text("tiny-trained"), "size:").endswith("1,234 parameters")  # from the weights card
    tz.add_trained(reg, "tiny.weights.h5", "ab" * 32, metrics=METRICS,
                   meta={**META, "params": {"total": 1234, "trainable": 1200, "non_trainable": 34}})
    assert _line(cards.card_text("tiny-trained"), "size:").endswith("1,234 parameters (1,200 trainable)")


def test_parameters_counted_in_a_local_weights_file_without_keras(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/conv/vars/0", data=[[0.0] * 3] * 4)  # 12
        f.create_dataset("layers/conv/vars/1", data=[0.0] * 5)  # 5
    reg = tz.install(monkeypatch, tmp_path / "home")
    tz.add_trained(reg, str(path), "ab" * 32, metrics=METRICS, meta=META)
    assert cards.weights_file_params(str(path)) == {"total": 17}
    assert cards.weights_file_params(f"file://{path}") == {"total": 17}
    assert cards.weights_file_params("https://example.org/w.weights.h5") is None  # never downloaded
    assert cards.weights_file_params("json:nothing/here.weights.h5") is None
    assert _line(cards.card_text("tiny-trained"), "size:").endswith("17 parameters, counted in the weights file")


def test_transfer_card_size_is_never_a_build_error_with_a_home_path(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    reg = tz.install(monkeypatch, tmp_path / "home")
    home = str(Path.home())

    def build_transfer(backbone_weights: str | None = "imagenet", filters: int = 2) -> Any:
        if backbone_weights is not None:
            raise medzoo.MedzooError(f"ImageNet backbone weights not found: {home}/.keras/models/x.h5 does not "
                                     f"exist. medzoo never downloads them at run time; put the file in {home}")
        return tz.build_tiny(filters=filters)

    def build_broken(**kwargs: Any) -> Any:
        raise medzoo.MedzooError(f"cannot read {home}/.keras/models/y.h5. Second sentence with {home}")

    reg.models["tiny"] = attrs.evolve(reg.models["tiny"], build=build_transfer)
    c = cards.card("tiny-untrained", params=True)
    assert c["architecture"]["params"]["total"] == tz.build_tiny(filters=2).count_params()  # no backbone needed
    reg.models["tiny"] = attrs.evolve(reg.models["tiny"], build=build_broken)
    size = _line(cards.card_text("tiny-untrained", params=True), "size:")
    assert size == "size:        not counted: the model could not be built here (MedzooError: cannot read " \
                   "~/.keras/models/y.h5)"
    assert home not in cards.card_text("tiny-untrained", params=True)
