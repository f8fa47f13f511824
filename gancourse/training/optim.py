"""Optimizers and learning-rate schedules, built in one place (see :class:`gancourse.config.TrainingConfig`)."""

from __future__ import annotations

import keras

from gancourse.config import OPTIMIZERS, SCHEDULES
from gancourse.training.base import check_option


@keras.saving.register_keras_serializable(package="gancourse")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``learning_rate`` for ``start`` steps, then linearly down to 0 over ``steps`` more.

    The CycleGAN schedule (Zhu et al.: 100 epochs constant, 100 decaying)
    expressed in optimizer steps.
    """

    def __init__(self, learning_rate: float, start: int, steps: int):
        if start < 0 or steps < 1:
            raise ValueError(f"LinearDecay needs start >= 0 and steps >= 1, got start={start}, steps={steps}")
        self.learning_rate, self.start, self.steps = float(learning_rate), int(start), int(steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        fraction = keras.ops.clip((step - self.start) / self.steps, 0.0, 1.0)
        return self.learning_rate * (1.0 - fraction)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "start": self.start, "steps": self.steps}


@keras.saving.register_keras_serializable(package="gancourse")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate * factor ** floor(step / steps)``: the rate multiplied by ``factor`` every ``steps`` steps.

    StackGAN's schedule (halved every 100 epochs) in optimizer steps. ``steps``
    may be set after construction (a model learns its epoch length from the
    data); the rate is a function of the optimizer's step counter, so a resumed
    run continues where it stopped.
    """

    def __init__(self, learning_rate: float, steps: int, factor: float = 0.5):
        if steps < 1 or not 0 < factor <= 1:
            raise ValueError(f"StepDecay needs steps >= 1 and 0 < factor <= 1, got steps={steps}, factor={factor}")
        self.learning_rate, self.steps, self.factor = float(learning_rate), int(steps), float(factor)

    def __call__(self, step):
        drops = keras.ops.floor(keras.ops.cast(step, "float32") / self.steps)
        return self.learning_rate * keras.ops.power(self.factor, drops)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps": self.steps, "factor": self.factor}


def epoch_length(x, steps_per_epoch: int | None = None) -> int:
    """Optimizer steps per epoch of ``fit(x, steps_per_epoch=...)``: ``steps_per_epoch`` when given, else the
    length of the ``tf.data.Dataset`` ``x``; ``ValueError`` when neither is known (a schedule measured in epochs
    needs it)."""
    import tensorflow as tf

    if steps_per_epoch is None and isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        steps_per_epoch = cardinality if cardinality > 0 else None
    if steps_per_epoch is None:
        raise ValueError("the learning-rate decay is measured in epochs, but the data's epoch length is "
                         "unknown; pass steps_per_epoch to fit() or set the config's steps_per_epoch")
    return int(steps_per_epoch)


def make_optimizer(kind: str, learning_rate, *, beta_1: float = 0.9, beta_2: float = 0.999,
                   momentum: float = 0.0, nesterov: bool = False, decay: float = 0.0, schedule: str | None = None,
                   decay_start: int = 0, decay_steps: int = 1):
    """A new Adam or SGD optimizer.

    Schedules: ``"constant"``; ``"inverse_time"``: ``lr / (1 + decay * step)``
    (the Keras 2 ``decay=`` argument); ``"linear"``: :class:`LinearDecay`
    from ``decay_start`` over ``decay_steps`` steps. Without ``schedule``,
    ``decay > 0`` means inverse time. A ``learning_rate`` that is already a
    ``LearningRateSchedule`` is used as it is (``schedule`` is then ignored).
    """
    check_option("optimizer", kind, OPTIMIZERS)
    schedule = schedule or ("inverse_time" if decay else "constant")
    check_option("schedule", schedule, SCHEDULES)
    lr = learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        schedule = "given"
    elif learning_rate <= 0:
        raise ValueError(f"learning_rate={learning_rate!r} must be > 0")
    if schedule == "inverse_time" and decay:
        lr = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    elif schedule == "linear":
        lr = LinearDecay(learning_rate, decay_start, decay_steps)
    if kind == "sgd":
        return keras.optimizers.SGD(lr, momentum=momentum, nesterov=nesterov)
    return keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=beta_2)
