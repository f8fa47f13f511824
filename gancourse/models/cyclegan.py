"""CycleGAN: unpaired image-to-image translation with two generators, two discriminators and cycle consistency.

Domain A (photos, say) and domain B (paintings) come as two unpaired
streams. ``G = g_ab`` maps A to B and ``F = g_ba`` maps B to A; ``D_B =
d_b`` judges real B against ``G(a)`` and ``D_A = d_a`` real A against
``F(b)``. The generators minimise together

    ``adv(D_B(G(a))) + adv(D_A(F(b)))
    + lambda_cycle * (|F(G(a)) - a| + |G(F(b)) - b|)
    + identity_weight * (|F(a) - a| + |G(b) - b|)``

(every ``|.|`` the mean absolute error over pixels, ``adv(s) = mean (s -
1)^2``: LSGAN), and the discriminators minimise ``mean (D(real) - 1)^2 +
mean D(fake)^2`` on real images and on fakes drawn from an image pool,
halved as in the paper (``halve_d_loss``). ``lambda_cycle=0``,
``identity_weight=0`` and ``pool_size=0`` give the ablations.

Presets (``config(name)``):

``book`` (default)
    The source book's networks with its bugs fixed: ResNet generator, width
    32, 6 residual blocks with BatchNorm (momentum 0.9, epsilon 1e-5),
    affine per-channel instance norm elsewhere, zero padding (1,971,747
    parameters at 128 px); its discriminator of four stride-2 convolutions
    and a stride-1 one ending in a sigmoid (7x7 outputs, 2,766,529), trained
    with a squared error on the sigmoid; Adam(2e-4, beta_1 0.5), identity
    weight 1, no pool, no decay, batch 1, 500 epochs, 128 px, no jitter.
``paper``
    Zhu et al. as in the reference implementation: width 64, reflection
    padding, instance norm without affine parameters, 9 residual blocks at
    256 px (6 at 128), 11,378,179 parameters; the unconditional 70x70
    PatchGAN shared with pix2pix, with instance norm (2,764,737); LSGAN on
    logits, ``lambda_cycle`` 10, identity ``0.5 * lambda = 5``, a pool of 50,
    Adam(2e-4, 0.5), batch 1, 200 epochs of which the last 100 decay the
    learning rate linearly to 0; jitter (resize 286, crop 256).
``unet``
    ``paper`` with the TensorFlow tutorial's generator instead: the pix2pix
    U-Net with affine instance norm (54,413,955 parameters at 256 px; the
    tutorial also normalises the 1x1 bottleneck, which erases it, and has
    1,024 more). Only the generator changes, so it compares the two
    generators.

The smoke profile trains every preset on ``offline_unpaired`` at 32 px
(:func:`gancourse.data.unpaired.offline_unpaired`: photo crops and paintings
of other crops, with the true counterparts of held-out images kept for
evaluation), widths 8, 2 residual blocks, a few epochs of batch 8;
``standard`` keeps the full networks on the real data for a few epochs.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse import data, losses
from gancourse.config import TrainingConfig, as_config, choice, non_negative, positive
from gancourse.data import unpaired
from gancourse.nn import ImagePool, translation
from gancourse.training import AdversarialModel
from gancourse.training.optim import LinearDecay, epoch_length

#: The registered unpaired datasets (:mod:`gancourse.data.unpaired`), the offline one with a hidden ground truth.
DATASETS = tuple(name for name, spec in data.REGISTRY.items() if spec.kind == "unpaired")
OFFLINE = "offline_unpaired"
GENERATORS = ("resnet", "unet")
DISCRIMINATORS = ("book", "paper")
DIRECTIONS = ("a2b", "b2a")
SMOKE_WIDTH = 8
SMOKE_EPOCHS = 3
STANDARD_EPOCHS = 5


@dataclasses.dataclass(frozen=True)
class CycleGANConfig(TrainingConfig):
    """Configuration of a :class:`CycleGAN` (see the module docstring).

    ``res_blocks=None`` follows the image size
    (:func:`gancourse.nn.translation.resnet_blocks_for`). ``decay_epochs``:
    the last epochs of ``epochs`` over which the learning rate falls linearly
    to 0, per optimizer step; ``steps_per_epoch=0`` takes the epoch length
    from the training data when ``fit()`` starts.
    """

    dataset: str = choice("monet2photo", DATASETS)
    image_size: int = positive(256)
    channels: int = choice(3, (1, 3))
    generator: str = choice("resnet", GENERATORS)
    base_filters: int = positive(64)
    res_blocks: int | None = None
    res_norm: str = choice("instance", translation.RESNET_NORMS)
    padding: str = choice("reflect", translation.RESNET_PADDINGS)
    affine_norm: bool = False
    discriminator: str = choice("paper", DISCRIMINATORS)
    d_filters: int = positive(64)
    objective: str = choice("lsgan", ("lsgan",), "LSGAN: on the book D's sigmoid output, on the paper D's logits")
    lambda_cycle: float = non_negative(10.0)
    identity_weight: float = non_negative(5.0, "weight of each identity L1 term (the paper: 0.5 * lambda_cycle)")
    halve_d_loss: bool = True
    pool_size: int = non_negative(50)
    decay_epochs: int = non_negative(0)
    steps_per_epoch: int = non_negative(0, "optimizer steps per epoch for the decay; 0: from the data")
    jitter: bool = True
    steps_per_execution: int = positive(8)  # as pix2pix (bench cyclegan, CPU smoke: 64.4 vs 62.1 img/s at 1)

    KIND = "cyclegan"
    PRESETS = {
        "book": dict(image_size=128, base_filters=32, res_norm="batch", padding="zero", affine_norm=True,
                     discriminator="book", identity_weight=1.0, halve_d_loss=False, pool_size=0, epochs=500,
                     batch_size=1, jitter=False),
        "paper": dict(epochs=200, decay_epochs=100, batch_size=1),
        "unet": dict(generator="unet", epochs=200, decay_epochs=100, batch_size=1),
    }

    def check(self) -> None:
        if self.decay_epochs > self.epochs:
            raise ValueError(f"CycleGANConfig.decay_epochs={self.decay_epochs} must be <= epochs={self.epochs}")
        if self.res_blocks is not None and self.res_blocks < 0:
            raise ValueError(f"CycleGANConfig.res_blocks={self.res_blocks} must be >= 0 (or None: by image size)")

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            epochs = min(self.epochs, SMOKE_EPOCHS)
            return {"dataset": OFFLINE, "image_size": 32, "epochs": epochs, "base_filters": SMOKE_WIDTH,
                    "d_filters": SMOKE_WIDTH, "batch_size": max(self.batch_size, 8),
                    "decay_epochs": round(self.decay_epochs * epochs / self.epochs)}
        if profile_name == "standard":
            epochs = min(self.epochs, STANDARD_EPOCHS)
            return {"epochs": epochs, "decay_epochs": round(self.decay_epochs * epochs / self.epochs)}
        return {}

    def decay_schedule(self, group: str, steps_per_epoch: int | None = None) -> LinearDecay | None:
        """``group``'s learning rate as a :class:`~gancourse.training.optim.LinearDecay` in optimizer steps:
        constant for ``epochs - decay_epochs`` epochs of ``steps_per_epoch`` steps (default: the config's,
        or 1 until :meth:`CycleGAN.set_steps_per_epoch` sets it), then linearly to 0; ``None`` without decay."""
        if not self.decay_epochs:
            return None
        steps = steps_per_epoch or self.steps_per_epoch or 1
        return LinearDecay(self.learning_rate_for(group), (self.epochs - self.decay_epochs) * steps,
                           self.decay_epochs * steps)


PRESETS = CycleGANConfig.preset_names()
config = CycleGANConfig.preset


def build_generator(cfg: CycleGANConfig, name: str = "generator") -> keras.Model:
    """One of the preset's two generators (both have this architecture)."""
    if cfg.generator == "unet":
        return translation.unet_generator("paper", cfg.image_size, cfg.channels, cfg.channels, cfg.base_filters,
                                          norm="instance", name=name)
    return translation.resnet_generator(cfg.image_size, cfg.channels, cfg.base_filters, cfg.res_blocks,
                                        padding=cfg.padding, res_norm=cfg.res_norm, affine=cfg.affine_norm,
                                        name=name)


def build_discriminator(cfg: CycleGANConfig, name: str = "discriminator") -> keras.Model:
    """One of the preset's two discriminators: the book's (sigmoid outputs) or the paper's PatchGAN (logits)."""
    if cfg.discriminator == "book":
        return translation.book_cycle_discriminator(cfg.image_size, cfg.channels, cfg.d_filters, name=name)
    return translation.patchgan_discriminator("paper", cfg.image_size, cfg.channels, base_filters=cfg.d_filters,
                                              norm="instance", conditional=False, name=name)


class CycleGAN(AdversarialModel):
    """Two generators and two discriminators trained with ``fit()`` on unpaired ``(a, b)`` batches.

    Update groups: ``generators`` (``g_ab``, ``g_ba``: one optimizer, one
    step on the summed objective) and ``discriminators`` (``d_a``, ``d_b``).
    Each ``train_step`` updates the generators, then the discriminators on
    real images and the generators' fakes passed through the image pools
    (``pool_a`` holds fakes of A for ``d_a``, ``pool_b`` fakes of B; they
    are checkpointed). Metrics: ``d_loss``, ``g_loss`` (the total),
    ``g_adv`` (the two adversarial terms), ``cycle`` (``|F(G(a)) - a| +
    |G(F(b)) - b|``, unweighted, tracked even when ``lambda_cycle=0``) and
    ``identity`` (unweighted; 0 when ``identity_weight=0``, which skips it).

    Args:
        cfg: a :class:`CycleGANConfig` or a preset name.
    """

    NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")
    GROUPS = {"generators": ("g_ab", "g_ba"), "discriminators": ("d_a", "d_b")}
    METRICS = ("d_loss", "g_loss", "g_adv", "cycle", "identity")
    DATA_NETWORK = "g_ab"

    def __init__(self, cfg: CycleGANConfig | str = "book"):
        cfg = as_config(cfg, CycleGANConfig, "CycleGAN")
        networks = {"g_ab": build_generator(cfg, "g_ab"), "g_ba": build_generator(cfg, "g_ba"),
                    "d_a": build_discriminator(cfg, "d_a"), "d_b": build_discriminator(cfg, "d_b")}
        super().__init__(networks, seed=cfg.seed, name=f"cyclegan_{cfg.preset}")
        self.cfg = cfg
        self.objective = losses.objective(cfg.objective)
        shape = (cfg.image_size, cfg.image_size, cfg.channels)
        self.pools = {}
        if cfg.pool_size:
            self.pools = {"pool_a": ImagePool(cfg.pool_size, shape, seed=cfg.seed + 1, name="pool_a"),
                          "pool_b": ImagePool(cfg.pool_size, shape, seed=cfg.seed + 2, name="pool_b")}

    # -- optimizers and the decay schedule ----------------------------------------
    def set_steps_per_epoch(self, steps: int) -> None:
        """Measure the decay of the config's optimizers in epochs of ``steps`` optimizer steps.

        ``fit()`` calls it with the data's epoch length when the config has
        ``decay_epochs`` and ``steps_per_epoch=0``. The schedules are functions
        of the optimizer's step counter, which checkpoints hold, so a resumed
        run continues at the rate where it stopped.
        """
        if int(steps) < 1:
            raise ValueError(f"steps per epoch must be >= 1, got {steps}")
        cfg = self.cfg
        changed = False
        for schedule in self.schedules.values():
            start, length = (cfg.epochs - cfg.decay_epochs) * int(steps), cfg.decay_epochs * int(steps)
            changed |= (schedule.start, schedule.steps) != (start, length)
            schedule.start, schedule.steps = start, length
        if changed:
            self.train_function = None  # retrace with the new constants

    def fit(self, x=None, *args, **kwargs):
        """``AdversarialModel.fit``, after setting the decay's epoch length from the data when needed."""
        if self.schedules and not self.cfg.steps_per_epoch:
            self.set_steps_per_epoch(epoch_length(x, kwargs.get("steps_per_epoch")))
        return super().fit(x, *args, **kwargs)

    # -- state -------------------------------------------------------------------
    def extra_state(self) -> dict:
        """The image pools (buffers, fill counts, random states)."""
        return dict(self.pools)

    def expected_data_shapes(self) -> tuple:
        """``(a, b)``: one image of each domain."""
        return tuple(tuple(net.inputs[0].shape[1:]) for net in (self.g_ab, self.g_ba))

    # -- training ----------------------------------------------------------------
    def _adversarial(self, outputs):
        """The generator's adversarial term on D's outputs: ``mean (D - 1)^2`` (LSGAN's MSE, as the book and the
        reference implementation weigh it; :func:`gancourse.losses.least_squares_generator_loss` is half of it)."""
        return 2.0 * self.objective.generator(outputs)

    def loss_weights(self) -> tuple:
        """``(lambda_cycle, identity_weight)`` of the generators' objective: the config's numbers. A subclass
        may return tensors (variables switched between runs without tracing again); a weight that is the
        number 0 skips its term's computation."""
        return self.cfg.lambda_cycle, self.cfg.identity_weight

    def generator_step(self, a, b):
        """One update of both generators. Returns ``(total, adversarial, cycle, identity, G(a), F(b))``."""
        lambda_cycle, identity_weight = self.loss_weights()

        def used(weight) -> bool:
            return not isinstance(weight, (int, float)) or weight != 0

        def loss_fn():
            fake_b = self.g_ab(a, training=True)
            fake_a = self.g_ba(b, training=True)
            cycle = (tf.reduce_mean(tf.abs(self.g_ba(fake_b, training=True) - a))
                     + tf.reduce_mean(tf.abs(self.g_ab(fake_a, training=True) - b)))
            adversarial = (self._adversarial(self.d_b(fake_b, training=True))
                           + self._adversarial(self.d_a(fake_a, training=True)))
            total = adversarial + lambda_cycle * cycle if used(lambda_cycle) else adversarial
            identity = tf.constant(0.0)
            if used(identity_weight):
                identity = (tf.reduce_mean(tf.abs(self.g_ba(a, training=True) - a))
                            + tf.reduce_mean(tf.abs(self.g_ab(b, training=True) - b)))
                total = total + identity_weight * identity
            return total, adversarial, cycle, identity, fake_b, fake_a

        return self.update("generators", loss_fn)

    def discriminator_step(self, a, b, fake_a, fake_b):
        """One update of both discriminators on real images and pooled fakes. Returns the loss.

        Each D's loss is ``mean (D(real) - 1)^2 + mean D(fake)^2``, halved
        with ``halve_d_loss`` (the paper); the book trains on the sum.
        """
        fake_a = tf.stop_gradient(self.pools["pool_a"](fake_a) if self.pools else fake_a)
        fake_b = tf.stop_gradient(self.pools["pool_b"](fake_b) if self.pools else fake_b)
        scale = 1.0 if self.cfg.halve_d_loss else 2.0  # the objective's LSGAN loss is already halved

        def loss_fn():
            d_a = self.objective.discriminator(self.d_a(a, training=True), self.d_a(fake_a, training=True))
            d_b = self.objective.discriminator(self.d_b(b, training=True), self.d_b(fake_b, training=True))
            return scale * (d_a + d_b)

        return self.update("discriminators", loss_fn)

    def train_step(self, data):
        a, b = data
        total, adversarial, cycle, identity, fake_b, fake_a = self.generator_step(a, b)
        d_loss = self.discriminator_step(a, b, fake_a, fake_b)
        return self.record(d_loss=d_loss, g_loss=total, g_adv=adversarial, cycle=cycle, identity=identity)

    def call(self, x, training=False):
        return self.g_ab(x, training=training)

    # -- using the model -----------------------------------------------------------
    def translate(self, images, direction: str = "a2b", batch_size: int = 16) -> np.ndarray:
        """``G(images)`` (``direction="a2b"``) or ``F(images)`` (``"b2a"``), float32 in ``[-1, 1]``.

        ``images``: ``(n, S, S, C)`` in ``[-1, 1]`` at the model's image size;
        computed ``batch_size`` at a time in inference mode.
        """
        key = direction.lower() if isinstance(direction, str) else direction
        if key not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; choose 'a2b' (G: A -> B) or 'b2a' (F: B -> A)")
        net = self.g_ab if key == "a2b" else self.g_ba
        images = np.asarray(images, np.float32)
        want = tuple(net.inputs[0].shape[1:])
        if images.ndim != 4 or images.shape[1:] != want:
            raise ValueError(f"images must have shape (n, {', '.join(map(str, want))}), got {images.shape}; "
                             "resize them to the model's image_size")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        outs = [np.asarray(net(images[i:i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
        return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0, *want), np.float32)

    def preview(self, inputs) -> np.ndarray:
        """``(6, n, H, W, C)`` in ``[-1, 1]`` for ``inputs = (a, b)`` (``n`` images each): the rows
        ``a, G(a), F(G(a)), b, F(b), G(F(b))``, the book's two 1x3 layouts stacked."""
        a, b = (np.asarray(x, np.float32) for x in inputs)
        if len(a) != len(b):
            raise ValueError(f"preview needs as many images of A as of B, got {len(a)} and {len(b)}")
        fake_b, fake_a = self.translate(a, "a2b"), self.translate(b, "b2a")
        return np.stack([a, fake_b, self.translate(fake_b, "b2a"), b, fake_a, self.translate(fake_a, "a2b")])

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """``G(a)`` for the first ``n`` of ``inputs`` (images of A, or ``(a, b)``)."""
        return self.translate(self.first_inputs(inputs, n, "images of domain A"), "a2b")


MODEL = CycleGAN
CONFIG = CycleGANConfig


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def dataset(cfg: CycleGANConfig, split: str = "train", data_dir=None):
    """A split as arrays. Offline data: ``(a, b)`` for ``"train"``; for ``"test"`` ``(a, a_true_b, b,
    b_true_a)``, held-out images of each domain with their true counterparts
    (:func:`gancourse.data.unpaired.offline_unpaired`). A real dataset: ``(a, b)`` of the split, whole, in
    memory (:func:`gancourse.data.unpaired.load_unpaired`; for evaluation: training streams it)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if cfg.dataset == OFFLINE:
        if data_dir is not None:
            raise ValueError(f"the {OFFLINE} dataset reads no folder; do not pass data_dir")
        return unpaired.offline_unpaired(split, cfg.image_size)
    return unpaired.load_unpaired(cfg.dataset, split, image_size=cfg.image_size, channels=cfg.channels,
                                  data_dir=data_dir)


def batches(cfg: CycleGANConfig, data):
    """The unaligned training pipeline over ``data = (a, b)`` arrays
    (:func:`gancourse.data.unpaired.unaligned_dataset`): two independently shuffled streams,
    ``max(|A|, |B|) // batch_size`` batches an epoch with the shorter repeated, a random flip per image
    and draw, and the 286/256 jitter when the preset jitters."""
    a, b = (np.asarray(x, np.float32) for x in data)
    if a.ndim != 4 or b.ndim != 4 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"data must be two image arrays (n, H, W, C) of the same image shape, got {a.shape} "
                         f"and {b.shape}")
    return unpaired.unaligned_dataset(a, b, cfg.batch_size, seed=cfg.seed, flip=True, jitter=cfg.jitter)


def training_data(cfg: CycleGANConfig, data_dir=None, n_preview: int = 4):
    """What training needs: the unaligned training batches of ``cfg.dataset`` (:func:`gancourse.data.load`)
    and ``n_preview`` held-out ``(a, b)`` images for the sample grid."""
    return data.load(cfg, "train", data_dir=data_dir), preview_pairs(cfg, n_preview, data_dir=data_dir)


def preview_pairs(cfg: CycleGANConfig, n: int, seed: int = 0, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out images of A and ``n`` of B (test split), picked reproducibly by ``seed`` (for a real
    dataset among the first ``max(n, 32)`` files of each domain)."""
    if n < 1:
        raise ValueError(f"n={n} preview images asked for; ask for at least 1")
    if cfg.dataset == OFFLINE:
        held = dataset(cfg, "test", data_dir)
        a, b = held[0], held[2]
    else:
        a, b = unpaired.load_unpaired(cfg.dataset, "test", image_size=cfg.image_size, channels=cfg.channels,
                                      n=max(n, 32), data_dir=data_dir)
    if n > min(len(a), len(b)):
        raise ValueError(f"n={n} preview images asked for; the test split has {len(a)} of A and {len(b)} of B")
    rng = np.random.default_rng(seed)
    return a[np.sort(rng.choice(len(a), n, replace=False))], b[np.sort(rng.choice(len(b), n, replace=False))]
