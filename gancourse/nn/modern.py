"""Post-DCGAN pieces for the modern-GAN lab: spectral norm as a reparameterisation, and DiffAugment.

* :class:`SpectralNorm` - Miyato et al.'s spectral normalisation: the wrapped ``Conv*``/``Dense`` layer computes
  with ``W / sigma(W)``, ``sigma`` estimated by power iteration (one step per training call), and the gradient
  flows through ``sigma`` as in the paper. Unlike ``keras.layers.SpectralNormalization`` (Keras 3), which it
  extends, it never writes the normalised kernel back into the trainable ``W``: that write-back happens on
  every training-mode call, so a generator update that runs the discriminator would change the
  discriminator's trainable weights.
* :func:`diff_augment` - Zhao et al. (2020)'s differentiable augmentation (policies ``color``, ``translation``,
  ``cutout``), applied to real and generated images alike.

Self-attention (SAGAN) is :class:`gancourse.nn.SelfAttention`.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


def _unit(x):
    return x / ops.sqrt(ops.sum(ops.square(x)) + 1e-12)


@keras.saving.register_keras_serializable(package="gancourse")
class SpectralNorm(layers.SpectralNormalization):
    """Spectral normalisation (Miyato et al. 2018) of a ``Conv*`` or ``Dense`` layer, as a reparameterisation.

    The layer computes with ``W / sigma`` where ``sigma = v W u^T`` and ``u``, ``v`` are the power-iteration
    estimates of ``W``'s leading singular vectors (``W`` reshaped to ``(-1, filters)``). In training mode each
    call runs ``power_iterations`` steps and stores the new ``u`` (a non-trainable variable, like batch norm's
    moving statistics); in inference mode it uses the stored ``u``. ``u`` and ``v`` are constants for the
    gradient, which therefore flows through ``sigma(W)`` into ``W``, as in the paper. The trainable kernel
    itself is never overwritten.
    """

    def build(self, input_shape):
        if not isinstance(self.layer, (layers.Dense, layers.Conv1D, layers.Conv2D, layers.Conv3D)) or \
                isinstance(self.layer, (layers.Conv2DTranspose, layers.Conv3DTranspose)):
            raise ValueError(f"SpectralNorm wraps Dense or Conv1D/2D/3D layers, got {type(self.layer).__name__}")
        super().build(input_shape)

    def normalized_kernel(self, training=False):
        """``W / sigma(W)`` (advancing ``u`` by the power iteration when ``training``)."""
        w = ops.reshape(self.kernel, [-1, self.kernel_shape[-1]])  # (fan_in, filters)
        u = self.vector_u.value  # (1, filters)
        v = _unit(ops.matmul(u, ops.transpose(w)))  # (1, fan_in)
        if training:
            for step in range(self.power_iterations):
                u = _unit(ops.matmul(v, w))
                if step + 1 < self.power_iterations:
                    v = _unit(ops.matmul(u, ops.transpose(w)))
            self.vector_u.assign(u)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.matmul(ops.matmul(v, w), ops.transpose(u))  # (1, 1)
        return self.kernel / ops.reshape(sigma, [])

    def call(self, inputs, training=False):
        kernel = self.normalized_kernel(bool(training))
        layer = self.layer
        if isinstance(layer, layers.Dense):
            out = ops.matmul(inputs, kernel)
        else:
            out = layer.convolution_op(inputs, kernel)
        if layer.use_bias:
            out = out + layer.bias  # channels-last: the bias broadcasts over the last axis
        return layer.activation(out) if layer.activation is not None else out


def _uniform(shape, seed, low=0.0, high=1.0):
    return keras.random.uniform(shape, low, high, seed=seed)


def _color(x, seed):
    """Random brightness (+U(-0.5, 0.5)), saturation (x U(0, 2) about the channel mean) and contrast
    (x U(0.5, 1.5) about the image mean), one draw per image (DiffAugment's ``color``)."""
    b = tf.shape(x)[0]
    x = x + (_uniform([b, 1, 1, 1], seed) - 0.5)
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (_uniform([b, 1, 1, 1], seed) * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (_uniform([b, 1, 1, 1], seed) + 0.5) + mean


def _translation(x, seed, ratio=0.125):
    """Shift each image by whole pixels, up to ``ratio`` of its size in each direction, filling with zeros."""
    b, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = keras.random.randint([b, 1, 1], -sh, sh + 1, seed=seed)
    dx = keras.random.randint([b, 1, 1], -sw, sw + 1, seed=seed)
    rows = tf.reshape(tf.range(h), [1, h, 1]) + dy  # (B, H, 1): source row of each output row
    cols = tf.reshape(tf.range(w), [1, 1, w]) + dx  # (B, 1, W)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (B, H, W)
    batch = tf.broadcast_to(tf.reshape(tf.range(b), [-1, 1, 1]), tf.shape(inside))
    index = tf.stack([batch, tf.broadcast_to(tf.clip_by_value(rows, 0, h - 1), tf.shape(inside)),
                      tf.broadcast_to(tf.clip_by_value(cols, 0, w - 1), tf.shape(inside))], -1)
    return tf.gather_nd(x, index) * tf.cast(inside, x.dtype)[..., None]


def _cutout(x, seed, ratio=0.5):
    """Zero one square of ``ratio`` of the image size per image, its centre anywhere (it may be clipped)."""
    b, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = keras.random.randint([b, 1, 1], 0, h + (1 - ch % 2), seed=seed) - ch // 2
    left = keras.random.randint([b, 1, 1], 0, w + (1 - cw % 2), seed=seed) - cw // 2
    rows, cols = tf.reshape(tf.range(h), [1, h, 1]), tf.reshape(tf.range(w), [1, 1, w])
    cut = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (B, H, W)
    return x * (1.0 - tf.cast(cut, x.dtype))[..., None]


_POLICY = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, seed, policy=DIFFAUGMENT_POLICIES):
    """DiffAugment (Zhao et al. 2020): ``images`` ``(B, H, W, C)`` in [-1, 1] through each of ``policy``'s
    transformations in order, with fresh random parameters per image drawn from ``seed`` (a
    ``keras.random.SeedGenerator``). Every transformation is differentiable in the pixel values, so the
    generator's gradient passes through it. ``color`` (brightness, saturation, contrast) can leave [-1, 1];
    ``translation`` (up to 1/8 of the size, zero fill) and ``cutout`` (a zeroed square of half the size) keep
    values within the input's range widened to include 0."""
    unknown = [p for p in policy if p not in _POLICY]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown[0]!r}; choose from {', '.join(DIFFAUGMENT_POLICIES)}")
    for name in policy:
        images = _POLICY[name](images, seed)
    return images
