"""Chapter 07 (CycleGAN): the exhibits of the source book's defects, measured rather than told.

What the chapter computes that is not model code lives here: the book's
``InstanceNormalization(axis=1)`` rebuilt and compared with per-channel
instance norm, the book's loader (index-aligned pairing, flips frozen at load
time, the test split), one optimizer shared by three models, and the figure
helpers of the chapter.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gancourse import set_seed
from gancourse.nn import norm as norms
from gancourse.training.optim import LinearDecay

NORM_KINDS = ("instance", "batch", "rows")
"""What :func:`norm_statistics` can compute: per-channel instance norm, batch norm, and the book's axis=1 norm."""

CONTRIB_EPSILON = 1e-3
"""keras-contrib's ``InstanceNormalization`` default epsilon (the book leaves it at the default)."""


# -- the book's InstanceNormalization(axis=1) ---------------------------------------------
def book_instance_norm(epsilon: float = CONTRIB_EPSILON, name: str | None = None) -> keras.layers.Layer:
    """The book's ``keras_contrib.layers.InstanceNormalization(axis=1)``, rebuilt in Keras 3.

    keras-contrib normalises over every axis except the batch axis and
    ``axis``, and learns one scale and offset per entry of ``axis``. On
    channels-last ``(N, H, W, C)`` data, ``axis=1`` is the image *row*: each
    row of each image is normalised over its ``W x C`` values, with ``H``
    learned scales and offsets. ``GroupNormalization(groups=-1, axis=1)``
    computes exactly that (one group per row).
    """
    return keras.layers.GroupNormalization(groups=-1, axis=1, epsilon=epsilon, name=name)


def norm_statistics(x: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, variance)`` that a norm layer of ``kind`` subtracts and divides by, for ``x`` of shape (N, H, W, C).

    ``"instance"``: per image and channel over ``H x W``, shapes ``(N, 1, 1, C)``.
    ``"batch"`` (training mode): per channel over ``N x H x W``, ``(1, 1, 1, C)``.
    ``"rows"`` (the book's ``axis=1``): per image and row over ``W x C``,
    ``(N, H, 1, 1)``. Variances are population variances (``ddof=0``), as
    the layers use.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 4:
        raise ValueError(f"x must be channels-last feature maps (N, H, W, C), got shape {x.shape}")
    axes = {"instance": (1, 2), "batch": (0, 1, 2), "rows": (2, 3)}.get(kind)
    if axes is None:
        raise ValueError(f"unknown norm kind {kind!r}; choose one of {', '.join(NORM_KINDS)}")
    return x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)


def _error_of(fn) -> str:
    """``"<ExceptionType>: <first line>"`` of what ``fn()`` raises, or ``""`` when it runs."""
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - the exhibit reports whichever error the layer raises
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return ""


def axis_exhibit(images: np.ndarray, epsilon: float = CONTRIB_EPSILON) -> dict:
    """What the book's ``axis=1`` norm does to ``images`` (N, H, W, C), next to per-channel instance norm.

    Both layers are freshly built (scale 1, offset 0), so their outputs are
    the normalised inputs. Returns:

    * ``book`` / ``fixed``: the two outputs.
    * ``book_oracle_error`` / ``fixed_oracle_error``: the largest difference
      between each output and the NumPy normalisation by
      :func:`norm_statistics` with ``"rows"`` / ``"instance"``: what each
      layer normalises, checked.
    * ``row_mean_spread_*``: the standard deviation over rows of the mean of
      each row (over ``W x C``), averaged over images, for the input and
      each output: how much the brightness changes from top to bottom.
    * ``channel_mean_spread_*``: the standard deviation over channels of each
      channel's mean (over ``H x W``), averaged over images: the colour cast.
    * ``book_scale_shape`` / ``fixed_scale_shape``: the shapes of the learned
      scales (one per row against one per channel).
    * ``book_other_size`` / ``fixed_other_size``: what calling each layer
      (built for ``H`` rows) on images twice as large raises (``""``: it runs).
    """
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {x.shape}")
    book = book_instance_norm(epsilon)
    fixed = norms.instance_norm(epsilon=epsilon, affine=True)
    out = {"book": np.asarray(book(x)), "fixed": np.asarray(fixed(x))}
    for label, kind in (("book", "rows"), ("fixed", "instance")):
        mean, var = norm_statistics(x, kind)
        oracle = (x - mean) / np.sqrt(var + epsilon)
        out[f"{label}_oracle_error"] = float(np.max(np.abs(out[label] - oracle)))

    def row_spread(a):
        return float(np.mean(np.std(np.mean(a, axis=(2, 3)), axis=1)))

    def channel_spread(a):
        return float(np.mean(np.std(np.mean(a, axis=(1, 2)), axis=1)))

    for label, a in (("input", x), ("book", out["book"]), ("fixed", out["fixed"])):
        out[f"row_mean_spread_{label}"] = row_spread(a)
        out[f"channel_mean_spread_{label}"] = channel_spread(a)
    out["book_scale_shape"] = tuple(book.gamma.shape)
    out["fixed_scale_shape"] = tuple(fixed.gamma.shape)
    larger = np.repeat(np.repeat(x[:1], 2, axis=1), 2, axis=2)
    out["book_other_size"] = _error_of(lambda: book(larger))
    out["fixed_other_size"] = _error_of(lambda: fixed(larger))
    return out


# -- the book's loader: the test split, index-aligned pairs, flips frozen at load time -----------
def book_pairing(n_a: int, n_b: int) -> dict:
    """What the book's loader reads from folders of ``n_a`` images of A and ``n_b`` of B.

    It loops over the A files and loads ``B[i]`` beside ``A[i]``, so it
    reads the first ``n_a`` B files, always in the same pairs, and stops
    with an ``IndexError`` when A has more files than B. Returns
    ``b_loaded``, ``b_share`` (of B's files), ``pairs`` (distinct pairs it
    can ever train on) and ``error`` (``""`` or what the loop raises).
    """
    if n_a < 1 or n_b < 1:
        raise ValueError(f"both folders need at least one image, got {n_a} and {n_b}")
    files_b = list(range(n_b))
    loaded, error = [], ""
    try:
        for index in range(n_a):  # the book's loop: for index, filename in enumerate(imagesA): ... imagesB[index]
            loaded.append(files_b[index])
    except IndexError as exc:
        error = f"IndexError: {exc} (A file {index + 1} of {n_a}, B has {n_b})"
    return {"b_loaded": len(loaded), "b_share": len(loaded) / n_b, "pairs": len(loaded), "error": error}


def split_usage(sizes: dict) -> list[dict]:
    """Rows of a table: the images the book trains on (the test split, index-aligned) against the train split.

    ``sizes`` maps ``trainA``, ``trainB``, ``testA``, ``testB`` to file counts.
    Each row gives the images of A and B a loader trains on, their share of
    all the dataset's images, and how many images stay unseen for evaluation.
    """
    missing = sorted({"trainA", "trainB", "testA", "testB"} - set(sizes))
    if missing:
        raise ValueError(f"sizes lacks {', '.join(missing)}; give the four folders' file counts")
    total = sum(sizes[k] for k in ("trainA", "trainB", "testA", "testB"))
    book = book_pairing(sizes["testA"], sizes["testB"])
    rows = []
    for loader, a, b, held_out in (
            ("the book (testA/testB, B[i] beside A[i])", min(sizes["testA"], sizes["testB"]), book["b_loaded"],
             0),
            ("unaligned loader on trainA/trainB", sizes["trainA"], sizes["trainB"],
             sizes["testA"] + sizes["testB"])):
        rows.append({"loader": loader, "A images trained on": a, "B images trained on": b,
                     "share of the dataset": (a + b) / total, "held-out images left": held_out})
    return rows


def marker_images(n: int, size: int = 4) -> np.ndarray:
    """``n`` tiny images that say which image they are and whether they were flipped: column 0 holds the
    sentinel 1, every other pixel the code ``-1 + 2 i / n`` of image ``i``. float32 ``(n, size, size, 3)``."""
    if n < 1 or size < 2:
        raise ValueError(f"need n >= 1 images of size >= 2, got n={n}, size={size}")
    images = np.repeat((-1.0 + 2.0 * np.arange(n) / n)[:, None, None, None], size, axis=1)
    images = np.repeat(np.repeat(images, size, axis=2), 3, axis=3).astype(np.float32)
    images[:, :, 0, :] = 1.0
    return images


def read_markers(images: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index, flipped)`` of each of :func:`marker_images`'s images after a loader has moved or flipped it."""
    x = np.asarray(images)
    flipped = x[:, 0, -1, 0] > x[:, 0, 0, 0]
    code = np.where(flipped, x[:, 0, 0, 0], x[:, 0, -1, 0])
    return np.rint((code + 1.0) * n / 2.0).astype(int), flipped


def loader_exhibit(n_a: int, n_b: int, epochs: int = 3, seed: int = 0, batch_size: int = 8) -> dict:
    """Measure the book's loader (:func:`gancourse.data.unpaired.book_aligned`) and the course's
    (:func:`gancourse.data.unpaired.unaligned_dataset`) on :func:`marker_images` of two domains.

    Over ``epochs`` epochs (the course's in batches of ``batch_size``), returns for ``book`` and
    ``unaligned``: ``draws`` (pairs per epoch), ``b_seen`` (distinct B images ever drawn),
    ``pairs`` (distinct (A, B) pairs), ``both_orientations`` (share of the A
    images drawn in both orientations) and ``agreement`` (share of draws in
    which A and B were flipped alike: 1 means always together). The book's
    loader runs once, at load time, and its arrays are reused every epoch, as
    in the book; with ``n_b < n_a`` it cannot run (``book`` is then the
    error message).
    """
    from gancourse.data import unpaired

    a, b = marker_images(n_a), marker_images(n_b)
    a[..., 1], b[..., 2] = 0.5, 0.5  # tell the domains apart (not read by read_markers)
    out = {}

    def summary(index_a, flip_a, index_b, flip_b, draws):
        both = [len(set(flip_a[index_a == i])) == 2 for i in np.unique(index_a)]
        return {"draws": draws, "b_seen": int(len(np.unique(index_b))),
                "pairs": int(len(set(zip(index_a.tolist(), index_b.tolist())))),
                "both_orientations": float(np.mean(both)) if both else 0.0,
                "agreement": float(np.mean(flip_a == flip_b))}

    try:
        book_a, book_b = unpaired.book_aligned(a, b, seed=seed)
    except ValueError as error:
        out["book"] = f"ValueError: {error}"
    else:
        (ia, fa), (ib, fb) = read_markers(book_a, n_a), read_markers(book_b, n_b)
        reps = lambda v: np.tile(v, epochs)  # noqa: E731 - the same arrays, in the same order, every epoch
        out["book"] = summary(reps(ia), reps(fa), reps(ib), reps(fb), len(book_a))
    ds = unpaired.unaligned_dataset(a, b, batch_size, seed=seed, flip=True)
    drawn_a, drawn_b = [], []
    for _ in range(epochs):
        for batch_a, batch_b in ds:
            drawn_a.append(batch_a.numpy())
            drawn_b.append(batch_b.numpy())
    (ia, fa), (ib, fb) = read_markers(np.concatenate(drawn_a), n_a), read_markers(np.concatenate(drawn_b), n_b)
    out["unaligned"] = summary(ia, fa, ib, fb, len(ia) // epochs)
    return out


# -- one optimizer shared by three models ----------------------------------------------------
BOOK_UPDATES = ("d_a real", "d_a fake", "d_b real", "d_b fake", "generators")
"""The book's optimizer steps in one training step: four ``train_on_batch`` calls of the discriminators (real
and fake batches separately) and one of the combined model."""


def _tiny(name: str, seed: int) -> keras.Model:
    set_seed(seed)
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1, name=f"{name}_dense")(inputs), name=name)


def shared_optimizer_exhibit(steps: int = 40, decay_start: int = 20, decay_steps: int = 20,
                             learning_rate: float = 2e-4, seed: int = 0) -> dict:
    """One Keras 3 optimizer shared by the book's three compiled models, measured on tiny stand-ins.

    Two measurements:

    * ``compile_error``: D_A and D_B compiled with one ``Adam`` instance, as
      the book does; D_A's ``train_on_batch`` builds the optimizer for D_A's
      variables, and D_B's first ``train_on_batch`` raises (the message).
    * The Keras 2 behaviour that the book relied on, rebuilt with one
      optimizer built over all three models' variables: each of the book's
      :data:`BOOK_UPDATES` advances the one iteration counter. The optimizer
      carries the paper's linear decay planned in *training steps*
      (constant for ``decay_start`` steps, then to 0 over ``decay_steps``).
      ``iterations`` is the counter after ``steps`` training steps;
      ``updates_per_step`` the measured increase per step;
      ``planned_lr`` and ``shared_lr`` the learning rate of the generator
      update at every training step as planned and as the shared counter
      gives it; ``planned_zero`` and ``shared_zero`` the first training step
      at which each reaches 0 (``None`` if never within ``steps``).
    """
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(2, 4)).astype(np.float32), np.ones((2, 1), np.float32)
    d_a, d_b, gens = _tiny("d_a", seed), _tiny("d_b", seed + 1), _tiny("generators", seed + 2)
    shared = keras.optimizers.Adam(learning_rate, beta_1=0.5)
    d_a.compile(loss="mse", optimizer=shared)
    d_b.compile(loss="mse", optimizer=shared)
    d_a.train_on_batch(x, y)
    compile_error = _error_of(lambda: d_b.train_on_batch(x, y))

    schedule = LinearDecay(learning_rate, decay_start, decay_steps)
    one = keras.optimizers.Adam(schedule, beta_1=0.5)
    models = {"d_a": d_a, "d_b": d_b, "generators": gens}
    one.build([v for m in models.values() for v in m.trainable_variables])
    counts, planned, actual = [], [], []
    for step in range(steps):
        before = int(one.iterations)
        for update in BOOK_UPDATES:
            model = models[update.split()[0]]
            if update == "generators":
                planned.append(float(schedule(step)))
                actual.append(float(schedule(int(one.iterations))))
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(x) - y) ** 2)
            one.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        counts.append(int(one.iterations) - before)

    def first_zero(values):
        return next((i for i, v in enumerate(values) if v <= 0.0), None)

    return {"compile_error": compile_error, "iterations": int(one.iterations),
            "updates_per_step": float(np.mean(counts)), "planned_lr": planned, "shared_lr": actual,
            "planned_zero": first_zero(planned), "shared_zero": first_zero(actual)}


# -- LSGAN on a sigmoid (the book) and on logits (the paper) ---------------------------------
def lsgan_gradients(scores=(-6.0, -3.0, 0.0, 3.0)) -> list[dict]:
    """The generator's LSGAN term ``(D - 1)^2`` and its gradient with respect to D's last pre-activation ``z``.

    The book's discriminator ends in a sigmoid, so its D is ``sigmoid(z)``;
    the paper's returns ``z`` itself. For each ``z`` (negative: D is sure
    the image is fake) returns both losses and both gradients (computed by
    TensorFlow), and the non-saturating BCE's gradient for comparison.
    """
    rows = []
    for score in scores:
        z = tf.Variable(float(score))
        with tf.GradientTape(persistent=True) as tape:
            book = tf.square(tf.sigmoid(z) - 1.0)
            paper = tf.square(z - 1.0)
            bce = -tf.math.log_sigmoid(z)
        rows.append({"pre-activation z": score, "book D = sigmoid(z)": float(tf.sigmoid(z)),
                     "book loss": float(book), "book gradient": float(tape.gradient(book, z)),
                     "paper loss": float(paper), "paper gradient": float(tape.gradient(paper, z)),
                     "BCE gradient": float(tape.gradient(bce, z))})
    return rows


# -- the image pool ----------------------------------------------------------------------------
def pool_ages(pool_size: int = 50, steps: int = 400, batch_size: int = 1, seed: int = 0) -> dict:
    """Query :class:`gancourse.nn.ImagePool` with images that carry the step they were made at, and measure
    what the discriminator would receive.

    Returns ``newest`` (share of the returned images made at that very step,
    after the pool has filled), ``mean_age`` / ``max_age`` of the returned
    older images (steps), ``ages`` (the age of every image returned after
    the pool filled) and ``fill_steps`` (steps until the pool is full).
    Every returned value is one that was given (checked: ``foreign``, the
    count of returned images that were never given, is 0).
    """
    from gancourse.nn import ImagePool

    if pool_size < 1 or steps < 1 or batch_size < 1:
        raise ValueError(f"pool_size, steps and batch_size must be >= 1, got {pool_size}, {steps}, {batch_size}")
    pool = ImagePool(pool_size, (1, 1, 1), seed=seed)
    fill_steps = -(-pool_size // batch_size)
    ages, foreign = [], 0
    for step in range(steps):
        made = np.full((batch_size, 1, 1, 1), float(step), np.float32)
        returned = np.asarray(pool.query(made)).reshape(-1)
        foreign += int(np.sum((returned != np.rint(returned)) | (returned < 0) | (returned > step)))
        if step >= fill_steps:
            ages.extend((step - returned).tolist())
    ages = np.asarray(ages)
    older = ages[ages > 0]
    return {"newest": float(np.mean(ages == 0)), "mean_age": float(older.mean()) if len(older) else 0.0,
            "max_age": int(older.max()) if len(older) else 0, "ages": ages, "fill_steps": fill_steps,
            "foreign": foreign}
