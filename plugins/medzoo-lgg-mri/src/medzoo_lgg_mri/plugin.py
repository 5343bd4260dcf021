"""Hook implementations of medzoo-lgg-mri (imports nothing heavy)."""

from __future__ import annotations

from medzoo import DatasetSpec, hookimpl


@hookimpl
def medzoo_datasets() -> list[DatasetSpec]:
    """The LGG MRI dataset."""
    return [
        DatasetSpec(
            name="lgg-mri",
            task="segmentation",
            factory="medzoo_lgg_mri.reader:LGGMRI",
            synthetic="medzoo_lgg_mri.synthetic:write_synthetic",
            description="Brain MRI of 110 TCGA lower-grade glioma patients (3,929 slices): pre-contrast, "
                        "FLAIR and post-contrast as RGB, with manual FLAIR abnormality masks.",
            layout="ROOT/TCGA_<inst>_<patient>_<date>/<case>_<n>.tif + <case>_<n>_mask.tif "
                   "(256×256×3 uint8 image, 256×256 mask 0/255); optional ROOT/data.csv; "
                   "ROOT may also contain kaggle_3m/.",
            licence="CC BY-NC-SA 4.0 (Kaggle 'Brain MRI segmentation', M. Buda); images from TCIA TCGA-LGG. "
                    "Weights trained on it are for non-commercial use.",
            citation="Buda M, Saha A, Mazurowski MA. Association of genomic subtypes of lower-grade gliomas with "
                     "shape features automatically extracted by a deep learning algorithm. "
                     "Comput Biol Med 109:218-225 (2019). doi:10.1016/j.compbiomed.2019.05.002",
            homepage="https://www.kaggle.com/datasets/mateuszbuda/lgg-mri-segmentation",
        )
    ]
