"""Train one zoo entry's shipped weights on the real data: the exact settings behind each weights file.

    python scripts/train_zoo.py unet-lgg --data ../shared/data/kaggle_3m --out runs/unet-lgg

Re-running the same command resumes the run from its last completed epoch; ``--epochs N`` caps the run
(a run resumed with ``--epochs`` at or below its completed epochs only writes its report).
"""

from __future__ import annotations

import argparse

import medzoo

# What each shipped weights file was trained with, on top of the entry's (the study's) recipe.
ZOO_SETTINGS: dict[str, dict] = {
    "unet-lgg": dict(loss="bce_dice", patch_size=128, batch_size=16, steps_per_epoch=40, epochs=60,
                     early_stopping_patience=12, reduce_lr_patience=5,
                     train_pipeline={"lesion_fraction": 0.5}, seed=0),
    # Short epochs (50 steps) so checkpoints and the lr schedule see the validation set often. Two earlier runs
    # (RMSprop 1e-3 and 1e-4) looked like "always pneumonia" on validation: batch-norm momentum 0.99 had left
    # the initial moving variance in place (see medzoo_cnn.cnn.build_cnn); the CNNs now use 0.9.
    "cnn1-chest-xray": dict(learning_rate=1e-4, batch_size=32, steps_per_epoch=50, epochs=40,
                            early_stopping_patience=5, reduce_lr_patience=2, seed=0),
}


def main() -> None:
    """Parse the command line and train."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("entry", choices=sorted(ZOO_SETTINGS))
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=None, help="stop after this many epochs (default: the setting's)")
    args = p.parse_args()
    from pathlib import Path

    resume = (Path(args.out) / "config.json").exists()
    settings = ZOO_SETTINGS[args.entry] | ({"epochs": args.epochs} if args.epochs else {})
    medzoo.train(args.entry, data=args.data, out=args.out, resume=resume, **settings)


if __name__ == "__main__":
    main()
