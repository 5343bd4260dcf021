"""Training recipes shared by several plugins (plain :class:`~medzoo.specs.Recipe` values, no Keras)."""

from __future__ import annotations

from medzoo.specs import Recipe

#: The study's recipe for every chest X-ray classifier: RMSprop, binary cross-entropy, class weights,
#: ReduceLROnPlateau on the validation loss, the best checkpoint and early stopping.
STUDY_CLASSIFIER = Recipe(optimizer="rmsprop", learning_rate=1e-3, loss="binary_crossentropy", epochs=100,
                          batch_size=32, class_weights=True, monitor="val_loss", monitor_mode="min",
                          early_stopping_patience=10, reduce_lr_patience=5, reduce_lr_factor=0.3)
