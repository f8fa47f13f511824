"""The one training entry point, and the standard callbacks.

:func:`train` takes a config (or a preset name with its model), builds the
registered model, gets the data from the model module's ``training_data``
(or the data you pass), and runs :func:`fit` with the standard callbacks.
With an output folder a run writes sample grids, checkpoints, TensorBoard
logs and ``history.json`` (after every epoch), and running it again resumes
exactly where the last checkpoint stopped.
"""

from __future__ import annotations

import typing
from pathlib import Path

import keras

from gancourse.training.callbacks import HistoryLog, SampleGrid, StopOnNonFinite
from gancourse.training.checkpoints import Checkpoint, restore
from gancourse.training.health import HealthMonitor


class TrainResult(typing.NamedTuple):
    """What :func:`train` returns: unpack as ``model, history, sample_paths = train(...)``."""

    model: keras.Model
    history: keras.callbacks.History | None
    sample_paths: list


def callbacks(cfg=None, out_dir: str | Path | None = None, *, n_samples: int = 64,
              tensorboard: bool = True, checkpoints: bool = True, preview_inputs=None, health: bool = True) -> list:
    """The standard callbacks: the training-health monitor, NaN stop, sample grid of fixed inputs, checkpoints,
    TensorBoard.

    Args:
        cfg: the model config; its ``sample_every`` (default 1) sets how often
            the sample grid is drawn.
        out_dir: where samples (``samples/``), checkpoints (``checkpoints/``) and
            TensorBoard logs (``logs/``) go. With ``None`` only the NaN stop and an
            in-memory sample grid are made.
        preview_inputs: the sample grid's fixed inputs; by default the model's
            own (``model.preview_inputs``).
        health: include a :class:`~gancourse.training.health.HealthMonitor` (first, so that it names a
            divergence before the NaN stop ends the run; with ``out_dir`` it writes ``health.json``).
    """
    out = Path(out_dir) if out_dir else None
    every = int(getattr(cfg, "sample_every", 1))
    cbs = [HealthMonitor(inputs=preview_inputs, path=out / "health.json" if out else None)] if health else []
    cbs += [StopOnNonFinite(), SampleGrid(n_samples, out / "samples" if out else None, every, inputs=preview_inputs)]
    if out is not None:
        if checkpoints:
            cbs.append(Checkpoint(out / "checkpoints"))
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs")))
    return cbs


def fit(model, data, cfg, out_dir: str | Path | None = None, *, resume: bool = True,
        extra_callbacks: list | None = None, verbose="auto", **callback_options):
    """Train ``model`` for ``cfg.total_epochs`` epochs (``cfg.epochs`` unless the model has later phases, such
    as Age-cGAN's encoder) with the standard callbacks.

    With ``out_dir`` and ``resume=True`` training continues from the last
    checkpoint there (same weights, optimizer state, random state and epoch),
    and ``out_dir/history.json`` is written after every epoch and keeps the
    epochs of earlier runs.

    Returns:
        ``(history, callbacks)``; ``history`` is ``None`` when the checkpoint
        had already reached ``cfg.total_epochs``.
    """
    start = restore(model, Path(out_dir) / "checkpoints") if (out_dir and resume) else 0
    cbs = callbacks(cfg, out_dir, **callback_options) + list(extra_callbacks or [])
    if out_dir:
        # The history is written after every callback that adds to the logs and before the checkpoint:
        # a run killed between the two then has history for an epoch past its checkpoint (replaced on
        # resume), never a checkpoint past its history (a hole the resumed run could not fill).
        saves = [cb for cb in cbs if isinstance(cb, Checkpoint)]
        cbs = [cb for cb in cbs if not isinstance(cb, Checkpoint)]
        cbs += [HistoryLog(Path(out_dir) / "history.json")] + saves
    if start >= cfg.total_epochs:
        print(f"the checkpoint in {out_dir} already completed {start} of {cfg.total_epochs} epochs; nothing to train")
        return None, cbs
    if start:
        print(f"resuming from the checkpoint of epoch {start}")
    history = model.fit(data, epochs=cfg.total_epochs, initial_epoch=start, callbacks=cbs, verbose=verbose)
    return history, cbs


def train(cfg, *, data=None, data_dir=None, out_dir: str | Path | None = None, callbacks=None,
          resume: bool = True, verbose=0, n_samples: int = 64, health: bool = True) -> TrainResult:
    """Build, compile and train the registered model that ``cfg`` configures.

    Args:
        cfg: a model config (its class names the model in
            :data:`gancourse.models.REGISTRY`).
        data: training data instead of the module's ``training_data``: a
            ``tf.data.Dataset`` of batches, or what the module's
            ``batches(cfg, data)`` accepts (e.g. ``(inputs, targets)`` arrays).
        data_dir: where the dataset lives (default: the download cache).
        out_dir: a run folder (samples, checkpoints, logs, ``history.json``);
            ``None`` keeps everything in memory.
        callbacks: used instead of the standard sample grid and checkpoints
            when ``out_dir`` is ``None``; added to them otherwise.
        health: run the training-health monitor (:class:`~gancourse.training.health.HealthMonitor`), which
            prints each failure mode it detects; it is kept as the returned model's ``health`` attribute
            (its ``findings`` and ``report()``), and with ``out_dir`` in ``out_dir/health.json``.

    Returns:
        ``TrainResult(model, history, sample_paths)``.
    """
    from gancourse import models, set_seed

    entry = models.for_config(cfg)
    set_seed(cfg.seed)
    model = entry.model_class(cfg)
    model.compile()
    if data is None:
        data, preview = entry.training_data(cfg, data_dir=data_dir)
    else:
        preview = None
        data = entry.batches(cfg, data)
    if out_dir is None:
        cbs = ([HealthMonitor(inputs=preview)] if health else []) + list(callbacks or [])
        history = model.fit(data, epochs=cfg.total_epochs, callbacks=cbs, verbose=verbose)
    else:
        history, cbs = fit(model, data, cfg, out_dir, resume=resume, extra_callbacks=callbacks, verbose=verbose,
                           n_samples=n_samples, preview_inputs=preview, health=health)
    monitors = [cb for cb in cbs if isinstance(cb, HealthMonitor)]
    if monitors:
        model.health = monitors[0]
    paths = [p for cb in cbs if isinstance(cb, SampleGrid) for p in cb.paths]
    return TrainResult(model, history, paths)
