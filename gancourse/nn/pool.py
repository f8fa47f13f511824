"""The image pool: a history of generated images for the discriminator (Shrivastava et al. 2017).

CycleGAN updates its discriminators on a mix of the newest fakes and fakes
from earlier generators, so D does not chase only the generator's latest
move. The behaviour follows junyanz/pytorch-CycleGAN-and-pix2pix
(``util/image_pool.py``), image by image: while the pool holds fewer than
``pool_size`` images, the image is stored and returned; once it is full,
with probability 1/2 the image replaces a uniformly chosen stored one and
the stored one is returned, otherwise the image itself is returned.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class ImagePool(tf.Module):
    """A pool of up to ``pool_size`` images of ``image_shape``, queried a batch at a time.

    The pool is a ``tf.Module``: its buffer ``(pool_size, *image_shape)``, its
    fill count and its random state are variables, so ``query`` runs inside a
    compiled ``tf.function`` (a ``train_step``, with or without
    ``jit_compile``; XLA draws other numbers from the same seed) and
    ``tf.train.Checkpoint(pool=pool)`` saves and restores all three. Create
    it outside ``tf.function``. ``pool_size=0`` passes batches through.

    Args:
        pool_size: images kept (CycleGAN: 50).
        image_shape: shape of one image, e.g. ``(128, 128, 3)``.
        seed: seed of the pool's ``keras.random.SeedGenerator``.
        dtype: dtype of the stored images.
    """

    def __init__(self, pool_size: int = 50, image_shape=(256, 256, 3), seed: int | None = None,
                 dtype=tf.float32, name: str = "image_pool"):
        super().__init__(name=name)
        if int(pool_size) != pool_size or pool_size < 0:
            raise ValueError(f"pool_size must be an integer >= 0 (0 passes images through), got {pool_size}")
        self.image_shape = tuple(int(s) for s in image_shape)
        if not self.image_shape or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be a non-empty shape of positive sizes, got {image_shape}")
        self.pool_size = int(pool_size)
        self.buffer = tf.Variable(tf.zeros((self.pool_size, *self.image_shape), dtype), trainable=False,
                                  name="buffer")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.seed_state = self.seed_generator.state  # tracked, so checkpoints hold the random state

    def __call__(self, images):
        """Same as :meth:`query`."""
        return self.query(images)

    def query(self, images):
        """``images (B, *image_shape)`` -> a batch of the same shape from the images and the pool."""
        images = tf.cast(tf.convert_to_tensor(images), self.buffer.dtype)
        if tuple(images.shape[1:]) != self.image_shape or len(images.shape) != len(self.image_shape) + 1:
            raise ValueError(f"ImagePool holds images of shape {self.image_shape}; got a batch of shape "
                             f"{tuple(images.shape)}")
        if self.pool_size == 0:
            return images
        n = tf.shape(images)[0]
        swap_draws = keras.random.uniform((n,), seed=self.seed_generator)
        slots = keras.random.randint((n,), 0, self.pool_size, seed=self.seed_generator)

        def step(i, out):
            image = images[i]
            count = self.count.read_value()
            filling = count < self.pool_size
            slot = tf.where(filling, count, slots[i])
            stored = tf.gather(self.buffer, slot)
            swap = tf.logical_and(tf.logical_not(filling), swap_draws[i] > 0.5)
            kept = tf.where(tf.logical_or(filling, swap), image, stored)
            with tf.control_dependencies([stored, count]):
                updates = [self.buffer.scatter_nd_update([[slot]], kept[None]),
                           self.count.assign_add(tf.cast(filling, tf.int32))]
            with tf.control_dependencies(updates):
                return i + 1, out.write(i, tf.where(swap, stored, image))

        out = tf.TensorArray(images.dtype, size=n, element_shape=self.image_shape)
        _, out = tf.while_loop(lambda i, _: i < n, step, (tf.constant(0), out))
        return tf.reshape(out.stack(), tf.shape(images))
