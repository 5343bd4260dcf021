"""Hook implementations of medzoo-hello.

This module is what the ``medzoo`` entry point names. It imports no Keras: the specs only *name* the
builder (``"module:function"``), so ``medzoo list`` stays fast.
"""

from __future__ import annotations

from medzoo import Entry, ModelSpec, Recipe, hookimpl


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """The architectures this plugin provides."""
    return [
        ModelSpec(
            name="hello-cnn",
            task="classification",
            build="medzoo_hello.model:build_hello_cnn",
            description="Two 3×3 conv + max-pool blocks (8, 16 filters), global average pooling, sigmoid.",
            defaults={"image_size": 64, "channels": 1, "filters": 8},
            reference="The medzoo plugin tutorial",
        )
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """A zoo entry: hello-cnn trained on the chest X-ray dataset (provided by another plugin)."""
    return [
        Entry(
            name="hello-chest-xray",
            model="hello-cnn",
            dataset="chest-xray",
            task="classification",
            recipe=Recipe(optimizer="adam", learning_rate=1e-3, epochs=5, batch_size=32, class_weights=True),
            weights=None,  # no trained weights ship with this entry (yet)
            summary="Pneumonia vs normal on pediatric chest X-rays with a tiny CNN (a tutorial example).",
            intended_use="Learning how to write a medzoo plugin. Not for clinical use.",
        )
    ]
