"""Hook implementations of medzoo-xray3 (imports no Keras: every factory is a ``"module:attr"`` string)."""

from __future__ import annotations

from medzoo import DatasetSpec, Entry, ModelSpec, TaskSpec, hookimpl
from medzoo.recipes import STUDY_CLASSIFIER

TASK = "multiclass"

#: the study's classifier recipe with the multi-class loss; monitored on the validation loss
RECIPE = STUDY_CLASSIFIER.evolve(loss="categorical_crossentropy")

UNTRAINED = ("Ships untrained: it was not trained in this session for lack of compute (the session's two shared "
             "CPU cores were reserved for other training), so there are no measured numbers yet. Weights would "
             "ship only with a validation macro-AUC of at least 0.90.")


@hookimpl
def medzoo_tasks() -> list[TaskSpec]:
    """Single-label multi-class classification."""
    return [TaskSpec(name=TASK, factory="medzoo_xray3.task:Multiclass",
                     description="Single-label multi-class classification; outputs class probabilities (a "
                                 "softmax), shape (N, K).")]


@hookimpl
def medzoo_datasets() -> list[DatasetSpec]:
    """The chest X-ray files with three labels: normal, bacterial and viral pneumonia."""
    from medzoo_chest_xray.plugin import medzoo_datasets as chest

    binary = chest()[0]
    return [DatasetSpec(
        name="chest-xray3", task=TASK, factory="medzoo_xray3.dataset:ChestXray3",
        synthetic="medzoo_xray3.dataset:write_synthetic",
        description="The pediatric chest X-rays of chest-xray, labelled normal / bacteria / virus from the "
                    "Kermany file names (PNEUMONIA/person<P>_bacteria_<n>, person<P>_virus_<n>); patients and "
                    "the published test split as chest-xray reads them.",
        layout=binary.layout, licence=binary.licence, citation=binary.citation, homepage=binary.homepage)]


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """CNN1 with a softmax head."""
    return [ModelSpec(name="cnn1-softmax", task=TASK, build="medzoo_xray3.model:build_cnn1_softmax",
                      defaults={"classes": 3},
                      description="CNN1 (4 conv blocks 32-64-128-128 + BN + max-pool, dense 256-128-64-32) with a "
                                  "K-way softmax head instead of the sigmoid; 8,673,859 parameters for K=3 on "
                                  "256×256×1.",
                      reference="medzoo_cnn.cnn.build_cnn1 (the study's CNN1), head replaced")]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """``cnn1-xray3``: normal / bacterial / viral pneumonia."""
    return [Entry(name="cnn1-xray3", model="cnn1-softmax", dataset="chest-xray3", task=TASK, recipe=RECIPE,
                  summary="Normal / bacterial / viral pneumonia on pediatric chest X-rays with CNN1 and a 3-way "
                          "softmax (grayscale, resized to 256×256). " + UNTRAINED,
                  intended_use="Research and teaching: a worked example of a task shipped as a plugin. Telling "
                               "bacterial from viral pneumonia on an X-ray is hard even for radiologists. Not "
                               "for clinical use.")]
