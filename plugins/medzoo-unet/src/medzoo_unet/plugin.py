"""Hook implementations of medzoo-unet. Imports no Keras: the model is built on first use."""

from __future__ import annotations

from medzoo import Entry, ModelSpec, Recipe, hookimpl
from medzoo_unet.weights_info import UNET_LGG_WEIGHTS


@hookimpl
def medzoo_models() -> list[ModelSpec]:
    """The study's U-Net."""
    return [
        ModelSpec(
            name="unet",
            task="segmentation",
            build="medzoo_unet.unet:build_unet",
            description="U-Net, encoder 16→256 filters over 4 poolings, batch norm, dropout, "
                        "transposed convolutions, skip concatenation; sigmoid mask. Pixels / 255 (the study's) "
                        "or, with normalize='nonzero', each slice standardized over its nonzero pixels.",
            defaults={"input_shape": (None, None, 3), "base_filters": 16, "depth": 4, "dropout": 0.1,
                      "normalize": "rescale"},
            reference="Ronneberger et al., U-Net (2015); Buda et al., Comput. Biol. Med. 109 (2019)",
        )
    ]


@hookimpl
def medzoo_entries() -> list[Entry]:
    """``unet-lgg``: the U-Net trained on the LGG FLAIR abnormality masks."""
    return [
        Entry(
            name="unet-lgg",
            model="unet",
            dataset="lgg-mri",
            task="segmentation",
            recipe=Recipe(optimizer="adam", learning_rate=1e-3, loss="dice", epochs=100, batch_size=16,
                          monitor="val_dice", monitor_mode="max", reduce_lr_factor=0.5, val_fraction=0.2,
                          augment={"rotation": 0.05, "shift": 0.1, "shear": 0.1, "zoom": 0.1, "hflip": 0.5}),
            weights=UNET_LGG_WEIGHTS,
            summary="FLAIR abnormality segmentation of lower-grade glioma MRI slices (256×256×3).",
            study={"dice_bce": 0.8306, "dice_dice_loss": 0.8532, "split": "slice-level (not by patient)"},
            intended_use="Research and teaching: outlining FLAIR abnormalities in brain MRI slices "
                         "(pre-contrast, FLAIR, post-contrast as RGB). Not for clinical use.",
        )
    ]
