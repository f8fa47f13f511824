"""Chapter 09: what changed since DCGAN, measured (the modern-GAN lab), AC-GAN scored by a classifier, and
runs broken on purpose for the training-health monitor."""

from __future__ import annotations

import numpy as np

from gancourse.models.dcgan import DCGAN, DCGANConfig

# ---------------------------------------------------------------------------
# The modern-GAN lab
# ---------------------------------------------------------------------------
#: The lab's arms, in table order: chapter 04's baseline, then one post-DCGAN technique each.
LAB_ARMS = ("baseline", "sngan", "wgan-gp", "r1", "sagan", "ema", "diffaugment")
#: Training steps of every run (every arm, every size) per profile. On the smoke profile 46 steps are two epochs
#: of the 1497 digits at batch 64 (23 steps each) and 23 epochs of a 150-image subset (2 steps each); on the
#: standard profile 4680 are ten epochs of Fashion-MNIST's 60,000 at batch 128 and 312 of a 2000-image subset.
LAB_STEPS = {"smoke": 46, "standard": 4680}
#: The chapter's smoke lab: 184 steps (eight epochs of the whole split), long enough for the baseline's samples
#: to start looking like digits; :func:`cached_lab` keeps its results.
CHAPTER_SMOKE_STEPS = 184
#: The lab's width multiplier on the smoke profile: a quarter, narrower than chapter 04's study (half), because
#: the lab trains 42 runs (7 arms, 2 sizes, 3 seeds) where chapter 04 trains 18.
LAB_SMOKE_WIDTH = 0.25
#: Training-set sizes per profile (the last: the whole training split).
LAB_SIZES = {"smoke": (150, 1497), "standard": (2000, 60000)}
#: R1 weight gamma of the ``r1`` arm: not tuned. Mescheder et al. use 10 on 128x128 and larger images, and the
#: heuristic of StyleGAN2-ADA's code (0.0002 * resolution^2 / batch) would give far less on the lab's small
#: images, so 1 is a strong penalty here; chapter 09 says so.
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
    (:func:`gancourse.experiments.ch04.study_config`: on the smoke profile 8x8 digits, batch 64,
    Adam(1e-3, 0.5), one-sided label smoothing, at the lab's :data:`LAB_SMOKE_WIDTH`; on the standard profile
    28x28 Fashion-MNIST at full width, batch 128). Each other arm changes only what its technique needs:

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
    if name == "smoke":
        base = base.replace(width=LAB_SMOKE_WIDTH)
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
    study = ch04.run_study(configs, extractor, real_features, seeds=seeds, n_samples=n_samples, halfway=False)
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
                          "s per run": f"{result['seconds'] / len(flags):.1f}",
                          "FID vs baseline": verdict["fid"], "confident vs baseline": verdict["confident"],
                          "note": "not converged" if c_mean < converged_at else ""})
    comparisons = [row for rows, _, _ in groups.values() for row in rows]
    return table, comparisons


# ---------------------------------------------------------------------------
# Debugging a GAN: runs broken on purpose, watched by the training-health monitor
# ---------------------------------------------------------------------------
#: The monitor's demonstration: ``{run: (what is wrong with it, DCGANConfig changes)}``. ``collapsed generator``
#: also trains a :class:`ZeroNoiseDCGAN`.
HEALTH_RUNS = {
    "healthy": ("nothing: chapter 04's modern run", {}),
    "learning rate too high": ("Adam's learning rate set to 0.3", {"learning_rate": 0.3}),
    "D ten times too strong": ("D's learning rate ten times G's", {"g_learning_rate_factor": 0.1}),
    "collapsed generator": ("the noise scaled to 0, so G gets the same input every time", {}),
}


class ZeroNoiseDCGAN(DCGAN):
    """A DCGAN whose noise is scaled to 0, in training and sampling: the bug of a noise scale set to 0 (or of
    one noise vector reused for every sample). Every fake is then the same image."""

    def sample_noise(self, n):
        return 0.0 * super().sample_noise(n)

    def fixed_noise(self, n: int, seed: int = 0) -> np.ndarray:
        return 0.0 * super().fixed_noise(n, seed)


def health_config(run: str, profile_name: str | None = None, epochs: int | None = None) -> DCGANConfig:
    """The config of one run of :data:`HEALTH_RUNS`: chapter 04's ``modern`` config on the profile with the run's
    changes (``epochs``: the run's length; default the profile's)."""
    from gancourse.models.dcgan import config

    if run not in HEALTH_RUNS:
        raise ValueError(f"unknown health run {run!r}; choose from {', '.join(HEALTH_RUNS)}")
    cfg = config("modern").scaled(profile_name)
    changes = dict(HEALTH_RUNS[run][1])
    factor = changes.pop("g_learning_rate_factor", None)
    if factor is not None:
        changes["g_learning_rate"] = cfg.learning_rate * factor
    if epochs is not None:
        changes["epochs"] = int(epochs)
    return cfg.replace(**changes)


def monitored_runs(runs=tuple(HEALTH_RUNS), profile_name: str | None = None, epochs: dict | None = None,
                   verbose: bool = True) -> dict:
    """Train each of ``runs`` (names in :data:`HEALTH_RUNS`) on its own training data with a
    :class:`~gancourse.training.health.HealthMonitor` (``verbose``: it prints findings as they appear).

    Args:
        epochs: ``{run: epochs}`` for runs that should not take the profile's length.

    Returns:
        ``{run: {"config", "monitor", "samples" (16 of the last epoch), "seconds"}}``.
    """
    import time

    from gancourse import set_seed, training
    from gancourse.models.dcgan import training_data

    results = {}
    for run in runs:
        cfg = health_config(run, profile_name, (epochs or {}).get(run))
        start = time.perf_counter()
        set_seed(cfg.seed)
        model = (ZeroNoiseDCGAN if run == "collapsed generator" else DCGAN)(cfg)
        model.compile()
        data, _ = training_data(cfg)
        monitor = training.HealthMonitor(verbose=verbose)
        if verbose:
            print(f"--- {run}: {HEALTH_RUNS[run][0]}")
        model.fit(data, epochs=cfg.epochs, verbose=0, callbacks=[monitor, training.StopOnNonFinite()])
        results[run] = {"config": cfg, "monitor": monitor, "samples": model.sample(16, seed=3),
                        "seconds": time.perf_counter() - start}
    return results


def trainable_trap_run(profile_name: str | None = None, epochs: int = 2, verbose: bool = True) -> dict:
    """The Keras 2 recipe under Keras 3, watched by the monitor: :class:`gancourse.legacy.LegacyLoop` with
    ``toggle=False`` (D compiled, ``D.trainable = False``, the stacked ``D(G(z))`` compiled, then
    ``train_on_batch`` in turns), for ``epochs`` epochs of the chapter's data.

    Returns:
        ``{"monitor", "d_changed", "g_changed", "warnings"}``: the two flags say whether the networks' weights
        changed at all; ``warnings`` holds the texts of the warnings Keras issued.
    """
    import warnings

    import keras

    from gancourse import legacy
    from gancourse.models.dcgan import build_discriminator, build_generator, training_images
    from gancourse.training.health import HealthMonitor, fingerprint

    cfg = health_config("healthy", profile_name)
    images = training_images(cfg)
    g, d = build_generator(cfg), build_discriminator(cfg)
    loop = legacy.LegacyLoop(g, d, cfg.latent_dim, cfg.make_optimizer("discriminator"),
                             cfg.make_optimizer("generator"), toggle=False)
    monitor = HealthMonitor(verbose=verbose)
    before = {"generator": fingerprint(g), "discriminator": fingerprint(d)}
    noise = np.random.default_rng(cfg.seed).standard_normal((32, cfg.latent_dim)).astype(np.float32)
    batch = cfg.batch_size

    def step(real):
        d_loss, g_loss = loop.step(real)
        return {"d_loss": d_loss, "g_loss": g_loss}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.watch_loop(step, lambda: [images[i:i + batch] for i in range(0, len(images) - batch + 1, batch)],
                           epochs, {"generator": g, "discriminator": d},
                           sample=lambda: np.asarray(g(keras.ops.convert_to_tensor(noise), training=False)))
    return {"monitor": monitor, "d_changed": fingerprint(d) != before["discriminator"],
            "g_changed": fingerprint(g) != before["generator"],
            "warnings": sorted({str(w.message) for w in caught})}


def health_rows(results: dict, trap: dict | None = None) -> list[dict]:
    """One row per monitored run (and the trap's): what was broken, what the monitor named (each finding's
    kind, network and epoch), and whether it stayed quiet."""
    rows = []
    entries = [(run, HEALTH_RUNS[run][0], r["monitor"]) for run, r in results.items()]
    if trap is not None:
        entries.append(("Keras 3 trainable trap", "D.trainable = False before compiling the stacked model",
                        trap["monitor"]))
    for run, what, monitor in entries:
        named = ", ".join(f"{f.kind}{f' ({f.network})' if f.network else ''} at epoch {f.epoch}"
                          for f in monitor.findings)
        rows.append({"run": run, "what is wrong": what, "epochs": len(monitor.record.epochs),
                     "the monitor named": named or "nothing (quiet)"})
    return rows


# ---------------------------------------------------------------------------
# The chapter's settings and summaries
# ---------------------------------------------------------------------------
def lab_settings(profile_name: str | None = None) -> dict:
    """The chapter's run sizes for a profile: the lab's ``dataset``, ``image_size``, ``sizes``, ``seeds`` and
    ``steps``, and ``health_epochs`` (``{run: epochs}`` of the monitor's broken runs, which are named within a
    few epochs; the healthy run keeps the profile's length, so that its quiet covers a whole run)."""
    from gancourse.config import profile as _profile

    name = _profile(profile_name)
    base = lab_configs(name)["baseline"]
    sizes = LAB_SIZES.get(name, LAB_SIZES["standard"])
    short = 5 if name == "smoke" else 3
    steps = CHAPTER_SMOKE_STEPS if name == "smoke" else LAB_STEPS.get(name, LAB_STEPS["standard"])
    return {"dataset": base.dataset, "image_size": base.image_size, "sizes": sizes, "seeds": (0, 1, 2),
            "steps": steps,
            "health_epochs": {run: short for run in HEALTH_RUNS if run != "healthy"}}


def lab_reference(extractor, settings: dict, n: int | None = None) -> tuple[np.ndarray, float]:
    """The lab's references from held-out test images of its dataset: their classifier features (the FID
    reference; ``n`` images, default all the test split holds up to 1000) and their mean pairwise distance
    (the collapse reference of :func:`gancourse.experiments.ch04.collapsed`)."""
    from gancourse import data, metrics

    images, _ = data.arrays(settings["dataset"], "test", image_size=settings["image_size"], channels=1)
    images = images[:min(len(images), 1000 if n is None else int(n))]
    return extractor.features(images), metrics.diversity(images[:200])["mean_distance"]


def lab_description(configs: dict | None = None) -> list[dict]:
    """One row per lab arm: the config fields it changes relative to the baseline (computed from the configs)."""
    configs = configs or lab_configs()
    base = configs["baseline"]
    rows = []
    for arm, cfg in configs.items():
        changed = {k: v for k, v in cfg.to_dict().items() if base.to_dict().get(k) != v}
        rows.append({"arm": arm, "changes to the baseline config": ", ".join(f"{k}={v!r}" for k, v in changed.items())
                     or "none: chapter 04's study config of modern"})
    return rows


def lab_summary(rows: list[dict], comparisons: list[dict]) -> str:
    """The lab's verdicts in sentences, computed from :func:`lab_table`'s comparisons: which arms differ
    from the baseline at which size after the one correction over the whole table, and which rows have not
    converged."""
    from gancourse.stats import NO_DIFFERENCE

    names = {"fid": "classifier-FID", "confident": "the confident rate"}
    family = comparisons[0].get("family", len(comparisons)) if comparisons else 0
    found = [c for c in comparisons if c["verdict"] != NO_DIFFERENCE]
    lines = [f"{len(comparisons)} comparisons with the baseline (Welch's test over seeds, Holm-corrected together "
             f"over {family})"]
    for c in found:
        lines.append(f"- {c['variant']} at {c['size']} images: {c['verdict']} on {names.get(c['score'], c['score'])} "
                     f"(difference {c['difference']:+.3g} [{c['low']:+.3g}, {c['high']:+.3g}], Holm-adjusted "
                     f"p = {c['p_holm']:.3f})")
    if not found:
        lines.append("- no arm differs detectably from the baseline at any size")
    unfinished = [f"{r['arm']} @ {r['size']}" for r in rows if r.get("note") == "not converged"]
    if unfinished:
        lines.append(f"not converged (mean confident rate below {CONVERGED_AT:.0%}): {', '.join(unfinished)}; "
                     "verdicts that involve them compare unfinished runs")
    return "\n".join(lines)


def train_acgan(cfg, seeds=(0, 1, 2)) -> dict:
    """Train an AC-GAN of ``cfg`` once per seed on its own training data (:func:`gancourse.training.train`, with
    the health monitor). Returns ``{seed: {"model", "history", "seconds"}}``."""
    import time

    from gancourse import training

    runs = {}
    for seed in seeds:
        start = time.perf_counter()
        model, history, _ = training.train(cfg.replace(seed=int(seed)))
        runs[int(seed)] = {"model": model, "history": history.history, "seconds": time.perf_counter() - start}
    return runs


def acgan_rows(scores: dict, num_classes: int, confidence: float = 0.95) -> list[dict]:
    """Rows of AC-GAN's class accuracy over seeds (``scores``: ``{seed: ClassAccuracy}``): the independent
    classifier's and the auxiliary head's, each as a mean with its interval, against chance."""
    from gancourse import stats

    rows = []
    for label, values in (("digit classifier (independent)", [s.accuracy for s in scores.values()]),
                          ("D's auxiliary class head", [s.aux_accuracy for s in scores.values()])):
        mean, lo, hi = stats.mean_interval(values, confidence)
        rows.append({"judged by": label, "seeds": len(values),
                     f"requested class recognised [{confidence:.0%} CI]": f"{mean:.0%} [{max(lo, 0):.0%}, "
                                                                            f"{min(hi, 1):.0%}]",
                     "chance": f"{1 / num_classes:.0%}"})
    return rows


def acgan_summary(scores: dict, num_classes: int, alpha: float = 0.05) -> str:
    """Whether the independent classifier recognises the requested class above chance (a one-sample t-test
    over seeds against ``1 / num_classes``), and the best and worst classes (means over seeds)."""
    from scipy import stats as sps

    values = np.array([s.accuracy for s in scores.values()])
    per_class = np.mean([s.per_class for s in scores.values()], axis=0)
    chance = 1.0 / num_classes
    if np.allclose(values, values[0]):
        p = 0.0 if values[0] > chance else 1.0
    else:
        p = float(sps.ttest_1samp(values, chance, alternative="greater").pvalue)
    verdict = "above chance" if p < alpha else "not shown to be above chance"
    best, worst = int(per_class.argmax()), int(per_class.argmin())
    return (f"the requested class is recognised in {values.mean():.0%} of samples over {len(values)} seeds, "
            f"{verdict} ({1 / num_classes:.0%}; one-sided t-test p = {p:.3g}); best class {best} "
            f"({per_class[best]:.0%}), worst class {worst} ({per_class[worst]:.0%})")


#: Bumped whenever the lab's training or scoring changes in a way its configs do not show (the cache key).
LAB_VERSION = 1


def cached_lab(settings: dict, extractor, real_features: np.ndarray, cache: bool = True) -> dict:
    """:func:`run_lab` at ``settings`` (:func:`lab_settings`), kept in the package cache (``chapter_models``)
    when ``cache``: keyed by every run's config, the seeds, the reference features, the package version and
    :data:`LAB_VERSION`, so that a changed setting trains again. Returns what :func:`run_lab` returns, with
    each result's ``"cached"`` flag."""
    import hashlib
    import json

    import keras

    from gancourse import __version__
    from gancourse.data.cache import cache_dir

    configs = {size: lab_configs(None, size, settings["steps"]) for size in settings["sizes"]}
    text = json.dumps({"configs": {str(s): {a: c.to_dict() for a, c in arms.items()} for s, arms in configs.items()},
                       "seeds": list(settings["seeds"]), "features": hashlib.sha256(
                           np.ascontiguousarray(real_features, np.float32).tobytes()).hexdigest(),
                       "version": [__version__, LAB_VERSION, keras.__version__]}, sort_keys=True, default=str)
    folder = cache_dir("chapter_models", f"ch09_lab_{hashlib.sha256(text.encode()).hexdigest()[:16]}")
    index = folder / "lab.json"
    if cache and index.exists():
        saved = json.loads(index.read_text())
        samples = np.load(folder / "samples.npz")
        return {int(size): {arm: {**r, "config": DCGANConfig.from_dict(r["config"]),
                                  "samples": samples[f"{size}_{arm}"], "cached": True}
                            for arm, r in arms.items()} for size, arms in saved.items()}
    results = run_lab(settings["sizes"], settings["seeds"], extractor, real_features, steps=settings["steps"])
    if cache:
        np.savez_compressed(folder / "samples.npz", **{f"{size}_{arm}": r["samples"] for size, arms in results.items()
                                                        for arm, r in arms.items()})
        index.write_text(json.dumps({str(size): {arm: {k: (v.to_dict() if k == "config" else v)
                                                       for k, v in r.items() if k != "samples"}
                                                 for arm, r in arms.items()} for size, arms in results.items()},
                                    default=float))
    return {size: {arm: {**r, "cached": False} for arm, r in arms.items()} for size, arms in results.items()}


def acgan_diversity(model, images: np.ndarray, labels: np.ndarray, n_per_class: int = 100, seed: int = 1) -> dict:
    """Within-class variety of an AC-GAN's samples: for each class, the mean pairwise distance of
    ``n_per_class`` samples of that class (fixed noise of ``seed``) over that of up to ``n_per_class`` real
    ``images`` of the class (``labels``). 1 is as varied as the data; near 0, one image per class.

    Returns:
        ``{"per_class": (K,) ratios, "mean": their mean}``.
    """
    from gancourse import metrics

    labels = np.asarray(labels)
    k = model.num_classes
    ratios = []
    for c in range(k):
        real = np.asarray(images)[labels == c][:n_per_class]
        if len(real) < 2:
            raise ValueError(f"class {c} has {len(real)} real images; within-class diversity needs at least two")
        fake = model.generate(model.fixed_noise(n_per_class, seed), np.full(n_per_class, c, np.int32))
        ratios.append(metrics.diversity(fake)["mean_distance"] / metrics.diversity(real)["mean_distance"])
    ratios = np.asarray(ratios)
    return {"per_class": ratios, "mean": float(ratios.mean())}
