"""The adversarial base: any number of networks, declared update groups, one update primitive.

A model *declares* what it trains::

    class CycleGAN(AdversarialModel):
        NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")
        GROUPS = {"generators": ("g_ab", "g_ba"), "discriminators": ("d_a", "d_b")}

From that declaration the base derives everything that must not be written
twice: one optimizer per group (:meth:`AdversarialModel.compile`, built by
:meth:`AdversarialModel.build_optimizers`), the variables each update may
change (:meth:`AdversarialModel.group_variables`), and the checkpoint
(:meth:`AdversarialModel.checkpoint_objects`: every network, every
optimizer, the in-graph random state and the :meth:`extra_state` a model
declares, such as an image pool or EMA weights). Every ``train_step``
changes weights only through :meth:`AdversarialModel.update`, which runs the
primitive :func:`gancourse.training.steps.apply` on one group. Nothing
toggles ``trainable`` (the Keras 2 idiom that silently stops a network from
learning under Keras 3).

The *preview protocol* used by :class:`~gancourse.training.callbacks.SampleGrid`:
``preview_inputs(n, seed)`` (fixed inputs, drawn once; a noise model draws
noise, a translation model gets held-out examples from its module's
``training_data``) and ``preview(inputs)`` (images in ``[-1, 1]``:
``(n, H, W, C)``, or ``(rows, n, H, W, C)`` for a labelled layout such as
input / output / target). A model's ``metric_samples(n, seed, inputs)`` gives
the images a metric such as FID scores
(:class:`~gancourse.training.callbacks.FIDMonitor`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gancourse.training import steps


class GradientNorms:
    """The global gradient norm of each update group's latest step, in one scalar variable per group.

    :meth:`AdversarialModel.update` writes them inside the compiled training step; the training-health
    monitor (:class:`gancourse.training.health.HealthMonitor`) reads them between steps. A plain object, so
    Keras does not count the variables among the model's weights.
    """

    def __init__(self, groups):
        self._variables = {group: tf.Variable(0.0, trainable=False, dtype=tf.float32, name=f"grad_norm_{group}")
                           for group in groups}

    def variable(self, group: str) -> tf.Variable:
        """The variable of ``group``."""
        return self._variables[group]

    def values(self) -> dict:
        """``{group: latest global gradient norm}`` (0 before the group's first step)."""
        return {group: float(v.numpy()) for group, v in self._variables.items()}


def check_option(name: str, value, options) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, options))}")


class AdversarialModel(keras.Model):
    """What every adversarial model in the course shares.

    A subclass sets these class attributes:

    * ``NETWORKS``: the attribute names of its ``keras.Model`` networks.
    * ``GROUPS``: ``{group: network names}``; each group has one optimizer and
      one update. Every network belongs to exactly one group.
    * ``METRICS``: names of the ``keras.metrics.Mean`` trackers ``fit()`` reports
      (an instance may pass its own through ``metric_names``).
    * ``DATA_NETWORK``: the network whose inputs a training batch must fit
      (:meth:`check_data`).

    Args:
        networks: ``{name: keras.Model}`` for every name in ``NETWORKS``.
        seed: seed of the in-graph random state (noise, label noise, pools).
        metric_names: overrides ``METRICS`` for this instance.
    """

    NETWORKS: tuple = ("generator", "discriminator")
    GROUPS: dict = {"generator": ("generator",), "discriminator": ("discriminator",)}
    METRICS: tuple = ()
    DATA_NETWORK: str = "discriminator"

    def __init__(self, networks: dict, *, seed: int = 0, metric_names: tuple | None = None, name: str = "gan"):
        super().__init__(name=name)
        if sorted(networks) != sorted(self.NETWORKS):
            raise ValueError(f"{type(self).__name__} declares networks {', '.join(self.NETWORKS)}; "
                             f"got {', '.join(networks)}")
        grouped = [n for members in self.GROUPS.values() for n in members]
        if sorted(grouped) != sorted(self.NETWORKS):
            raise ValueError(f"{type(self).__name__}.GROUPS must place every network in exactly one group; "
                             f"networks {self.NETWORKS}, groups {self.GROUPS}")
        for key in self.NETWORKS:
            setattr(self, key, networks[key])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.optimizers: dict = {}
        #: ``{group: schedule}`` of the groups whose learning rate follows an epoch-measured schedule.
        self.schedules: dict = {}
        self.metric_names = tuple(self.METRICS if metric_names is None else metric_names)
        self._trackers = {k: keras.metrics.Mean(name=k) for k in self.metric_names}
        #: The latest step's gradient norm per update group (:class:`GradientNorms`).
        self.gradient_norms = GradientNorms(self.GROUPS)

    # -- networks, groups, optimizers --------------------------------------------
    @property
    def networks(self) -> dict:
        """``{name: network}`` in declaration order."""
        return {key: getattr(self, key) for key in self.NETWORKS}

    def group_variables(self, group: str) -> list:
        """The trainable variables of ``group``'s networks: all that its update may change."""
        if group not in self.GROUPS:
            raise ValueError(f"unknown update group {group!r}; {type(self).__name__} has {', '.join(self.GROUPS)}")
        return [v for key in self.GROUPS[group] for v in getattr(self, key).trainable_variables]

    def default_optimizer(self, group: str) -> keras.optimizers.Optimizer:
        """The optimizer ``compile()`` makes for ``group`` when none is given (from the model's config).

        A config's epoch-measured learning-rate schedule (``cfg.decay_schedule``: CycleGAN's decay, StackGAN's
        halving) is kept in :attr:`schedules`, so that the model can set its epoch length from the data."""
        cfg = getattr(self, "cfg", None)
        if cfg is None or not hasattr(cfg, "make_optimizer"):
            raise ValueError(f"{type(self).__name__}.compile needs an optimizer for group {group!r}")
        schedule = cfg.decay_schedule(group) if hasattr(cfg, "decay_schedule") else None
        if schedule is None:
            return cfg.make_optimizer(group)
        self.schedules[group] = schedule
        return cfg.make_optimizer(group, schedule)

    def learning_rates(self) -> dict:
        """``{group: current learning rate}`` at each optimizer's step counter."""
        return {group: float(keras.ops.convert_to_numpy(opt.learning_rate)) for group, opt in self.optimizers.items()}

    def compile(self, optimizers: dict | None = None, **kwargs):
        """Attach one optimizer per update group.

        Args:
            optimizers: ``{group: optimizer}``; groups left out get
                :meth:`default_optimizer` (the config's optimizer).
            kwargs: for ``keras.Model.compile`` (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``); defaults from the
                config's ``compile_options()`` when it has one.
        """
        optimizers = dict(optimizers or {})
        unknown = sorted(set(optimizers) - set(self.GROUPS))
        if unknown:
            raise ValueError(f"optimizers for unknown group(s) {', '.join(unknown)}; "
                             f"{type(self).__name__} has {', '.join(self.GROUPS)}")
        for group in self.GROUPS:
            if optimizers.get(group) is None:
                optimizers[group] = self.default_optimizer(group)
        chosen = list(optimizers.values())
        if len({id(o) for o in chosen}) != len(chosen):
            raise ValueError("two update groups share one optimizer object; each group needs its own optimizer "
                             "(its state belongs to one set of weights). Create one instance per group.")
        cfg = getattr(self, "cfg", None)
        if cfg is not None and hasattr(cfg, "compile_options"):
            for key, value in cfg.compile_options().items():
                kwargs.setdefault(key, value)
        super().compile(**kwargs)
        self.optimizers = {group: optimizers[group] for group in self.GROUPS}

    def optimizer_for(self, group: str) -> keras.optimizers.Optimizer:
        """The optimizer of ``group`` (after :meth:`compile`)."""
        if not self.optimizers:
            raise ValueError("compile the model first: it has no optimizers yet")
        return self.optimizers[group]

    @property
    def g_optimizer(self):
        """The generator group's optimizer (models with a ``generator`` group)."""
        return self.optimizers.get("generator")

    @property
    def d_optimizer(self):
        """The discriminator group's optimizer (models with a ``discriminator`` group)."""
        return self.optimizers.get("discriminator")

    def build_optimizers(self) -> None:
        """Create the optimizers' state variables now (needed before restoring a checkpoint)."""
        if not self.optimizers:
            raise ValueError("compile the model before building its optimizers")
        for group, opt in self.optimizers.items():
            if not opt.built:
                opt.build(self.group_variables(group))

    def update(self, group: str, loss_fn):
        """One optimizer step of ``group`` on ``loss_fn()`` (see :func:`gancourse.training.steps.apply`).

        ``loss_fn`` returns the loss or ``(loss, *aux)``; that return value is passed back.
        Only ``group``'s trainable variables change.
        """
        return steps.apply(self.optimizer_for(group), self.group_variables(group), loss_fn,
                           self.gradient_norms.variable(group))

    def update_if(self, group: str, loss_fn, condition):
        """:meth:`update` taken only where ``condition(loss_fn())`` is true (see
        :func:`gancourse.training.steps.apply_if`); returns ``(loss_fn's output, 1.0 or 0.0)``."""
        self.build_optimizers()
        return steps.apply_if(self.optimizer_for(group), self.group_variables(group), loss_fn, condition,
                              self.gradient_norms.variable(group))

    # -- state -------------------------------------------------------------------
    def extra_state(self) -> dict:
        """Trackable state beyond networks, optimizers and the random state (image pools, EMA weights...)."""
        return {}

    def checkpoint_objects(self) -> dict:
        """Everything a checkpoint must hold to resume: networks, the seed states of their random layers,
        one optimizer per group, the model's random state and :meth:`extra_state`."""
        self.build_optimizers()
        objects = dict(self.networks)
        for key, net in self.networks.items():  # random layers' (dropout) seed states: not in a network's weights
            weights = {id(w) for w in net.weights}
            states = [v for v in net.variables if id(v) not in weights]
            if states:
                objects[f"{key}_rng"] = states
        objects.update({f"optimizer_{group}": opt for group, opt in self.optimizers.items()})
        objects["rng"] = self.seed_generator.state
        extra = self.extra_state()
        clash = sorted(set(extra) & set(objects))
        if clash:
            raise ValueError(f"extra_state names {', '.join(clash)} clash with the model's own state")
        objects.update(extra)
        return objects

    # -- inputs of translation models -----------------------------------------------
    def first_inputs(self, inputs, n: int, what: str) -> np.ndarray:
        """The first ``n`` of ``inputs`` (images, or a tuple whose first element is the images) for
        ``metric_samples`` of a model that transforms images; ``what`` names them in the error for ``None``."""
        if inputs is None:
            raise ValueError(f"{type(self).__name__} transforms images: pass held-out {what} (inputs=...)")
        if isinstance(inputs, (tuple, list)):
            inputs = inputs[0]
        return np.asarray(inputs)[:n]

    # -- metrics -----------------------------------------------------------------
    @property
    def metrics(self):
        return list(self._trackers.values())

    def record(self, **values) -> dict:
        """Update the trackers with this step's values; returns the running means for ``fit()``."""
        for key, value in values.items():
            self._trackers[key].update_state(value)
        return {k: m.result() for k, m in self._trackers.items()}

    def call(self, x, training=False):
        return self.generator(x, training=training)

    # -- data checks -------------------------------------------------------------
    def expected_data_shapes(self) -> tuple:
        """Per-example shapes of the leading elements of a training batch: the inputs of ``DATA_NETWORK``
        (an image for a GAN; the input and the target image for a conditional discriminator)."""
        return tuple(tuple(t.shape[1:]) for t in getattr(self, self.DATA_NETWORK).inputs)

    def check_data(self, data) -> None:
        """Raise ``ValueError`` when ``data`` (a dataset, an array or a tuple of arrays) does not fit the networks."""
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            shapes = [tuple(s.shape[1:]) for s in (spec if isinstance(spec, tuple) else (spec,))]
        elif isinstance(data, np.ndarray):
            shapes = [data.shape[1:]]
        elif isinstance(data, (tuple, list)) and all(isinstance(a, np.ndarray) for a in data):
            shapes = [a.shape[1:] for a in data]
        else:
            return
        want = self.expected_data_shapes()
        got = tuple(tuple(s) for s in shapes[:len(want)])
        if got != want:
            raise ValueError(self._shape_message(got, want))

    def _shape_message(self, got: tuple, want: tuple) -> str:
        return (f"the data has examples of shapes {got} but {self.name} takes {want}; set the config's "
                "image_size/channels to match the data, or resize the data")

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit`` after checking that the data fits the networks."""
        if not self.optimizers:
            raise ValueError("call compile() before fit(): the model has no optimizers yet")
        self.check_data(x)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
        return super().fit(x, *args, **kwargs)
