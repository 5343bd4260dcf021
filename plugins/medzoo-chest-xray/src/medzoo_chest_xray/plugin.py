"""Hook implementations of medzoo-chest-xray (imports nothing heavy)."""

from __future__ import annotations

from medzoo import DatasetSpec, hookimpl


@hookimpl
def medzoo_datasets() -> list[DatasetSpec]:
    """The chest X-ray pneumonia dataset."""
    return [
        DatasetSpec(
            name="chest-xray",
            task="classification",
            factory="medzoo_chest_xray.reader:ChestXray",
            synthetic="medzoo_chest_xray.synthetic:write_synthetic",
            description="Pediatric chest X-rays (anterior-posterior, ages 1-5, Guangzhou Women and Children's "
                        "Medical Center): 5,856 images, NORMAL vs PNEUMONIA (bacterial or viral).",
            layout="ROOT/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg (JPEG or PNG, any size, grayscale or RGB); "
                   "names person<P>_bacteria_<n>.jpeg, person<P>_virus_<n>.jpeg, IM-<P>-<n>.jpeg, "
                   "NORMAL2-IM-<P>-<n>.jpeg; ROOT may also contain chest_xray/.",
            licence="CC BY 4.0 (Kermany, Zhang, Goldbaum; Mendeley Data, doi:10.17632/rscbjbr9sj.2)",
            citation="Kermany DS, Goldbaum M, Cai W, et al. Identifying medical diagnoses and treatable diseases "
                     "by image-based deep learning. Cell 172(5):1122-1131.e9 (2018). "
                     "doi:10.1016/j.cell.2018.02.010",
            homepage="https://data.mendeley.com/datasets/rscbjbr9sj/2",
        )
    ]
