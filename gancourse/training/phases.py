"""Models trained in two phases by one ``fit``: Age-cGAN (cGAN, then encoder) and StackGAN (Stage-I, then Stage-II).

:func:`fit_in_phases` runs phase 1 for epochs ``1..first_epochs`` and phase 2
up to ``epochs``, keeps a checkpointed counter of the phase-1 epochs done (so a
resumed run starts in the right phase), refuses to lengthen phase 1 once phase
2 has trained on its result, and returns one ``History`` over both.
"""

from __future__ import annotations

import keras


class CountEpochs(keras.callbacks.Callback):
    """Keeps ``counter`` (a ``tf.Variable``) at the number of epochs finished, before any checkpoint saves."""

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_end(self, epoch, logs=None):
        self.counter.assign(epoch + 1)


def merge_histories(histories):
    """One ``History`` over consecutive ``fit`` calls (NaN where a call did not log a key)."""
    histories = [h for h in histories if h is not None]
    if not histories:
        return None
    if len(histories) == 1:
        return histories[0]
    merged = keras.callbacks.History()
    merged.set_model(histories[-1].model)
    keys = [k for h in histories for k in h.history]
    for key in dict.fromkeys(keys):
        merged.history[key] = [v for h in histories
                               for v in h.history.get(key, [float("nan")] * len(h.epoch))]
    merged.epoch = [e for h in histories for e in h.epoch]
    merged.params = histories[-1].params
    return merged


def fit_in_phases(model, counter, first_epochs: int, epochs: int, initial_epoch: int, first, second, kwargs: dict,
                  names: tuple[str, str, str] = ("phase 1", "phase 2", "result")):
    """Phase 1 (``first(end_epoch, initial_epoch, kwargs)``) up to ``first_epochs``, then phase 2
    (``second(end_epoch, initial_epoch, kwargs)``) up to ``epochs``; each returns a ``History``.

    ``counter`` holds the phase-1 epochs trained so far. Starting after a phase 1 that ended early (``counter``
    below ``first_epochs`` and ``initial_epoch`` beyond it) raises ``ValueError``: phase 2 has trained on that
    phase 1, and lengthening it now would leave phase 2 behind. ``names``: phase 1, phase 2 and what phase 2
    trained on, for that message.
    """
    done = int(counter.numpy())
    if initial_epoch > done and done < first_epochs:
        raise ValueError(f"this model's {names[0]} ended after epoch {done} and its {names[1]} was trained on that "
                         f"{names[2]}; training the {names[0]} to epoch {first_epochs} now would leave the {names[1]} "
                         f"behind. Keep epochs={done}, or train a new model (CLI: a new --out)")
    histories = []
    if initial_epoch < min(epochs, first_epochs):
        own = dict(kwargs, callbacks=[CountEpochs(counter)] + list(kwargs.get("callbacks") or []))
        histories.append(first(min(epochs, first_epochs), initial_epoch, own))
    if epochs > first_epochs and not model.stop_training:
        histories.append(second(epochs, max(initial_epoch, first_epochs), dict(kwargs)))
    return merge_histories(histories)
