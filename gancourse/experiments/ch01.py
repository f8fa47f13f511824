"""Chapter 01: mode coverage on the ring of Gaussians and the stabilisation study over seeds.

The study trains every variant with every seed at once (:class:`~gancourse.models.gan_ensemble.GANEnsemble`)
and compares them with Welch's test and Holm's correction (:mod:`gancourse.stats`).
"""

from __future__ import annotations

import numpy as np

from gancourse import metrics, stats, viz
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
#: The study's scores: higher is better for the first two, lower for the KL.
HIGHER_IS_BETTER = {"modes_covered": True, "high_quality": True, "kl_to_uniform": False}


#: The study's size per profile: overrides of the ring preset, training steps and seeds.
STUDY_SETUP = {
    # smoke: the chapter's minute. Narrow nets, batch 32 and a doubled learning rate get furthest per second.
    "smoke": (dict(hidden=32, batch_size=32, learning_rate=2e-3), 1500, tuple(range(8))),
    "standard": (dict(hidden=128, batch_size=64, learning_rate=1e-3), 6000, tuple(range(10))),
    "full": (dict(hidden=128, batch_size=64, learning_rate=1e-3), 12000, tuple(range(16))),
}


def study_setup(profile_name: str | None = None) -> tuple[GANConfig, int, tuple]:
    """``(base config, steps, seeds)`` of the theory chapter's stabilisation study for a profile."""
    from gancourse.config import profile

    overrides, steps, seeds = STUDY_SETUP[profile(profile_name)]
    return GANConfig.preset("ring").replace(**overrides), steps, seeds


def stabilisation_study(base: GANConfig | str = "ring", variants: dict | None = None, seeds=tuple(range(8)),
                        steps: int | None = None, checkpoints: int = 5, samples: int = 2000,
                        progress=None) -> list[dict]:
    """Train every variant on the ring with every seed, all at once, and score mode coverage along the way.

    Each variant is ``base`` with its overrides. All ``len(variants) *
    len(seeds)`` runs train together in one :class:`~gancourse.models.gan_ensemble.GANEnsemble`
    (the vectorised twin of :class:`ToyGAN`): seed ``s`` fixes the initial
    weights, the real batches and the noise of run ``s`` of every variant, so
    the variants differ only by their switch. After every ``steps /
    checkpoints`` steps each run draws ``samples`` points from fixed noise and
    is scored with :func:`ring_scores`' rule, which gives a learning curve per
    run; the last checkpoint is the result.

    Args:
        base: the configuration every variant starts from (a ring config).
        variants: ``{name: overrides}``; :data:`STABILISERS` by default. The
            first is the baseline of :func:`study_findings`.
        seeds: the seeds of the repeated runs (two or more for a spread).
        steps: training steps per run; ``base.epochs * base.steps_per_epoch``
            by default. Must be a multiple of ``checkpoints``.
        checkpoints: how many times along the run the scores are taken.
        samples: points drawn per run for each score.
        progress: optional ``callable(step)`` called at every checkpoint.

    Returns:
        One row per variant: ``{"variant", "runs": [final scores per seed],
        "curve": {"steps": (checkpoints,), key: (checkpoints, seeds) array for
        each score}}`` and for each of modes_covered, high_quality,
        kl_to_uniform its mean and sample standard deviation (``<key>_std``)
        over the seeds at the last checkpoint.
    """
    from gancourse.models.gan_ensemble import GANEnsemble

    base = as_config(base, GANConfig, "stabilisation_study")
    if base.data != "ring":
        raise ValueError(f"the stabilisation study scores mode coverage on the ring; got data={base.data!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    steps = base.epochs * base.steps_per_epoch if steps is None else int(steps)
    if checkpoints < 1 or steps < checkpoints or steps % checkpoints:
        raise ValueError(f"steps={steps} must be a positive multiple of checkpoints={checkpoints}")
    configs = {name: base.replace(**overrides) for name, overrides in (STABILISERS if variants is None
                                                                        else variants).items()}
    ensemble = GANEnsemble(configs, seeds)
    batch = base.batch_size
    data = np.stack([toy.ring(steps * batch, std=RING_STD, seed=s).reshape(steps, batch, 2) for s in seeds], axis=1)
    chunk = steps // checkpoints
    centers = toy.ring_centers()
    marks, scores = [], []  # scores[checkpoint][slot]
    for c in range(checkpoints):
        ensemble.train(data[c * chunk:(c + 1) * chunk], noise_seed=c)
        points = ensemble.sample(samples, seed=1)
        if not np.all(np.isfinite(points)):
            raise ValueError(f"a run diverged (non-finite samples) by step {(c + 1) * chunk}; lower the learning rate")
        scores.append([metrics.mode_coverage(p, centers, std=RING_STD) for p in points])
        marks.append((c + 1) * chunk)
        if progress is not None:
            progress(marks[-1])
    rows = []
    for name in configs:
        slots = [ensemble.slot(name, s) for s in seeds]
        runs = [scores[-1][i] for i in slots]
        curve = {"steps": np.array(marks)}
        curve.update({key: np.array([[scores[c][i][key] for i in slots] for c in range(checkpoints)], np.float64)
                      for key in STUDY_COLUMNS})
        row = {"variant": name, "runs": runs, "curve": curve}
        for key in STUDY_COLUMNS:
            values = np.array([r[key] for r in runs], np.float64)
            row[key] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def study_findings(rows: list[dict], key: str = "modes_covered", baseline: str | None = None,
                   alpha: float = 0.05) -> list[dict]:
    """Compare each variant of a study with the baseline row on ``key``: Welch's t-test, Holm-corrected.

    A thin wrapper of :func:`gancourse.stats.compare` over the per-seed scores
    of the rows, with ``helped``/``hurt`` as the verdict words and the
    direction of ``key`` (lower is better for ``kl_to_uniform``). The
    correction covers all the comparisons of one call.

    Returns:
        :func:`gancourse.stats.compare`'s rows (``variant, n, mean, difference,
        low, high, p, p_holm, verdict``) for every row but the baseline (the first
        row unless ``baseline`` names one).
    """
    if key not in STUDY_COLUMNS:
        raise ValueError(f"unknown key {key!r}; choose one of {', '.join(STUDY_COLUMNS)}")
    by_name = {r["variant"]: [run[key] for run in r["runs"]] for r in rows}
    base_name = rows[0]["variant"] if baseline is None else baseline
    if base_name not in by_name:
        raise ValueError(f"no row named {base_name!r}; rows: {', '.join(by_name)}")
    return stats.compare(by_name, baseline=base_name, higher_is_better=HIGHER_IS_BETTER[key], alpha=alpha,
                         words=("helped", "hurt"))


#: Comparisons between two variants that :func:`study_family` adds to the family: ``(variant, baseline, score)``.
STUDY_PAIRS = (("two-sided smoothing", "one-sided smoothing", "high_quality"),)


def study_family(rows: list[dict], keys=("modes_covered", "high_quality"), pairs=STUDY_PAIRS,
                 alpha: float = 0.05) -> dict[str, list[dict]]:
    """Every comparison the chapter draws from a study, Holm-corrected as one family.

    For each score in ``keys`` every variant is compared with the baseline
    (as in :func:`study_findings`, verdicts ``helped``/``hurt``); each
    ``(variant, baseline, key)`` of ``pairs`` adds the comparison of two
    variants (verdicts ``better``/``worse``). The Welch p-values of all of them
    are adjusted together with Holm's method, so the family-wise error rate of
    everything stated from the study is ``alpha``, not ``alpha`` per table.

    Returns:
        ``{label: rows}``: one label per key, then ``"<variant> vs <baseline>"``
        per pair; the rows are :func:`gancourse.stats.compare`'s, with ``p_holm``
        and ``verdict`` from the pooled correction and ``family``, the number of
        comparisons corrected together.
    """
    groups, family = {}, {}
    for key in keys:
        groups[key] = study_findings(rows, key, alpha=alpha)
        family[key] = (groups[key], HIGHER_IS_BETTER[key], ("helped", "hurt"))
    by_name = {r["variant"]: r for r in rows}
    for variant, baseline, key in pairs:
        missing = [name for name in (variant, baseline) if name not in by_name]
        if missing:
            raise ValueError(f"no row named {missing[0]!r} for the pair ({variant!r}, {baseline!r}); "
                             f"rows: {', '.join(by_name)}")
        if key not in STUDY_COLUMNS:
            raise ValueError(f"unknown key {key!r} in a pair; choose one of {', '.join(STUDY_COLUMNS)}")
        label = f"{variant} vs {baseline}"
        samples = {name: [run[key] for run in by_name[name]["runs"]] for name in (baseline, variant)}
        groups[label] = stats.compare(samples, baseline=baseline, higher_is_better=HIGHER_IS_BETTER[key], alpha=alpha)
        family[label] = (groups[label], HIGHER_IS_BETTER[key], ("better", "worse"))
    stats.correct_together(family, alpha)
    return groups


def describe_family(groups: dict[str, list[dict]], alpha: float = 0.05) -> str:
    """One sentence naming the comparisons of :func:`study_family` that survived the pooled correction."""
    rows = [(label, row) for label, group in groups.items() for row in group]
    family = f"Welch's t-test, Holm-corrected over all {len(rows)} comparisons together at alpha = {alpha:g}"
    significant = [f"{row['variant']} ({row['verdict']}, {label.replace('_', ' ')})" for label, row in rows
                   if row["verdict"] != stats.NO_DIFFERENCE]
    if not significant:
        return f"No comparison shows a detectable difference ({family})."
    return f"Differences that survive {family}: " + ", ".join(significant) + "."


def study_table(rows: list[dict]) -> str:
    """The rows of :func:`stabilisation_study` as a Markdown table: per score, the mean over seeds and its
    95% Student-t interval."""
    table = []
    for row in rows:
        cells = {"variant": row["variant"], "seeds": len(row["runs"])}
        for key, title in zip(STUDY_COLUMNS, ("modes covered (of 8)", "high-quality fraction", "KL to uniform")):
            values = [r[key] for r in row["runs"]]
            if len(values) > 1:
                mean, low, high = stats.mean_interval(values)
                cells[title] = f"{mean:.2f} [{low:.2f}, {high:.2f}]"
            else:
                cells[title] = f"{values[0]:.2f}"
        table.append(cells)
    return viz.markdown_table(table)


def findings_table(findings: list[dict]) -> str:
    """:func:`study_findings` as a Markdown table: difference from the baseline with its 95% Welch interval,
    Holm-adjusted p-value and verdict."""
    return viz.markdown_table([{"variant": f["variant"], "difference vs baseline [95% CI]":
                                f"{f['difference']:+.2f} [{f['low']:+.2f}, {f['high']:+.2f}]",
                                "p (Holm)": f"{f['p_holm']:.3f}", "verdict": f["verdict"]} for f in findings])
