"""Age-cGAN: faces at a chosen age, an encoder back to the noise, and identity-preserving latent optimisation
(Antipov et al., 2017), with the source book's version of it.

Four networks: the encoder E (image -> z), the generator G(z, y), the
discriminator D(x, y) and a frozen face network FR (image -> a unit-norm
embedding). ``y`` is a one-hot vector over the six age groups of
:mod:`gancourse.data.ages`. Training has three phases, each a method:

1. **cGAN** (``fit``, epochs ``1..epochs``): D learns ``(x, y)`` real vs
   ``(G(z, y), y)`` fake; G's step draws *random* ages, so every age is
   trained whatever the data's age mix.
2. **Encoder** (``fit`` continues for ``encoder_epochs`` more epochs, or
   :meth:`AgeCGAN.train_encoder`): E learns to give back the ``z`` of
   ``G(z, y)``, with the book's Euclidean loss ``||E(G(z, y)) - z||``; G and
   D are frozen. The ``z`` are fresh every step by default; the book reuses
   one fixed set of 1,000 and overfits it (``encoder_samples``).
3. **Identity-preserving optimisation** (:meth:`AgeCGAN.optimize_latent`):
   per face, ``z*`` minimises ``||FR(x) - FR(G(z, y0))||`` from ``z = E(x)``
   with G and FR frozen (the paper's method; Adam or L-BFGS-B through SciPy),
   or ``||x - G(z, y0)||`` (the pixel-wise alternative the paper compares).
   :meth:`AgeCGAN.finetuned` is the book's version instead: it fine-tunes
   copies of E and G themselves on the FR distance.

Aging a face (:meth:`AgeCGAN.age_strip`): ``z*`` from phase 3, then
``G(z*, y)`` for each of the six ages.

Presets (``config(name)``):

``book`` (default)
    IMDB-WIKI's ``wiki_crop`` at 64 px; E 18,287,268, G 34,885,251, D
    1,569,665 parameters (:mod:`gancourse.nn.faces`). Adam(2e-4, beta_1 0.5)
    for G and D, batch 128, 500 epochs. One-sided label smoothing: real
    0.9, fake 0. The book's repository meant real 0.9 and fake 0.1, but
    writes the fake labels as ``zeros * 0.1``, which is 0; smoothing only
    the real labels is also what Salimans et al. recommend. The encoder with Keras' default
    Adam (1e-3, beta_1 0.9) for 500 epochs of 8 batches (the book's 1,000
    samples at batch 128), on fresh noise. FR: the book's ImageNet
    InceptionResNetV2 features (:func:`gancourse.nn.faces.imagenet_face_embedder`),
    a generic feature distance, not face identity.
``paper``
    Antipov et al.'s settings where the paper gives them: the same networks
    (DCGAN's design, the condition at G's input and at D's first
    convolution), Adam for 100 epochs, the encoder trained on a fixed
    synthetic set of 100,000 ``(z, y)`` pairs, latent optimisation with
    L-BFGS-B, and no label smoothing (we found none mentioned in the parts
    of the paper we could read). Where the
    paper is silent (learning rate, beta_1, batch) it keeps DCGAN's, which
    are the book's. The paper trains on its own cleaned IMDB-Wiki.

On the ``smoke`` profile every preset trains on the package's rendered faces
(:mod:`gancourse.data.rendered_faces`, whose age and identity are known) at
32 px with narrowed layers, and FR is the identity network trained on
rendered identities (:func:`gancourse.faceid.identity_network`).
"""

from __future__ import annotations

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from gancourse.config import TrainingConfig, as_config, choice, positive
from gancourse.data.ages import AGE_GROUPS, N_AGES, one_hot
from gancourse.nn.faces import IMAGE_SIZES, age_encoder, conditional_discriminator, conditional_generator
from gancourse.training import GAN
from gancourse.training.phases import fit_in_phases
from gancourse.training.optim import make_optimizer

#: The datasets of kind ``ages`` (``(image, one-hot age)`` batches).
DATASETS = ("wiki", "offline_faces")
FACE_NETS = ("imagenet", "rendered")
LATENT_METHODS = ("adam", "lbfgs")
OBJECTIVES = ("identity", "pixel")
PHASES = ("cgan", "encoder")


@dataclasses.dataclass(frozen=True)
class AgeCGANConfig(TrainingConfig):
    """Configuration of an :class:`AgeCGAN` (see the module docstring for presets)."""

    dataset: str = choice("wiki", DATASETS, "wiki: IMDB-WIKI's wiki_crop (--data or the cache); offline_faces: "
                          "the package's rendered faces")
    image_size: int = choice(64, IMAGE_SIZES)
    latent_dim: int = positive(100)
    g_dense: int = positive(2048, "units of G's first dense layer")
    g_filters: int = positive(256, "channels of G's first feature map (halved by each up-sampling)")
    d_filters: int = positive(64, "channels of D's first convolution (doubled by each of the next three)")
    e_filters: int = positive(32, "channels of E's first convolution (doubled by each of the next three)")
    e_dense: int = positive(4096, "units of E's dense layer")
    e_bn_momentum: float = dataclasses.field(default=0.99, metadata={
        "min": 0, "max": 0.999, "doc": "momentum of E's batch-norm moving averages (Keras' default, the book's)"})
    label_smoothing: str = choice("one_sided", ("none", "one_sided"), "one_sided: real target 1 - smoothing, fake 0")
    smoothing: float = dataclasses.field(default=0.1, metadata={"min": 0, "max": 0.49})
    encoder_epochs: int = dataclasses.field(default=500, metadata={"min": 0,
                                            "doc": "epochs of phase 2 after the cGAN's `epochs`"})
    encoder_steps_per_epoch: int = positive(8, "encoder batches per phase-2 epoch")
    encoder_samples: int | None = dataclasses.field(default=None, metadata={
        "min": 1, "doc": "None: fresh (z, y) every step; n: one fixed synthetic set of n pairs (book 1,000, "
        "paper 100,000)"})
    encoder_learning_rate: float = positive(1e-3, "the encoder's Adam rate (beta_1 0.9: Keras' defaults)")
    face_net: str = choice("imagenet", FACE_NETS, "FR: imagenet (the book's generic features) or rendered (an "
                           "identity network trained on rendered faces)")
    latent_method: str = choice("adam", LATENT_METHODS, "phase 3's optimiser")
    latent_steps: int = positive(100, "phase 3: iterations per face")
    latent_learning_rate: float = positive(0.05, "phase 3: Adam's rate on z")

    KIND = "agecgan"
    PRESETS = {
        "book": dict(learning_rate=2e-4, beta_1=0.5, batch_size=128, epochs=500),
        "paper": dict(learning_rate=2e-4, beta_1=0.5, batch_size=128, epochs=100, label_smoothing="none",
                      encoder_samples=100_000, latent_method="lbfgs"),
    }
    PROFILE_OVERRIDES = {"book": {"standard": {"epochs": 30, "encoder_epochs": 10, "encoder_steps_per_epoch": 100}},
                         "paper": {"standard": {"epochs": 30, "encoder_epochs": 10,
                                                "encoder_steps_per_epoch": 100}}}
    BCE_ONLY = {"label_smoothing": "none"}

    def check(self) -> None:
        if self.objective not in ("bce", "lsgan", "hinge"):
            raise ValueError(f"AgeCGANConfig.objective={self.objective!r} is not supported: the conditional "
                             "discriminator has no gradient penalty or Wasserstein critic here; choose bce, lsgan "
                             "or hinge")

    @property
    def total_epochs(self) -> int:
        """Epochs of both training phases: the cGAN's ``epochs`` then ``encoder_epochs``."""
        return self.epochs + self.encoder_epochs

    def make_optimizer(self, group: str):
        """The config's optimizer for G and D; Adam(``encoder_learning_rate``, beta_1 0.9) for the encoder."""
        if group == "encoder":
            return make_optimizer("adam", self.encoder_learning_rate, beta_1=0.9, beta_2=0.999)
        return super().make_optimizer(group)

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            return dict(SMOKE, encoder_samples=None if self.encoder_samples is None else 2_000)
        return {}


# The smoke profile: the rendered faces at 32 px, every layer kept, the widths narrowed; about 40 s of training on
# 2 CPU cores. At 64 px a CPU minute is a few hundred steps, and in them D won and the samples showed no age
# (chapter 03 measured it), so smoke halves the side and keeps G's first map at 64 channels. E's batch-norm
# momentum is lowered to 0.9 so that its moving averages, which inference uses, catch up within the short phase 2
# (with 0.99, 0.99^160 = 20% of the initial statistics would remain after its 160 steps).
SMOKE = dict(dataset="offline_faces", image_size=32, g_dense=128, g_filters=64, d_filters=16, e_filters=16,
             e_dense=256, e_bn_momentum=0.9, batch_size=64, epochs=12, encoder_epochs=4, encoder_steps_per_epoch=40,
             face_net="rendered", latent_steps=40)
PRESETS = AgeCGANConfig.preset_names()
config = AgeCGANConfig.preset


class LatentResult(typing.NamedTuple):
    """What :meth:`AgeCGAN.optimize_latent` returns."""

    z: np.ndarray  #: ``(n, latent_dim)`` the optimised latents
    losses: np.ndarray  #: ``(steps + 1, n)`` each face's objective before and after every step (Adam)
    initial: np.ndarray  #: ``(n,)`` the objective at the start
    final: np.ndarray  #: ``(n,)`` the objective at ``z``


def build_generator(cfg: AgeCGANConfig) -> keras.Model:
    """``[z (B, latent_dim), y (B, 6)]`` -> image ``(B, S, S, 3)`` in [-1, 1]."""
    return conditional_generator(cfg.image_size, cfg.latent_dim, N_AGES, cfg.g_dense, cfg.g_filters,
                                 name=f"{cfg.preset}_generator")


def build_discriminator(cfg: AgeCGANConfig) -> keras.Model:
    """``[image, y]`` -> a real/fake logit ``(B, 1)``."""
    return conditional_discriminator(cfg.image_size, N_AGES, cfg.d_filters, name=f"{cfg.preset}_discriminator")


def build_encoder(cfg: AgeCGANConfig) -> keras.Model:
    """image -> ``z`` ``(B, latent_dim)``."""
    return age_encoder(cfg.image_size, cfg.latent_dim, cfg.e_filters, cfg.e_dense, cfg.e_bn_momentum,
                       name=f"{cfg.preset}_encoder")


def face_network(cfg: AgeCGANConfig, weights: str | None = "imagenet") -> keras.Model:
    """The config's FR: image ``(B, S, S, 3)`` in [-1, 1] -> unit-norm embedding (frozen).

    ``imagenet``: the book's (downloads InceptionResNetV2's ImageNet weights
    unless ``weights=None``); ``rendered``: the identity network trained on the
    package's rendered faces (built and cached on first use).
    """
    if cfg.face_net == "rendered":
        from gancourse.faceid import identity_network

        return identity_network(size=cfg.image_size)
    from gancourse.nn.faces import imagenet_face_embedder

    return imagenet_face_embedder(cfg.image_size, weights=weights)


def as_one_hot(ages, n: int | None = None) -> np.ndarray:
    """Ages as ``(n, 6)`` float32 one-hot rows: from age groups (ints 0-5, or one int for all ``n``) or one-hot."""
    a = np.asarray(ages)
    if a.ndim == 0:
        if n is None:
            raise ValueError("a single age group needs the number of faces")
        a = np.full(n, int(a))
    if a.ndim == 2:
        if a.shape[1] != N_AGES or not np.all(np.isin(a, (0, 1))) or not np.all(a.sum(axis=1) == 1):
            raise ValueError(f"one-hot ages must be (n, {N_AGES}) rows of 0/1 with one 1, got shape {a.shape}")
        out = a.astype(np.float32)
    elif a.ndim == 1:
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"age groups must be integers 0-{N_AGES - 1} ({', '.join(AGE_GROUPS)}), got {a.dtype}")
        out = one_hot(a)
    else:
        raise ValueError(f"ages must be age groups (n,) or one-hot (n, {N_AGES}), got shape {a.shape}")
    if n is not None and len(out) != n:
        raise ValueError(f"got {len(out)} ages for {n} faces")
    return out


class AgeCGAN(GAN):
    """An Age-cGAN built from an :class:`AgeCGANConfig` (or a preset name).

    ``fit`` takes ``(images, one-hot ages)`` batches and runs phase 1 for
    ``cfg.epochs`` epochs, then phase 2 (the encoder) up to
    ``cfg.total_epochs``: ``fit(data, epochs=cfg.total_epochs)``. Phase 1
    reports ``d_loss``, ``g_loss``, ``d_acc``, ``d_real`` and ``d_fake``; phase
    2 ``encoder_loss`` (the mean ``||E(G(z, y)) - z||``).
    """

    NETWORKS = ("generator", "discriminator", "encoder")
    GROUPS = {"generator": ("generator",), "discriminator": ("discriminator",), "encoder": ("encoder",)}

    def __init__(self, cfg: AgeCGANConfig | str = "book"):
        cfg = as_config(cfg, AgeCGANConfig, "AgeCGAN")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         noise="normal", objective=cfg.objective, label_smoothing=cfg.label_smoothing,
                         smoothing=cfg.smoothing, seed=cfg.seed, extra_networks={"encoder": build_encoder(cfg)},
                         name=f"agecgan_{cfg.preset}")
        self.cfg = cfg
        self._trackers["encoder_loss"] = keras.metrics.Mean(name="encoder_loss")
        self.phase = "cgan"
        self._fr = None
        self._fixed = None
        #: Epochs of phase 1 trained so far (checkpointed): a resume can tell the two phases apart.
        self.cgan_epochs = tf.Variable(0, dtype=tf.int64, trainable=False, name="cgan_epochs")

    def extra_state(self) -> dict:
        return {"cgan_epochs": self.cgan_epochs}

    # -- phases -----------------------------------------------------------------------
    @property
    def metrics(self):
        if self.phase == "encoder":
            return [self._trackers["encoder_loss"]]
        return [m for k, m in self._trackers.items() if k != "encoder_loss"]

    def set_phase(self, phase: str) -> None:
        """Switch ``train_step`` between ``"cgan"`` (phase 1) and ``"encoder"`` (phase 2)."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
        if phase != self.phase:
            self.phase = phase
            self.train_function = None  # rebuilt for the new step by the next fit()

    def encoder_data(self, seed: int | None = None) -> tf.data.Dataset:
        """Phase 2's endless batches: ``(z, y)`` of the fixed synthetic set (``encoder_samples``), reshuffled each
        pass; with fresh noise, a stream of zero vectors whose only use is the batch size, since the step draws
        ``(z, y)`` itself."""
        cfg = self.cfg
        seed = cfg.seed if seed is None else seed
        if cfg.encoder_samples is None:
            return tf.data.Dataset.from_tensors(tf.zeros((cfg.batch_size,))).repeat()
        z, y = self.fixed_encoder_set()
        return (tf.data.Dataset.from_tensor_slices((z, y)).shuffle(len(z), seed=seed, reshuffle_each_iteration=True)
                .repeat().batch(cfg.batch_size, drop_remainder=True).prefetch(2))

    def fixed_encoder_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The book's (and paper's) fixed synthetic set: ``encoder_samples`` latents N(0, 1) and uniform ages."""
        if self.cfg.encoder_samples is None:
            raise ValueError("this config draws fresh (z, y) every step (encoder_samples=None); set encoder_samples")
        if self._fixed is None:
            rng = np.random.default_rng(self.cfg.seed + 1)
            n = self.cfg.encoder_samples
            self._fixed = (rng.standard_normal((n, self.latent_dim)).astype(np.float32),
                           one_hot(rng.integers(0, N_AGES, n)))
        return self._fixed

    def fit(self, x=None, epochs: int = 1, initial_epoch: int = 0, **kwargs):
        """Phase 1 up to epoch ``cfg.epochs``, then phase 2 (the encoder) up to ``epochs``.

        ``x`` holds ``(images, one-hot ages)`` batches (phase 1's data). Returns one ``History`` whose lists run
        over all epochs trained (NaN where a phase does not log a key).
        """
        def cgan(end, start, kw):
            self.set_phase("cgan")
            return super(AgeCGAN, self).fit(x, epochs=end, initial_epoch=start, **kw)

        def encoder(end, start, kw):
            self.set_phase("encoder")
            kw.pop("steps_per_epoch", None)
            kw.pop("validation_data", None)
            kw["shuffle"] = False  # endless generated batches
            try:
                return keras.Model.fit(self, self.encoder_data(), epochs=end, initial_epoch=start,
                                       steps_per_epoch=self.cfg.encoder_steps_per_epoch, **kw)
            finally:
                self.set_phase("cgan")

        return fit_in_phases(self, self.cgan_epochs, self.cfg.epochs, epochs, initial_epoch, cgan, encoder, kwargs,
                             names=("cGAN phase", "encoder", "generator"))

    def train_step(self, data):
        if self.phase == "encoder":
            return self.encoder_step(data)
        images, ages = data[0], data[1]
        d_out = self.conditional_discriminator_step(images, ages)
        g_loss = self.conditional_generator_step(tf.shape(images)[0])
        self.record_step(d_out, g_loss)
        return {k: m.result() for k, m in self._trackers.items() if k != "encoder_loss"}

    def conditional_discriminator_step(self, images, ages):
        """One D update: ``(x, y)`` real against ``(G(z, y), y)`` fake, the *same* ages for both (the data's).

        Returns ``(loss, accuracy, mean D(real), mean D(fake))``; only D's weights change."""
        fakes = tf.stop_gradient(self.generator([self.sample_noise(tf.shape(images)[0]), ages], training=True))

        def loss_fn():
            real_out = self.discriminator([images, ages], training=True)
            fake_out = self.discriminator([fakes, ages], training=True)
            loss = self.objective.discriminator(real_out, fake_out, self.label_targets(real_out, True),
                                                self.label_targets(fake_out, False))
            return loss, real_out, fake_out

        loss, real_out, fake_out = self.update("discriminator", loss_fn)
        return loss, self.accuracy(real_out, fake_out), self.mean_score(real_out), self.mean_score(fake_out)

    def conditional_generator_step(self, batch):
        """One G update on fresh noise at *random* ages (uniform over the six groups); only G's weights change."""
        ages = self.sample_ages(batch)

        def loss_fn():
            fakes = self.generator([self.sample_noise(batch), ages], training=True)
            return self.objective.generator(self.discriminator([fakes, ages], training=True), self.g_target)

        return self.update("generator", loss_fn)

    def sample_ages(self, n):
        """``(n, 6)`` one-hot ages drawn uniformly from the model's seed generator (inside training)."""
        groups = keras.random.randint((n,), 0, N_AGES, seed=self.seed_generator)
        return tf.one_hot(groups, N_AGES)

    def encoder_step(self, data):
        """One encoder update on ``G(z, y)`` (inference mode) with the Euclidean loss; G and D unchanged."""
        if isinstance(data, (tuple, list)) and len(data) == 2:
            z, ages = data
        else:
            batch = tf.shape(data)[0]
            z, ages = self.sample_noise(batch), self.sample_ages(batch)
        images = tf.stop_gradient(self.generator([z, ages], training=False))

        def loss_fn():
            return latent_distance(self.encoder(images, training=True), z)

        self.record(encoder_loss=self.update("encoder", loss_fn))
        return {"encoder_loss": self._trackers["encoder_loss"].result()}

    def train_encoder(self, epochs: int | None = None, verbose=0):
        """Phase 2 alone, in memory: ``epochs`` (default ``cfg.encoder_epochs``) epochs of
        ``encoder_steps_per_epoch`` steps. Returns the ``History`` (``encoder_loss`` per epoch)."""
        if not self.optimizers:
            raise ValueError("compile the model first: it has no optimizers yet")
        epochs = self.cfg.encoder_epochs if epochs is None else int(epochs)
        self.set_phase("encoder")
        try:
            return keras.Model.fit(self, self.encoder_data(), epochs=epochs, shuffle=False,
                                   steps_per_epoch=self.cfg.encoder_steps_per_epoch, verbose=verbose)
        finally:
            self.set_phase("cgan")

    # -- generation and encoding --------------------------------------------------------
    def generate(self, z, ages=None, batch_size: int = 256) -> np.ndarray:
        """Faces for latents ``z`` ``(n, latent_dim)`` at ``ages`` (groups ``(n,)``, one group, or one-hot;
        default: age groups cycling 0-5), float32 ``(n, S, S, 3)`` in [-1, 1] (inference mode)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}")
        y = as_one_hot(np.arange(len(z)) % N_AGES if ages is None else ages, len(z))
        out = [self.generator([z[i:i + batch_size], y[i:i + batch_size]], training=False)
               for i in range(0, len(z), batch_size)]
        return np.concatenate([np.asarray(o) for o in out]).astype(np.float32)

    def sample(self, n: int, seed: int = 0, ages=None) -> np.ndarray:
        """``n`` faces from reproducible noise at ``ages`` (default: cycling over the six groups)."""
        return self.generate(self.fixed_noise(n, seed), ages)

    def age_grid(self, z) -> np.ndarray:
        """``(6, n, S, S, 3)``: each latent of ``z`` (columns) at each age group (rows)."""
        z = np.asarray(z, np.float32)
        return np.stack([self.generate(z, age) for age in range(N_AGES)])

    def preview_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed noise for at most 8 columns of the age grid."""
        return self.fixed_noise(min(int(n), 8), seed)

    def preview(self, inputs) -> np.ndarray:
        """The age grid (:meth:`age_grid`) of the fixed noise: rows are the six age groups."""
        return self.age_grid(inputs)

    def _check_images(self, images) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        want = (self.cfg.image_size, self.cfg.image_size, 3)
        if x.ndim != 4 or x.shape[1:] != want:
            raise ValueError(f"images must be (n, {', '.join(map(str, want))}) in [-1, 1], got shape {x.shape}; "
                             "resize them to the model's image_size")
        if x.size and (x.min() < -1.001 or x.max() > 1.001):
            raise ValueError(f"images must be scaled to [-1, 1] (x / 127.5 - 1), got values from {x.min():.3g} "
                             f"to {x.max():.3g}")
        return x

    def encode(self, images, batch_size: int = 256) -> np.ndarray:
        """``E(x)``: ``(n, latent_dim)`` for faces ``(n, S, S, 3)`` in [-1, 1]."""
        x = self._check_images(images)
        return np.concatenate([np.asarray(self.encoder(x[i:i + batch_size], training=False))
                               for i in range(0, len(x), batch_size)]).astype(np.float32)

    def reconstruct(self, images, ages, z=None) -> np.ndarray:
        """``G(z, y)`` with ``z = E(x)`` unless given: the faces rebuilt at their own ages."""
        x = self._check_images(images)
        return self.generate(self.encode(x) if z is None else z, as_one_hot(ages, len(x)))

    def encoder_error(self, n: int = 256, seed: int = 1) -> float:
        """Mean ``||E(G(z, y)) - z||`` on ``n`` fresh latents (reproducible): how well E inverts G off its
        training set (compare the last ``encoder_loss``; for N(0, I) latents ``||z||`` is about
        ``sqrt(latent_dim)``)."""
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        images = self.generate(z, rng.integers(0, N_AGES, n))
        return float(np.mean(np.linalg.norm(self.encode(images) - z, axis=1)))

    # -- phase 3 --------------------------------------------------------------------------
    def face_network(self, weights: str | None = "imagenet") -> keras.Model:
        """The config's FR (:func:`face_network`), built once."""
        if self._fr is None:
            self._fr = face_network(self.cfg, weights)
        return self._fr

    def _objective_fn(self, objective: str, fr):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if objective == "pixel":
            return lambda x, x_hat: pixel_distance(x, x_hat)
        if fr is None:
            fr = self.face_network()
        if not callable(fr):
            raise ValueError(f"fr must be a network mapping images to embeddings, got {type(fr).__name__}")
        return lambda x, x_hat: latent_distance(fr(x_hat, training=False), fr(x, training=False))

    def optimize_latent(self, images, ages, fr=None, *, objective: str = "identity", method: str | None = None,
                        steps: int | None = None, learning_rate: float | None = None, z0=None) -> LatentResult:
        """Phase 3: per face, ``z*`` that rebuilds it at its own age, with G and FR frozen.

        Args:
            images: faces ``(n, S, S, 3)`` in [-1, 1].
            ages: their age groups (or one-hot).
            fr: the face network for ``objective="identity"`` (default: the config's, :meth:`face_network`).
            objective: ``"identity"``: ``||FR(x) - FR(G(z, y))||`` (Antipov et al.'s identity-preserving
                optimisation); ``"pixel"``: ``||x - G(z, y)||`` (their pixel-wise alternative).
            method: ``"adam"`` (all faces at once; each face's loss depends on its own ``z`` only, and Adam
                is per coordinate, so this is n independent runs) or ``"lbfgs"`` (SciPy's L-BFGS-B, one face at
                a time, as the paper); default ``cfg.latent_method``.
            steps: iterations (default ``cfg.latent_steps``); learning_rate: Adam's (default
                ``cfg.latent_learning_rate``).
            z0: starting latents (default ``E(x)``, the encoder's initial reconstruction).
        """
        x = self._check_images(images)
        y = as_one_hot(ages, len(x))
        method = method or self.cfg.latent_method
        if method not in LATENT_METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(LATENT_METHODS)}")
        steps = int(self.cfg.latent_steps if steps is None else steps)
        if steps < 0:
            raise ValueError(f"steps={steps} must be >= 0")
        z_start = self.encode(x) if z0 is None else np.asarray(z0, np.float32)
        if z_start.shape != (len(x), self.latent_dim):
            raise ValueError(f"z0 must be ({len(x)}, {self.latent_dim}), got {z_start.shape}")
        distance = self._objective_fn(objective, fr)
        x_t, y_t = tf.constant(x), tf.constant(y)

        def per_face(z, xs=x_t, ys=y_t):
            return distance(xs, self.generator([z, ys], training=False))

        if method == "adam":
            return self._adam_latent(per_face, z_start, steps, learning_rate or self.cfg.latent_learning_rate)
        return self._lbfgs_latent(distance, x, y, z_start, steps)

    def _adam_latent(self, per_face, z_start, steps, learning_rate) -> LatentResult:
        z = tf.Variable(z_start, name="z")
        opt = keras.optimizers.Adam(learning_rate)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                losses = per_face(z)
                total = tf.reduce_sum(losses)
            opt.apply_gradients([(tape.gradient(total, z), z)])
            return losses

        history = []
        for _ in range(steps):
            history.append(step().numpy())
        final = per_face(z).numpy()
        history.append(final)
        history = np.stack(history)
        return LatentResult(z.numpy(), history, history[0], final)

    def _lbfgs_latent(self, distance, x, y, z_start, steps) -> LatentResult:
        from scipy.optimize import minimize

        @tf.function(input_signature=[tf.TensorSpec((1, self.latent_dim)), tf.TensorSpec((1,) + x.shape[1:]),
                                      tf.TensorSpec((1, N_AGES))])
        def value_and_grad(z, xs, ys):
            with tf.GradientTape() as tape:
                tape.watch(z)
                loss = tf.reduce_sum(distance(xs, self.generator([z, ys], training=False)))
            return loss, tape.gradient(loss, z)

        zs, initial, final = [], [], []
        for i in range(len(x)):
            xs, ys = tf.constant(x[i:i + 1]), tf.constant(y[i:i + 1])

            def fun(flat, xs=xs, ys=ys):
                loss, grad = value_and_grad(tf.constant(flat[None].astype(np.float32)), xs, ys)
                return float(loss), np.asarray(grad, np.float64).ravel()

            initial.append(fun(z_start[i])[0])
            if steps:
                result = minimize(fun, z_start[i].astype(np.float64), jac=True, method="L-BFGS-B",
                                  options={"maxiter": steps})
                best = result.x.astype(np.float32)
            else:
                best = z_start[i]
            zs.append(best)
            final.append(fun(best)[0])
        initial, final = np.asarray(initial, np.float32), np.asarray(final, np.float32)
        return LatentResult(np.stack(zs).astype(np.float32), np.stack([initial, final]), initial, final)

    def finetuned(self, images, ages, fr=None, *, steps: int = 50, learning_rate: float = 2e-4,
                  batch_size: int = 32, seed: int = 0) -> tuple[keras.Model, keras.Model]:
        """The book's phase 3: copies of E and G fine-tuned *jointly* on ``||FR(x) - FR(G(E(x), y))||`` over the
        faces (Adam(``learning_rate``, beta_1 0.5), ``steps`` batches). The model's own E and G are left as they
        are; compare the copies' samples with the originals' to see what a pure identity loss, with no
        adversarial term, does to realism. Returns ``(encoder, generator)``."""
        x = self._check_images(images)
        y = as_one_hot(ages, len(x))
        distance = self._objective_fn("identity", fr)
        encoder, generator = (_copy_network(self.encoder), _copy_network(self.generator))
        variables = encoder.trainable_variables + generator.trainable_variables
        opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
        from gancourse.training import steps as update

        @tf.function
        def step(xs, ys):
            def loss_fn():
                return tf.reduce_mean(distance(xs, generator([encoder(xs, training=True), ys], training=True)))
            return update.apply(opt, variables, loss_fn)

        rng = np.random.default_rng(seed)
        for _ in range(int(steps)):
            idx = rng.choice(len(x), size=min(batch_size, len(x)), replace=False)
            step(tf.constant(x[idx]), tf.constant(y[idx]))
        return encoder, generator

    def age_strip(self, images, ages, fr=None, *, refine: str | None = "identity", steps: int | None = None,
                  method: str | None = None) -> np.ndarray:
        """Each face at all six ages: ``(n, 7, S, S, 3)``, the input first, then ``G(z*, y)`` for ages 0-5.

        ``z*`` is ``E(x)`` refined by :meth:`optimize_latent` with ``refine`` as the objective
        (``"identity"``, ``"pixel"``, or ``None`` for the encoder's ``E(x)`` alone)."""
        x = self._check_images(images)
        if refine is None:
            z = self.encode(x)
        else:
            z = self.optimize_latent(x, ages, fr, objective=refine, steps=steps, method=method).z
        return np.concatenate([x[:, None], np.moveaxis(self.age_grid(z), 0, 1)], axis=1)

    def metric_samples(self, n: int, seed: int = 0, inputs=None) -> np.ndarray:
        """``n`` samples from the fixed noise of ``seed``, the ages cycling over the six groups."""
        return self.sample(n, seed)

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has examples of shapes {got} but the discriminator takes (image, age) = {want}; "
                "give (images (n, S, S, 3), one-hot ages (n, 6)) batches with S = image_size")


def latent_distance(a, b):
    """``||a - b||`` per row (the book's ``euclidean_distance_loss`` before its batch mean)."""
    return tf.sqrt(tf.reduce_sum(tf.square(a - b), axis=-1) + 1e-12)


def pixel_distance(x, x_hat):
    """``||x - x_hat||`` per image over all pixels and channels."""
    return tf.sqrt(tf.reduce_sum(tf.square(x - x_hat), axis=[1, 2, 3]) + 1e-12)


def _copy_network(net: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(net)
    copy.set_weights(net.get_weights())
    return copy


MODEL = AgeCGAN
CONFIG = AgeCGANConfig


def batches(cfg: AgeCGANConfig, data):
    """The training pipeline over ``(images, ages)`` arrays a caller supplies: images ``(N, S, S, 3)`` in
    [-1, 1] (or uint8), ages as groups ``(N,)`` or one-hot ``(N, 6)``; shuffled per epoch."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("Age-cGAN trains on (images, ages) pairs; pass a tuple (images, ages)")
    images, ages = data
    x = np.asarray(images)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 127.5 - 1.0
    x = x.astype(np.float32)
    y = as_one_hot(ages, len(x))
    if len(x) < cfg.batch_size:
        raise ValueError(f"{len(x)} faces are fewer than one batch of {cfg.batch_size}; lower batch_size")
    return (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True)
            .batch(cfg.batch_size, drop_remainder=True).prefetch(2))


def training_data(cfg: AgeCGANConfig, data_dir=None):
    """The training ``tf.data.Dataset`` of ``cfg.dataset`` (``data_dir``: where ``wiki_crop`` lives) and the
    sample grid's inputs (``None``: the model's own fixed noise)."""
    from gancourse import data

    return data.load(cfg, split="train", data_dir=data_dir), None
