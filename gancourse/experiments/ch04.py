"""Chapter 04: the DCGAN presets of the course's sources, described, and trained on one dataset in a seeded study."""

from __future__ import annotations

import time

import numpy as np

from gancourse import training
from gancourse.models.dcgan import PRESETS, DCGANConfig, build_discriminator, build_generator, config


def describe_presets(names=PRESETS) -> list[dict]:
    """One row per preset: data, image shape, parameter counts, optimiser, labels, noise.

    Builds the full-size networks (the largest, ``book``, has 55 M parameters).
    """
    rows = []
    for name in names:
        cfg = config(name)
        opt = (f"SGD({cfg.learning_rate:g}, m={cfg.momentum:g}{', Nesterov' if cfg.nesterov else ''})"
               if cfg.optimizer == "sgd" else f"Adam({cfg.learning_rate:g}, b1={cfg.beta_1:g})")
        rows.append({"preset": name, "data": cfg.dataset, "image": f"{cfg.image_size}x{cfg.image_size}x{cfg.channels}",
                     "G params": build_generator(cfg).count_params(),
                     "D params": build_discriminator(cfg).count_params(),
                     "optimizer": opt + (" + decay" if cfg.lr_decay else ""),
                     "labels": cfg.label_smoothing, "noise": cfg.noise, "batch": cfg.batch_size})
    return rows


def comparison_config(name: str, profile_name: str | None = None, max_epochs: int | None = None) -> DCGANConfig:
    """A preset scaled for a profile so that every preset can train without data you have to supply.

    Presets made for a face folder (``book``, ``paper``) switch to greyscale
    Fashion-MNIST at 32x32 outside the smoke profile, so the comparison needs no
    data you have to supply.
    """
    cfg = config(name).scaled(profile_name)
    if cfg.dataset == "faces":
        cfg = cfg.replace(dataset="fashion_mnist", channels=1, image_size=32)
    if max_epochs is not None:
        cfg = cfg.replace(epochs=min(cfg.epochs, max_epochs))
    return cfg


def compare_presets(extractor, real_features, names=PRESETS, profile_name: str | None = None,
                    max_epochs: int | None = None, n_samples: int = 16, verbose: int = 0) -> dict[str, dict]:
    """Train each preset as :func:`comparison_config` scales it (its own dataset, except that the face presets
    switch to Fashion-MNIST outside the smoke profile) and measure it the same way. For a comparison on one
    dataset, split and width, use :func:`study_config` and :func:`run_study`.

    Args:
        extractor: feature extractor for the Fréchet distance (see :mod:`gancourse.metrics`).
        real_features: features of held-out real images.
        names: presets to train.
        profile_name: profile (``None``: ``GANCOURSE_PROFILE``).
        max_epochs: cap on every preset's epochs.

    Returns:
        ``{preset: {"config", "history", "fid" (per epoch), "samples", "seconds"}}``.
    """
    results = {}
    for name in names:
        cfg = comparison_config(name, profile_name, max_epochs)
        fid = training.FIDMonitor(extractor, real_features, n=cfg.fid_samples)
        grid = training.SampleGrid(n_samples, every=cfg.epochs)
        start = time.perf_counter()
        _, history, _ = training.train(cfg, callbacks=[fid, grid], verbose=verbose)
        results[name] = {"config": cfg, "history": history.history, "fid": fid.values,
                         "samples": grid.images[cfg.epochs], "seconds": time.perf_counter() - start}
    return results




# ---------------------------------------------------------------------------
# Seeded studies: presets and guideline ablations, measured by recognisability, FID and collapse
# ---------------------------------------------------------------------------
#: The smoke profile's study runs: every preset at the digits' native 8x8 where its architecture allows (the
#: book's needs 24), batch 64, half of each network's width for every arm, and SMOKE_STUDY_EPOCHS epochs.
#: Measured on a two-core CPU (three seeds, 552 steps): at a quarter of the width only ``modern`` reached a
#: classifier-FID near 40 (the other presets stayed above 120, so the study ranked how each recipe copes with
#: a quarter of its width); at half width ``modern`` and ``gans_in_action`` both reach it; full width costs
#: about twice as much again. The standard profile keeps each preset's own size, batch and full width.
SMOKE_STUDY = dict(image_size=8, batch_size=64, width=0.5)
SMOKE_STUDY_EPOCHS = 24
BOOK_SMOKE_SIZE = 24


def study_config(name: str, profile_name: str | None = None, epochs: int | None = None, **changes) -> DCGANConfig:
    """A preset sized for the seeded study of a profile (``changes`` replace fields, e.g. an ablation's).

    Every arm trains on the same data as ``modern`` (its dataset, the training split) at one width
    multiplier (``modern``'s, or on the smoke profile ``SMOKE_STUDY["width"]``), so that the arms differ by
    their recipes, not by their data or by how much each network was shrunk; batch sizes (and therefore
    steps per epoch) stay the presets' own outside the smoke profile.
    """
    from gancourse.config import profile as _profile

    modern = comparison_config("modern", profile_name)
    cfg = comparison_config(name, profile_name).replace(dataset=modern.dataset, split="train", width=modern.width)
    if _profile(profile_name) == "smoke":
        size = BOOK_SMOKE_SIZE if cfg.architecture == "book" else SMOKE_STUDY["image_size"]
        cfg = cfg.replace(image_size=size, batch_size=SMOKE_STUDY["batch_size"], width=SMOKE_STUDY["width"])
    if epochs is not None:
        cfg = cfg.replace(epochs=int(epochs))
    return cfg.replace(**changes)


def _reset(model, fresh, optimizer_state: list) -> None:
    """Give an already traced ``model`` the initial state of ``fresh`` (same config, another seed): weights,
    the optimizers' state as it was before the first step (``optimizer_state``: their variables' values
    then; this keeps the learning rate and zeroes moments and step counts), the noise generator's state and
    the weights of networks in ``extra_state`` (an EMA generator).
    Training it again then reproduces training ``fresh``, without tracing a new training function."""
    for key, net in model.networks.items():
        net.set_weights(fresh.networks[key].get_weights())
    extra = fresh.extra_state()
    for key, obj in model.extra_state().items():  # e.g. an EMA generator
        obj.set_weights(extra[key].get_weights())
    for v, value in zip([v for opt in model.optimizers.values() for v in opt.variables], optimizer_state):
        v.assign(value)
    model.seed_generator.state.assign(fresh.seed_generator.state)


def score_samples(samples: np.ndarray, extractor, real_features: np.ndarray, threshold: float = 0.9,
                  diversity_n: int = 200, fid_n: int | None = None) -> dict:
    """The study's scores of one set of generated images: classifier-FID of the first ``fid_n`` images
    (``None``: as many as ``real_features`` has rows, so that the estimate's small-sample bias matches a
    baseline computed at that size) against ``real_features``, :func:`~gancourse.metrics.recognisability`
    of all of them (confident rate, covered classes, entropy) and :func:`~gancourse.metrics.diversity` of
    the first ``diversity_n``."""
    from gancourse import metrics

    fid_n = len(real_features) if fid_n is None else int(fid_n)
    if fid_n < 2 or len(samples) < fid_n:
        raise ValueError(f"the FID needs fid_n >= 2 samples and at most the {len(samples)} given, got fid_n={fid_n}; "
                         "pass more samples or a smaller fid_n")
    rec = metrics.recognisability(extractor.predict(samples), threshold)
    div = metrics.diversity(samples[:diversity_n])
    return {"fid": metrics.fid_from_features(extractor.features(samples[:fid_n]), real_features),
            "confident": rec["confident"], "classes": rec["classes"], "entropy": rec["entropy"],
            "distance": div["mean_distance"], "duplicates": div["duplicate_rate"]}


def run_study(configs: dict, extractor, real_features: np.ndarray, seeds=(0, 1, 2), n_samples: int = 1000,
              n_grid: int = 16, halfway: bool = True) -> dict:
    """Train every config once per seed on its own training data and score each run.

    Each arm's training function is traced once: later seeds reset the same
    model to the state a fresh model of that seed would have (:func:`_reset`);
    arms whose configs differ only in ``epochs`` or ``train_size`` share one model.
    Each config trains on :func:`gancourse.models.dcgan.training_images` (its
    ``train_size`` subset when set).

    Args:
        configs: ``{arm name: DCGANConfig}``.
        extractor: a :class:`~gancourse.metrics.ClassifierFeatures` (it must have ``predict``).
        real_features: features of held-out real images (the FID reference).
        seeds: two or more seeds per arm.
        n_samples: generated images scored per run.
        halfway: also score every run after half its epochs (``"halfway"``, for :func:`still_improving`).

    Returns:
        A dict from arm name to a dict with ``"config"``, ``"scores"`` (score name
        to one value per seed), ``"halfway"`` (the same scores after the first
        ``epochs // 2`` epochs; empty for a one-epoch run or without ``halfway``), ``"samples"`` (seed 0's first
        n_grid images),
        ``"d_real"`` and ``"d_fake"`` (last epoch, per seed), ``"steps"`` and ``"seconds"``.
    """
    from gancourse import set_seed
    from gancourse.models.dcgan import DCGAN, batches, training_images

    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"a study needs two or more distinct seeds, got {seeds}")
    if not configs:
        raise ValueError("run_study needs at least one config")
    results, traced = {}, {}  # traced: one model per network and training recipe, shared by arms that differ
    for arm, cfg in configs.items():  # only in their length or training subset
        start = time.perf_counter()
        images = training_images(cfg)
        shared = cfg.replace(epochs=1, train_size=None, seed=0)
        model, scores, midway, d_real, d_fake, grid = traced.get(shared, (None,))[0], {}, {}, [], [], None
        for s in seeds:
            set_seed(s)
            fresh = DCGAN(cfg.replace(seed=s))
            if model is None:
                model = fresh
                model.compile()
                model.build_optimizers()
                initial = [np.array(v) for opt in model.optimizers.values() for v in opt.variables]
                traced[shared] = (model, initial)
            else:
                _reset(model, fresh, traced[shared][1])
            data, half = batches(cfg.replace(seed=s), images), cfg.epochs // 2 if halfway else 0
            if half:  # the first half, scored: whether the second half still improved the run
                model.fit(data, epochs=half, verbose=0)
                for key, value in score_samples(model.sample(n_samples, seed=1), extractor, real_features).items():
                    midway.setdefault(key, []).append(value)
            history = model.fit(data, initial_epoch=half, epochs=cfg.epochs, verbose=0).history
            d_real.append(history["d_real"][-1])
            d_fake.append(history["d_fake"][-1])
            samples = model.sample(n_samples, seed=1)
            grid = samples[:n_grid] if grid is None else grid
            for key, value in score_samples(samples, extractor, real_features).items():
                scores.setdefault(key, []).append(value)
        results[arm] = {"config": cfg, "scores": scores, "halfway": midway, "samples": grid, "d_real": d_real,
                        "d_fake": d_fake,
                        "steps": cfg.epochs * (len(images) // cfg.batch_size),
                        "seconds": time.perf_counter() - start}
    return results


IMPROVING_TOLERANCE = 0.1
""":func:`still_improving`'s default: the share of its halfway classifier-FID a run must still lose over its
second half to count as still improving."""


def still_improving(result: dict, tolerance: float = IMPROVING_TOLERANCE) -> list[bool]:
    """Per seed of one :func:`run_study` arm: was the run still improving in the second half of its training?
    True when its classifier-FID fell over the second half by more than ``tolerance`` of its halfway value.
    Such a run has not converged: its score measures how far it got in the budget, not where it would end.
    False is weaker than converged: the FID did not fall by that much (it may have stalled, wobbled or risen)."""
    if not result.get("halfway"):
        raise ValueError("the arm has no halfway scores: train it for two or more epochs with run_study")
    return [end < (1.0 - tolerance) * mid for mid, end in zip(result["halfway"]["fid"], result["scores"]["fid"])]


CONVERGENCE_CASES = ("still improving, not collapsed: a verdict measures speed at this budget",
                     "collapsed and still changing: not a ranking",
                     "collapsed and not improving: failed at this budget",
                     "neither collapsed nor still improving")


def convergence_cases(study: dict, reference_distance: float, tolerance: float = IMPROVING_TOLERANCE) -> dict:
    """``{case: [arm names]}`` over :data:`CONVERGENCE_CASES`: each :func:`run_study` arm sorted by whether any
    seed collapsed (:func:`collapsed`) and whether any seed was still improving (:func:`still_improving`)."""
    improving, collapsed_moving, failed, neither = CONVERGENCE_CASES
    case_of = {(False, True): improving, (True, True): collapsed_moving, (True, False): failed,
               (False, False): neither}  # (collapsed, still improving) -> case
    out = {case: [] for case in CONVERGENCE_CASES}
    for name, result in study.items():
        key = (any(collapsed(result["scores"], reference_distance)), any(still_improving(result, tolerance)))
        out[case_of[key]].append(name)
    return out


def collapsed(scores: dict, reference_distance: float, share: float = 0.5, duplicates: float = 0.5,
              min_classes: int = 3) -> list[bool]:
    """Per seed: is the run collapsed? True when its samples' mean pairwise distance is below ``share`` of
    real images' (``reference_distance``), when more than ``duplicates`` of them have a near-duplicate, or
    (where ``scores`` has ``"classes"``) when its confident predictions cover fewer than ``min_classes``
    classes: a generator that draws only one or two digits has collapsed onto those modes, however
    varied their strokes."""
    classes = scores.get("classes", [min_classes] * len(scores["distance"]))
    return [d < share * reference_distance or dup > duplicates or c < min_classes
            for d, dup, c in zip(scores["distance"], scores["duplicates"], classes)]


def study_table(results: dict, reference_distance: float, baseline: str | None = None,
                confidence: float = 0.95) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows for :func:`gancourse.viz.markdown_table` and the two comparisons behind their verdicts.

    Every arm is compared with the baseline (default: the first) on classifier-FID
    (lower is better) and on the confident-prediction rate (higher is better),
    each with Welch's test and Holm's correction over the arms' comparisons, applied
    separately to each of the two metrics (:func:`gancourse.stats.compare`). Arms with
    halfway scores get a ``still improving`` column (:func:`still_improving`: seeds whose
    classifier-FID still fell by more than :data:`IMPROVING_TOLERANCE` over the second half).

    Returns:
        ``(rows, fid_comparison, confident_comparison)``.
    """
    from gancourse import stats

    names = list(results)
    base = names[0] if baseline is None else baseline
    order = [base] + [n for n in names if n != base]
    fid = stats.compare({n: results[n]["scores"]["fid"] for n in order}, higher_is_better=False)
    conf = stats.compare({n: results[n]["scores"]["confident"] for n in order}, higher_is_better=True)
    verdict_fid = {r["variant"]: r for r in fid}
    verdict_conf = {r["variant"]: r for r in conf}
    rows = []
    for name in order:
        sc = results[name]["scores"]
        f_mean, f_lo, f_hi = stats.mean_interval(sc["fid"], confidence)
        c_mean, c_lo, c_hi = stats.mean_interval(sc["confident"], confidence)
        flags = collapsed(sc, reference_distance)
        row = {"arm": name, "steps": results[name]["steps"],
               "classifier-FID [95% CI]": f"{f_mean:.1f} [{f_lo:.1f}, {f_hi:.1f}]",
               "confident [95% CI]": f"{c_mean:.0%} [{max(c_lo, 0):.0%}, {min(c_hi, 1):.0%}]",
               "classes": f"{np.mean(sc['classes']):.1f}",
               "distance / real": f"{np.mean(sc['distance']) / reference_distance:.2f}",
               "collapsed seeds": f"{sum(flags)}/{len(flags)}" + (" COLLAPSE" if any(flags) else ""),
               **({"still improving": f"{sum(still_improving(results[name]))}/{len(flags)}"}
                  if results[name].get("halfway") else {}),
               "FID vs " + base: "baseline" if name == base else verdict_fid[name]["verdict"],
               "confident vs " + base: "baseline" if name == base else verdict_conf[name]["verdict"]}
        rows.append(row)
    return rows, fid, conf


def previous_smoke_config() -> DCGANConfig:
    """The smoke profile's ``modern`` run before it was tuned: 28x28 digits, a quarter of the width, batch 32,
    Adam(2e-4), 10 epochs (chapter 04 measures it against the tuned run)."""
    return config("modern").scaled("smoke").replace(image_size=28, width=0.25, batch_size=32, learning_rate=2e-4,
                                                    epochs=10)


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between two noise vectors at the fractions ``t`` (``(len(t), d)``).

    Gaussian noise lives near a sphere; a straight line between two points
    passes through its low-density inside, the great circle does not.
    """
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    if z0.shape != z1.shape or z0.ndim != 1:
        raise ValueError(f"z0 and z1 must be vectors of one length, got shapes {z0.shape} and {z1.shape}")
    t = np.asarray(t, np.float64).reshape(-1, 1)
    cos = np.clip(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)
