"""Chapter 09: what changed since DCGAN, measured (the modern-GAN lab)."""

from __future__ import annotations

import numpy as np

from gancourse.models.dcgan import DCGANConfig

# ---------------------------------------------------------------------------
# The modern-GAN lab
# ---------------------------------------------------------------------------
#: The lab's arms, in table order: chapter 04's baseline, then one post-DCGAN technique each.
LAB_ARMS = ("baseline", "sngan", "wgan-gp", "r1", "sagan", "ema", "diffaugment")
#: Training steps of every run (every arm, every size) per profile. On the smoke profile 46 steps are two epochs
#: of the 1497 digits at batch 64 (23 steps each) and 23 epochs of a 150-image subset (2 steps each); on the
#: standard profile 4680 are ten epochs of Fashion-MNIST's 60,000 at batch 128 and 312 of a 2000-image subset.
LAB_STEPS = {"smoke": 46, "standard": 4680}
#: Training-set sizes per profile (the last: the whole training split).
LAB_SIZES = {"smoke": (150, 1497), "standard": (2000, 60000)}
#: R1 weight gamma of the ``r1`` arm. Mescheder et al. use 10 on 128x128 and larger images; the penalty sums
#: squared gradients over pixels, and the lab's images have 64 (smoke) or 784 of them, so it takes 1.
LAB_R1 = 1.0
#: The EMA arm's half-life as a fraction of the run: decay ``0.5 ** (1 / (LAB_EMA_HALF_LIFE * steps))``
#: (0.9985 for 4680 steps, near the 0.999 of Karras et al.; 0.86 for 46 steps, where 0.999 would leave the
#: average at 95% of the untrained generator).
LAB_EMA_HALF_LIFE = 0.1
#: A row whose mean confident-prediction rate is below this has not converged (the samples are not yet digits
#: or clothes the offline classifier recognises); its verdicts compare unfinished runs.
CONVERGED_AT = 0.5


def lab_configs(profile_name: str | None = None, train_size: int | None = None,
                steps: int | None = None) -> dict[str, DCGANConfig]:
    """``{arm: DCGANConfig}`` of the modern-GAN lab at one training-set size.

    ``baseline`` is chapter 04's seeded-study config of ``modern``
    (:func:`gancourse.experiments.ch04.study_config`: on the smoke profile 8x8 digits, batch 64, a quarter
    width, Adam(1e-3, 0.5), one-sided label smoothing; on the standard profile 28x28 Fashion-MNIST at full
    width, batch 128). Each other arm changes only what its technique needs:

    * ``sngan``: hinge loss, no label smoothing, spectral norm on every layer of D, batch norm in G only
      (Miyato et al.);
    * ``wgan-gp``: the Wasserstein loss with the gradient penalty (weight 10), no label smoothing, no batch
      norm in the critic (Gulrajani et al.);
    * ``r1``: the baseline plus the R1 penalty (:data:`LAB_R1`);
    * ``sagan``: the baseline plus self-attention in G and D at half the image size;
    * ``ema``: the baseline, sampled from an exponential moving average of G (:data:`LAB_EMA_HALF_LIFE`);
    * ``diffaugment``: the baseline with DiffAugment (color, translation, cutout) in both steps.

    Equal compute: every arm and every size trains for the same number of steps (``steps``, default
    :data:`LAB_STEPS`), each step one discriminator and one generator update (``d_steps=1`` everywhere, WGAN-GP
    included, where Gulrajani et al. take five critic steps), with the baseline's optimiser and batch size;
    the epochs are ``steps`` divided by the steps per epoch of the size. The techniques' own extra work
    inside a step (R1's and the gradient penalty's second backward pass, attention, augmentation) is not
    equalised: it is part of what each technique costs.

    Args:
        profile_name: the profile (``None``: ``GANCOURSE_PROFILE``).
        train_size: training images (a fixed class-stratified subset, the same for every arm and seed);
            ``None``: the whole training split.
        steps: training steps per run; a multiple of the steps per epoch at this size.
    """
    from gancourse.config import profile as _profile
    from gancourse.experiments import ch04
    from gancourse.models.dcgan import training_images

    name = _profile(profile_name)
    base = ch04.study_config("modern", profile_name)
    steps = LAB_STEPS.get(name, LAB_STEPS["standard"]) if steps is None else int(steps)
    size = len(training_images(base)) if train_size is None else int(train_size)
    per_epoch = size // base.batch_size
    if per_epoch < 1:
        raise ValueError(f"train_size={size} is smaller than one batch of {base.batch_size}; use a larger size")
    if steps < 1 or steps % per_epoch:
        raise ValueError(f"steps={steps} is not a positive multiple of the {per_epoch} steps per epoch of "
                         f"{size} images at batch {base.batch_size}; choose a multiple of {per_epoch}")
    base = base.replace(epochs=steps // per_epoch, train_size=train_size)
    plain = dict(label_smoothing="none", batch_norm="generator")
    return {
        "baseline": base,
        "sngan": base.replace(objective="hinge", spectral_norm=True, **plain),
        "wgan-gp": base.replace(objective="wgan-gp", d_steps=1, **plain),
        "r1": base.replace(r1_weight=LAB_R1),
        "sagan": base.replace(self_attention=True),
        "ema": base.replace(ema=float(0.5 ** (1.0 / max(LAB_EMA_HALF_LIFE * steps, 1.0)))),
        "diffaugment": base.replace(augment="diffaugment"),
    }


def run_lab(sizes, seeds, extractor, real_features: np.ndarray, profile_name: str | None = None,
            steps: int | None = None, arms=LAB_ARMS, n_samples: int | None = None) -> dict[int, dict]:
    """Train every arm of :func:`lab_configs` at every training-set size, once per seed, and score each run
    (chapter 04's :func:`~gancourse.experiments.ch04.run_study` and
    :func:`~gancourse.experiments.ch04.score_samples`; arms at different sizes share one traced model).

    Args:
        sizes: training-set sizes (``None``: the whole split).
        seeds: two or more seeds (the same for every arm and size).
        extractor: a :class:`~gancourse.metrics.ClassifierFeatures`.
        real_features: features of held-out real images (the FID reference).
        profile_name: the profile (``None``: ``GANCOURSE_PROFILE``).
        steps: training steps per run (default :data:`LAB_STEPS`).
        arms: the arms to train (names in :data:`LAB_ARMS`).
        n_samples: generated images scored per run (default: as many as ``real_features`` has rows).

    Returns:
        ``{size: {arm: run_study's result}}`` (the whole split's size as a number).
    """
    from gancourse.experiments import ch04

    unknown = [a for a in arms if a not in LAB_ARMS]
    if unknown or not arms:
        raise ValueError(f"unknown lab arm(s) {unknown}; choose from {', '.join(LAB_ARMS)}")
    if not sizes:
        raise ValueError("run_lab needs at least one training-set size")
    configs, keys = {}, []
    for size in sizes:
        chosen = lab_configs(profile_name, size, steps)
        for arm in arms:
            configs[f"{arm} @ {size}"] = chosen[arm]
            keys.append((size, arm))
    n_samples = len(real_features) if n_samples is None else int(n_samples)
    study = ch04.run_study(configs, extractor, real_features, seeds=seeds, n_samples=n_samples)
    results: dict = {}
    for (size, arm), result in zip(keys, study.values()):
        label = size if size is not None else _full_size(result["config"])
        results.setdefault(label, {})[arm] = result
    return results


def _full_size(cfg: DCGANConfig) -> int:
    from gancourse.models.dcgan import training_images

    return len(training_images(cfg))


def lab_table(results: dict, reference_distance: float, alpha: float = 0.05, converged_at: float = CONVERGED_AT,
              confidence: float = 0.95) -> tuple[list[dict], list[dict]]:
    """Rows for :func:`gancourse.viz.markdown_table` of a :func:`run_lab` result and the comparisons behind
    their verdicts.

    Every arm is compared with the baseline at the same size, on classifier-FID (lower is better) and on the
    confident-prediction rate (higher is better), by Welch's test over seeds; all these comparisons, every
    arm, size and both scores, are Holm-corrected as one family
    (:func:`gancourse.stats.correct_together`), so the verdict words hold together at ``alpha``. A row
    whose mean confident rate is below ``converged_at`` is marked "not converged": its samples are not yet
    recognisable, and a verdict there compares unfinished runs, not finished models.

    Returns:
        ``(rows, comparisons)``; each comparison is a :func:`gancourse.stats.compare` row with ``"size"`` and
        ``"score"`` added.
    """
    from gancourse import stats
    from gancourse.experiments.ch04 import collapsed

    groups, by_key = {}, {}
    for size, arms in results.items():
        if "baseline" not in arms or len(arms) < 2:
            raise ValueError(f"size {size} needs the baseline and at least one other arm, got {', '.join(arms)}")
        for score, higher in (("fid", False), ("confident", True)):
            rows = stats.compare({a: arms[a]["scores"][score] for a in arms}, baseline="baseline",
                                 higher_is_better=higher, alpha=alpha, confidence=confidence)
            for row in rows:
                row["size"], row["score"] = size, score
                by_key[(size, row["variant"], score)] = row
            groups[f"{score} @ {size}"] = (rows, higher, ("better", "worse"))
    stats.correct_together(groups, alpha)
    table = []
    for size, arms in results.items():
        for arm, result in arms.items():
            sc = result["scores"]
            f_mean, f_lo, f_hi = stats.mean_interval(sc["fid"], confidence)
            c_mean, c_lo, c_hi = stats.mean_interval(sc["confident"], confidence)
            flags = collapsed(sc, reference_distance)
            verdict = {s: "baseline" if arm == "baseline" else by_key[(size, arm, s)]["verdict"]
                       for s in ("fid", "confident")}
            table.append({"arm": arm, "size": size, "steps": result["steps"],
                          "classifier-FID [95% CI]": f"{f_mean:.1f} [{f_lo:.1f}, {f_hi:.1f}]",
                          "confident [95% CI]": f"{c_mean:.0%} [{max(c_lo, 0):.0%}, {min(c_hi, 1):.0%}]",
                          "collapsed seeds": f"{sum(flags)}/{len(flags)}",
                          "FID vs baseline": verdict["fid"], "confident vs baseline": verdict["confident"],
                          "note": "not converged" if c_mean < converged_at else ""})
    comparisons = [row for rows, _, _ in groups.values() for row in rows]
    return table, comparisons
