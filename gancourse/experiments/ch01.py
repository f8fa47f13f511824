"""Chapter 01: mode coverage on the ring of Gaussians and the stabilisation study over seeds."""

from __future__ import annotations

import numpy as np

from gancourse import metrics
from gancourse.config import as_config
from gancourse.data import toy
from gancourse.models.gan import RING_STD, GANConfig, ToyGAN


def ring_scores(gan: ToyGAN, n: int = 2000) -> dict:
    """Mode coverage of ``n`` samples of a ring-preset GAN (see :func:`gancourse.metrics.mode_coverage`)."""
    if gan.cfg.data != "ring":
        raise ValueError(f"ring_scores needs a GAN trained on the ring, this one has data={gan.cfg.data!r}")
    return metrics.mode_coverage(gan.sample(n, seed=1), toy.ring_centers(), std=RING_STD)


#: The stabilisation variants compared in the theory chapter: overrides of the ring preset.
STABILISERS = {
    "baseline (non-saturating)": {},
    "minimax G loss": dict(generator_loss="minimax"),
    "feature matching": dict(feature_matching=True),
    "minibatch discrimination": dict(minibatch_kernels=8, minibatch_dim=4),
    "historical averaging": dict(historical_weight=1e-3),
    "one-sided smoothing": dict(label_smoothing="one_sided"),
    "two-sided smoothing": dict(label_smoothing="two_sided"),
    "batch norm": dict(norm="batch"),
    "layer norm": dict(norm="layer"),
}

STUDY_COLUMNS = ("modes_covered", "high_quality", "kl_to_uniform")


def stabilisation_study(base: GANConfig | str = "ring", variants: dict | None = None, seeds=(0, 1, 2),
                        progress=None) -> list[dict]:
    """Train every variant on the ring with every seed and score mode coverage.

    Each variant is ``base`` with its overrides, trained for
    ``epochs * steps_per_epoch`` steps on fresh ring samples with
    :meth:`ToyGAN.train_steps`. It is built and traced once;
    :meth:`ToyGAN.reset` restarts it for each seed, and seed ``s`` fixes the
    initial weights, the data and the noise, so all variants see the same seeds.

    Args:
        base: the configuration every variant starts from (a ring config).
        variants: ``{name: overrides}``; :data:`STABILISERS` by default.
        seeds: the seeds of the repeated runs (two or more for a spread).
        progress: optional ``callable(name, seed, scores)`` called after each run.

    Returns:
        One row per variant: ``{"variant", "runs": [scores per seed], and for each
        of modes_covered, high_quality, kl_to_uniform its mean and sample
        standard deviation (``<key>_std``)}``.
    """
    base = as_config(base, GANConfig, "stabilisation_study")
    if base.data != "ring":
        raise ValueError(f"the stabilisation study scores mode coverage on the ring; got data={base.data!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    rows = []
    for name, overrides in (STABILISERS if variants is None else variants).items():
        cfg = base.replace(**overrides)
        gan, runs = ToyGAN(cfg), []
        gan.compile()
        steps = cfg.epochs * cfg.steps_per_epoch
        for seed in seeds:
            gan.reset(seed)
            batches = toy.ring(steps * cfg.batch_size, std=RING_STD, seed=seed)
            gan.train_steps(batches.reshape(steps, cfg.batch_size, 2))
            runs.append(ring_scores(gan))
            if progress is not None:
                progress(name, seed, runs[-1])
        row = {"variant": name, "runs": runs}
        for key in STUDY_COLUMNS:
            values = np.array([r[key] for r in runs], np.float64)
            row[key] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def study_findings(rows: list[dict], key: str = "modes_covered", baseline: str | None = None) -> list[dict]:
    """Compare each variant of a study with the baseline row on ``key``.

    The difference of the means is called a help or a hurt only when it
    exceeds twice its standard error (``sqrt(s1^2/n1 + s2^2/n2)`` from the
    per-seed values); otherwise the runs cannot tell the two apart.

    Returns:
        ``[{"variant", "difference", "stderr", "verdict"}]`` for every row but
        the baseline (the first row unless ``baseline`` names one); ``verdict``
        is ``"helped"``, ``"hurt"`` or ``"no clear difference"``.
    """
    if key not in STUDY_COLUMNS:
        raise ValueError(f"unknown key {key!r}; choose one of {', '.join(STUDY_COLUMNS)}")
    by_name = {r["variant"]: r for r in rows}
    base_name = rows[0]["variant"] if baseline is None else baseline
    if base_name not in by_name:
        raise ValueError(f"no row named {base_name!r}; rows: {', '.join(by_name)}")
    better_high = key != "kl_to_uniform"
    ref = np.array([r[key] for r in by_name[base_name]["runs"]], np.float64)
    out = []
    for row in rows:
        if row["variant"] == base_name:
            continue
        vals = np.array([r[key] for r in row["runs"]], np.float64)
        diff = float(vals.mean() - ref.mean())
        var = lambda v: v.var(ddof=1) / len(v) if len(v) > 1 else 0.0  # noqa: E731
        stderr = float(np.sqrt(var(vals) + var(ref)))
        if abs(diff) <= 2 * stderr or diff == 0:
            verdict = "no clear difference"
        else:
            verdict = "helped" if (diff > 0) == better_high else "hurt"
        out.append({"variant": row["variant"], "difference": diff, "stderr": stderr, "verdict": verdict})
    return out


def study_table(rows: list[dict]) -> str:
    """The rows of :func:`stabilisation_study` as a Markdown table (mean ± std over seeds)."""
    lines = ["| variant | modes covered (of 8) | high-quality fraction | KL to uniform |", "|---|---|---|---|"]
    for row in rows:
        cells = [f"{row[k]:.2f} ± {row[k + '_std']:.2f}" for k in STUDY_COLUMNS]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
