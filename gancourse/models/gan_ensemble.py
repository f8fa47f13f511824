"""Many small fully connected GANs trained at once: a vectorised twin of :class:`~gancourse.models.gan.ToyGAN`.

A study that compares stabilisation tricks over many seeds trains dozens of
tiny MLP GANs. Trained one after the other, each step is a few hundred
microsecond-sized operations and the run is dominated by per-operation
overhead. :class:`GANEnsemble` stacks the weights of all the runs along a
leading *slot* axis (``(slots, in, out)`` kernels) and trains them in one
graph: one batched matrix product per layer serves every run.

The slots are independent. Each slot's loss is its own batch mean, the total
loss is their sum, so each slot's weights receive exactly its own gradient,
and Adam (written out here, with Keras' defaults) acts element by element, so
one optimizer over the stacked weights is the same as one optimizer per run. A slot's variant is a
:class:`~gancourse.models.gan.GANConfig`; the architecture and the update are
those of :class:`ToyGAN` (Dense layers with Glorot-uniform kernels and zero
biases, LeakyReLU(0.2), optional batch or per-sample layer normalisation,
minibatch discrimination before D's logit, non-saturating or minimax G loss,
feature matching on D's last hidden layer, historical averaging of both
networks, one- or two-sided label smoothing, Adam). Variants that differ in a
switch share one graph: a switch that is off multiplies its branch by zero,
so its weights get a zero gradient and never move.

Slots with the same seed share their initial weights (the same random draws,
scaled by each layer's Glorot limit), their real batches and their noise
(common random numbers), so variants differ only by their switch, and a
variant's runs do not depend on which other variants share the ensemble.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gancourse.models.gan import GANConfig

#: The fields that must be equal in every slot (they fix shapes or the optimizer).
SHARED_FIELDS = ("data", "latent_dim", "hidden", "depth", "batch_size", "learning_rate", "beta_1")
_BN_MOMENTUM, _BN_EPS, _LN_EPS = 0.99, 1e-3, 1e-3  # Keras' BatchNormalization / LayerNormalization defaults


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


class GANEnsemble:
    """Train ``len(variants) * len(seeds)`` toy GANs (2-D or 1-D data) in one vectorised graph.

    Args:
        variants: ``{name: GANConfig}``; they must agree on :data:`SHARED_FIELDS`,
            and use ``label_smoothing`` ``none``, ``one_sided`` or ``two_sided``
            and the ``bce`` objective.
        seeds: the seeds; slot ``(variant, seed)`` starts from the weights
            drawn with ``seed`` and trains on the batches of that seed.

    Slots are ordered variant by variant, seeds inner: slot ``v * len(seeds) + s``.
    """

    def __init__(self, variants: dict[str, GANConfig], seeds):
        if not variants:
            raise ValueError("give at least one variant")
        self.names, self.configs = list(variants), list(variants.values())
        self.seeds = [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("give at least one seed")
        first = self.configs[0]
        for name, cfg in variants.items():
            if not isinstance(cfg, GANConfig):
                raise ValueError(f"variant {name!r} must be a GANConfig, got {type(cfg).__name__}")
            diff = [f for f in SHARED_FIELDS if getattr(cfg, f) != getattr(first, f)]
            if diff:
                raise ValueError(f"variant {name!r} differs from {self.names[0]!r} in {', '.join(diff)}; every "
                                 "variant of one ensemble must share these fields (train separate ensembles)")
            if cfg.label_smoothing == "noisy" or cfg.objective != "bce":
                raise ValueError(f"variant {name!r}: the ensemble supports the bce objective with label_smoothing "
                                 "none, one_sided or two_sided")
            if len(cfg.data_shape) != 1:
                raise ValueError(f"variant {name!r}: the ensemble trains vector data (ring, line), not images")
        self.cfg = first
        self.dim = int(first.data_shape[0])
        self.kernels = max(c.minibatch_kernels for c in self.configs)
        self.kernel_dims = {c.minibatch_dim for c in self.configs if c.minibatch_kernels}
        if len(self.kernel_dims) > 1 or len({c.minibatch_kernels for c in self.configs if c.minibatch_kernels}) > 1:
            raise ValueError("all variants with minibatch discrimination must use the same kernels and dimension")
        self.kernel_dim = self.kernel_dims.pop() if self.kernel_dims else 1
        self.slot_seed = np.repeat(np.arange(len(self.seeds))[None], len(self.names), 0).ravel()
        self.slot_variant = np.repeat(np.arange(len(self.names)), len(self.seeds))
        self.slots = len(self.slot_seed)
        per_variant = lambda f: np.array([f(self.configs[v]) for v in self.slot_variant], np.float32)  # noqa: E731
        self.flags = {
            "batch": per_variant(lambda c: c.norm == "batch"), "layer": per_variant(lambda c: c.norm == "layer"),
            "minibatch": per_variant(lambda c: c.minibatch_kernels > 0),
            "minimax": per_variant(lambda c: c.generator_loss == "minimax"),
            "feature_matching": per_variant(lambda c: c.feature_matching),
            "historical": per_variant(lambda c: c.historical_weight),
            "real_target": per_variant(lambda c: 1.0 - c.smoothing if c.label_smoothing != "none" else 1.0),
            "fake_target": per_variant(lambda c: c.smoothing if c.label_smoothing == "two_sided" else 0.0),
        }
        self.norm_slots = {kind: tf.constant(np.flatnonzero(self.flags[kind]), tf.int32) for kind in ("batch", "layer")}
        self.matching_slots = tf.constant(np.flatnonzero(self.flags["feature_matching"]), tf.int32)
        self.minibatch_slots = tf.constant(np.flatnonzero(self.flags["minibatch"]), tf.int32)
        self.flags = {k: tf.constant(v) for k, v in self.flags.items()}
        self._build()
        self._loop = None

    # -- weights -------------------------------------------------------------
    def _initial(self, seed: int) -> dict:
        """Initial weights of one seed (the same for every variant)."""
        rng = np.random.default_rng(seed)
        cfg, h = self.cfg, self.cfg.hidden
        w = {}
        for net, fan_in, out in (("g", cfg.latent_dim, self.dim), ("d", self.dim, 1)):
            sizes = [fan_in] + [h] * cfg.depth
            for i in range(cfg.depth):
                w[f"{net}_w{i}"] = _glorot(rng, sizes[i], h)
                w[f"{net}_b{i}"] = np.zeros(h)
                w[f"{net}_gamma{i}"] = np.ones(h)
                w[f"{net}_beta{i}"] = np.zeros(h)
            w[f"{net}_wout"] = _glorot(rng, h, out)
            w[f"{net}_bout"] = np.zeros(out)
        # D's logit layer also reads the minibatch features where that is on: Glorot-uniform over its full fan-in
        w["d_wout_extra"] = rng.uniform(-1.0, 1.0, (self.kernels, 1))
        w["d_T"] = rng.normal(0.0, 0.05, (h, self.kernels * self.kernel_dim))
        return w

    def _slot_weights(self, per_seed: list[dict], slot: int) -> dict:
        w = dict(per_seed[self.slot_seed[slot]])
        extra = w.pop("d_wout_extra")
        if self.kernels:
            uses = self.configs[self.slot_variant[slot]].minibatch_kernels > 0
            fan_in = self.cfg.hidden + (self.kernels if uses else 0)
            unit = w["d_wout"] / np.sqrt(6.0 / (self.cfg.hidden + 1))  # back to uniform(-1, 1) draws
            limit = np.sqrt(6.0 / (fan_in + 1))
            w["d_wout"] = np.concatenate([unit, extra if uses else np.zeros_like(extra)]) * limit
        return w

    def _build(self):
        per_seed = [self._initial(s) for s in self.seeds]
        slots = [self._slot_weights(per_seed, i) for i in range(self.slots)]
        self.weights = {k: tf.Variable(np.stack([w[k] for w in slots]).astype(np.float32), name=k) for k in slots[0]}
        self.moving = {f"{net}_{stat}{i}": tf.Variable(np.full((self.slots, self.cfg.hidden), float(stat == "var"),
                                                               np.float32), trainable=False, name=f"{net}_{stat}{i}")
                       for net in "gd" for stat in ("mean", "var") for i in range(self.cfg.depth)}
        self.networks = {net: [v for k, v in self.weights.items() if k.startswith(net + "_")] for net in "gd"}
        self.history = {net: [tf.Variable(v, trainable=False) for v in vs] for net, vs in self.networks.items()}
        self.count = tf.Variable(1.0, trainable=False)
        # Adam's moments, one pair per weight (Keras' Adam: beta_2 = 0.999, epsilon = 1e-7)
        self.moments = {net: [(tf.Variable(tf.zeros_like(v), trainable=False),
                               tf.Variable(tf.zeros_like(v), trainable=False)) for v in vs]
                        for net, vs in self.networks.items()}
        self.iterations = {net: tf.Variable(0.0, trainable=False) for net in "gd"}

    def slot(self, variant: str, seed: int) -> int:
        """Index of the slot that trains ``variant`` with ``seed``."""
        return self.names.index(variant) * len(self.seeds) + self.seeds.index(int(seed))

    # -- forward passes --------------------------------------------------------
    def _hidden(self, net: str, x, training: bool):
        w = self.weights
        for i in range(self.cfg.depth):
            x = tf.einsum("sbi,sio->sbo", x, w[f"{net}_w{i}"]) + w[f"{net}_b{i}"][:, None]  # (S, B, hidden)
            parts = []
            if self.norm_slots["batch"].shape[0]:  # batch norm, per slot over its own batch
                on = self.norm_slots["batch"]
                h = tf.gather(x, on)
                mean_key, var_key = f"{net}_mean{i}", f"{net}_var{i}"
                if training:
                    mean, var = tf.nn.moments(h, axes=[1], keepdims=True)
                    for key, value in ((mean_key, mean[:, 0]), (var_key, var[:, 0])):
                        old = tf.gather(self.moving[key], on)
                        self.moving[key].scatter_nd_update(on[:, None], old * _BN_MOMENTUM + value * (1 - _BN_MOMENTUM))
                else:
                    mean = tf.gather(self.moving[mean_key], on)[:, None]
                    var = tf.gather(self.moving[var_key], on)[:, None]
                gamma, beta = tf.gather(w[f"{net}_gamma{i}"], on)[:, None], tf.gather(w[f"{net}_beta{i}"], on)[:, None]
                parts.append((on, (h - mean) * tf.math.rsqrt(var + _BN_EPS) * gamma + beta))
            if self.norm_slots["layer"].shape[0]:  # per-sample normalisation, no learned scale or offset
                on = self.norm_slots["layer"]
                h = tf.gather(x, on)
                mean, var = tf.nn.moments(h, axes=[2], keepdims=True)
                parts.append((on, (h - mean) * tf.math.rsqrt(var + _LN_EPS)))
            for on, h in parts:
                x = tf.tensor_scatter_nd_update(x, on[:, None], h)
            x = tf.nn.leaky_relu(x, 0.2)
        return x

    def generate(self, z, training: bool = False):
        """Samples ``(S, B, dim)`` for noise ``(S, B, latent_dim)``."""
        h = self._hidden("g", z, training)
        return tf.einsum("sbi,sio->sbo", h, self.weights["g_wout"]) + self.weights["g_bout"][:, None]

    def discriminate(self, x, training: bool = True):
        """``(logits (S, B), features (S, B, hidden))`` for samples ``(S, B, dim)``."""
        f = self._hidden("d", x, training)
        head = f
        if self.kernels:  # only the slots that use it pay for the (B, B) comparisons
            on = self.minibatch_slots
            m = tf.einsum("sbi,sio->sbo", tf.gather(f, on), tf.gather(self.weights["d_T"], on))
            m = tf.reshape(m, [len(on), -1, self.kernels, self.kernel_dim])  # (S_on, B, kernels, dim)
            l1 = tf.reduce_sum(tf.abs(m[:, :, None] - m[:, None, :]), axis=-1)  # (S_on, B, B, kernels)
            o = tf.reduce_sum(tf.exp(-l1), axis=2)  # (S_on, B, kernels)
            o = tf.scatter_nd(on[:, None], o, tf.concat([[self.slots], tf.shape(o)[1:]], 0))  # zeros elsewhere
            head = tf.concat([f, o], axis=-1)
        logits = tf.einsum("sbi,sio->sbo", head, self.weights["d_wout"]) + self.weights["d_bout"][:, None]
        return logits[..., 0], f

    # -- training ----------------------------------------------------------------
    @staticmethod
    def _bce(targets, logits):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), axis=1)

    def _penalty(self, net: str):
        terms = [tf.reduce_sum(tf.square(v - m), axis=list(range(1, len(v.shape))))
                 for v, m in zip(self.networks[net], self.history[net])]
        return self.flags["historical"] * tf.add_n(terms)  # (S,)

    def _apply(self, net: str, loss_fn):
        variables = self.networks[net]
        with tf.GradientTape() as tape:
            per_slot = loss_fn()  # (S,)
            total = tf.reduce_sum(per_slot)
        grads = tape.gradient(total, variables)
        t = self.iterations[net].assign_add(1.0)
        b1, b2 = self.cfg.beta_1, 0.999
        rate = self.cfg.learning_rate * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for v, g, (m, s) in zip(variables, grads, self.moments[net]):
            if g is None:  # a switch that no slot uses (e.g. minibatch weights without minibatch slots)
                continue
            m.assign(b1 * m + (1 - b1) * g)
            s.assign(b2 * s + (1 - b2) * tf.square(g))
            v.assign_sub(rate * m / (tf.sqrt(s) + 1e-7))
        return per_slot

    def _step(self, real, z_d, z_g):
        flags = self.flags
        fakes = tf.stop_gradient(self.generate(z_d, training=True))

        def d_loss():
            real_logits, _ = self.discriminate(real)
            fake_logits, _ = self.discriminate(fakes)
            ones = tf.ones_like(real_logits)
            return (self._bce(ones * flags["real_target"][:, None], real_logits)
                    + self._bce(ones * flags["fake_target"][:, None], fake_logits) + self._penalty("d"))

        d = self._apply("d", d_loss)

        def g_loss():
            fake = self.generate(z_g, training=True)
            fake_logits, fake_features = self.discriminate(fake)
            ns = tf.reduce_mean(tf.nn.softplus(-fake_logits), axis=1)  # -log D(G(z))
            mm = tf.reduce_mean(-tf.nn.softplus(fake_logits), axis=1)  # log(1 - D(G(z)))
            loss = flags["minimax"] * mm + (1 - flags["minimax"]) * ns
            if self.matching_slots.shape[0]:  # feature matching replaces the adversarial loss in its slots
                _, real_features = self.discriminate(real)
                fm = tf.reduce_sum(tf.square(tf.reduce_mean(real_features, 1) - tf.reduce_mean(fake_features, 1)), -1)
                loss = tf.where(flags["feature_matching"] > 0, fm, loss)
            return loss + self._penalty("g")

        g = self._apply("g", g_loss)
        self.count.assign_add(1.0)  # historical averages: fold in the new weights of both networks
        for net in "gd":
            for v, m in zip(self.networks[net], self.history[net]):
                m.assign_add((v - m) / self.count)
        return d, g

    def train(self, batches, noise_seed: int = 0) -> dict:
        """One step per leading index of ``batches``: ``(steps, len(seeds), batch, dim)`` real samples.

        Slot ``(variant, seed)`` gets the batches of its seed. The noise of step
        ``t`` is drawn statelessly from ``(noise_seed, t)``, per seed, and
        shared by the variants, so calling :meth:`train` in chunks with
        consecutive ``noise_seed`` values continues one reproducible run.

        Returns:
            the last step's per-slot losses ``{"d_loss": (S,), "g_loss": (S,)}``.
        """
        batches = np.asarray(batches, np.float32)
        want = (len(self.seeds), self.cfg.batch_size, self.dim)
        if batches.ndim != 4 or batches.shape[1:] != want:
            raise ValueError(f"batches must have shape (steps, {', '.join(map(str, want))}), got {batches.shape}")
        if self._loop is None:
            gather = tf.constant(self.slot_seed, tf.int32)
            shape = (len(self.seeds), self.cfg.batch_size, self.cfg.latent_dim)

            @tf.function
            def loop(x, seed):
                d = g = tf.zeros([self.slots])
                for t in tf.range(tf.shape(x)[0]):
                    z = [tf.gather(tf.random.stateless_normal(shape, tf.stack([seed, 2 * t + k])), gather)
                         for k in (0, 1)]
                    d, g = self._step(tf.gather(x[t], gather), z[0], z[1])
                return d, g

            self._loop = loop
        d, g = self._loop(tf.constant(batches), tf.constant(int(noise_seed), tf.int32))
        return {"d_loss": d.numpy(), "g_loss": g.numpy()}

    def sample(self, n: int, seed: int = 1) -> np.ndarray:
        """``(S, n, dim)`` samples of every slot (inference mode) on the same fixed noise."""
        z = np.random.default_rng(seed).standard_normal((n, self.cfg.latent_dim)).astype(np.float32)
        return self.generate(tf.constant(np.broadcast_to(z, (self.slots, n, self.cfg.latent_dim))),
                             training=False).numpy()
