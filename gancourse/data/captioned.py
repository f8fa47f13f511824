"""Captioned images for text-to-image models (StackGAN): the batch format both caption datasets share.

A ``captions`` dataset yields batches ``(lr, hr, embedding, class_id)``:

* ``hr``: ``float32`` ``(B, 4s, 4s, 3)`` in ``[-1, 1]``, the Stage-II image;
* ``lr``: ``float32`` ``(B, s, s, 3)``, the same image made small by
  :func:`lr_from_hr` (bicubic, antialiased), the Stage-I image
  (``s = cfg.image_size``);
* ``embedding``: ``float32`` ``(B, 1024)``, the mean of
  ``cfg.captions_per_step`` distinct caption embeddings drawn at random from
  the image's ten, drawn again every time the image is used (StackGAN's
  official code averages 4; the source book picks one per image once, at load
  time, and never changes it);
* ``class_id``: ``int32`` ``(B,)``, what makes a caption "wrong" for an image
  (a different bird species; for the rendered birds, a different
  body/wing colour pair).

Every image has :data:`CAPTIONS_PER_IMAGE` caption embeddings of
:data:`EMBEDDING_DIM` numbers, stored ``(N, 10, 1024)``.
"""

from __future__ import annotations

import numpy as np

from gancourse.data.cache import DatasetError

EMBEDDING_DIM = 1024  #: the char-CNN-RNN embedding size StackGAN's data release uses
CAPTIONS_PER_IMAGE = 10  #: captions per image in the CUB release (Reed et al.)
STAGE2_SCALE = 4  #: the Stage-II image side is 4x the Stage-I side


def check_embeddings(embeddings, n: int | None = None, what: str = "caption embeddings") -> np.ndarray:
    """``embeddings`` as ``float32`` ``(N, 10, 1024)``; a clear error for any other shape or a non-finite value."""
    e = np.asarray(embeddings)
    if e.ndim != 3 or e.shape[1:] != (CAPTIONS_PER_IMAGE, EMBEDDING_DIM):
        raise DatasetError(f"{what} must have shape (images, {CAPTIONS_PER_IMAGE}, {EMBEDDING_DIM}), got "
                           f"{e.shape}; is this the StackGAN release's char-CNN-RNN-embeddings.pickle?")
    if n is not None and len(e) != n:
        raise DatasetError(f"{what}: {len(e)} rows for {n} images; the pickles of one split must be aligned")
    e = e.astype(np.float32)
    if not np.all(np.isfinite(e)):
        raise DatasetError(f"{what} hold NaN or inf values; the file is corrupt, download it again")
    return e


def captions_per_step(cfg) -> int:
    """``cfg.captions_per_step`` (default 1), checked to be 1..10."""
    k = int(getattr(cfg, "captions_per_step", 1))
    if not 1 <= k <= CAPTIONS_PER_IMAGE:
        raise ValueError(f"captions_per_step={k} must be between 1 and {CAPTIONS_PER_IMAGE}")
    return k


def mean_of_captions(embeddings, k: int, seed):
    """Inside ``tf.data``: the mean of ``k`` distinct rows of one image's ``(10, D)`` embeddings, chosen
    uniformly at random by the stateless ``seed`` (a ``(2,)`` int tensor)."""
    import tensorflow as tf

    scores = tf.random.stateless_uniform([tf.shape(embeddings)[0]], seed=seed)
    chosen = tf.math.top_k(scores, k=k).indices
    return tf.reduce_mean(tf.gather(embeddings, chosen), axis=0)


def lr_from_hr(hr, size: int):
    """The Stage-I image from the Stage-II one: ``(…, S, S, 3)`` -> ``(…, size, size, 3)``, bicubic with
    antialiasing, clipped to ``[-1, 1]`` (StackGAN's code makes its 76 px images from the 304 px ones by
    bicubic resizing)."""
    import tensorflow as tf

    return tf.clip_by_value(tf.image.resize(hr, (size, size), method="bicubic", antialias=True), -1.0, 1.0)


def example_fn(cfg):
    """``(seed, (hr, embeddings (10, D), class_id))`` -> ``(lr, hr, embedding, class_id)`` for ``tf.data``: the
    caption mean of :func:`mean_of_captions`, a random horizontal flip of the image when ``cfg.flip`` is true,
    and the LR copy."""
    import tensorflow as tf

    k = captions_per_step(cfg)
    size = int(cfg.image_size)
    flip = bool(getattr(cfg, "flip", False))

    def fn(seed, example):
        hr, embeddings, class_id = example
        seeds = tf.random.experimental.stateless_split(tf.stack([seed, tf.constant(0, tf.int64)]), 2)
        embedding = mean_of_captions(embeddings, k, seeds[0])
        if flip:
            hr = tf.image.stateless_random_flip_left_right(hr, seeds[1])
        return lr_from_hr(hr, size), hr, embedding, tf.cast(class_id, tf.int32)

    return fn


def from_arrays(hr_images, embeddings, class_ids, cfg, *, shuffle: bool = True):
    """The batched ``captions`` dataset over in-memory arrays.

    Args:
        hr_images: ``(N, 4s, 4s, 3)`` float32 in ``[-1, 1]`` (``s = cfg.image_size``).
        embeddings: ``(N, 10, 1024)`` caption embeddings.
        class_ids: ``(N,)`` ints.
        cfg: reads ``image_size``, ``batch_size``, ``seed`` and optionally ``captions_per_step`` and ``flip``.
        shuffle: reshuffle the images every epoch (with ``cfg.seed``); the caption draws and flips change
            every epoch either way.
    """
    import tensorflow as tf

    from gancourse.data.pipeline import check_batch

    hr = np.asarray(hr_images, np.float32)
    want = STAGE2_SCALE * int(cfg.image_size)
    if hr.ndim != 4 or hr.shape[1:] != (want, want, 3):
        raise ValueError(f"Stage-II images must be (N, {want}, {want}, 3) for image_size={cfg.image_size}, got "
                         f"{hr.shape}")
    e = check_embeddings(embeddings, len(hr))
    c = np.asarray(class_ids)
    if c.shape != (len(hr),):
        raise ValueError(f"class_ids must be ({len(hr)},), got {c.shape}")
    check_batch(len(hr), int(cfg.batch_size))
    ds = tf.data.Dataset.from_tensor_slices((hr, e, c.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(hr), seed=int(cfg.seed), reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=int(cfg.seed), rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((seeds, ds)).map(example_fn(cfg), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(int(cfg.batch_size), drop_remainder=True).prefetch(2)
