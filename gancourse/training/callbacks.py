"""Training callbacks: NaN stop, sample grids, FID per epoch, a history file that survives resumes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras
import numpy as np

from gancourse import metrics


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training with :class:`NonFiniteLossError` when a logged loss is NaN or inf.

    The message names the quantity, the epoch and the step, and what to try.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # Losses first: when a loss is NaN the other metrics usually are too.
        for key in sorted(logs, key=lambda k: ("loss" not in k, k)):
            value = float(logs[key])
            if not math.isfinite(value):
                self.model.stop_training = True
                raise NonFiniteLossError(
                    f"{key} became {value} at epoch {self._epoch + 1} (first seen after step {batch + 1}). "
                    "Training stopped; the last checkpoint holds the last good epoch. Try a lower "
                    "learning rate, check that the data is scaled to [-1, 1], or add label smoothing."
                )


class SampleGrid(keras.callbacks.Callback):
    """Keep the model's pictures of fixed inputs after every ``every`` epochs.

    The inputs come from the model's preview protocol (noise for a GAN) unless
    given as ``inputs`` (held-out input/target pairs for a translation model,
    from its module's ``training_data``); they are drawn once when training
    begins, so successive grids show the same latent points or the same
    validation examples. The pictures (``model.preview``) are kept in
    :attr:`images` (``{epoch: float array in [-1, 1]}``) and, when
    ``directory`` is given, written as ``epoch_0001.png``... (their paths in
    :attr:`paths`). With ``at_start=True`` the untrained model's output is
    kept as epoch 0. Works for any generator output (images, or points of a
    toy problem: those are kept, not drawn).
    """

    def __init__(self, n: int = 64, directory: str | Path | None = None, every: int = 1, seed: int = 0,
                 at_start: bool = False, inputs=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every={every!r} must be >= 1")
        self.n, self.seed, self.every, self.at_start = int(n), int(seed), int(every), bool(at_start)
        self.directory = Path(directory) if directory else None
        self.inputs = inputs
        self.images: dict[int, np.ndarray] = {}
        self.paths: list[Path] = []

    @property
    def noise(self):
        """The fixed inputs (the noise, for a GAN)."""
        return self.inputs

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "preview"):
            raise TypeError(f"SampleGrid needs a model with preview(inputs) (a gancourse model); "
                            f"{type(self.model).__name__} lacks it")
        if self.inputs is None:
            if not hasattr(self.model, "preview_inputs"):
                raise TypeError(f"{type(self.model).__name__} draws no preview inputs itself; pass SampleGrid(inputs=...) "
                                "(its module's training_data returns them)")
            self.inputs = self.model.preview_inputs(self.n, self.seed)
        if self.at_start and not self.images:
            self.images[0] = self.model.preview(self.inputs)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.model.preview(self.inputs)
        self.images[epoch + 1] = images
        if self.directory is not None and images.ndim >= 4:
            from gancourse import viz

            self.directory.mkdir(parents=True, exist_ok=True)
            path = viz.save_grid(images, self.directory / f"epoch_{epoch + 1:04d}.png")
            self.paths.append(Path(path))


class FIDMonitor(keras.callbacks.Callback):
    """Compute a Fréchet distance of generated samples to real features every epoch.

    Works for any model with ``metric_samples(n, seed, inputs)``: a noise model
    draws ``n`` samples from fixed noise (seed 1); a conditional model
    translates ``inputs`` (held-out examples).

    Args:
        extractor: an object with ``features(images) -> (n, d) array`` (see
            :mod:`gancourse.metrics`).
        real_features: features of held-out real images.
        n: number of generated images per evaluation.
        key: the name under which the value is added to the epoch logs (and so
            to ``History`` and ``history.json``).
        inputs: the conditioning inputs for a conditional model.
    """

    def __init__(self, extractor, real_features: np.ndarray, n: int = 500, key: str = "fid", inputs=None):
        super().__init__()
        self.extractor = extractor
        self.real_stats = metrics.feature_stats(real_features)
        self.n = int(n)
        self.key = key
        self.inputs = inputs
        self.values: dict[int, float] = {}

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "metric_samples"):
            raise TypeError(f"FIDMonitor needs a model with metric_samples(n, seed, inputs) (a gancourse model); "
                            f"{type(self.model).__name__} lacks it")

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.metric_samples(self.n, seed=1, inputs=self.inputs)
        value = metrics.frechet_distance(*metrics.feature_stats(self.extractor.features(images)), *self.real_stats)
        self.values[epoch + 1] = value
        if logs is not None:
            logs[self.key] = value


class HistoryLog(keras.callbacks.Callback):
    """Write every epoch's logs to a JSON file (``{metric: [value per epoch]}``) as soon as the epoch ends.

    The file is rewritten atomically after each epoch, so a run killed at any
    point keeps the history of every finished epoch. On resume (``fit`` with
    ``initial_epoch=k``) the first ``k`` epochs already in the file are kept
    and later entries (from epochs that ended after the last checkpoint) are
    replaced, so the file always covers the whole run, once. Put it after the
    callbacks that add to the logs (e.g. :class:`FIDMonitor`).
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)

    def read(self) -> dict:
        """The history recorded so far (empty when there is no file)."""
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path} is not valid JSON ({exc}); move it away to start a new history") from exc

    def on_epoch_end(self, epoch, logs=None):
        history = self.read()
        for key, value in (logs or {}).items():
            past = history.get(key, [])[:epoch]
            past += [None] * (epoch - len(past))  # a metric added later starts with gaps
            history[key] = past + [float(value)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(history, indent=2))
        os.replace(tmp, self.path)
