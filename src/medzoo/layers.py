"""Serializable preprocessing layers that let a model take raw pixels (``keras.ops`` only, any backend).

They are registered under the ``medzoo`` package, so a ``.keras`` file holding them loads with
``safe_mode=True`` once :mod:`medzoo.layers` has been imported (``medzoo.load`` and the plugins import it).

>>> x = ToChannels(3)(raw)                                  # doctest: +SKIP
>>> x = ImageNetPreprocessing("caffe")(x)                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
from keras import ops

# The constants of keras.applications.imagenet_utils.preprocess_input.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
TORCH_STD_RGB = (0.229, 0.224, 0.225)
MODES = ("caffe", "torch", "tf")
# ITU-R 601 luma, as Pillow's convert("L") and medzoo.images.to_channels weigh R, G and B.
LUMA_RGB = (0.299, 0.587, 0.114)


@keras.saving.register_keras_serializable(package="medzoo")
class ToChannels(keras.layers.Layer):
    """Convert images of any channel count to ``channels``, so a model takes gray and colour pixels alike.

    Weightless, so adding it to a model leaves its weight files as they are. Channels last:

    - to 1 channel: RGB or RGBA → ITU-R 601 luminance (``0.299 R + 0.587 G + 0.114 B``, alpha dropped);
      gray + alpha → the gray channel; gray passes through.
    - to 3 channels: gray (or gray + alpha) → the gray channel repeated three times; RGBA → RGB; RGB passes
      through.

    The conversion follows the channel count of each call, also when the model's input leaves it open
    (``keras.Input((None, None, None))``).

    Args:
        channels: 1 (grayscale models) or 3 (RGB models).
        **kwargs: base ``Layer`` arguments (``name``, ``dtype``...).
    """

    def __init__(self, channels: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"ToChannels converts to 1 or 3 channels, got {channels}")
        self.channels = int(channels)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check that the input has 1 to 4 channels (when its channel count is known)."""
        have = input_shape[-1]
        if have is not None and not 1 <= have <= 4:
            raise ValueError(f"ToChannels takes 1 to 4 channels (channels last), got shape {input_shape}")

    def _convert(self, x: Any, colour: bool) -> Any:
        """``x`` with three or more channels (``colour``) or fewer, converted to ``self.channels``."""
        if self.channels == 1:
            if not colour:
                return x[..., :1]
            luma = ops.convert_to_tensor(LUMA_RGB, dtype=x.dtype)
            return ops.sum(x[..., :3] * luma, axis=-1, keepdims=True)
        return x[..., :3] if colour else ops.repeat(x[..., :1], 3, axis=-1)

    def call(self, inputs: Any) -> Any:
        """Convert ``inputs`` to ``self.channels`` channels (cast to the compute dtype first)."""
        x = ops.cast(inputs, self.compute_dtype)
        have = x.shape[-1]
        if have is not None:
            if have == self.channels:
                return x
            return self._convert(x, have >= 3)
        # a traced graph that left the channel count open: decide at run time
        return ops.cond(ops.shape(x)[-1] >= 3, lambda: self._convert(x, True), lambda: self._convert(x, False))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Same shape with ``channels`` channels."""
        return (*input_shape[:-1], self.channels)

    def get_config(self) -> dict[str, Any]:
        """The layer's config: ``channels`` plus the base ``Layer`` fields."""
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="medzoo")
class GrayscaleToRGB(keras.layers.Layer):
    """Repeat a single channel three times; pass three-channel input through unchanged.

    Input ``(..., H, W, 1)`` or ``(..., H, W, 3)`` (channels last); output ``(..., H, W, 3)``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check that the input has 1 or 3 channels."""
        channels = input_shape[-1]
        if channels not in (1, 3):
            raise ValueError(f"GrayscaleToRGB expects 1 or 3 channels (channels last), got shape {input_shape}")

    def call(self, inputs: Any) -> Any:
        """Repeat a single channel to three."""
        if inputs.shape[-1] == 1:
            return ops.repeat(inputs, 3, axis=-1)
        return inputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Same shape with 3 channels."""
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict[str, Any]:
        """The layer's config (only the base ``Layer`` fields)."""
        return super().get_config()


@keras.saving.register_keras_serializable(package="medzoo")
class ImageNetPreprocessing(keras.layers.Layer):
    """:func:`keras.applications.imagenet_utils.preprocess_input` as a layer, for RGB input in [0, 255].

    Modes (channels last):

    - ``"caffe"`` (Keras' ResNet50/101/152, VGG): RGB → BGR, then subtract the BGR mean
      ``[103.939, 116.779, 123.68]``; no scaling.
    - ``"torch"`` (torchvision models, e.g. DenseNet161): ``/255``, subtract ``[0.485, 0.456, 0.406]``,
      divide by ``[0.229, 0.224, 0.225]`` (RGB order).
    - ``"tf"``: ``/127.5 - 1`` → [-1, 1].

    Args:
        mode: ``"caffe"``, ``"torch"`` or ``"tf"``.
        **kwargs: base ``Layer`` arguments (``name``, ``dtype``...).
    """

    def __init__(self, mode: str = "caffe", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown ImageNet preprocessing mode {mode!r}; expected one of {MODES}")
        self.mode = mode

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check that the input is three-channel (the means and stds are per RGB channel)."""
        if self.mode != "tf" and input_shape[-1] != 3:
            raise ValueError(f"ImageNetPreprocessing({self.mode!r}) expects 3 channels (channels last), "
                             f"got shape {input_shape}; put GrayscaleToRGB before it")

    def call(self, inputs: Any) -> Any:
        """Apply the mode's normalisation; integer input is cast to the layer's compute dtype first."""
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)  # RGB -> BGR
            return x - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        mean = ops.convert_to_tensor(TORCH_MEAN_RGB, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(TORCH_STD_RGB, dtype=self.compute_dtype)
        return (x / 255.0 - mean) / std

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Unchanged."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The layer's config: ``mode`` plus the base ``Layer`` fields."""
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="medzoo")
class NonzeroStandardize(keras.layers.Layer):
    """Standardize each image and channel over its nonzero pixels; zero pixels (the background) stay 0.

    MRI intensities have no fixed scale: the same tissue is twice as bright in one patient's FLAIR as in
    another's. This maps each slice's foreground to mean 0, standard deviation 1 (MONAI's
    ``NormalizeIntensity(nonzero=True, channel_wise=True)``), so a model does not learn one scanner's
    brightness. Weightless. The standard deviation is floored at ``min_std`` (in input units), so a slice with
    a handful of nonzero pixels is not blown up.

    Args:
        min_std: the smallest standard deviation divided by (default 1.0: one grey level of 0-255 pixels).
        **kwargs: base ``Layer`` arguments.
    """

    def __init__(self, min_std: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_std = float(min_std)

    def call(self, inputs: Any) -> Any:
        """``(x - mean) / std`` per image and channel over the pixels that are not 0; 0 elsewhere."""
        x = ops.cast(inputs, self.compute_dtype)
        mask = ops.cast(ops.not_equal(x, 0), x.dtype)
        n = ops.maximum(ops.sum(mask, axis=(1, 2), keepdims=True), 1.0)
        mean = ops.sum(x * mask, axis=(1, 2), keepdims=True) / n
        var = ops.sum(ops.square((x - mean) * mask), axis=(1, 2), keepdims=True) / n
        std = ops.maximum(ops.sqrt(var), self.min_std)
        return (x - mean) / std * mask

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "min_std": self.min_std}


def input_channels(model: Any) -> int | None:
    """The channel count ``model`` works on: that of its :class:`ToChannels` layer (it takes any count and
    converts; nested models such as :func:`medzoo.tta.flip_average`'s are searched too), else its input's last
    dimension (``None`` if that is open too)."""
    converters = nested_layers(model, ToChannels)
    if converters:
        return converters[0].channels
    last = model.inputs[0].shape[-1]
    return None if last is None else int(last)


def nested_layers(model: Any, kind: type | tuple[type, ...]) -> list[Any]:
    """Every layer of ``kind`` in ``model``, in order, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, kind):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found += nested_layers(layer, kind)
    return found


def batch_norm_layers(model: Any) -> list[Any]:
    """Every ``BatchNormalization`` layer of ``model``, nested models included."""
    return nested_layers(model, keras.layers.BatchNormalization)


def recalibrate_batch_norm(model: Any, batches: Iterable[Any]) -> int:
    """Recompute the moving mean and variance of ``model``'s batch-norm layers from ``batches`` of inputs.

    Each layer's statistics become the plain average of its batch statistics over the batches (a forward
    pass in training mode per batch, no weight update), the way ``torch.optim.swa_utils.update_bn`` does it
    after weight averaging: averaged weights need statistics of their own. Dropout is off during these passes,
    as in inference (so the statistics are those inference sees, and no random state is used). Layers keep
    their momentum and rate.

    Returns:
        The number of batches used (0 leaves the statistics as they were, as does a model without
        batch norm).
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    dropouts = nested_layers(model, (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout))
    rates = [(layer, name, getattr(layer, name)) for layer in dropouts for name in ("rate", "stddev")
             if hasattr(layer, name)]
    seen = 0
    try:
        for layer, name, _ in rates:
            setattr(layer, name, 0.0)
        for x in batches:
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / (seen + 1)  # the first batch replaces, later ones average in
            model(x, training=True)
            seen += 1
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        for layer, name, value in rates:
            setattr(layer, name, value)
    return seen
