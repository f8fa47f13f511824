"""Chapter 07 (CycleGAN): the ablation study against a hidden ground truth, and the book's defects measured.

What the chapter computes that is not model code lives here: the book's
``InstanceNormalization(axis=1)`` rebuilt and compared with per-channel
instance norm, the book's loader (index-aligned pairing, flips frozen at load
time, the test split), one optimizer shared by three models, LSGAN through a
sigmoid, the image pool's ages, the study of the objective's terms (one traced
step for every arm, :class:`StudyCycleGAN`, including the discriminator wiring
of the book's second translation) with pix2pix on the true pairs as the paired
bound, its tables and statistics, and the chapter's figures.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gancourse import metrics, set_seed, stats
from gancourse.experiments import error_of
from gancourse.models import cyclegan
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
    out["book_other_size"] = error_of(lambda: book(larger), first_line=True)
    out["fixed_other_size"] = error_of(lambda: fixed(larger), first_line=True)
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
    all the dataset's images, how many test images (the folders the samples
    are shown from) are among them, how many images of the dataset it never
    trains on, and the chance that a B picture drawn at random from ``testB``
    (as the book's samples are) is one it trained on.
    """
    missing = sorted({"trainA", "trainB", "testA", "testB"} - set(sizes))
    if missing:
        raise ValueError(f"sizes lacks {', '.join(missing)}; give the four folders' file counts")
    total = sum(sizes[k] for k in ("trainA", "trainB", "testA", "testB"))
    book = book_pairing(sizes["testA"], sizes["testB"])
    book_a = min(sizes["testA"], sizes["testB"])
    rows = []
    for loader, a, b, test_a, test_b in (
            ("the book (testA/testB, B[i] beside A[i])", book_a, book["b_loaded"], book_a, book["b_loaded"]),
            ("unaligned loader on trainA/trainB", sizes["trainA"], sizes["trainB"], 0, 0)):
        rows.append({"loader": loader, "A images trained on": a, "B images trained on": b,
                     "share of the dataset": (a + b) / total,
                     "test images also trained on": f"{test_a} of A, {test_b} of B",
                     "images never trained on": total - a - b,
                     "chance a shown B was trained on": test_b / sizes["testB"]})
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
    compile_error = error_of(lambda: d_b.train_on_batch(x, y), first_line=True)

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


def adam_step_ratio(steps: int, beta_1: float = 0.5, beta_2: float = 0.999, updates=BOOK_UPDATES) -> dict:
    """How much larger Adam's steps are when its bias correction reads one counter shared by the book's models.

    Adam scales each step by ``sqrt(1 - beta_2^t) / (1 - beta_1^t)``. With
    one optimizer for every update of ``updates`` (in their order within a
    training step), the ``j``-th update of a model in training step ``k``
    reads ``t = len(updates) (k - 1) + position``; with an optimizer per
    model it would read that model's own count. Returns, per training step
    ``1..steps``, the ratio of the two factors for the ``generators`` and the
    largest over the discriminators' updates (``discriminators``).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    k = np.arange(1, steps + 1, dtype=np.float64)

    def factor(t):
        return np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)

    n, ratios = len(updates), {}
    for model in dict.fromkeys(u.split()[0] for u in updates):
        positions = [i + 1 for i, u in enumerate(updates) if u.split()[0] == model]
        own = len(positions)
        ratios[model] = np.max([factor(n * (k - 1) + p) / factor(own * (k - 1) + j + 1)
                                for j, p in enumerate(positions)], axis=0)
    if "generators" not in ratios:
        raise ValueError(f"updates must include the 'generators' update, got {updates}")
    others = [r for m, r in ratios.items() if m != "generators"]
    discriminators = np.max(others, axis=0) if others else np.ones_like(k)
    return {"generators": ratios["generators"], "discriminators": discriminators}


# -- LSGAN on a sigmoid (the book) and on logits (the paper) ---------------------------------
def lsgan_gradients(scores=(-6.0, -3.0, 0.0, 3.0)) -> list[dict]:
    """The generator's LSGAN term ``(D - 1)^2`` and its gradient with respect to D's last pre-activation ``z``.

    The book's discriminator ends in a sigmoid, so its D is ``sigmoid(z)``;
    the paper's returns ``z`` itself. For each ``z`` (negative: D is sure
    the image is fake) returns both losses and both gradients (computed by
    TensorFlow), and for comparison the gradients of the two log-losses on
    ``D = sigmoid(z)``: the minimax ``log(1 - D)`` (it saturates where D is
    sure of a fake) and the non-saturating ``-log D``.
    """
    rows = []
    for score in scores:
        z = tf.Variable(float(score))
        with tf.GradientTape(persistent=True) as tape:
            book = tf.square(tf.sigmoid(z) - 1.0)
            paper = tf.square(z - 1.0)
            bce = -tf.math.log_sigmoid(z)
            minimax = tf.math.log_sigmoid(-z)  # log(1 - sigmoid(z)), which the generator minimises
        rows.append({"pre-activation z": score, "book D = sigmoid(z)": float(tf.sigmoid(z)),
                     "book loss": float(book), "book gradient": float(tape.gradient(book, z)),
                     "paper loss": float(paper), "paper gradient": float(tape.gradient(paper, z)),
                     "minimax log(1 - D) gradient": float(tape.gradient(minimax, z)),
                     "non-saturating -log D gradient": float(tape.gradient(bce, z))})
    return rows


def oscillation(histories: dict, arms=("full CycleGAN", "no image pool"), keys=("d_loss", "g_adv")) -> list[dict]:
    """How much the adversarial losses still swing late in each run: per arm and key, the standard deviation
    of the second half of the logged curve, averaged over seeds (``per_seed`` keeps each seed's value)."""
    rows = []
    for arm in arms:
        for key in keys:
            per_seed = [float(np.std(np.asarray(run[key])[len(run[key]) // 2:])) for run in histories[arm]]
            rows.append({"arm": arm, "loss": key, "std of the second half": float(np.mean(per_seed)),
                         "per_seed": per_seed})
    return rows


def equilibrium_losses(cfg) -> dict:
    """``{"g_adv", "d_loss"}``: the CycleGAN's logged adversarial losses (as
    :class:`~gancourse.models.cyclegan.CycleGAN` weighs them: the generators'
    two ``mean (D - 1)^2`` terms summed, the two discriminators' LSGAN losses
    summed, doubled unless ``cfg.halve_d_loss``) when every discriminator
    output is 0.5, the value at which D cannot tell real from fake."""
    from gancourse import losses

    objective = losses.objective(cfg.objective)
    half = tf.fill((1, 4, 4, 1), 0.5)
    g_adv = 2 * 2.0 * float(objective.generator(half))
    d_loss = 2 * (1.0 if cfg.halve_d_loss else 2.0) * float(objective.discriminator(half, half))
    return {"g_adv": g_adv, "d_loss": d_loss}


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


# -- the ablation study: one traced step for every arm -----------------------------------------

ARMS = {
    "full CycleGAN": {},
    "no cycle loss": {"lambda_cycle": 0.0},
    "no identity loss": {"identity_weight": 0.0},
    "no image pool": {"pool": False},
}
"""The ablation's arms: changes of :class:`StudyCycleGAN`'s switches from the config's values."""

SECOND_TRANSLATION = {"second_translation": True}
"""The second translation's wiring: D_B is trained on the fake A images, so D_A never sees a fake."""

COLLAPSE_SPREAD = 0.25
"""A direction counts as collapsed when its outputs' spread (mean pairwise RMS distance) is below this
fraction of the true outputs' spread: the outputs are much closer to one another than the truths are."""


class StudyCycleGAN(cyclegan.CycleGAN):
    """A :class:`~gancourse.models.cyclegan.CycleGAN` whose ablation switches are variables, so one traced
    training step serves every arm of the study (tracing the four networks' step costs more than a short run).

    The switches: ``lambda_cycle`` and ``identity_weight`` (the weights of the
    generators' objective), ``pool`` (1: the discriminators see pooled fakes,
    0: the newest fakes) and ``second_translation`` (1: the discriminator
    update of the book's second translation, where D_B is trained on the fake
    A images and D_A on real A images only). With the config's values and
    ``second_translation=0`` a step is the model's own ``train_step`` (the
    unit tests compare the two); the only difference is that the identity
    terms are computed (and tracked) even at weight 0.

    Args:
        cfg: a CycleGAN config with an image pool (``pool_size >= 1``).
    """

    SWITCHES = ("lambda_cycle", "identity_weight", "pool", "second_translation")

    def __init__(self, cfg):
        if not cfg.pool_size:
            raise ValueError("StudyCycleGAN switches the image pool on and off: give the config a pool_size >= 1")
        super().__init__(cfg)
        self.switches = {k: tf.Variable(0.0, trainable=False, name=k) for k in self.SWITCHES}
        self.set_arm()
        self.compile()
        self.build_optimizers()
        self._fresh_optimizers = {g: [v.numpy() for v in opt.variables] for g, opt in self.optimizers.items()}
        self.step = tf.function(self.train_step)

    def set_arm(self, lambda_cycle: float | None = None, identity_weight: float | None = None, pool: bool = True,
                second_translation: bool = False) -> None:
        """Set the switches; the weights default to the config's."""
        values = {"lambda_cycle": self.cfg.lambda_cycle if lambda_cycle is None else lambda_cycle,
                  "identity_weight": self.cfg.identity_weight if identity_weight is None else identity_weight,
                  "pool": float(bool(pool)), "second_translation": float(bool(second_translation))}
        for key, value in values.items():
            self.switches[key].assign(float(value))

    def restart(self, weights: list, seed: int) -> None:
        """Start a run: the networks' ``weights`` (one list per network, in ``NETWORKS`` order), fresh
        optimizer state, empty pools, the random state and the metrics of ``seed``."""
        for net, values in zip(self.networks.values(), weights):
            net.set_weights(values)
        for group, opt in self.optimizers.items():
            for variable, value in zip(opt.variables, self._fresh_optimizers[group]):
                variable.assign(value)
        for i, pool in enumerate(self.pools.values()):
            pool.buffer.assign(tf.zeros_like(pool.buffer))
            pool.count.assign(0)
            pool.seed_generator.state.assign(tf.cast([seed, i + 1], pool.seed_generator.state.dtype))
        self.seed_generator.state.assign(tf.cast([seed, 0], self.seed_generator.state.dtype))
        for tracker in self.metrics:
            tracker.reset_state()

    def loss_weights(self) -> tuple:
        """The generators' loss weights read from the switches (the model's objective, one trace for every arm)."""
        return self.switches["lambda_cycle"], self.switches["identity_weight"]

    def discriminator_step(self, a, b, fake_a, fake_b):
        """The model's discriminator update (LSGAN, pooled fakes), or the second translation's wiring."""
        s = self.switches
        fake_a = tf.stop_gradient(s["pool"] * self.pools["pool_a"](fake_a) + (1.0 - s["pool"]) * fake_a)
        fake_b = tf.stop_gradient(s["pool"] * self.pools["pool_b"](fake_b) + (1.0 - s["pool"]) * fake_b)
        scale = 1.0 if self.cfg.halve_d_loss else 2.0
        wrong = s["second_translation"]

        def loss_fn():
            real_a, judged_fake_a = self.d_a(a, training=True), self.d_a(fake_a, training=True)
            real_b, judged_fake_b = self.d_b(b, training=True), self.d_b(fake_b, training=True)
            right = (self.objective.discriminator(real_a, judged_fake_a)
                     + self.objective.discriminator(real_b, judged_fake_b))
            # LSGAN's D loss is 0.5 mean (D(real) - 1)^2 + 0.5 mean D(fake)^2. In the second translation D_A keeps
            # only its real half, and D_B gets a third term: the fake A images, labelled fake.
            fake_a_as_b = self.d_b(fake_a, training=True)
            swapped = (0.5 * tf.reduce_mean(tf.square(real_a - 1.0))
                       + self.objective.discriminator(real_b, judged_fake_b)
                       + 0.5 * tf.reduce_mean(tf.square(fake_a_as_b)))
            return scale * ((1.0 - wrong) * right + wrong * swapped)

        return self.update("discriminators", loss_fn)


def initial_weights(cfg, seed: int) -> list:
    """The four networks' initial weights for ``seed`` (``NETWORKS`` order), built as the model builds them."""
    set_seed(seed)
    nets = [cyclegan.build_generator(cfg, "g_ab"), cyclegan.build_generator(cfg, "g_ba"),
            cyclegan.build_discriminator(cfg, "d_a"), cyclegan.build_discriminator(cfg, "d_b")]
    return [net.get_weights() for net in nets]


def run_batches(cfg, data, seed: int, epochs: int) -> list:
    """Every ``(a, b)`` batch of a run of ``epochs`` epochs over ``data``, from the model's unaligned pipeline
    (shuffled and flipped by ``seed``): every arm of a seed sees the same batches."""
    ds = cyclegan.batches(cfg.replace(seed=seed), data)
    return [(a, b) for _ in range(epochs) for a, b in ds]


def train_run(model: StudyCycleGAN, batches: list, steps_per_epoch: int, preview=None, log_every: int = 5) -> dict:
    """Train ``model`` (after :meth:`StudyCycleGAN.restart` and :meth:`StudyCycleGAN.set_arm`) on ``batches``.

    Returns ``history`` (``{metric: means over every log_every steps}``, the
    model's metrics) and, when ``preview = (a, b)`` is given, ``grids``:
    ``{epoch: model.preview(preview)}`` before training and after every epoch.
    """
    history = {k: [] for k in model.metric_names}
    grids = {0: model.preview(preview)} if preview is not None else {}
    for i, batch in enumerate(batches, 1):
        logs = model.step(batch)
        if i % log_every == 0:
            for key in history:
                history[key].append(float(logs[key]))
            for tracker in model.metrics:
                tracker.reset_state()
        if preview is not None and i % steps_per_epoch == 0:
            grids[i // steps_per_epoch] = model.preview(preview)
    return {"history": history, "grids": grids}


# -- scores against the hidden truth ------------------------------------------------------------
DIRECTIONS = {"a2b": "photo -> painting (G)", "b2a": "painting -> photo (F)"}


def per_image_scores(predictions: np.ndarray, targets: np.ndarray) -> dict:
    """``{"l1", "colour", "psnr", "ssim"}``: one value per image. ``l1``, ``psnr`` and ``ssim`` as
    :func:`gancourse.metrics.paired_scores` averages them (mean absolute error; PSNR and SSIM with the
    peak-to-peak range 2 of ``[-1, 1]``); ``colour``: the mean absolute difference of the per-channel means
    (the tint of the image, whatever its layout)."""
    p, t = np.asarray(predictions, np.float32), np.asarray(targets, np.float32)
    if p.shape != t.shape or p.ndim != 4:
        raise ValueError(f"predictions and targets must both be (n, H, W, C) of one shape, got {p.shape} and {t.shape}")
    return {"l1": np.abs(p - t).mean(axis=(1, 2, 3)).astype(np.float64),
            "colour": np.abs(p.mean(axis=(1, 2)) - t.mean(axis=(1, 2))).mean(axis=1).astype(np.float64),
            "psnr": np.asarray(tf.image.psnr(p, t, max_val=2.0), np.float64),
            "ssim": np.asarray(tf.image.ssim(p, t, max_val=2.0), np.float64)}


def spread(outputs: np.ndarray, truths: np.ndarray) -> dict:
    """How varied a direction's outputs are, against the true outputs for the same inputs.

    ``ratio``: the mean pairwise RMS distance of ``outputs`` over that of
    ``truths`` (:func:`gancourse.metrics.diversity`): 1 when the outputs
    vary as much as the truths, 0 when every input gets the same output;
    ``collapsed``: ``ratio <`` :data:`COLLAPSE_SPREAD`; ``duplicates``: the
    share of outputs with a near-duplicate among the others.
    """
    out, true = metrics.diversity(outputs), metrics.diversity(truths)
    ratio = out["mean_distance"] / max(true["mean_distance"], 1e-12)
    return {"ratio": float(ratio), "collapsed": bool(ratio < COLLAPSE_SPREAD), "duplicates": out["duplicate_rate"]}


def evaluate(a2b, b2a, test) -> dict:
    """Score two translators (functions of image batches) against the held-out truth.

    ``test = (a, a_true_b, b, b_true_a)``. For each direction returns the
    per-image scores of :func:`per_image_scores` against the truth, the
    per-image ``cycle`` error (``|F(G(a)) - a|`` for ``a2b``, ``|G(F(b)) -
    b|`` for ``b2a``, mean absolute per image) and the :func:`spread` of the
    outputs, and ``outputs``: the translations.
    """
    a, a_true_b, b, b_true_a = (np.asarray(x, np.float32) for x in test)
    g_a, f_b = a2b(a), b2a(b)
    out = {}
    for key, source, fake, truth, back in (("a2b", a, g_a, a_true_b, b2a), ("b2a", b, f_b, b_true_a, a2b)):
        scores = per_image_scores(fake, truth)
        scores["cycle"] = np.abs(back(fake) - source).mean(axis=(1, 2, 3)).astype(np.float64)
        out[key] = {**scores, "spread": spread(fake, truth), "outputs": fake}
    return out


def discriminator_scores(model: cyclegan.CycleGAN, test) -> dict:
    """Mean raw outputs of the two discriminators on held-out real images and on the generators' fakes
    (LSGAN targets: 1 for real, 0 for fake): ``d_a_real``, ``d_a_fake`` (D_A on F(b)), ``d_b_real``,
    ``d_b_fake`` (D_B on G(a))."""
    a, _, b, _ = (np.asarray(x, np.float32) for x in test)
    fake_a, fake_b = model.translate(b, "b2a", batch_size=256), model.translate(a, "a2b", batch_size=256)
    out = {}
    for key, net, x in (("d_a_real", model.d_a, a), ("d_a_fake", model.d_a, fake_a), ("d_b_real", model.d_b, b),
                        ("d_b_fake", model.d_b, fake_b)):
        per_image = np.asarray(net(x, training=False), np.float64).mean(axis=(1, 2, 3))
        out[key], out[f"{key}_images"] = float(per_image.mean()), per_image
    return out


def separation(scores: dict, net: str = "d_a", alpha: float = 0.05) -> dict:
    """Does discriminator ``net`` (``"d_a"`` or ``"d_b"``) score real held-out images higher than the fakes it
    judges? Welch's t-test of the per-image mean scores of :func:`discriminator_scores` (different images on
    the two sides, so unpaired): the :func:`gancourse.stats.compare` row of the fakes against the real images,
    whose ``verdict`` is ``"lower"`` when the fakes score detectably lower."""
    if f"{net}_real_images" not in scores:
        raise ValueError(f"no per-image scores of {net!r}: give a discriminator_scores() dict and 'd_a' or 'd_b'")
    return stats.compare({"real": scores[f"{net}_real_images"], "fake": scores[f"{net}_fake_images"]},
                         higher_is_better=True, alpha=alpha, words=("higher", "lower"))[0]


# -- the study ------------------------------------------------------------------------------------
BASELINE = "full CycleGAN"
PAIRED = "pix2pix on the true pairs"
COPY = "copy the input"


def study(cfg, seeds=(0,), *, epochs: int = 2, n_train: int | None = None, train=None, test=None,
          arms: dict | None = None, second_translation: bool = True, preview_n: int = 4, log_every: int = 5,
          pix2pix_cfg=None) -> dict:
    """Train every arm once per seed on the unpaired data and score it against the hidden truth.

    Args:
        cfg: the CycleGAN config of every arm (with a pool). ``epochs`` epochs
            of its unaligned batches per run; a config with a decay has it
            scaled to the run (the second half decays, as in the paper).
        seeds: one run per seed and arm; a seed fixes the initial weights (the
            same for every arm) and the batches (the same for every arm).
        n_train: training images per domain (default all).
        train, test: ``(a, b)`` and ``(a, a_true_b, b, b_true_a)``; default the
            offline data at ``cfg.image_size``.
        arms: ``{name: set_arm changes}`` (default :data:`ARMS`; the first is
            the baseline, and its first seed keeps grids over training).
        second_translation: also train the book's second translation's wiring.
        log_every: steps between the points of the loss curves.
        pix2pix_cfg: when given, a pix2pix config of the same image size: one
            pix2pix per direction trained on the TRUE pairs of the same photos,
            for as many steps of the same batch size: the paired upper bound.

    Returns:
        A dict: ``results`` (``{arm: [evaluate() per seed]}``, with the
        reference :data:`COPY`, the input as its own translation (one entry
        per seed, all alike), and :data:`PAIRED` when trained), ``histories``
        (``{arm: [{metric: values every log_every steps}] per seed}``),
        ``paired_histories`` (``{PAIRED: [{direction: training L1 every
        log_every steps}] per seed}`` when trained), ``discriminators``
        (``{arm: [discriminator_scores() per seed]}``), ``grids`` (the
        baseline's first run: ``{epoch: preview}``), ``preview`` (its inputs),
        ``steps``, ``steps_per_epoch``, ``log_every``, ``seeds``, ``cfg``
        (the config the arms ran) and ``n_train``.
    """
    from gancourse.data import unpaired

    arms = dict(ARMS if arms is None else arms)
    if second_translation:
        arms["second translation's wiring"] = SECOND_TRANSLATION
    train = unpaired.offline_unpaired("train", cfg.image_size) if train is None else train
    test = unpaired.offline_unpaired("test", cfg.image_size) if test is None else test
    if n_train is not None:
        train = (train[0][:n_train], train[1][:n_train])
    steps_per_epoch = max(len(train[0]), len(train[1])) // cfg.batch_size
    if steps_per_epoch < 1 or steps_per_epoch % log_every:
        raise ValueError(f"an epoch of {steps_per_epoch} steps must be a positive multiple of log_every={log_every}")
    cfg = cfg.replace(epochs=epochs, decay_epochs=epochs // 2 if cfg.decay_epochs else 0,
                      steps_per_epoch=steps_per_epoch)
    model = StudyCycleGAN(cfg)
    preview = (np.asarray(test[0][:preview_n]), np.asarray(test[2][:preview_n]))
    out = {"results": {}, "histories": {}, "paired_histories": {}, "discriminators": {}, "grids": {},
           "preview": preview,
           "steps": steps_per_epoch * epochs, "steps_per_epoch": steps_per_epoch, "log_every": log_every,
           "seeds": tuple(seeds), "cfg": cfg, "n_train": n_train}
    for seed in seeds:
        weights, batches = initial_weights(cfg, seed), run_batches(cfg, train, seed, epochs)
        for i, (name, changes) in enumerate(arms.items()):
            model.restart(weights, seed)
            model.set_arm(**changes)
            keep = preview if (i == 0 and seed == seeds[0]) else None
            run = train_run(model, batches, steps_per_epoch, keep, log_every)
            if keep is not None:
                out["grids"] = run["grids"]
            out["histories"].setdefault(name, []).append(run["history"])
            out["results"].setdefault(name, []).append(
                evaluate(lambda x: model.translate(x, "a2b", batch_size=256),
                         lambda x: model.translate(x, "b2a", batch_size=256), test))
            out["discriminators"].setdefault(name, []).append(discriminator_scores(model, test))
    out["results"][COPY] = [evaluate(lambda x: x, lambda x: x, test)] * len(seeds)  # the same for every seed
    if pix2pix_cfg is not None:
        out["results"][PAIRED], out["paired_histories"][PAIRED] = paired_upper_bound(
            pix2pix_cfg.replace(epochs=epochs, batch_size=cfg.batch_size), seeds, test, n_train, log_every)
    return out


PRESET_ROWS = {"paper": "paper preset", "unet": "unet preset", "book": "book preset"}
"""The presets trained by :func:`preset_study`, as the chapter's table names them."""


def preset_config(study_cfg, preset: str):
    """``preset``'s config at the study's scale: the image size, widths, residual blocks, batch size, epochs and
    epoch length of ``study_cfg`` (a :func:`study` config), with the preset's own objective weights, norms,
    padding, discriminator, pool and schedule (the decay over the second half when the preset has one)."""
    if preset not in PRESET_ROWS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESET_ROWS)}")
    own = cyclegan.config(preset)
    keep = {k: getattr(study_cfg, k) for k in ("image_size", "channels", "base_filters", "d_filters", "res_blocks",
                                                "batch_size", "epochs", "steps_per_epoch", "dataset", "jitter")}
    return own.replace(profile=study_cfg.profile, **keep,
                       decay_epochs=study_cfg.epochs // 2 if own.decay_epochs else 0)


def preset_study(study_out: dict, presets=("unet", "book"), train=None, test=None) -> dict:
    """Train the CycleGAN presets ``presets`` (the package's model, its own ``train_step``) at the scale of a
    :func:`study` run and score them against the hidden truth, beside that study's full CycleGAN, which is the
    ``paper`` preset at that scale.

    Every preset's run of a seed sees the study's batches of that seed (the same images, order and flips: the
    study's ``n_train`` images per domain) for as many steps; the seed also fixes its initial weights. Other
    random draws differ from the study's run (the discriminators' initial weights after a different generator,
    the pools' draws), so on one seed a preset's verdict mixes its recipe with that variation. Returns a dict: ``results`` (``{row: [evaluate()
    per seed]}``, the rows named by :data:`PRESET_ROWS`, ``paper`` taken from the study, and the study's
    :data:`COPY` reference), ``histories``
    (``{row: [history per seed]}``), ``learning`` (``{row: [still improving its L1 terms before any decay,
    per seed]}``), ``params`` (``{row: (G, D) parameter counts}``), ``configs`` and ``seconds``
    (``{row: training seconds over every seed}``, the paper row's from none: it is the study's arm).
    """
    import time

    from gancourse.data import unpaired

    study_cfg, seeds, log_every = study_out["cfg"], study_out["seeds"], study_out["log_every"]
    train = unpaired.offline_unpaired("train", study_cfg.image_size) if train is None else train
    test = unpaired.offline_unpaired("test", study_cfg.image_size) if test is None else test
    if study_out.get("n_train") is not None:
        train = (train[0][:study_out["n_train"]], train[1][:study_out["n_train"]])
    paper = PRESET_ROWS["paper"]
    out = {"results": {paper: study_out["results"][BASELINE]}, "histories": {paper: study_out["histories"][BASELINE]},
           "configs": {paper: study_cfg}, "seconds": {}, "params": {}, "learning": {}}
    batches = {seed: run_batches(study_cfg, train, seed, study_cfg.epochs) for seed in seeds}
    if any(len(b) != study_out["steps"] for b in batches.values()):
        raise ValueError(f"the training data give {len(batches[seeds[0]])} steps, the study ran "
                         f"{study_out['steps']}: pass the study's training images (or none, for the offline data)")
    for preset in presets:
        cfg, row = preset_config(study_cfg, preset), PRESET_ROWS[preset]
        out["configs"][row], started = cfg, time.perf_counter()
        for seed in seeds:
            set_seed(seed)
            model = cyclegan.CycleGAN(cfg.replace(seed=seed))
            model.compile()
            model.build_optimizers()
            model.step = tf.function(model.train_step)
            run = train_run(model, batches[seed], study_cfg.steps_per_epoch, log_every=log_every)
            out["histories"].setdefault(row, []).append(run["history"])
            out["results"].setdefault(row, []).append(
                evaluate(lambda x: model.translate(x, "a2b", batch_size=256),
                         lambda x: model.translate(x, "b2a", batch_size=256), test))
        out["seconds"][row] = time.perf_counter() - started
    out["results"][COPY] = study_out["results"][COPY]
    for row, cfg in out["configs"].items():
        out["params"][row] = (cyclegan.build_generator(cfg).count_params(),
                              cyclegan.build_discriminator(cfg).count_params())
        out["learning"][row] = still_learning({"cfg": cfg, "steps_per_epoch": study_cfg.steps_per_epoch,
                                               "log_every": log_every, "histories": {row: out["histories"][row]}})[row]
    return out


def still_falling(values, tolerance: float = 0.02) -> bool:
    """Whether a training curve is still falling at its end: a straight line fitted to its second half drops,
    over that half, by more than ``tolerance`` of the half's mean level. Such a run has not converged."""
    v = np.asarray(values, np.float64)
    if len(v) < 8:
        raise ValueError(f"a convergence check needs at least 8 points of the curve, got {len(v)}")
    half = v[len(v) // 2:]
    slope = np.polyfit(np.arange(len(half)), half, 1)[0]
    return bool(-slope * (len(half) - 1) > tolerance * abs(half.mean()))


def objective_curve(history: dict) -> np.ndarray:
    """The part of a CycleGAN arm's generator objective that does not move with its discriminators:
    ``g_loss - g_adv``, the weighted L1 terms (``lambda_cycle * cycle + identity_weight * identity``, with the
    arm's own weights, so an arm without a term is judged on what it does minimise)."""
    return np.asarray(history["g_loss"], np.float64) - np.asarray(history["g_adv"], np.float64)


def still_learning(study: dict, tolerance: float = 0.02) -> dict:
    """``{arm: [bool per seed]}``: whether each run was still improving its objective's L1 terms
    (:func:`objective_curve`) when its learning rate began to decay (:func:`still_falling` on the constant-rate
    part; the whole run without a decay). A decaying rate flattens every curve, converged or not, so only the
    part before the decay can tell. The paired bound, when :func:`study` trained it, is judged on its
    generators' L1 curves over the whole run (it has no decay): arm ``PAIRED``, one bool per seed that is
    True when either direction's curve is still falling."""
    cfg = study["cfg"]
    constant_steps = (cfg.epochs - cfg.decay_epochs) * study["steps_per_epoch"]
    points = constant_steps // study["log_every"]
    out = {arm: [still_falling(objective_curve(run)[:points], tolerance) for run in runs]
           for arm, runs in study["histories"].items()}
    for arm, runs in study.get("paired_histories", {}).items():
        out[arm] = [any(still_falling(curve, tolerance) for curve in run.values()) for run in runs]
    return out


STUDY_METRICS = {"l1": (False, ("lower", "higher")), "colour": (False, ("lower", "higher")),
                 "psnr": (True, ("higher", "lower")), "ssim": (True, ("higher", "lower")),
                 "cycle": (False, ("lower", "higher"))}
"""metric -> (higher is better, verdict words) of the study's table."""


def study_samples(results: dict, metric: str, direction: str, unit: str = "images") -> dict:
    """``{arm: values}`` of one metric and direction: per held-out image of the first seed (``unit="images"``)
    or per seed, each seed's mean over the images (``"seeds"``)."""
    if unit not in ("images", "seeds"):
        raise ValueError(f"unit must be 'images' or 'seeds', got {unit!r}")
    if unit == "images":
        return {arm: runs[0][direction][metric] for arm, runs in results.items()}
    return {arm: [float(np.mean(r[direction][metric])) for r in runs] for arm, runs in results.items()}


NOT_RANKED = "collapsed, not ranked"
"""The verdict of an arm whose outputs collapsed in a direction: it is flagged, not compared."""


def collapsed_in(results: dict, arm: str, direction: str) -> bool:
    """Whether any run (seed) of ``arm`` collapsed in ``direction`` (:func:`spread`)."""
    return any(r[direction]["spread"]["collapsed"] for r in results[arm])


def study_table(results: dict, unit: str = "images", baseline: str = BASELINE, metric_names=tuple(STUDY_METRICS),
                references=(), alpha: float = 0.05) -> tuple[list[dict], list[dict]]:
    """The ablation table: per arm and direction, each metric's mean, 95% interval and verdict against ``baseline``.

    Every (metric, direction) is a family of comparisons of every arm with
    the baseline (:func:`gancourse.stats.compare`), and all the families are
    Holm-corrected together (:func:`gancourse.stats.correct_together`). With
    ``unit="images"`` every arm is scored on the same held-out images, so the
    test is paired (the t-test on per-image differences); with ``"seeds"``
    each seed's mean is one sample and the test is Welch's. The references
    (:data:`COPY` included) are tested like the arms; ``references`` names
    arms to show but not test. An arm that collapsed in a direction
    (:func:`collapsed_in`) is flagged there, :data:`NOT_RANKED`, and left out
    of that direction's comparisons (a baseline that collapsed leaves the
    direction untested). The ``collapsed`` column counts the runs (seeds)
    whose outputs' :func:`spread` fell below :data:`COLLAPSE_SPREAD`.

    Returns:
        ``(rows, comparisons)``: table rows (``arm``, ``direction``, one
        ``"mean [low, high] (verdict)"`` cell per metric, ``spread`` and
        ``collapsed``) and every compare row, with ``metric`` and
        ``direction`` added.
    """
    if unit not in ("images", "seeds"):
        raise ValueError(f"unit must be 'images' or 'seeds', got {unit!r}")
    tested = [arm for arm in results if arm not in references]
    if baseline not in tested:
        raise ValueError(f"no arm named {baseline!r}; arms: {', '.join(results)}")
    names = [baseline] + [a for a in tested if a != baseline]
    groups, verdicts = {}, {}
    for direction in DIRECTIONS:
        ranked = [n for n in names if not collapsed_in(results, n, direction)]
        for name in names:
            if name != baseline and name not in ranked:
                verdicts.update({(name, metric, direction): NOT_RANKED for metric in metric_names})
        if baseline not in ranked or len(ranked) < 2:
            continue
        for metric in metric_names:
            higher, words = STUDY_METRICS[metric]
            samples = study_samples({n: results[n] for n in ranked}, metric, direction, unit)
            rows = stats.compare(samples, higher_is_better=higher, alpha=alpha, words=words, paired=unit == "images")
            for row in rows:
                row.update(metric=metric, direction=direction)
            groups[f"{metric} {direction}"] = (rows, higher, words)
    if groups:
        stats.correct_together(groups, alpha=alpha)
    comparisons = [row for rows, _, _ in groups.values() for row in rows]
    for row in comparisons:
        verdicts[row["variant"], row["metric"], row["direction"]] = row["verdict"]
    table = []
    for arm in names + [r for r in references if r in results]:
        for direction in DIRECTIONS:
            row = {"arm": arm, "direction": DIRECTIONS[direction]}
            for metric in metric_names:
                values = study_samples({arm: results[arm]}, metric, direction, unit)[arm]
                if len(values) > 1 and np.ptp(values) > 0:
                    mean, low, high = stats.mean_interval(values)
                    cell = f"{mean:.3f} [{low:.3f}, {high:.3f}]"
                else:
                    cell = f"{float(np.mean(values)):.3f}"
                verdict = verdicts.get((arm, metric, direction))
                row[metric] = cell if verdict is None else f"{cell} ({verdict})"
            spreads = [r[direction]["spread"] for r in results[arm]]
            row["spread"] = float(np.mean([s["ratio"] for s in spreads]))
            row["collapsed"] = f"{sum(s['collapsed'] for s in spreads)} of {len(spreads)}"
            table.append(row)
    return table, comparisons


def verdict(comparisons: list[dict], results: dict, arm: str, metric: str, direction: str) -> str:
    """The verdict of ``arm`` against the baseline on ``metric`` in ``direction`` from :func:`study_table`'s
    comparisons; :data:`NOT_RANKED` for an arm that collapsed there (``"not tested"`` when the baseline did)."""
    found = [r["verdict"] for r in comparisons
             if r["variant"] == arm and r["metric"] == metric and r["direction"] == direction]
    if found:
        return found[0]
    if arm in results and collapsed_in(results, arm, direction):
        return NOT_RANKED
    if arm not in results:
        raise ValueError(f"no arm named {arm!r}; arms: {', '.join(results)}")
    return "not tested"


METRIC_NAMES = {"l1": "L1", "colour": "colour error", "psnr": "PSNR", "ssim": "SSIM", "cycle": "cycle error"}
"""How the verdict sentences name the study's metrics."""


def _mean_of(results: dict, arm: str, metric: str, direction: str) -> float:
    return float(np.mean([np.mean(r[direction][metric]) for r in results[arm]]))


def verdict_text(comparisons: list[dict], results: dict, arm: str, metric: str, direction: str,
                 baseline: str = BASELINE) -> str:
    """:func:`verdict`, and for an arm that collapsed in ``direction`` the numbers behind the flag: its
    outputs' spread as a fraction of the truth's and its mean ``metric`` beside the baseline's."""
    found = verdict(comparisons, results, arm, metric, direction)
    if found != NOT_RANKED:
        return found
    ratio = float(np.mean([r[direction]["spread"]["ratio"] for r in results[arm]]))
    return (f"collapsed (spread {ratio:.2f} of the truth's, below {COLLAPSE_SPREAD}; {METRIC_NAMES[metric]} "
            f"{_mean_of(results, arm, metric, direction):.3f} against the {baseline}'s "
            f"{_mean_of(results, baseline, metric, direction):.3f}; not ranked)")


def verdict_summary(comparisons: list[dict], results: dict, checks: dict, baseline: str = BASELINE) -> str:
    """Markdown: per direction, one line per arm of ``checks`` (``{arm: metrics}``) with its computed verdicts
    against ``baseline`` (:func:`verdict_text`). When the baseline itself collapsed in a direction, that
    direction gets one sentence instead: no arm is compared there."""
    blocks = []
    for direction, label in DIRECTIONS.items():
        lines = []
        if collapsed_in(results, baseline, direction):
            ratio = float(np.mean([r[direction]["spread"]["ratio"] for r in results[baseline]]))
            lines.append(f"- The {baseline} collapsed in this direction (its outputs' spread is {ratio:.2f} of the "
                         f"truth's, below {COLLAPSE_SPREAD}); no arm is compared.")
        else:
            for arm, metric_list in checks.items():
                if arm in results:
                    said = "; ".join(
                        f"{METRIC_NAMES[m]} {verdict_text(comparisons, results, arm, m, direction, baseline)}"
                        for m in metric_list)
                    lines.append(f"- {arm}: {said}.")
        blocks.append(f"**{label}**, each arm's score against the {baseline}'s:\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def copy_sentence(comparisons: list[dict], results: dict, learning: dict, baseline: str = BASELINE) -> str:
    """One computed sentence on where the run stands: the baseline's L1 to the truth against copying the input
    (the :data:`COPY` verdicts of :func:`study_table`, per direction) and whether its runs were still learning
    (:func:`still_learning`)."""
    beaten, behind = [], []
    for direction, label in DIRECTIONS.items():
        found = verdict(comparisons, results, COPY, "l1", direction)
        (behind if found == "lower" else beaten if found == "higher" else []).append(label)
    still = sum(learning.get(baseline, []))
    runs = len(learning.get(baseline, []))
    text = []
    if behind:
        text.append(f"copying the input is detectably closer to the truth than the {baseline} in "
                    f"{' and '.join(behind)}: there the model has not yet learned the translation")
    if beaten:
        text.append(f"the {baseline} is detectably closer to the truth than copying in {' and '.join(beaten)}")
    if not behind and not beaten:
        text.append(f"no difference between the {baseline} and copying the input is detected in either direction")
    text.append(f"{still} of its {runs} run(s) were still learning when the learning rate began to decay"
                if runs else "its convergence was not checked")
    sentence = "; ".join(text)
    return sentence[0].upper() + sentence[1:] + "."


def against_copy(results: dict, unit: str = "images", metric: str = "l1") -> str:
    """Markdown: per direction, which runs of ``results`` (a :func:`study` or :func:`preset_study` results dict
    with :data:`COPY`) are detectably further from the truth than copying the input, which are closer, and which
    differ undetectably, on ``metric`` (:func:`study_table` with :data:`COPY` as the baseline: the same test,
    Holm-corrected over both directions). Collapsed runs are named apart, not ranked."""
    if COPY not in results:
        raise ValueError(f"the results have no {COPY!r} reference; arms: {', '.join(results)}")
    higher, _ = STUDY_METRICS[metric]
    _, comparisons = study_table(results, unit=unit, baseline=COPY, metric_names=(metric,))
    worse, better = ("lower", "higher") if higher else ("higher", "lower")
    lines = []
    for direction, label in DIRECTIONS.items():
        found = {}
        for arm in results:
            if arm != COPY:
                said = verdict(comparisons, results, arm, metric, direction)
                found.setdefault({worse: "further from the truth than copying", better: "closer than copying",
                                  NOT_RANKED: "collapsed, not ranked"}.get(said, said), []).append(arm)
        lines.append(f"- {label}: " + "; ".join(f"{what}: {', '.join(arms)}" for what, arms in found.items()) + ".")
    return (f"**{METRIC_NAMES[metric]} to the truth against copying the input** ({unit} as the unit, "
            f"Holm-corrected over both directions):\n\n" + "\n".join(lines))


def paired_upper_bound(cfg, seeds, test, n_train: int | None = None, log_every: int = 5) -> tuple[list, list]:
    """pix2pix trained on the true pairs of the offline data, one generator per direction.

    Returns ``(results, curves)``: per seed, the :func:`evaluate` dict (its
    cycle error composes the two generators) and ``{direction: the training
    L1 error, averaged over every log_every steps}``. Uses chapter 08's
    study trainer (one traced step for both directions).
    """
    from gancourse.data import unpaired
    from gancourse.experiments import ch08
    from gancourse.models import pix2pix

    trainer = ch08._Trainer(cfg)  # noqa: SLF001 - chapter 08's study trainer
    a, a_true_b, b, b_true_a = (np.asarray(x, np.float32) for x in test)
    results, curves = [], []
    for seed in seeds:
        generators, curve = {}, {}
        for direction in ("a2b", "b2a"):
            data = unpaired.offline_paired("train", cfg.image_size, n=n_train, direction=direction)
            set_seed(seed)
            initial = (pix2pix.build_generator(cfg).get_weights(), pix2pix.build_discriminator(cfg).get_weights())
            batches = ch08._run_batches(cfg, seed, data, False)  # noqa: SLF001 - chapter 08's study batches
            trainer.run(seed, [], cfg.l1_weight, cfg.gan_weight, initial)  # fresh weights, optimizers, seeds
            weights = tf.constant(cfg.l1_weight, tf.float32), tf.constant(cfg.gan_weight, tf.float32)
            l1 = [float(trainer.step(source, target, *weights)) for source, target in batches]
            usable = len(l1) // log_every * log_every
            curve[direction] = np.asarray(l1[:usable]).reshape(-1, log_every).mean(axis=1).tolist()
            generators[direction] = trainer.generator.get_weights()

        def translator(direction):
            def run(x):
                trainer.generator.set_weights(generators[direction])
                return np.asarray(trainer.generator(x, training=False))
            return run

        results.append(evaluate(translator("a2b"), translator("b2a"), (a, a_true_b, b, b_true_a)))
        curves.append(curve)
    return results, curves


def study_settings(profile: str) -> dict:
    """The study's size on a profile: ``seeds``, ``epochs``, ``n_train`` (images per domain), ``unit`` of the
    statistics (``"images"``: the held-out images of one seed; ``"seeds"``: per-seed means) and the config
    changes of the CycleGAN arms and of the pix2pix bound (the offline data at 32 px on every profile: only
    it has a hidden truth)."""
    if profile == "smoke":
        return {"seeds": (0,), "epochs": 2, "n_train": 160, "unit": "images", "log_every": 2,
                "cyclegan": {"res_blocks": 2, "batch_size": 8}, "pix2pix": {"base_filters": 8, "batch_size": 8}}
    if profile in ("standard", "full"):
        return {"seeds": (0, 1, 2), "epochs": 20 if profile == "standard" else 100, "n_train": None,
                "unit": "seeds", "log_every": 10,
                "cyclegan": {"res_blocks": 6, "batch_size": 4, "base_filters": 32, "d_filters": 32},
                "pix2pix": {"base_filters": 32, "batch_size": 4}}
    raise ValueError(f"unknown profile {profile!r}; choose smoke, standard or full")


def describe_presets(image_size: int = 256) -> list[dict]:
    """One row per CycleGAN preset at ``image_size`` (the book's own size for ``book``): the networks'
    parameter counts and the discriminator's output grid and receptive field, built from the configs."""
    from gancourse.nn import translation

    rows = []
    for name in cyclegan.PRESETS:
        cfg = cyclegan.config(name)
        size = cfg.image_size if name == "book" else image_size
        cfg = cfg.replace(image_size=size)
        g, d = cyclegan.build_generator(cfg), cyclegan.build_discriminator(cfg)
        blocks = translation.resnet_blocks_for(size) if cfg.res_blocks is None else cfg.res_blocks
        rows.append({"preset": name, "size": size, "generator": cfg.generator,
                     "res blocks": blocks if cfg.generator == "resnet" else "-",
                     "G params": g.count_params(), "D params": d.count_params(),
                     "D output": "x".join(map(str, d.output_shape[1:3])),
                     "receptive field": translation.receptive_field(d), "identity weight": cfg.identity_weight,
                     "pool": cfg.pool_size, "decay epochs": f"{cfg.decay_epochs} of {cfg.epochs}"})
    return rows


# -- figures -------------------------------------------------------------------------------------
def cycle_grid(preview: np.ndarray, index: int = 0) -> np.ndarray:
    """The book's 2x3 layout of pair ``index`` of a ``model.preview`` array ``(6, n, H, W, C)``: the rows
    ``A -> G(A) -> F(G(A))`` and ``B -> F(B) -> G(F(B))``, as ``(2, 3, H, W, C)``."""
    p = np.asarray(preview)
    if p.ndim != 5 or p.shape[0] != 6:
        raise ValueError(f"preview must be (6, n, H, W, C) (a, G(a), F(G(a)), b, F(b), G(F(b))), got {p.shape}")
    return np.stack([p[:3, index], p[3:, index]])


def draw_grids(grids: dict, index: int = 0, title: str = ""):
    """One 2x3 grid (:func:`cycle_grid`) per kept epoch, side by side."""
    import matplotlib.pyplot as plt

    from gancourse import viz

    epochs = sorted(grids)
    fig, axes = plt.subplots(1, len(epochs), figsize=(2.6 * len(epochs), 2.2), squeeze=False)
    for ax, epoch in zip(axes[0], epochs):
        viz.show_grid(cycle_grid(grids[epoch], index), ax=ax, title=f"epoch {epoch}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def draw_curves(histories: dict, keys, log_every: int, ax, title: str = "", ylabel: str = ""):
    """Training curves of the first seed of each arm in ``histories`` (``{arm: [history per seed]}``) for
    the metrics ``keys``, against optimizer steps, with the y axis labelled ``ylabel``."""
    for arm, runs in histories.items():
        for key in keys:
            values = runs[0][key]
            ax.plot(np.arange(1, len(values) + 1) * log_every, values, label=f"{arm}: {key}" if len(keys) > 1 else arm)
    ax.set_xlabel("step")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
