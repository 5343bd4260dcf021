"""Training recipes shared by several plugins (plain :class:`~medzoo.specs.Recipe` values, no Keras)."""

from __future__ import annotations

from medzoo.specs import Recipe

#: The study's recipe for every chest X-ray classifier: RMSprop, binary cross-entropy, class weights,
#: ReduceLROnPlateau on the validation loss, the best checkpoint and early stopping.
STUDY_CLASSIFIER = Recipe(optimizer="rmsprop", learning_rate=1e-3, loss="binary_crossentropy", epochs=100,
                          batch_size=32, class_weights=True, monitor="val_loss", monitor_mode="min",
                          early_stopping_patience=10, reduce_lr_patience=5, reduce_lr_factor=0.3)

#: The chest X-ray default augmentation plus the acquisition changes the shift check probes (contrast, gamma,
#: blur, brightness): what a new hospital's scanner does to an image.
ROBUST_XRAY_AUGMENT: dict[str, float] = {"hflip": 0.5, "vflip": 0.5, "rotation": 0.03, "zoom": 0.1,
                                         "brightness": 0.1, "contrast": 0.4, "gamma": 0.4, "blur": 0.8}

#: The study's classifier recipe made stable and robust to acquisition shift (issue 13): AdamW with label
#: smoothing and an exponential moving average of the weights, acquisition augmentation, and the checkpoint
#: chosen by validation AUC (threshold-free) rather than loss. The zoo's X-ray weights are trained with it.
ROBUST_CLASSIFIER = STUDY_CLASSIFIER.evolve(optimizer="adamw", learning_rate=3e-4, label_smoothing=0.05, ema=True,
                                            augment=ROBUST_XRAY_AUGMENT, monitor="val_auc", monitor_mode="max",
                                            early_stopping_patience=4, reduce_lr_patience=2)
