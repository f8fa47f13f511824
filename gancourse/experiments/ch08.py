"""Chapter 08: the pix2pix presets described, the seeded ablation study, the inference switches, the
book's batch-1 and [0, 1] defects, and the drawings of the U-Net and of a PatchGAN's patch."""

from __future__ import annotations

import functools
from urllib.parse import urlparse

import keras
import numpy as np
import tensorflow as tf

from gancourse import losses, metrics, set_seed, stats, training
from gancourse.data import paired
from gancourse.data.pipeline import with_channels
from gancourse.experiments import error_of
from gancourse.models.pix2pix import (PRESETS, Pix2Pix, Pix2PixConfig, batches, build_discriminator, build_generator,
                                      config, dataset)
from gancourse.nn import translation


BOOK_DATASET_URL = "http://efrogans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
"""The facades archive's address as the source book prints it (the host is misspelt)."""


@functools.lru_cache(maxsize=16)
def generator_params(variant: str = "paper", image_size: int = 256, channels: int = 3,
                     bottleneck_norm: bool = False, skips: bool = True) -> int:
    """Parameter count of a :func:`~gancourse.nn.translation.unet_generator`, built (and cached by its arguments)."""
    return translation.unet_generator(variant, image_size, channels, channels, bottleneck_norm=bottleneck_norm,
                                      skips=skips).count_params()


def quoted_counts() -> list[dict]:
    """The parameter counts that the sources print, each computed by building the network they describe.

    Rows: ``network``, ``source`` and ``params``: the paper's U-Net as the
    package builds it (no norm at the 1x1 bottleneck) and with the bottleneck
    BatchNorm of the TensorFlow tutorial, the book's U-Net with and without
    its bottleneck BatchNorm, and the book's discriminator (its per-patch
    network and the whole model with minibatch discrimination), all at 256 px.
    """
    book_d = translation.book_image_discriminator(256, 1)
    per_patch = keras.Model(book_d.input, book_d.get_layer("patch_softmax").output)
    return [
        {"network": "paper U-Net, no norm at the 1x1 bottleneck", "source": "the package (as the paper's code)",
         "params": generator_params("paper", 256, 3, False)},
        {"network": "paper U-Net with BatchNorm at the 1x1 bottleneck", "source": "the TensorFlow tutorial",
         "params": generator_params("paper", 256, 3, True)},
        {"network": "book U-Net with BatchNorm at the 1x1 bottleneck", "source": "the source book, as printed",
         "params": generator_params("book", 256, 1, True)},
        {"network": "book U-Net, no norm at the 1x1 bottleneck", "source": "the package's book preset",
         "params": generator_params("book", 256, 1, False)},
        {"network": "book discriminator, per-patch network", "source": "the source book's table",
         "params": per_patch.count_params()},
        {"network": "book discriminator with minibatch discrimination", "source": "the source book's code",
         "params": book_d.count_params()},
    ]


def describe_presets(names=PRESETS, image_size: int = 256) -> list[dict]:
    """One row per preset at full size: parameter counts, D output grid and receptive field, optimiser."""
    rows = []
    for name in names:
        cfg = config(name).replace(image_size=image_size)
        d = build_discriminator(cfg)
        rows.append({"preset": name, "channels": cfg.channels, "generator": cfg.generator,
                     "G params": generator_params(cfg.generator, image_size, cfg.channels, cfg.bottleneck_norm,
                                                  cfg.skips),
                     "D params": d.count_params(),
                     "D output": "x".join(map(str, d.output_shape[1:3])),
                     "receptive field": translation.receptive_field(d),
                     "Adam": f"{cfg.learning_rate:g}, beta_1 {cfg.beta_1:g}", "batch": cfg.batch_size,
                     "epochs": cfg.epochs, "jitter": cfg.jitter})
    return rows


def batch_one_exhibit(image_size: int = 32, channels: int = 1, base_filters: int = 8, n: int = 4,
                      seed: int = 0) -> dict:
    """Measure the book's two batch-size-1 defects, in training mode, on ``n`` offline pairs.

    Returns a dict of floats:

    * ``bottleneck_spread_bug`` / ``bottleneck_spread_fixed``: the largest
      standard deviation, over the ``n`` inputs (each run as a batch of 1), of
      any channel of the 1x1 bottleneck activation of the book's U-Net with and
      without its bottleneck BatchNorm. 0 means the bottleneck says the same
      thing for every input.
    * ``bottleneck_grad_bug`` / ``bottleneck_grad_fixed``: the norm of the L1
      loss's gradient with respect to the bottleneck convolution's kernel.
    * ``book_d_spread_batch1``: the largest difference between the book
      discriminator's outputs for different images fed one at a time;
      ``book_d_spread_batchn`` the same images fed as one batch of ``n``.
    * ``mbd_min_batch1`` / ``mbd_max_batch1``: the range of the minibatch
      features over single-image batches (each is ``exp(0) = 1``).
    """
    set_seed(seed)
    inputs, targets = paired.offline_pairs("test", image_size, n=n, seed=seed)
    inputs, targets = with_channels(inputs, channels), with_channels(targets, channels)
    depth = len(translation.encoder_widths(image_size, base_filters))
    out = {}
    for label, norm in (("bug", True), ("fixed", False)):
        g = translation.unet_generator("book", image_size, channels, channels, base_filters, bottleneck_norm=norm)
        probe = keras.Model(g.input, [g.get_layer(f"down{depth}_act").output, g.outputs[0]])
        kernel = g.get_layer(f"down{depth}_conv").kernel
        codes, grads = [], []
        for i in range(n):
            with tf.GradientTape() as tape:
                code, fake = probe(inputs[i:i + 1], training=True)
                loss = tf.reduce_mean(tf.abs(targets[i:i + 1] - fake))
            codes.append(np.asarray(code).reshape(-1))
            grads.append(float(tf.norm(tape.gradient(loss, kernel))))
        out[f"bottleneck_spread_{label}"] = float(np.std(np.stack(codes), axis=0).max())
        out[f"bottleneck_grad_{label}"] = float(np.max(grads))
    d = translation.book_image_discriminator(image_size, channels, base_filters)
    singles = np.concatenate([np.asarray(d(targets[i:i + 1], training=True)) for i in range(n)])
    together = np.asarray(d(targets, training=True))
    out["book_d_spread_batch1"] = float(np.ptp(singles, axis=0).max())
    out["book_d_spread_batchn"] = float(np.ptp(together, axis=0).max())
    mbd = keras.Model(d.input, d.get_layer("minibatch_disc").output)
    features = np.concatenate([np.asarray(mbd(targets[i:i + 1], training=True)) for i in range(n)])
    out["mbd_min_batch1"], out["mbd_max_batch1"] = float(features.min()), float(features.max())
    return out


ABLATION = {"L1 only": {"gan_weight": 0.0}, "cGAN only": {"l1_weight": 0.0}, "L1 + cGAN": {}}


def evaluate(model: Pix2Pix, inputs: np.ndarray, targets: np.ndarray, training: bool = False) -> dict:
    """:func:`gancourse.metrics.paired_scores` of the model's translations of ``inputs`` against ``targets``."""
    return metrics.paired_scores(model.translate(inputs, training=training), targets)


def ablation(cfg: Pix2PixConfig, variants: dict | None = None, train_data=None, test_data=None,
             trained: dict | None = None) -> tuple[list[dict], dict]:
    """Train one model per objective and score each on held-out pairs.

    Args:
        cfg: the base config; each variant overrides some of its fields
            (default :data:`ABLATION`: L1 only, cGAN only, L1 + cGAN).
        train_data, test_data: ``(inputs, targets)``; default the preset's
            train and test splits.
        trained: models already trained for some variants (``{name: model}``),
            used as they are instead of training again.

    Returns:
        ``(rows, models)``: one row per variant (``objective`` and the scores of
        :func:`evaluate`), with an ``identity`` row first (the input copied to
        the output) as the floor any model must beat; ``models`` maps the
        variant names to the trained models.
    """
    variants = ABLATION if variants is None else variants
    x_train, y_train = train_data if train_data is not None else dataset(cfg, "train")
    x_test, y_test = test_data if test_data is not None else dataset(cfg, "test")
    models = dict(trained or {})
    rows = [{"objective": "identity (input as output)", **metrics.paired_scores(x_test, y_test)}]
    for name, changes in variants.items():
        if name not in models:
            models[name] = training.train(cfg.replace(**changes), data=(x_train, y_train)).model
        rows.append({"objective": name, **evaluate(models[name], x_test, y_test)})
    return rows, models


# -- the seeded ablation study -------------------------------------------------
STUDY_VARIANTS = {
    "L1 + cGAN": {},
    "L1 only": {"gan_weight": 0.0},
    "cGAN only": {"l1_weight": 0.0},
    "encoder-decoder, L1 + cGAN": {"skips": False},
    "book's [0, 1] targets, L1 + cGAN": {"unit_range": True},
}
"""The study's variants: config changes, plus ``unit_range`` (inputs and targets scaled to ``[0, 1]``, the
source book's convention, for the same ``tanh`` generator)."""


def _to_unit(images):
    return ((np.asarray(images, np.float32) + 1.0) / 2.0).astype(np.float32)


class _Trainer:
    """One generator and discriminator pair, traced once and retrained from fresh weights for every run.

    The loss weights are arguments of the traced step, so the L1-only,
    cGAN-only and full objectives share one graph: the generator minimises
    ``w_gan * adversarial + w_l1 * L1`` (with ``w_gan = 0`` the discriminator
    still trains but nothing reaches the generator from it), then the
    discriminator takes its step on the same generated batch, as in
    :meth:`gancourse.models.pix2pix.Pix2Pix.train_step`.
    """

    def __init__(self, cfg: Pix2PixConfig):
        self.cfg = cfg
        self.generator, self.discriminator = build_generator(cfg), build_discriminator(cfg)
        self.g_opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
        self.d_opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
        self.g_opt.build(self.generator.trainable_variables)
        self.d_opt.build(self.discriminator.trainable_variables)
        self._fresh_opt = [[v.numpy() for v in opt.variables] for opt in (self.g_opt, self.d_opt)]
        self.objective = losses.objective(cfg.objective)
        self.step = tf.function(self._step)

    def _step(self, source, target, l1_weight, gan_weight):
        """One generator and one discriminator update; returns the batch's L1 error (the objective's term
        that tells whether a run has converged)."""
        def generator_loss():
            fake = self.generator(source, training=True)
            l1 = tf.reduce_mean(tf.abs(target - fake))
            adversarial = self.objective.generator(training.steps.judge(self.discriminator, source, fake))
            return l1_weight * l1 + gan_weight * adversarial, fake, l1

        _, fake, l1 = training.steps.apply(self.g_opt, self.generator.trainable_variables, generator_loss)
        training.steps.discriminator_update(self.discriminator, self.d_opt, target, fake, source=source,
                                            objective=self.objective)
        return l1

    def run(self, seed: int, data: list, l1_weight: float, gan_weight: float, initial) -> keras.Model:
        """Train from the weights ``initial`` (generator's, discriminator's) on the list of batches ``data``."""
        set_seed(seed)
        dropouts = [layer for layer in self.generator.layers if isinstance(layer, keras.layers.Dropout)]
        for i, layer in enumerate(dropouts):  # the run's dropout masks depend on its seed only
            state = layer.seed_generator.state
            state.assign(tf.cast([seed, i + 1], state.dtype))
        self.generator.set_weights(initial[0])
        self.discriminator.set_weights(initial[1])
        for opt, fresh in zip((self.g_opt, self.d_opt), self._fresh_opt):
            for variable, value in zip(opt.variables, fresh):
                variable.assign(value)
        weights = tf.constant(l1_weight, tf.float32), tf.constant(gan_weight, tf.float32)
        for source, target in data:
            self.step(source, target, *weights)
        return self.generator


def _run_batches(cfg: Pix2PixConfig, seed: int, data, unit: bool) -> list:
    """Every batch of a run, all epochs: shuffled and jittered by ``seed``, scaled to ``[0, 1]`` when ``unit``."""
    ds = batches(cfg.replace(seed=seed), data)
    out = [(s, t) for _ in range(cfg.epochs) for s, t in ds]
    return [((s + 1.0) / 2.0, (t + 1.0) / 2.0) for s, t in out] if unit else out


def seed_study(cfg: Pix2PixConfig, seeds=(0, 1, 2), train_data=None, test_data=None, variants: dict | None = None,
               n_show: int = 8) -> dict:
    """Train every variant once per seed and score each run on the held-out pairs.

    Args:
        cfg: the base config (its size, epochs and batch size are the study's).
        seeds: one run per seed and variant; a seed fixes the initial weights
            (the same for every variant that shares a generator), the data
            order and jitter (the same batches for every variant) and the
            dropout masks.
        train_data, test_data: ``(inputs, targets)`` in ``[-1, 1]``.
        variants: ``{name: changes}`` (default :data:`STUDY_VARIANTS`).
        n_show: how many held-out outputs of each variant's first seed to keep.

    Returns:
        A dict with ``"scores"`` (variant to its paired_scores per seed),
        ``"outputs"`` (variant to its first seed's outputs on the first n_show
        test inputs) and ``"clipped"`` (per seed, the fraction of output values
        below 0 of a unit-range variant, which the book's saver writes as
        black). Unit-range
        outputs are mapped back to ``[-1, 1]`` before scoring, so every
        variant is scored in the same units.
    """
    variants = STUDY_VARIANTS if variants is None else variants
    x_train, y_train = train_data if train_data is not None else dataset(cfg, "train")
    x_test, y_test = test_data if test_data is not None else dataset(cfg, "test")
    trainers, initial, runs = {}, {}, {}
    out = {"scores": {name: [] for name in variants}, "outputs": {}, "clipped": []}
    for name, changes in variants.items():
        changes = dict(changes)
        unit = changes.pop("unit_range", False)
        run_cfg = cfg.replace(**{k: v for k, v in changes.items() if k not in ("l1_weight", "gan_weight")})
        key = (run_cfg.generator, run_cfg.skips)
        if key not in trainers:
            trainers[key] = _Trainer(run_cfg)
        trainer = trainers[key]
        source = _to_unit(x_test) if unit else x_test
        for seed in seeds:
            if (key, seed) not in initial:
                set_seed(seed)
                initial[key, seed] = (build_generator(run_cfg).get_weights(),
                                      build_discriminator(run_cfg).get_weights())
            if (seed, unit) not in runs:  # every variant of a seed sees the same batches
                runs[seed, unit] = _run_batches(cfg, seed, (x_train, y_train), unit)
            g = trainer.run(seed, runs[seed, unit], changes.get("l1_weight", cfg.l1_weight),
                            changes.get("gan_weight", cfg.gan_weight), initial[key, seed])
            fake = np.concatenate([np.asarray(g(source[i:i + 64], training=False))
                                   for i in range(0, len(source), 64)])
            if unit:
                out["clipped"].append(float(np.mean(fake < 0)))
                fake = 2.0 * fake - 1.0
            out["scores"][name].append(metrics.paired_scores(fake, y_test))
            if name not in out["outputs"]:
                out["outputs"][name] = fake[:n_show]
    return out


STUDY_METRICS = {"l1": (False, ("lower", "higher")), "sharpness": (True, ("sharper", "blurrier")),
                 "ssim": (True, ("higher", "lower"))}
"""metric -> (higher is better, verdict words) for :func:`study_rows`."""


def study_rows(scores: dict, baseline: str = "L1 + cGAN", metric_names=("l1", "sharpness", "ssim"),
               alpha: float = 0.05) -> tuple[list[dict], dict]:
    """A table of the study: per variant, each metric's mean and 95% interval and its verdict against ``baseline``.

    Each metric is one family of comparisons (every variant against the
    baseline), tested with :func:`gancourse.stats.compare` (Welch, Holm).

    Returns:
        ``(rows, comparisons)``: ``rows`` for :func:`gancourse.viz.markdown_table`
        (the baseline first, its verdicts ``"baseline"``) and ``comparisons``
        ``{metric: compare rows}``.
    """
    names = [baseline] + [n for n in scores if n != baseline]
    comparisons, rows = {}, [{"variant": n, "seeds": len(scores[n])} for n in names]
    for metric in metric_names:
        higher, words = STUDY_METRICS[metric]
        samples = {n: [s[metric] for s in scores[n]] for n in names}
        comparisons[metric] = stats.compare(samples, higher_is_better=higher, alpha=alpha, words=words)
        verdict = {r["variant"]: r["verdict"] for r in comparisons[metric]}
        for row, name in zip(rows, names):
            mean, low, high = stats.mean_interval(samples[name])
            row[metric] = f"{mean:.3f} [{low:.3f}, {high:.3f}]"
            row[f"{metric} vs {baseline}"] = verdict.get(name, "baseline")
    return rows, comparisons


# -- test-time switches: batch norm and dropout separately --------------------------
def inference_modes(model: Pix2Pix, inputs: np.ndarray, targets: np.ndarray, batch_sizes=(1,)) -> list[dict]:
    """Separate batch norm's effect from dropout's at test time.

    For batch norm from the moving averages or from the statistics of the
    test batch (at each of ``batch_sizes``; 1 is the paper's test-time setting,
    where the statistics are those of the one image), with dropout off and
    on, returns a row with the mean absolute change from plain inference
    (moving averages, no dropout), the mean absolute difference between two
    runs (nonzero only with dropout) and the mean L1 error against
    ``targets``.
    """
    plain = model.translate(inputs)
    settings = [("moving averages", "moving", None)] + [(f"batch statistics, batch {b}", "batch", b)
                                                        for b in batch_sizes]
    rows = []
    for label, norm, batch in settings:
        for dropout in (False, True):
            kwargs = {"batch_norm": norm, "dropout": dropout, "batch_size": batch or 16}
            first = model.translate(inputs, **kwargs)
            second = model.translate(inputs, **kwargs) if dropout else first
            rows.append({"batch norm": label, "dropout": "on" if dropout else "off",
                         "change from plain inference": float(np.mean(np.abs(first - plain))),
                         "two runs differ by": float(np.mean(np.abs(first - second))),
                         "L1 to target": float(np.mean(np.abs(first - targets)))})
    return rows


# -- the source book's discriminator: softmax on one-hot labels, single-class batches ------
def softmax_pair_losses(gaps=(-30.0, -5.0, 0.0, 5.0)) -> list[dict]:
    """The book's 2-way softmax D with BCE on one-hot labels against one logit with BCE from logits.

    For a real image with logit gap ``g = logit_real - logit_fake``, the book's
    loss is Keras's ``binary_crossentropy([0, 1], softmax([0, g]))`` and the
    course's ``BCE(1, sigmoid(g))`` from the logit. Returns one row per gap
    with both losses and their derivatives with respect to ``g``.
    """
    rows = []
    for gap in gaps:
        g = tf.Variable([[0.0, float(gap)]])
        with tf.GradientTape(persistent=True) as tape:
            book = keras.losses.binary_crossentropy(tf.constant([[0.0, 1.0]]), tf.nn.softmax(g))[0]
            course = keras.losses.binary_crossentropy(tf.constant([[1.0]]), g[:, 1:] - g[:, :1], from_logits=True)[0]
        rows.append({"logit gap": gap, "book loss": float(book), "course loss": float(course),
                     "book gradient": float(tape.gradient(book, g)[0, 1]),
                     "course gradient": float(tape.gradient(course, g)[0, 1])})
    return rows


def single_class_batches(discriminator: keras.Model, source, real, fake) -> dict:
    """What batch norm in a training-mode D does to batches of only real or only fake pairs.

    Returns the largest per-channel difference between the mean activations
    of real and fake pairs after D's first batch-norm layer when both are in
    one batch (``norm_gap_mixed``) and when each is a batch of its own, as
    the book alternates them (``norm_gap_separate``: batch norm re-centres
    each batch, so it is 0 up to rounding), and D's mean probability for real
    and fake pairs in each case.
    """
    norm = next(layer for layer in discriminator.layers if isinstance(layer, keras.layers.BatchNormalization))
    probe = keras.Model(discriminator.inputs, [norm.output, discriminator.outputs[0]])
    moving = [(v, v.numpy()) for v in discriminator.non_trainable_variables]
    n = len(real)
    both, out_both = probe([np.concatenate([source, source]), np.concatenate([real, fake])], training=True)
    real_alone, out_real = probe([source, real], training=True)
    fake_alone, out_fake = probe([source, fake], training=True)
    for variable, value in moving:  # leave the model as it was
        variable.assign(value)

    def gap(a, b):
        return float(np.max(np.abs(np.mean(a, axis=(0, 1, 2)) - np.mean(b, axis=(0, 1, 2)))))

    prob = lambda logits: float(np.mean(tf.sigmoid(logits)))  # noqa: E731
    return {"norm_gap_mixed": gap(both[:n], both[n:]), "norm_gap_separate": gap(real_alone, fake_alone),
            "d_real_mixed": prob(out_both[:n]), "d_fake_mixed": prob(out_both[n:]),
            "d_real_separate": prob(out_real), "d_fake_separate": prob(out_fake)}


# -- Mastering PyTorch's registration bugs, in Keras terms ---------------------------
class UnregisteredWeights(keras.layers.Layer):
    """Exhibit: a weight held as a bare ``tf.Variable``; Keras does not track it (like a parameter in a plain
    Python list of a PyTorch module), so no optimizer or checkpoint ever sees it."""

    def __init__(self, units: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel = None

    def call(self, x):
        if self.kernel is None:
            self.kernel = tf.Variable(tf.random.normal((x.shape[-1], self.units), stddev=0.02))
        return tf.matmul(x, self.kernel)


class LayerBuiltInCall(keras.layers.Layer):
    """Exhibit: a layer created inside ``call``, as Mastering PyTorch creates the discriminator's last conv inside
    ``forward``: every call uses a fresh, randomly initialised layer that nothing trains."""

    def call(self, x):
        return keras.layers.Dense(1)(x)


def disc_conv_block_as_printed(filters: int, norm: bool = True) -> list:
    """Exhibit: Mastering PyTorch's discriminator block in Keras terms, with its two bugs. The argument is
    ``norm`` but the body reads ``normalization`` (a NameError on the first call), and the block returns a
    plain list of layers, which the source's ``forward`` then calls as if it were a layer."""
    block = [keras.layers.Conv2D(filters, 4, 2, padding="same")]
    if normalization:  # noqa: F821 - the source's typo, kept on purpose: the argument is called norm
        block.append(keras.layers.BatchNormalization())
    return block


def _error_of(fn) -> str:
    """:func:`gancourse.experiments.error_of` for an exhibit that must raise."""
    message = error_of(fn)
    if not message:
        raise AssertionError(f"{fn} was expected to raise")
    return message


def registration_exhibits(seed: int = 0) -> dict:
    """Measure the exhibits of Mastering PyTorch's bugs and the missing sigmoid.

    Returns ``unregistered_trainable`` (trainable variables Keras sees in
    :class:`UnregisteredWeights` after a call: 0), ``in_call_trainable`` and
    ``in_call_change`` (the largest difference between two calls of
    :class:`LayerBuiltInCall` on the same input), ``name_error`` (what
    :func:`disc_conv_block_as_printed` raises), ``list_call_error`` (what
    calling a block's list of layers raises) and ``sequential_shape`` (the
    output shape once the list is wrapped in ``keras.Sequential``, the fix),
    and ``raw_score_losses``: Keras's probability BCE for a real label on raw
    scores 3 and -2 (what a D without its sigmoid feeds a probability loss).
    """
    set_seed(seed)
    x = tf.random.normal((4, 8))
    unregistered = UnregisteredWeights()
    unregistered(x)
    built_in_call = LayerBuiltInCall()
    first, second = built_in_call(x), built_in_call(x)
    pair = np.zeros((1, 32, 32, 6), np.float32)  # an input and a target, stacked on channels
    block = [keras.layers.Conv2D(8, 4, 2, padding="same"), keras.layers.LeakyReLU(0.2)]  # the fixed block's list
    raw = [float(keras.losses.binary_crossentropy(tf.constant([1.0]), tf.constant([s]))) for s in (3.0, -2.0)]
    return {"unregistered_trainable": len(unregistered.trainable_variables),
            "in_call_trainable": len(built_in_call.trainable_variables),
            "in_call_change": float(np.max(np.abs(np.asarray(first) - np.asarray(second)))),
            "name_error": _error_of(lambda: disc_conv_block_as_printed(64)),
            "list_call_error": _error_of(lambda: block(pair)),
            "sequential_shape": tuple(keras.Sequential(block)(pair).shape),
            "raw_score_losses": raw}


def book_host() -> tuple[str, str]:
    """``(the book's host, the course's host)`` of the facades archive."""
    return urlparse(BOOK_DATASET_URL).hostname, urlparse(paired.PIX2PIX_URL.format(name="facades")).hostname


# -- drawings --------------------------------------------------------------------
def patch_window(discriminator: keras.Model, row: int, col: int) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)``, exclusive: the input pixels logit ``(row, col)`` of a PatchGAN depends on.

    Measured, not computed from the layers: the gradient of that one logit
    with respect to the input pair (inference mode) is nonzero exactly on
    its receptive field, clipped at the image border.
    """
    size = discriminator.inputs[0].shape[1]
    pair = [tf.Variable(tf.random.normal((1, size, size, i.shape[-1]), seed=1)) for i in discriminator.inputs]
    with tf.GradientTape() as tape:
        logit = discriminator(pair, training=False)[0, row, col, 0]
    grads = tape.gradient(logit, pair)
    touched = np.any(np.concatenate([np.abs(np.asarray(g[0])) for g in grads], axis=-1) > 0, axis=-1)
    rows, cols = np.flatnonzero(touched.any(axis=1)), np.flatnonzero(touched.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def draw_patches(ax, image: np.ndarray, windows: dict, title: str = ""):
    """Draw ``image`` (``[-1, 1]``) with one rectangle per ``{label: (top, left, bottom, right)}`` window."""
    from matplotlib.patches import Rectangle

    from gancourse import viz

    ax.imshow(viz.to_uint8(image))
    colours = ("yellow", "cyan", "magenta", "lime")
    for (label, (top, left, bottom, right)), colour in zip(windows.items(), colours):
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, lw=2,
                               edgecolor=colour))
        ax.text(left + 2, top + 2, label, color=colour, fontsize=8, va="top",
                bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "edgecolor": "none"})
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax


def draw_unet(ax, generator: keras.Model, title: str = ""):
    """Draw a U-Net from its built layers (:func:`~gancourse.nn.translation.unet_layout`): one box per block at
    the height of its resolution, labelled ``side x side x channels``; skip connections as grey arrows."""
    from matplotlib.patches import FancyBboxPatch

    side = generator.inputs[0].shape[1]
    blocks = [{"name": "input", "side": side, "channels": generator.inputs[0].shape[-1], "skip_from": None}]
    blocks += translation.unet_layout(generator)
    depth = sum(b["name"].startswith("down") for b in blocks)
    where, x = {}, 0
    for block in blocks:  # the level of a block is log2 of its side: 1x1 at the bottom
        where[block["name"]] = (x, int(round(np.log2(block["side"]))))
        x += 1
    colours = {"input": "#dddddd", "down": "#9ecae1", "up": "#fdae6b", "output": "#a1d99b"}
    for block in blocks:
        bx, level = where[block["name"]]
        kind = "down" if block["name"].startswith("down") else "up" if block["name"].startswith("up") else block["name"]
        ax.add_patch(FancyBboxPatch((bx - 0.42, level - 0.38), 0.84, 0.76, boxstyle="round,pad=0.02",
                                    fc=colours[kind], ec="black", lw=0.8))
        ax.text(bx, level, f"{block['name']}\n{block['side']}x{block['side']}\nx{block['channels']}",
                ha="center", va="center", fontsize=7)
        if block["skip_from"]:
            sx, sl = where[block["skip_from"]]
            ax.annotate("", xy=(bx - 0.44, level), xytext=(sx + 0.44, sl),
                        arrowprops={"arrowstyle": "->", "color": "grey", "lw": 1})
    for a, b in zip(blocks, blocks[1:]):
        (xa, la), (xb, lb) = where[a["name"]], where[b["name"]]
        ax.annotate("", xy=(xb - 0.3, lb + (0.3 if lb < la else -0.3)), xytext=(xa + 0.3, la),
                    arrowprops={"arrowstyle": "->", "lw": 1.2})
    ax.set_xlim(-0.6, len(blocks) - 0.4)
    ax.set_ylim(-0.6, depth + 0.6)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax
