"""Training: the adversarial base, the GAN, the update primitive, callbacks, checkpoints and ``train()``.

* :mod:`~gancourse.training.base` - :class:`AdversarialModel`: declared
  networks and update groups, one optimizer per group, checkpoint state
  derived from the declaration, the preview protocol.
* :mod:`~gancourse.training.steps` - :func:`~gancourse.training.steps.apply`
  (tape, gradients, apply to one group's variables) and the translation
  updates.
* :mod:`~gancourse.training.gan` - :class:`GAN`, noise-driven, with a
  pluggable objective.
* :mod:`~gancourse.training.callbacks` - NaN stop, sample grids, FID, history file.
* :mod:`~gancourse.training.health` - the training-health monitor and its failure-mode rules.
* :mod:`~gancourse.training.checkpoints` - checkpoints and resume.
* :mod:`~gancourse.training.run` - :func:`train`, :func:`fit`, :func:`callbacks`.
* :mod:`~gancourse.training.optim` - optimizers and learning-rate schedules.
* :mod:`~gancourse.training.phases` - models trained in two phases by one ``fit``.
"""

from gancourse.training import steps
from gancourse.training.base import AdversarialModel, check_option
from gancourse.training.callbacks import FIDMonitor, HistoryLog, NonFiniteLossError, SampleGrid, StopOnNonFinite
from gancourse.training.checkpoints import Checkpoint, checkpoint_state, restore
from gancourse.training.gan import GAN, LABEL_SMOOTHING, NOISE
from gancourse.training.health import Finding, HealthMonitor, HealthRecord, Thresholds, diagnose
from gancourse.training.optim import LinearDecay, StepDecay, epoch_length, make_optimizer
from gancourse.training.run import TrainResult, callbacks, fit, train

__all__ = ["AdversarialModel", "Checkpoint", "FIDMonitor", "Finding", "GAN", "HealthMonitor", "HealthRecord",
           "HistoryLog", "Thresholds", "diagnose", "LABEL_SMOOTHING", "LinearDecay",
           "NOISE", "NonFiniteLossError", "SampleGrid", "StepDecay", "StopOnNonFinite", "TrainResult", "callbacks",
           "check_option", "checkpoint_state", "epoch_length", "fit", "make_optimizer", "restore", "steps", "train"]
