"""A training-health monitor: it watches a GAN train, names what goes wrong and suggests a fix.

:class:`HealthMonitor` is a Keras callback (the standard callbacks of
:func:`gancourse.training.train` include it, so ``python -m gancourse train``
runs with it). While a model trains it records, per chunk of steps (Keras
reports a running mean over the epoch after each call of the training function;
the monitor turns those back into the mean of each chunk):

* the losses and the discriminator's accuracy and mean scores (``d_real``,
  ``d_fake``) the model logs, and their margin ``d_real - d_fake``;
* the global gradient norm of each update group's latest step
  (:attr:`gancourse.training.AdversarialModel.gradient_norms`);

and per epoch:

* whether each network's weights moved, and whether its optimizer took steps;
* the diversity of the model's pictures of fixed inputs
  (:func:`gancourse.metrics.diversity`).

:func:`diagnose` reads such a :class:`HealthRecord` and returns
:class:`Finding` s, each naming one of the failure modes of :data:`FAILURES`
with its evidence in numbers and a fix to try. The rules are pure functions
of the record, so they are tested on scripted metric streams as well as on
real runs, and a loop that does not use ``fit()`` (the legacy Keras 2 idiom)
can feed a monitor through :meth:`HealthMonitor.observe_step` and
:meth:`HealthMonitor.observe_epoch`.

The thresholds (:class:`Thresholds`) are deliberately conservative: the
monitor should stay quiet on a healthy run and speak when a run is clearly
broken, not grade every wobble.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np

#: The failure modes: ``{kind: (what it is, what to try)}``.
FAILURES = {
    "divergence": (
        "the training diverged (a loss or gradient is NaN/inf or has blown up)",
        "lower the learning rates (halve them until it stops), check that the data is scaled to [-1, 1], "
        "keep Adam's epsilon at its default, and add a gradient penalty or spectral normalisation to D"),
    "d_overpowers_g": (
        "the discriminator overpowers the generator: it separates real from fake almost perfectly, so its "
        "verdict carries little gradient the generator can use",
        "weaken D or help G: lower D's learning rate or its steps per G step, use one-sided label smoothing, "
        "the non-saturating G loss, instance noise or DiffAugment on D's inputs, or spectral normalisation"),
    "oscillation": (
        "the two networks oscillate: D's accuracy swings between winning and losing instead of settling",
        "lower both learning rates, use Adam's beta_1 = 0.5 (or 0), add an R1 or gradient penalty, and "
        "sample from an EMA of the generator"),
    "mode_collapse": (
        "mode collapse: the generator's samples lost their diversity",
        "check that the noise reaches G, lower G's learning rate, add minibatch statistics or R1 to D, try the "
        "hinge or Wasserstein loss, and restart from an earlier checkpoint"),
    "frozen": (
        "a frozen network: its optimizer took steps but its weights did not change",
        "check its trainable flag (Keras 3 reads it when a model's training function is built: the Keras 2 "
        "recipe of setting D.trainable = False before compiling a stacked model freezes D unless the flag is set "
        "back to True before D's own updates), that the learning rate is not 0, and that the loss reaches the "
        "network (no stop_gradient in the way)"),
}


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The monitor's decision rules (see :func:`diagnose` for how each is used).

    Attributes:
        window: chunks of steps in the recent window most rules look at.
        min_chunks: chunks recorded before the step-based rules speak.
        d_acc_high: D's mean accuracy over the window at or above which D is winning too clearly.
        d_fake_low: D's mean probability on fakes at or below which it is confident (probability outputs).
        margin_high: for raw-score objectives, ``d_real - d_fake`` over the window, relative to the largest
            margin seen in the first window, at or above which D is winning too clearly.
        blowup: a loss's recent median magnitude above ``blowup`` times its first window's (and above
            ``blowup``) means divergence; a gradient norm likewise.
        swing_high, swing_low: accuracy bands of the oscillation rule.
        swings: band-to-band crossings in ``2 * window`` chunks that count as oscillation.
        collapse_share: an epoch's sample diversity below this share of the highest earlier epoch's is
            a collapse.
        duplicate_rate: a share of near-duplicate samples at or above which the samples have collapsed.
        warmup_epochs: epochs before the mode-collapse rules speak (an untrained generator's samples are
            all alike).
    """

    window: int = 8
    min_chunks: int = 8
    d_acc_high: float = 0.97
    d_fake_low: float = 0.05
    margin_high: float = 10.0
    blowup: float = 50.0
    swing_high: float = 0.85
    swing_low: float = 0.35
    swings: int = 4
    collapse_share: float = 0.25
    duplicate_rate: float = 0.5
    warmup_epochs: int = 2

    def __post_init__(self):
        for field in ("window", "min_chunks", "swings"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"Thresholds.{field} must be >= 1, got {getattr(self, field)!r}")
        if not 0 <= self.swing_low < self.swing_high <= 1:
            raise ValueError(f"Thresholds need 0 <= swing_low < swing_high <= 1, got {self.swing_low}, "
                             f"{self.swing_high}")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One detected problem: ``kind`` (a key of :data:`FAILURES`), the ``epoch`` (1-based) it was seen in,
    the ``network`` it concerns (or ``""``), the ``evidence`` in numbers and the ``fix`` to try."""

    kind: str
    epoch: int
    evidence: str
    network: str = ""
    fix: str = ""

    @property
    def name(self) -> str:
        """What the failure mode is, in words."""
        return FAILURES[self.kind][0]

    def __str__(self) -> str:
        who = f" ({self.network})" if self.network else ""
        return f"[{self.kind}{who}] epoch {self.epoch}: {self.name}; {self.evidence}. Try: {self.fix}"


@dataclasses.dataclass
class HealthRecord:
    """What a monitor has seen: per-chunk values and per-epoch observations.

    Attributes:
        chunks: ``{name: [value per chunk]}`` (losses, ``d_acc``, ``d_real``, ``d_fake``, ``margin``,
            ``grad_norm/<group>``); a name missing from a chunk is recorded as NaN there.
        chunk_epochs: the epoch (1-based) of each chunk.
        epochs: one dict per epoch: ``epoch``, ``changed`` and ``updated`` (``{network: bool}``: its
            weights moved; its optimizer took steps), ``diversity`` and ``duplicates`` (or ``None``).
        probabilities: ``d_real``/``d_fake`` are probabilities (a logit objective) rather than raw scores.
    """

    chunks: dict = dataclasses.field(default_factory=dict)
    chunk_epochs: list = dataclasses.field(default_factory=list)
    epochs: list = dataclasses.field(default_factory=list)
    probabilities: bool = True

    def add_chunk(self, epoch: int, values: dict) -> None:
        """Record one chunk's values (missing names become NaN; new names are back-filled with NaN)."""
        n = len(self.chunk_epochs)
        for key in values:
            self.chunks.setdefault(key, [math.nan] * n)
        for key, series in self.chunks.items():
            series.append(float(values.get(key, math.nan)))
        self.chunk_epochs.append(int(epoch))

    def add_epoch(self, epoch: int, changed: dict | None = None, updated: dict | None = None,
                  diversity: float | None = None, duplicates: float | None = None) -> None:
        """Record one epoch's observations."""
        self.epochs.append({"epoch": int(epoch), "changed": dict(changed or {}), "updated": dict(updated or {}),
                            "diversity": diversity, "duplicates": duplicates})

    def series(self, key: str) -> np.ndarray:
        """The values of ``key`` per chunk (empty when never recorded)."""
        return np.asarray(self.chunks.get(key, []), dtype=np.float64)

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return {"chunks": self.chunks, "chunk_epochs": self.chunk_epochs, "epochs": self.epochs,
                "probabilities": self.probabilities}


def _finding(kind: str, epoch: int, evidence: str, network: str = "") -> Finding:
    return Finding(kind, int(epoch), evidence, network, FAILURES[kind][1])


def _recent(values: np.ndarray, n: int) -> np.ndarray:
    values = values[-n:]
    return values[np.isfinite(values)]


def _divergence(record: HealthRecord, t: Thresholds, epoch: int) -> list[Finding]:
    found = []
    for key in sorted(record.chunks, key=lambda k: ("loss" not in k, k)):
        values = record.series(key)
        if len(values) and not math.isfinite(values[-1]) and _was_recorded(values):
            return [_finding("divergence", epoch, f"{key} became {values[-1]}")]
        scaled = key.endswith("loss") or key.startswith("grad_norm/")
        if not scaled or len(values) < t.min_chunks + t.window:
            continue
        first = np.abs(values[:t.window])
        first = first[np.isfinite(first)]
        recent = np.abs(_recent(values, t.window))
        if len(first) and len(recent):
            before, now = float(np.median(first)), float(np.median(recent))
            if now > t.blowup and now > t.blowup * max(before, 1e-12):
                found.append(_finding("divergence", epoch, f"the median |{key}| grew from {before:.3g} over the "
                                                           f"first {t.window} chunks to {now:.3g}"))
                break
    return found


def _was_recorded(values: np.ndarray) -> bool:
    """A trailing non-finite value is a divergence when it is a real value (inf), or a NaN after finite ones
    or as the only value (a series that was never recorded is NaN-filled only when other names were)."""
    return bool(np.isinf(values[-1]) or np.isfinite(values[:-1]).any() or len(values) == 1)


def _overpowering(record: HealthRecord, t: Thresholds, epoch: int) -> list[Finding]:
    if len(record.chunk_epochs) < t.min_chunks:
        return []
    acc = _recent(record.series("d_acc"), t.window)
    fake = _recent(record.series("d_fake"), t.window)
    grads = record.series("grad_norm/generator")
    note = ""
    if len(grads) >= 2 * t.window:
        early, late = np.nanmedian(grads[:t.window]), np.nanmedian(grads[-t.window:])
        if early > 0 and np.isfinite(late):
            note = f"; G's gradient norm is {late / early:.2g} times its first window's"
    if len(acc):
        mean_acc = float(acc.mean())
        if mean_acc >= t.d_acc_high and (not record.probabilities or not len(fake)
                                         or float(fake.mean()) <= t.d_fake_low):
            fake_note = f", mean D(fake) {float(fake.mean()):.3f}" if record.probabilities and len(fake) else ""
            return [_finding("d_overpowers_g", epoch, f"D's accuracy averaged {mean_acc:.3f} over the last "
                                                      f"{len(acc)} chunks{fake_note}{note}")]
        return []
    margin = record.series("margin")
    if len(margin) >= t.min_chunks + t.window:
        early = np.abs(margin[:t.window])
        early = early[np.isfinite(early)]
        now = _recent(margin, t.window)
        if len(early) and len(now) and early.max() > 0 and now.mean() >= t.margin_high * early.max():
            return [_finding("d_overpowers_g", epoch, f"D's margin d_real - d_fake averaged {now.mean():.3g}, "
                                                      f"{now.mean() / early.max():.1f} times its early largest{note}")]
    return []


def _oscillation(record: HealthRecord, t: Thresholds, epoch: int) -> list[Finding]:
    acc = _recent(record.series("d_acc"), 2 * t.window)
    if len(acc) < max(t.min_chunks, 2 * t.window):
        return []
    crossings, state = 0, None
    for value in acc:
        band = "high" if value >= t.swing_high else "low" if value <= t.swing_low else None
        if band is not None and band != state:
            crossings += state is not None
            state = band
    if crossings >= t.swings:
        return [_finding("oscillation", epoch, f"D's accuracy crossed between >= {t.swing_high:g} and "
                                               f"<= {t.swing_low:g} {crossings} times in the last {len(acc)} chunks "
                                               f"(range {acc.min():.2f} to {acc.max():.2f})")]
    return []


def _collapse(record: HealthRecord, t: Thresholds, epoch: int) -> list[Finding]:
    # An untrained generator's samples all look alike and spread out as it learns: neither rule speaks during
    # the first warmup_epochs, and the duplicate rule stays quiet while the diversity is still growing.
    measured = [e for e in record.epochs if e["diversity"] is not None]
    if len(record.epochs) <= t.warmup_epochs or not measured or measured[-1] is not record.epochs[-1]:
        return []
    last, earlier = measured[-1], [e["diversity"] for e in measured[:-1]]
    growing = bool(earlier) and last["diversity"] > 1.05 * earlier[-1]
    if last["duplicates"] is not None and last["duplicates"] >= t.duplicate_rate and not growing:
        return [_finding("mode_collapse", epoch, f"{last['duplicates']:.0%} of the fixed-input samples have a "
                                                 "near-duplicate among the others, and their diversity "
                                                 f"({last['diversity']:.3g}) is not growing")]
    peak = max(earlier, default=0.0)
    if peak > 0 and last["diversity"] < t.collapse_share * peak:
        return [_finding("mode_collapse", epoch, f"the samples' mean pairwise distance fell to "
                                                 f"{last['diversity']:.3g}, {last['diversity'] / peak:.0%} of its "
                                                 f"highest ({peak:.3g})")]
    return []


def _frozen(record: HealthRecord, t: Thresholds, epoch: int) -> list[Finding]:
    if not record.epochs:
        return []
    last = record.epochs[-1]
    return [_finding("frozen", epoch, f"the {name}'s optimizer took steps in epoch {last['epoch']} but none of its "
                                      "weights changed", name)
            for name, updated in last["updated"].items() if updated and not last["changed"].get(name, True)]


RULES = (_divergence, _frozen, _overpowering, _oscillation, _collapse)


def diagnose(record: HealthRecord, thresholds: Thresholds | None = None) -> list[Finding]:
    """The failure modes ``record`` shows now (at its latest chunk and epoch), each at most once.

    The rules:

    * ``divergence``: the latest value of a recorded quantity is NaN/inf, or the median magnitude of a loss
      or gradient norm over the last ``window`` chunks exceeds ``blowup`` and ``blowup`` times its median
      over the first ``window``.
    * ``frozen``: in the latest epoch a network's optimizer took steps and its weights did not change.
    * ``d_overpowers_g``: D's mean accuracy over the last ``window`` chunks is at least ``d_acc_high`` and,
      for probability outputs, its mean probability on fakes at most ``d_fake_low`` (objectives without an
      accuracy: the margin ``d_real - d_fake`` grew ``margin_high`` times beyond its early largest).
    * ``oscillation``: D's accuracy crossed between the bands ``>= swing_high`` and ``<= swing_low`` at least
      ``swings`` times in the last ``2 * window`` chunks.
    * ``mode_collapse`` (after ``warmup_epochs``): at least ``duplicate_rate`` of the epoch's fixed-input
      samples have a near-duplicate while their diversity is not growing (by more than 5% over the previous
      epoch), or their diversity fell below ``collapse_share`` of the highest earlier epoch's.
    """
    t = thresholds or Thresholds()
    epoch = record.epochs[-1]["epoch"] if record.epochs else (record.chunk_epochs[-1] if record.chunk_epochs else 0)
    if record.chunk_epochs:
        epoch = max(epoch, record.chunk_epochs[-1])
    found = []
    for rule in RULES:
        found += rule(record, t, epoch)
    return found


def _is_statistic(variable) -> bool:
    """Moving statistics and power-iteration vectors move without learning; they do not count as training."""
    path = getattr(variable, "path", getattr(variable, "name", ""))
    return any(part in path for part in ("moving_mean", "moving_variance", "vector_u", "seed_generator"))


def fingerprint(network) -> tuple:
    """A cheap summary of a network's learnable weights (sum and sum of squares of each, in float64) that
    changes whenever any of them changes in practice; moving statistics are left out."""
    out = []
    for v in network.weights:
        if _is_statistic(v) or not np.issubdtype(np.dtype(v.dtype), np.floating):
            continue
        a = np.asarray(v.numpy(), dtype=np.float64)
        out += [float(a.sum()), float(np.square(a).sum())]
    return tuple(out)


class HealthMonitor(keras.callbacks.Callback):
    """Watch a model train and report failure modes (:func:`diagnose`) as they appear.

    Each finding is reported once per kind and network: printed when ``verbose`` and kept in
    :attr:`findings`. With ``path`` the record and the findings are written there (JSON) after every epoch.

    Args:
        thresholds: the rules' :class:`Thresholds`.
        samples: fixed-input samples drawn per epoch to measure diversity (0: no diversity check).
        inputs: the fixed inputs of those samples (default: the model's ``preview_inputs``; models that
            transform images need held-out inputs, and without them skip the diversity check).
        verbose: print findings as they appear.
        path: a JSON file for the record and the findings (of this call of ``fit``: a run resumed from a
            checkpoint starts a fresh record, with the resumed epochs' numbers).
    """

    def __init__(self, thresholds: Thresholds | None = None, *, samples: int = 32, inputs=None,
                 verbose: bool = True, path: str | Path | None = None):
        super().__init__()
        self.thresholds = thresholds or Thresholds()
        self.samples = int(samples)
        self.inputs = inputs
        self.verbose = bool(verbose)
        self.path = Path(path) if path else None
        self.record = HealthRecord()
        self.findings: list[Finding] = []
        self._seen: set = set()
        self._epoch = 0
        self._last = None
        self._fingerprints: dict = {}
        self._iterations: dict = {}

    # -- feeding ---------------------------------------------------------------------
    def observe_step(self, values: dict) -> list[Finding]:
        """Record one chunk's mean values (``d_loss``, ``g_loss``, ``d_acc``, ``d_real``, ``d_fake``,
        ``grad_norm/<group>``...) in the current epoch; returns the new findings."""
        values = dict(values)
        if "d_real" in values and "d_fake" in values:
            values.setdefault("margin", values["d_real"] - values["d_fake"])
        self.record.add_chunk(self._epoch + 1, values)
        return self._check(step_rules=True)

    def observe_epoch(self, changed: dict | None = None, updated: dict | None = None, samples=None) -> list[Finding]:
        """Close the current epoch: which networks' weights ``changed``, which were ``updated`` (their
        optimizer stepped), and the epoch's fixed-input ``samples`` (or ``None``); returns the new findings."""
        from gancourse import metrics

        diversity = duplicates = None
        if samples is not None and len(samples) >= 2:
            d = metrics.diversity(np.asarray(samples))
            diversity, duplicates = d["mean_distance"], d["duplicate_rate"]
        self.record.add_epoch(self._epoch + 1, changed, updated, diversity, duplicates)
        found = self._check(step_rules=False)
        self._epoch += 1
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"findings": [dataclasses.asdict(f) for f in self.findings],
                                             "record": self.record.to_dict()}, default=float))
        return found

    def _check(self, step_rules: bool) -> list[Finding]:
        new = []
        for f in diagnose(self.record, self.thresholds):
            key = (f.kind, f.network)
            # step-based rules speak at any chunk; the epoch-based ones (frozen, collapse) at epoch ends
            if key in self._seen or (step_rules and f.kind in ("frozen", "mode_collapse")):
                continue
            self._seen.add(key)
            new.append(f)
            self.findings.append(f)
            if self.verbose:
                print(f"training health: {f}")
        return new

    def report(self) -> str:
        """One line per finding, or a line saying that none was found."""
        if not self.findings:
            epochs = len(self.record.epochs)
            return f"training health: no problems detected in {epochs} epoch{'s' * (epochs != 1)}"
        return "\n".join(f"training health: {f}" for f in self.findings)

    def watch_loop(self, step, batches, epochs: int, networks: dict, sample=None) -> list[Finding]:
        """Watch a training loop that does not use ``fit()`` (the Keras 2 ``train_on_batch`` idiom).

        Args:
            step: called with each batch; returns the step's values (``{"d_loss": ..., "g_loss": ...}``).
            batches: a function of no arguments returning one epoch's iterable of batches.
            epochs: how many epochs to run.
            networks: ``{name: keras.Model}`` the loop is meant to train (each is expected to change every
                epoch, since the loop calls its update every step).
            sample: a function of no arguments returning the epoch's fixed-input samples, or ``None``.

        Returns:
            All findings so far.
        """
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs!r}")
        for _ in range(int(epochs)):
            before = {name: fingerprint(net) for name, net in networks.items()}
            for batch in batches():
                self.observe_step(step(batch))
            self.observe_epoch({name: fingerprint(net) != before[name] for name, net in networks.items()},
                               {name: True for name in networks}, None if sample is None else sample())
        return self.findings

    # -- the Keras callback ----------------------------------------------------------------
    def _networks(self) -> dict:
        return dict(getattr(self.model, "networks", {}) or {})

    def _group_iterations(self) -> dict:
        return {group: int(keras.ops.convert_to_numpy(opt.iterations))
                for group, opt in (getattr(self.model, "optimizers", None) or {}).items()}

    def on_train_begin(self, logs=None):
        objective = getattr(self.model, "objective", None)
        self.record.probabilities = bool(getattr(objective, "logits", True))
        if self.inputs is None and self.samples >= 2 and hasattr(self.model, "preview_inputs"):
            try:
                self.inputs = self.model.preview_inputs(self.samples, seed=7919)
            except (ValueError, TypeError):  # a model that transforms images needs inputs we were not given
                self.inputs = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._last = None
        self._fingerprints = {name: fingerprint(net) for name, net in self._networks().items()}
        self._iterations = self._group_iterations()

    def on_train_batch_end(self, batch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        steps = int(batch) + 1
        if self._last is None:
            values = dict(logs)
        else:
            before, done = self._last
            span = steps - done
            values = {k: (steps * v - done * before.get(k, v)) / span if span > 0 else v for k, v in logs.items()}
        self._last = (logs, steps)
        norms = getattr(self.model, "gradient_norms", None)
        if norms is not None:
            values.update({f"grad_norm/{g}": v for g, v in norms.values().items()})
        self.observe_step(values)

    def on_epoch_end(self, epoch, logs=None):
        iterations = self._group_iterations()
        groups = getattr(self.model, "GROUPS", {})
        stepped = {group: iterations.get(group, 0) > self._iterations.get(group, 0) for group in iterations}
        updated = {name: stepped.get(group, False) for group, members in groups.items() for name in members}
        changed = {name: fingerprint(net) != self._fingerprints.get(name) for name, net in self._networks().items()}
        samples = None
        if self.inputs is not None and self.samples >= 2:
            samples = np.asarray(self.model.preview(self.inputs))
            samples = samples if samples.ndim >= 2 and len(samples) >= 2 else None
        self.observe_epoch(changed, updated, samples)
