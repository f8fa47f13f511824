"""Checkpoints derived from a model's declaration, and resuming from them.

:func:`checkpoint_state` holds
:meth:`~gancourse.training.base.AdversarialModel.checkpoint_objects` (every
declared network, one optimizer per update group, the in-graph random state,
the model's extra state) plus the epoch counter. A model with more networks
gets more entries automatically, so nothing is silently left out of a resume.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf


def checkpoint_state(model) -> tf.train.Checkpoint:
    """The ``tf.train.Checkpoint`` that holds everything needed to resume ``model``."""
    return tf.train.Checkpoint(**model.checkpoint_objects(), epoch=tf.Variable(0, dtype=tf.int64))


def restore(model, directory: str | Path) -> int:
    """Restore the latest checkpoint in ``directory`` into ``model``.

    Returns:
        The number of epochs the checkpoint had completed (0 when there is none).

    Raises:
        ValueError: the checkpoint does not match the model (another model, preset or size).
    """
    latest = tf.train.latest_checkpoint(str(directory))
    if latest is None:
        return 0
    state = checkpoint_state(model)
    try:
        state.restore(latest).assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {latest} does not match this model ({str(exc).splitlines()[0]}); it was written by "
            "another preset or size. Use a new output folder, or the config that wrote it."
        ) from exc
    return int(state.epoch.numpy())


class Checkpoint(keras.callbacks.Callback):
    """Save the model's whole state (:func:`checkpoint_state`) and the epoch counter at the end of
    every epoch (``tf.train.CheckpointManager``, last ``keep``)."""

    def __init__(self, directory: str | Path, keep: int = 3):
        super().__init__()
        self.directory, self.keep = str(directory), int(keep)
        self.state = self.manager = None

    def on_train_begin(self, logs=None):
        if self.manager is None:
            self.state = checkpoint_state(self.model)
            self.manager = tf.train.CheckpointManager(self.state, self.directory, max_to_keep=self.keep)

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
