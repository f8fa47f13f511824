"""The Keras 2 training idiom of the source book, kept as a measured baseline.

The sources train a GAN by compiling the discriminator, setting
``D.trainable = False``, compiling a stacked ``D(G(z))`` model and then calling
``G.predict``, ``D.train_on_batch`` and ``GAN.train_on_batch`` in turns. Keras 2
froze ``trainable`` at compile time, so this worked. Keras 3 collects a model's
trainable weights when its training function is first built (at its first
``train_on_batch``) and does not look again unless that function is rebuilt
(``make_train_function(force=True)``); ``D`` was frozen before that, so
without toggling it back on ``D`` never learns, with only a one-time
``UserWarning`` (:func:`trainable_trap` shows it). :class:`LegacyLoop` is that loop
*made to train* under Keras 3 by toggling the flag around each update, as the
book's repository does. It is the Keras 2 *idiom*, not quite the Keras 2
*algorithm*: under Keras 3 a ``BatchNormalization`` layer with
``trainable = False`` runs in inference mode (moving averages), so in the
generator's step the frozen discriminator's batch norm does not use the
batch's statistics, as it did under Keras 2 and as
:class:`gancourse.training.GAN` does. For discriminators with batch norm the
two loops therefore compute slightly different generator gradients for the
same work. ``python -m gancourse bench`` times it against
:class:`gancourse.training.GAN` (:class:`LegacyPairedLoop` against
:class:`gancourse.models.pix2pix.Pix2Pix`, :class:`LegacyCycleLoop` against
:class:`gancourse.models.cyclegan.CycleGAN`, :class:`LegacySRLoop` against
:class:`gancourse.models.srgan.SRGAN`, :class:`LegacyGAN3DLoop` against
:class:`gancourse.models.gan3d.GAN3D`, :class:`LegacyConditionalLoop` against
:class:`gancourse.models.agecgan.AgeCGAN`, :class:`LegacyStackLoop` against StackGAN's Stage-I,
:class:`gancourse.models.stackgan.StackGAN`, :class:`LegacyACGANLoop` against
:class:`gancourse.models.acgan.ACGAN`); the course never trains with them otherwise.
"""

from __future__ import annotations

import keras
import numpy as np


def _bce():
    return keras.losses.BinaryCrossentropy(from_logits=True)


class LegacyLoop:
    """The predict / train_on_batch loop on a generator and a (logit) discriminator.

    Args:
        generator, discriminator: the networks (fresh ones: they are compiled here).
        latent_dim: noise size.
        d_optimizer, g_optimizer: two optimizer instances.
        toggle: set ``D.trainable`` True before D's updates and False before G's
            (``False`` reproduces the sources' code and the Keras 3 trap).
        reset: with ``toggle``, set ``D.trainable`` back to False before G's update
            (``False``: the 3D-GAN book's loop, which never does, so the stacked
            model's first ``train_on_batch`` collects D's weights and every
            generator step also moves D towards calling fakes real).
        noise_std: standard deviation of the normal noise (3D-GAN: 0.33).
    """

    def __init__(self, generator, discriminator, latent_dim: int, d_optimizer, g_optimizer, *, toggle: bool = True,
                 reset: bool = True, noise_std: float = 1.0):
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.toggle, self.reset = int(latent_dim), toggle, reset
        self.noise_std = float(noise_std)
        discriminator.compile(optimizer=d_optimizer, loss=_bce())
        discriminator.trainable = False
        z = keras.Input((self.latent_dim,))
        self.stacked = keras.Model(z, discriminator(generator(z)))
        self.stacked.compile(optimizer=g_optimizer, loss=_bce())
        self.rng = np.random.default_rng(0)

    def noise(self, n: int) -> np.ndarray:
        """``(n, latent_dim)`` normal noise with the loop's standard deviation."""
        return (self.noise_std * self.rng.standard_normal((n, self.latent_dim))).astype(np.float32)

    def step(self, real: np.ndarray) -> tuple[float, float]:
        """One D update on real and fake batches, then one G update. Returns (d_loss, g_loss)."""
        n = len(real)
        ones, zeros = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)
        fake = self.generator.predict(self.noise(n), verbose=0)
        if self.toggle:
            self.discriminator.trainable = True
        d_loss = 0.5 * (float(self.discriminator.train_on_batch(real, ones))
                        + float(self.discriminator.train_on_batch(fake, zeros)))
        if self.toggle and self.reset:
            self.discriminator.trainable = False
        g_loss = float(self.stacked.train_on_batch(self.noise(n), ones))
        return d_loss, g_loss


class LegacyGAN3DLoop(LegacyLoop):
    """The 3D-GAN book's loop: :class:`LegacyLoop` with N(0, 0.33^2) noise. ``reset=False`` is the book's own
    version (``D.trainable`` set True for D's update and never set back); the default resets it, the loop
    ``python -m gancourse bench gan3d`` times against :class:`gancourse.models.gan3d.GAN3D`."""

    def __init__(self, generator, discriminator, latent_dim: int, d_optimizer, g_optimizer, *, reset: bool = True,
                 noise_std: float = 0.33):
        super().__init__(generator, discriminator, latent_dim, d_optimizer, g_optimizer, toggle=True, reset=reset,
                         noise_std=noise_std)


class LegacyConditionalLoop:
    """The Age-cGAN book's loop: a conditional ``D([image, age])`` compiled alone and a stacked
    ``[z, y] -> D([G([z, y]), y])`` compiled with D frozen.

    Each step: ``G.predict`` on fresh noise at the batch's ages, ``D.train_on_batch`` on the real pairs
    (target ``real_label``: the book's 0.9) and on the generated ones (0), with ``D.trainable`` toggled on,
    then the stacked ``train_on_batch`` on new noise at *random* ages with target 1. Timed by
    ``python -m gancourse bench agecgan`` against :class:`gancourse.models.agecgan.AgeCGAN`.
    """

    def __init__(self, generator, discriminator, latent_dim: int, n_classes: int, d_optimizer, g_optimizer, *,
                 real_label: float = 0.9):
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.n_classes, self.real_label = int(latent_dim), int(n_classes), float(real_label)
        discriminator.compile(optimizer=d_optimizer, loss=_bce())
        discriminator.trainable = False
        z, y = keras.Input((self.latent_dim,)), keras.Input((self.n_classes,))
        self.stacked = keras.Model([z, y], discriminator([generator([z, y]), y]))
        self.stacked.compile(optimizer=g_optimizer, loss=_bce())
        self.rng = np.random.default_rng(0)

    def step(self, images: np.ndarray, ages: np.ndarray) -> tuple[float, float]:
        """One D update on real and generated pairs at the batch's ages, then one G update. Returns
        ``(d_loss, g_loss)``."""
        n = len(images)
        ones = np.ones((n, 1), np.float32)
        fake = self.generator.predict([self.rng.standard_normal((n, self.latent_dim)).astype(np.float32), ages],
                                      verbose=0)
        self.discriminator.trainable = True
        d_loss = 0.5 * (float(self.discriminator.train_on_batch([images, ages], self.real_label * ones))
                        + float(self.discriminator.train_on_batch([fake, ages], 0 * ones)))
        self.discriminator.trainable = False
        random_ages = np.eye(self.n_classes, dtype=np.float32)[self.rng.integers(0, self.n_classes, n)]
        z = self.rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        return d_loss, float(self.stacked.train_on_batch([z, random_ages], ones))


class LegacyACGANLoop:
    """AC-GAN in the Keras 2 idiom: the two-headed ``D(image) -> [source logit, class logits]`` compiled alone
    with binary cross-entropy on the source and sparse categorical cross-entropy on the classes (weights 1 and
    ``class_weight``), and a stacked ``[z, y] -> D(G([z, y]))`` compiled the same way with D frozen.

    Each step: ``G.predict`` on fresh noise of uniformly drawn classes, ``D.train_on_batch`` on the real images
    (source 1, their labels) and on the generated ones (source 0, the requested classes) with ``D.trainable``
    toggled on, then the stacked ``train_on_batch`` on new noise and classes (source 1, the requested classes).
    Timed by ``python -m gancourse bench acgan`` against :class:`gancourse.models.acgan.ACGAN`.
    """

    def __init__(self, generator, discriminator, latent_dim: int, n_classes: int, d_optimizer, g_optimizer, *,
                 class_weight: float = 1.0):
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.n_classes = int(latent_dim), int(n_classes)
        both = dict(loss=[_bce(), keras.losses.SparseCategoricalCrossentropy(from_logits=True)],
                    loss_weights=[1.0, float(class_weight)])
        discriminator.compile(optimizer=d_optimizer, **both)
        discriminator.trainable = False
        z, y = keras.Input((self.latent_dim,)), keras.Input((self.n_classes,))
        self.stacked = keras.Model([z, y], discriminator(generator([z, y])))
        self.stacked.compile(optimizer=g_optimizer, **both)
        self.rng = np.random.default_rng(0)

    def _request(self, n: int):
        classes = self.rng.integers(0, self.n_classes, n).astype(np.int32)
        z = self.rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        return [z, np.eye(self.n_classes, dtype=np.float32)[classes]], classes

    def step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """One D update on the real and the generated images, then one G update. Returns ``(d_loss, g_loss)``,
        each the compiled total (source plus weighted class loss)."""
        n = len(images)
        ones = np.ones((n, 1), np.float32)
        inputs, classes = self._request(n)
        fake = self.generator.predict(inputs, verbose=0)
        self.discriminator.trainable = True
        d_real = self.discriminator.train_on_batch(images, [ones, labels])
        d_fake = self.discriminator.train_on_batch(fake, [0 * ones, classes])
        self.discriminator.trainable = False
        inputs, classes = self._request(n)
        g_loss = self.stacked.train_on_batch(inputs, [ones, classes])
        return 0.5 * (float(np.ravel(d_real)[0]) + float(np.ravel(d_fake)[0])), float(np.ravel(g_loss)[0])


class LegacyStackLoop:
    """The StackGAN book's Stage-I loop: ``D([image, embedding])`` compiled alone and a stacked
    ``[embedding, z] -> [D([G1(embedding, z), embedding]), [mu, logvar]]`` compiled with D frozen, its losses
    binary cross-entropy and the KL term, weighted 1 and ``kl_weight``.

    Each step: ``G.predict`` on fresh noise, then three ``D.train_on_batch`` calls with ``D.trainable``
    toggled on, as the book makes them (real pairs, target ``real_label``; generated pairs, 0; the real images
    with the batch's embeddings shifted by one, 0), then the stacked ``train_on_batch`` with target
    ``real_label`` (the book's 0.9) for the adversarial output. Timed by ``python -m gancourse bench stackgan``
    against :class:`gancourse.models.stackgan.StackGAN`'s Stage-I.
    """

    def __init__(self, generator, discriminator, latent_dim: int, d_optimizer, g_optimizer, *,
                 kl_weight: float = 2.0, real_label: float = 0.9):
        from gancourse.nn.conditioning import kl_to_standard_normal

        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.real_label = int(latent_dim), float(real_label)
        discriminator.compile(optimizer=d_optimizer, loss=_bce())
        discriminator.trainable = False
        embedding, z = keras.Input(generator.inputs[0].shape[1:]), keras.Input((self.latent_dim,))
        image, mu, logvar = generator([embedding, z])
        stats = keras.layers.Concatenate()([mu, logvar])
        self.stacked = keras.Model([embedding, z], [discriminator([image, embedding]), stats])
        half = mu.shape[-1]

        def kl_loss(_, y_pred):  # the target is a dummy, as in the book
            return kl_to_standard_normal(y_pred[:, :half], y_pred[:, half:])

        self.stacked.compile(optimizer=g_optimizer, loss=[_bce(), kl_loss], loss_weights=[1.0, float(kl_weight)])
        self.rng = np.random.default_rng(0)

    def step(self, low: np.ndarray, high: np.ndarray, embeddings: np.ndarray, class_ids: np.ndarray):
        """One Stage-I step on a captions batch (``high`` and ``class_ids`` unused, as in the book). Returns
        ``(d_loss, g_loss)`` with the book's logged ``d_loss = (real + (wrong + fake) / 2) / 2``."""
        n = len(low)
        ones = np.ones((n, 1), np.float32)
        fake = self.generator.predict([embeddings, self.rng.standard_normal((n, self.latent_dim)).astype(
            np.float32)], verbose=0)[0]
        self.discriminator.trainable = True
        real = float(self.discriminator.train_on_batch([low, embeddings], self.real_label * ones))
        fake_loss = float(self.discriminator.train_on_batch([fake, embeddings], 0 * ones))
        wrong = float(self.discriminator.train_on_batch([low[:-1], embeddings[1:]], 0 * ones[1:]))
        self.discriminator.trainable = False
        z = self.rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        dummy = np.zeros((n, 2 * self.generator.outputs[1].shape[-1]), np.float32)
        g_loss = self.stacked.train_on_batch([embeddings, z], [self.real_label * ones, dummy])
        return 0.5 * (real + 0.5 * (wrong + fake_loss)), float(np.ravel(g_loss)[0])


class LegacyPairedLoop:
    """The same Keras 2 idiom for paired translation (pix2pix), in the style of the source book's loop.

    ``D`` (a conditional discriminator on ``[input, image]`` returning logits)
    is compiled alone; a combined model ``x -> [G(x), D([x, G(x)])]`` is
    compiled with ``["mae", BCE]`` weighted ``[l1_weight, 1]``. Each step:
    ``G.predict``, two ``D.train_on_batch`` calls (real and generated pairs)
    with ``D.trainable`` toggled on, then the combined ``train_on_batch``. (The
    book alternates real-only and fake-only D batches; this loop does both
    every step, as the model it is timed against does.) Timed by ``python -m gancourse bench pix2pix`` against
    :class:`gancourse.models.pix2pix.Pix2Pix`.
    """

    def __init__(self, generator, discriminator, d_optimizer, g_optimizer, *, l1_weight: float = 100.0):
        self.generator, self.discriminator = generator, discriminator
        discriminator.compile(optimizer=d_optimizer, loss=_bce())
        discriminator.trainable = False
        source = keras.Input(generator.input_shape[1:])
        fake = generator(source)
        self.combined = keras.Model(source, [fake, discriminator([source, fake])])
        self.combined.compile(optimizer=g_optimizer, loss=["mae", _bce()], loss_weights=[float(l1_weight), 1.0])

    def step(self, source: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        """One D update on real and generated pairs, then one G update. Returns (d_loss, g_loss)."""
        ones = np.ones((len(source),) + self.discriminator.output_shape[1:], np.float32)
        fake = self.generator.predict(source, verbose=0)
        self.discriminator.trainable = True
        d_loss = 0.5 * (float(self.discriminator.train_on_batch([source, target], ones))
                        + float(self.discriminator.train_on_batch([source, fake], 0 * ones)))
        self.discriminator.trainable = False
        g_loss = self.combined.train_on_batch(source, [target, ones])
        return d_loss, float(np.ravel(g_loss)[0])


class LegacyCycleLoop:
    """The source book's CycleGAN loop in the Keras 2 idiom, made to train under Keras 3.

    ``D_A`` and ``D_B`` are compiled alone with MSE; a combined model
    ``[a, b] -> [D_A(F(b)), D_B(G(a)), F(G(a)), G(F(b)), F(a), G(b)]`` is
    compiled with ``["mse", "mse", "mae", "mae", "mae", "mae"]`` weighted
    ``[1, 1, lambda_cycle, lambda_cycle, identity_weight, identity_weight]``
    (the book: 10 and 1). Each step: ``G.predict(a)`` and ``F.predict(b)``,
    four ``train_on_batch`` calls of the discriminators (real, then fake, for
    each; ``trainable`` toggled on), then the combined ``train_on_batch``. The
    book shares one optimizer among the three compiled models, which Keras 3
    refuses (an optimizer's state belongs to one set of weights): here each
    has its own. Timed by ``python -m gancourse bench cyclegan`` against
    :class:`gancourse.models.cyclegan.CycleGAN`.

    Args:
        g_ab, g_ba, d_a, d_b: the networks (fresh ones: they are compiled here).
        make_optimizer: a function of no arguments returning a new optimizer (called three times).
    """

    def __init__(self, g_ab, g_ba, d_a, d_b, make_optimizer, *, lambda_cycle: float = 10.0,
                 identity_weight: float = 1.0):
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        for d in (d_a, d_b):
            d.compile(optimizer=make_optimizer(), loss="mse")
            d.trainable = False
        a, b = keras.Input(g_ab.input_shape[1:]), keras.Input(g_ba.input_shape[1:])
        fake_b, fake_a = g_ab(a), g_ba(b)
        self.combined = keras.Model([a, b], [d_a(fake_a), d_b(fake_b), g_ba(fake_b), g_ab(fake_a), g_ba(a), g_ab(b)])
        self.combined.compile(optimizer=make_optimizer(), loss=["mse", "mse", "mae", "mae", "mae", "mae"],
                              loss_weights=[1.0, 1.0, float(lambda_cycle), float(lambda_cycle),
                                            float(identity_weight), float(identity_weight)])

    def step(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        """One update of each discriminator on real and generated images, then one of both generators.
        Returns (d_loss, g_loss) as the book logs them."""
        ones = np.ones((len(a),) + self.d_a.output_shape[1:], np.float32)
        fake_b, fake_a = self.g_ab.predict(a, verbose=0), self.g_ba.predict(b, verbose=0)
        losses = []
        for d, real, fake in ((self.d_a, a, fake_a), (self.d_b, b, fake_b)):
            d.trainable = True
            losses += [float(d.train_on_batch(real, ones)), float(d.train_on_batch(fake, 0 * ones))]
            d.trainable = False
        g_loss = self.combined.train_on_batch([a, b], [ones, ones, a, b, a, b])
        return 0.25 * sum(losses), float(np.ravel(g_loss)[0])


class LegacySRLoop:
    """The source book's SRGAN loop in the Keras 2 idiom, made to train under Keras 3.

    ``D`` (sigmoid scores) is compiled alone with MSE; a combined model
    ``lr -> [D(G(lr)), phi(G(lr))]`` (``phi`` the frozen feature network, or
    the identity for a pixel content loss) is compiled with
    ``["binary_crossentropy", "mse"]`` weighted ``[adv_weight, content_weight]``
    (the book: 1e-3 and 1). Each step: ``G.predict(lr)``, ``D.train_on_batch``
    on the real and on the generated images (``trainable`` toggled on),
    ``phi.predict(hr)`` for the content targets, then the combined
    ``train_on_batch``. The book draws a fresh batch for the generator's step;
    this loop reuses the batch, as the model it is timed against does. Timed by
    ``python -m gancourse bench srgan`` against :class:`gancourse.models.srgan.SRGAN`.
    """

    def __init__(self, generator, discriminator, features, d_optimizer, g_optimizer, *, adv_weight: float = 1e-3,
                 content_weight: float = 1.0):
        self.generator, self.discriminator = generator, discriminator
        self.features = features
        discriminator.compile(optimizer=d_optimizer, loss="mse")
        discriminator.trainable = False
        lr = keras.Input(generator.input_shape[1:])
        sr = generator(lr)
        content = sr if features is None else features(sr)
        self.combined = keras.Model(lr, [discriminator(sr), content])
        self.combined.compile(optimizer=g_optimizer, loss=["binary_crossentropy", "mse"],
                              loss_weights=[float(adv_weight), float(content_weight)])

    def step(self, lr: np.ndarray, hr: np.ndarray) -> tuple[float, float]:
        """One D update on real and generated images, then one G update. Returns (d_loss, g_loss)."""
        ones = np.ones((len(lr),) + self.discriminator.output_shape[1:], np.float32)
        fake = self.generator.predict(lr, verbose=0)
        self.discriminator.trainable = True
        d_loss = 0.5 * (float(self.discriminator.train_on_batch(hr, ones))
                        + float(self.discriminator.train_on_batch(fake, 0 * ones)))
        self.discriminator.trainable = False
        target = hr if self.features is None else self.features.predict(hr, verbose=0)
        g_loss = self.combined.train_on_batch(lr, [ones, target])
        return d_loss, float(np.ravel(g_loss)[0])


def trainable_trap(generator, discriminator, latent_dim: int, real: np.ndarray, steps: int = 3) -> dict[str, bool]:
    """Run :class:`LegacyLoop` without and with toggling and report which weights moved.

    Returns:
        A dict from ``"untoggled: D changed"``, ``"untoggled: G changed"``,
        ``"toggled: D changed"`` and ``"toggled: G changed"`` to booleans. Under
        Keras 3 the untoggled loop leaves D's weights exactly as they were.
    """
    result = {}
    for toggle in (False, True):
        g = keras.models.clone_model(generator)
        d = keras.models.clone_model(discriminator)
        loop = LegacyLoop(g, d, latent_dim, keras.optimizers.Adam(2e-4, beta_1=0.5),
                          keras.optimizers.Adam(2e-4, beta_1=0.5), toggle=toggle)
        d_before = [w.copy() for w in d.get_weights()]
        g_before = [w.copy() for w in g.get_weights()]
        for _ in range(steps):
            loop.step(real)
        name = "toggled" if toggle else "untoggled"
        result[f"{name}: D changed"] = any(not np.array_equal(a, b) for a, b in zip(d_before, d.get_weights()))
        result[f"{name}: G changed"] = any(not np.array_equal(a, b) for a, b in zip(g_before, g.get_weights()))
    return result
