"""3D-GAN: voxel shapes from noise (Wu et al., 2016), and the source book's version of it.

Presets (``config(name)``):

``book`` (default)
    The source book's airplanes at 64^3: a 200-d noise vector drawn from
    N(0, 0.33^2), five ``Conv3DTranspose`` blocks (512-256-128-64-1, 4x4x4
    kernels, ReLU, sigmoid output; 17,572,545 parameters) and their mirror as
    the discriminator (LeakyReLU(0.2); 11,051,457 parameters with batch norm
    on layers 2-4). Adam with the book's imbalanced rates: 0.0025 for G,
    1e-5 for D, beta_1 0.5; batch 32; binary cross-entropy. ``g_batch_norm``
    and ``d_batch_norm`` reproduce the source's other placements
    (:mod:`gancourse.nn.voxels`).
``paper``
    Wu et al.'s training recipe on the same networks: batch 100, and the
    discriminator is updated only when its accuracy on the last batch was
    at most 80% (``d_threshold=0.8``), so that it does not outrun the
    generator. The paper gives no epoch count; 50 here.

Both presets draw the noise from the book's N(0, 0.33^2) (as the book's
repository and other reimplementations do); the authors' released sampling
code draws it i.i.d. uniform instead. ``z_std`` sets the normal's spread.

The discriminator ends in a linear unit and the sigmoid lives in the loss
(``from_logits``), the numerically stable form of the book's sigmoid + BCE.
Occupancy grids are ``(B, L, L, L, 1)`` in ``[0, 1]`` with the axes
(x, y, z), z up; samples are probabilities, thresholded at 0.5 to get a shape.

On the ``smoke`` profile every preset trains on the package's procedural
shapes (:mod:`gancourse.data.voxels`) at 16^3: the same block pattern with
the two highest-resolution blocks left out (1 -> 4 -> 8 -> 16), an eighth of
the widths, and D's rate raised to the source repository's 1e-4.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gancourse.config import TrainingConfig, as_config, choice, positive
from gancourse.data import VOXEL_DATASETS
from gancourse.nn.voxels import CUBE_SIZES, D_BATCH_NORM, G_BATCH_NORM, feature_model, voxel_discriminator, \
    voxel_generator
from gancourse.training import GAN


@dataclasses.dataclass(frozen=True)
class GAN3DConfig(TrainingConfig):
    """Configuration of a :class:`GAN3D` (see the module docstring for presets)."""

    dataset: str = choice("shapenet", VOXEL_DATASETS, "shapenet: 3D ShapeNets' volumetric data (--data); "
                          "offline_shapes: the package's procedural shapes")
    category: str = dataclasses.field(default="airplane", metadata={
        "doc": "shapenet: the object category (a ModelNet40 name, e.g. airplane, chair)"})
    cube_len: int = choice(64, CUBE_SIZES, "side of the voxel cube")
    latent_dim: int = positive(200)
    z_std: float = positive(0.33, "standard deviation of the normal noise")
    g_filters: int = positive(512, "channels of the generator's first block (halved per block)")
    d_filters: int = positive(512, "channels of the discriminator's last strided block (halved towards the input)")
    g_batch_norm: str = choice("canonical", G_BATCH_NORM, "canonical: blocks 1-4; text: 1-5")
    d_batch_norm: str = choice("canonical", D_BATCH_NORM, "canonical 2-4, description 1-4, text 1-5, repo 2-5")
    d_threshold: float | None = dataclasses.field(default=None, metadata={
        "min": 0, "max": 1, "min_exclusive": True,
        "doc": "update D only when its accuracy on the last batch was at most this (Wu et al.: 0.8); None: always"})
    g_learning_rate: float = positive(0.0025, "the generator's Adam rate (learning_rate is the discriminator's)")
    steps_per_execution: int = positive(8, "train steps per tf.function call (measured by the bench)")
    sample_every: int = positive(1)

    KIND = "gan3d"
    PRESETS = {
        "book": dict(learning_rate=1e-5, beta_1=0.5, batch_size=32, epochs=50),
        "paper": dict(learning_rate=1e-5, beta_1=0.5, batch_size=100, d_threshold=0.8, epochs=50),
    }
    PROFILE_OVERRIDES = {"book": {"standard": {"epochs": 25}}, "paper": {"standard": {"epochs": 25}}}

    def learning_rate_for(self, group: str) -> float:
        """``g_learning_rate`` for the generator, ``learning_rate`` for the discriminator."""
        return self.g_learning_rate if group == "generator" else self.learning_rate

    def scale_overrides(self, profile_name: str) -> dict:
        if profile_name == "smoke":
            return dict(SMOKE, batch_size=min(self.batch_size, SMOKE["batch_size"]))
        return {}


# The smoke profile, measured on 2 CPU cores (about 0.13 s per step): 16^3 procedural shapes, an eighth of the
# widths, and the discriminator rate of the source's repository (10e-5 = 1e-4) instead of its text's 1e-5, which
# leaves D untrained for the few hundred steps a smoke run has.
SMOKE = dict(dataset="offline_shapes", cube_len=16, g_filters=64, d_filters=64, learning_rate=1e-4, batch_size=32,
             epochs=10)
PRESETS = GAN3DConfig.preset_names()
config = GAN3DConfig.preset


def build_generator(cfg: GAN3DConfig) -> keras.Model:
    """Noise ``(B, latent_dim)`` -> occupancy ``(B, L, L, L, 1)`` in [0, 1]."""
    return voxel_generator(cfg.cube_len, cfg.latent_dim, cfg.g_filters, cfg.g_batch_norm,
                           name=f"{cfg.preset}_generator")


def build_discriminator(cfg: GAN3DConfig) -> keras.Model:
    """Occupancy ``(B, L, L, L, 1)`` -> a real/fake logit ``(B, 1)``."""
    return voxel_discriminator(cfg.cube_len, cfg.d_filters, cfg.d_batch_norm, name=f"{cfg.preset}_discriminator")


class GAN3D(GAN):
    """A 3D-GAN built from a :class:`GAN3DConfig` (or a preset name).

    Besides :class:`~gancourse.training.GAN`'s metrics it reports ``d_updates``:
    the share of steps whose discriminator update was taken (below 1 only
    with ``d_threshold``; see :meth:`discriminator_update`). ``compile()``
    builds the optimizers' state at once, because the conditional update
    cannot create it.
    """

    def __init__(self, cfg: GAN3DConfig | str = "book"):
        cfg = as_config(cfg, GAN3DConfig, "GAN3D")
        super().__init__(build_generator(cfg), build_discriminator(cfg), latent_dim=cfg.latent_dim,
                         noise="normal", objective=cfg.objective, seed=cfg.seed, name=f"gan3d_{cfg.preset}")
        self.cfg = cfg
        self.z_std = float(cfg.z_std)
        self.d_threshold = cfg.d_threshold
        self.metric_names = self.metric_names + ("d_updates",)
        self._trackers["d_updates"] = keras.metrics.Mean(name="d_updates")
        self._d_taken = None
        self._features = None
        #: D's accuracy on the previous batch (the accuracy rule's input); 0 before the first step.
        self.last_d_acc = tf.Variable(0.0, trainable=False, name="last_d_acc")

    def compile(self, optimizers=None, **kwargs):
        super().compile(optimizers, **kwargs)
        self.build_optimizers()

    # -- noise --------------------------------------------------------------------
    def sample_noise(self, n):
        """``(n, latent_dim)`` draws of N(0, z_std^2) from the model's seed generator."""
        return keras.random.normal((n, self.latent_dim), stddev=self.z_std, seed=self.seed_generator)

    def fixed_noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Reproducible ``(n, latent_dim)`` N(0, z_std^2) noise (NumPy)."""
        return (self.z_std * np.random.default_rng(seed).standard_normal((n, self.latent_dim))).astype(np.float32)

    # -- training -----------------------------------------------------------------
    def discriminator_update(self, loss_fn):
        """D's step, taken only when its accuracy on the *last* batch was at most ``d_threshold`` (Wu et al.'s
        rule; the first step always runs). Each step measures D's accuracy on its batch before any update and
        keeps it in ``last_d_acc`` (checkpointed) for the next step's decision."""
        if self.d_threshold is None:
            self._d_taken = tf.constant(1.0)
            return self.update("discriminator", loss_fn)
        allowed = self.last_d_acc <= self.d_threshold  # read before this batch's accuracy replaces it
        out, self._d_taken = self.update_if("discriminator", loss_fn, lambda _: allowed)
        self.last_d_acc.assign(self.accuracy(out[1], out[2]))
        return out

    def extra_state(self) -> dict:
        return {"last_d_acc": self.last_d_acc}

    def train_step(self, data):
        super().train_step(data)
        return self.record(d_updates=self._d_taken)

    # -- inference ------------------------------------------------------------------
    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has voxel grids of shape {got[0]} but the discriminator takes {want[0]}; "
                "set cube_len to the data's side, or load the data at cube_len")

    def sample_voxels(self, n: int, seed: int = 0, threshold: float = 0.5) -> np.ndarray:
        """``n`` shapes from reproducible noise: boolean ``(n, L, L, L)`` occupancy above ``threshold``."""
        return self.sample(n, seed)[..., 0] > threshold

    def preview(self, inputs) -> np.ndarray:
        """Depth-shaded pictures (:func:`gancourse.viz.voxel_images`) of the shapes for fixed noise."""
        from gancourse.viz import voxel_images

        return voxel_images(self.generate(inputs))

    def save_renders(self, inputs, stem, max_surfaces: int = 16) -> list:
        """Write the shapes for the noise ``inputs``: ``{stem}_surfaces.png`` (marching-cubes renders of the
        first ``max_surfaces``) and ``{stem}_voxels.npz`` (``voxels``: uint8 ``(n, L, L, L)`` occupancy at 0.5,
        ``noise``: the inputs). Returns the two paths."""
        from pathlib import Path

        import matplotlib.pyplot as plt

        from gancourse.viz import show_voxels

        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        shapes = (self.generate(inputs)[..., 0] > 0.5).astype(np.uint8)
        fig = show_voxels(shapes[:max_surfaces], ncols=min(4, len(shapes)))
        surfaces = stem.with_name(stem.name + "_surfaces.png")
        fig.savefig(surfaces, dpi=80)
        plt.close(fig)
        grids = stem.with_name(stem.name + "_voxels.npz")
        np.savez_compressed(grids, voxels=shapes, noise=np.asarray(inputs, np.float32))
        return [surfaces, grids]

    def discriminator_features(self, volumes, batch_size: int = 64) -> np.ndarray:
        """``(n, F)``: the discriminator's shape descriptor (:func:`gancourse.nn.voxels.feature_model`, Wu et
        al.'s max-pooled activations of its last three strided layers), for a linear classifier."""
        v = np.asarray(volumes, dtype=np.float32)
        if v.ndim == 4:
            v = v[..., None]
        want = self.expected_image_shape()
        if v.shape[1:] != want:
            raise ValueError(f"volumes must be (n, {', '.join(map(str, want))}) or without the channel axis, "
                             f"got {np.shape(volumes)}")
        if self._features is None:
            self._features = feature_model(self.discriminator)
        out = [np.asarray(self._features(v[i:i + batch_size], training=False)) for i in range(0, len(v), batch_size)]
        return np.concatenate(out).astype(np.float32)


MODEL = GAN3D
CONFIG = GAN3DConfig


def batches(cfg: GAN3DConfig, volumes):
    """The training pipeline over voxel grids a caller supplies (``(N, L, L, L)`` or ``(N, L, L, L, 1)``,
    any numeric dtype with values in {0, 1}): stored as ``uint8``, cast to float per batch, shuffled per epoch."""
    from gancourse.data.voxels import voxel_dataset

    return voxel_dataset(volumes, cfg.batch_size, shuffle=True, seed=cfg.seed)


def training_data(cfg: GAN3DConfig, data_dir=None):
    """The training ``tf.data.Dataset`` of ``cfg.dataset`` (``data_dir``: where ShapeNets lives) and the sample
    grid's inputs (``None``: the model's own fixed noise)."""
    from gancourse import data

    return data.load(cfg, split="train", data_dir=data_dir), None
