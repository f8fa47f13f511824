"""Chapter 06 (StackGAN): the studies on rendered birds and the source book's defects, computed.

What the chapter measures that is not model code lives here:

* :func:`chapter_config` - the chapter's configuration for a profile and the sizes of its studies;
* :func:`book_counts` - the four networks built at the book's size, counted against the spec, and
  :func:`joint_shapes` - the shapes around Stage-II G's joint block (where the book's prose is wrong);
* :func:`train_chapter_model` - both stages with caption x noise grids recorded (cached on request);
* :func:`consistency_rows` - how often the attribute classifier reads in generated birds what their
  captions name, per stage, with Wilson intervals (:func:`gancourse.experiments.ch03.wilson`);
* :func:`fid_is_rows` - a classifier FID and Inception Score of Stage-I (upsampled) and Stage-II samples
  against real renders, judged at one resolution;
* :func:`all_right`, :func:`mcnemar`, :func:`stage_comparison_rows`, :func:`stage_flags`, :func:`epochs_rows` -
  the paired Stage-I vs Stage-II test on the same captions and each stage's computed convergence flags;
* :func:`ca_ablation`, :func:`ablation_arm_rows`, :func:`ablation_rows` - the paper's ablation of conditioning
  augmentation: the diversity of samples for one caption with and without CA, the arms' flags, paired tests
  (cached on request);
* :func:`typed_caption_rows` - captions a reader types, scored at both stages by the classifier;
* the book's defects: :func:`kl_slice_rows`, :func:`book_shared_noise`, :func:`recovered_noise`,
  :func:`book_compressor`, :func:`compressor_exhibit`, :func:`shift_by_one_same_class`,
  :func:`ours_same_class`, :func:`equal_class_ids`, :func:`lr_decay_rows`, :func:`book_stage2_logging`,
  :func:`book_gen_losses`, :func:`book_logging_rows`.
"""

from __future__ import annotations

import hashlib
import json
import time

import keras
import numpy as np
import tensorflow as tf

from gancourse import stats
from gancourse.experiments.ch03 import wilson

#: The spec's parameter counts of the book's networks (Stage-I 64 px, Stage-II 256 px), each D without its
#: text compressor (the book builds that as a separate model).
BOOK_COUNTS = {"generator": 10_270_400, "discriminator": 3_097_601, "stage2_generator": 28_649_536,
               "stage2_discriminator": 48_486_401}
#: The StackGAN release's split of CUB-200-2011 (asserted by :mod:`gancourse.data.cub`): images and classes.
CUB_TRAIN_IMAGES, CUB_TRAIN_CLASSES = 8_855, 150

#: Study sizes per profile: the held-out captions the CA ablation scores, samples per caption, the seeds of its
#: runs (the first is the chapter model's seed, whose Stage-I is the "with CA" arm; every run trains Stage-I for
#: the chapter model's Stage-I epochs), the epochs between recorded grids, captions scored per split.
RUN_SETTINGS = {
    "smoke": dict(ablation_captions=96, samples_per_caption=6, ablation_seeds=(0,), grid_every=2,
                  eval_captions=288),
    "standard": dict(ablation_captions=288, samples_per_caption=8, ablation_seeds=(0, 1, 2), grid_every=10,
                     eval_captions=1440),
    "full": dict(ablation_captions=288, samples_per_caption=10, ablation_seeds=(0, 1, 2), grid_every=20,
                 eval_captions=1440),
}
#: Epochs of each stage in StackGAN's official birds configurations (Stage-I, Stage-II).
PAPER_EPOCHS = {"Stage-I": 600, "Stage-II": 600}

#: Bumped whenever the chapter's training changes in a way its configuration does not show (the cache key).
CHAPTER_MODEL_VERSION = 1


def chapter_config(profile: str):
    """The ``book`` preset scaled to ``profile`` on the rendered birds, and the study sizes: ``(cfg, settings)``."""
    from gancourse.models import stackgan

    if profile not in RUN_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(RUN_SETTINGS)}")
    cfg = stackgan.config("book").scaled(profile).replace(dataset="offline_birds")
    return cfg, dict(RUN_SETTINGS[profile])


# -- counting ------------------------------------------------------------------------------------
def book_networks() -> dict:
    """The four networks of the ``book`` preset at the book's size (Stage-I 64 px, Stage-II 256 px)."""
    from gancourse.models import stackgan

    return stackgan.build_networks(stackgan.config("book"))


def book_counts(networks: dict) -> list[dict]:
    """Each network's parameters (a discriminator's also without its text compressor, the number the book
    prints) against the spec's :data:`BOOK_COUNTS`."""
    from gancourse.nn.stackgan import without_text_compressor

    rows = []
    for name, net in networks.items():
        total = net.count_params()
        compressor = net.get_layer("text_compressor").count_params() if "discriminator" in name else 0
        book = without_text_compressor(net) if compressor else total
        rows.append({"network": name, "parameters": total, "text compressor": compressor,
                     "without compressor": book, "spec": BOOK_COUNTS[name], "match": book == BOOK_COUNTS[name]})
    return rows


def joint_shapes(stage1_generator: keras.Model, stage2_generator: keras.Model) -> dict:
    """Shapes read from the built networks: Stage-I G's ``[c, z]`` and, around Stage-II G's joint block, the
    condition ``c``, the image code and their concatenation."""
    tiling = stage2_generator.get_layer("tile_condition")
    features, condition = (tuple(t.shape) for t in tiling.input)
    return {"Stage-I [c, z]": tuple(stage1_generator.get_layer("condition").output.shape), "Stage-II c": condition,
            "Stage-II image code": features, "Stage-II joint [c, x]": tuple(tiling.output.shape)}


# -- training ------------------------------------------------------------------------------------
def _key(cfg, *extra) -> str:
    from gancourse.data.rendered_birds import RENDERER_VERSION

    fields = json.dumps({k: repr(v) for k, v in sorted(vars(cfg).items())}, sort_keys=True)
    text = f"{fields}|{CHAPTER_MODEL_VERSION}|{RENDERER_VERSION}|{keras.__version__}|{extra}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _folder(name: str, cfg, *extra):
    from gancourse.data.cache import cache_dir

    return cache_dir("chapter_models", f"ch06_{name}_{cfg.image_size}px_{_key(cfg, *extra)}")


def grid_inputs(birds, rows: int = 4, noise: int = 4, seed: int = 0, latent_dim: int = 100):
    """``(embeddings (rows, 1024), z (noise, latent_dim), captions)``: the first caption of ``rows`` birds of
    ``birds`` (a ``BirdSet``) picked with ``seed``, one of each class where it can, and fixed noise."""
    rng = np.random.default_rng(seed)
    classes = np.unique(birds.class_ids)
    picked = [int(rng.choice(np.flatnonzero(birds.class_ids == c))) for c in classes[:rows]]
    while len(picked) < rows:
        picked.append(int(rng.integers(len(birds.class_ids))))
    z = rng.standard_normal((noise, latent_dim)).astype(np.float32)
    return (np.asarray(birds.embeddings)[picked, 0].astype(np.float32), z,
            [birds.captions[i][0] for i in picked])


def train_chapter_model(cfg, train, inputs, every: int = 6, verbose: int = 0, cache: bool = False) -> dict:
    """Stage-I then Stage-II of a :class:`~gancourse.models.stackgan.StackGAN` on ``train`` (a ``BirdSet``), the
    caption grid of ``inputs`` (``(embeddings, z)``) kept every ``every`` epochs and at the start.

    ``cache``: keep the networks and the records in the package cache (``chapter_models``, keyed by a hash of
    ``cfg``) and load them on the next call instead of training again. Either way the global seeds are reset to
    ``cfg.seed + 1`` afterwards. Returns ``{"model", "history", "grids" ({epoch: grid}), "seconds",
    "compressor_start" ({discriminator: text-compressor kernel before training}), "cached"}``.
    """
    from gancourse import set_seed
    from gancourse.models import stackgan
    from gancourse.training import SampleGrid

    set_seed(cfg.seed)
    model = stackgan.StackGAN(cfg)
    model.compile()
    nets = {name: getattr(model, name) for name in model.NETWORKS}
    folder = _folder("model", cfg, every) if cache else None
    if folder is not None and (folder / "records.json").exists():
        for name, net in nets.items():
            net.load_weights(folder / f"{name}.weights.h5")
        records = json.loads((folder / "records.json").read_text())
        grids, start = np.load(folder / "grids.npz"), np.load(folder / "compressor_start.npz")
        set_seed(cfg.seed + 1)
        return {"model": model, "history": records["history"], "seconds": records["seconds"],
                "grids": {int(k[1:]): grids[k] for k in grids.files},
                "compressor_start": {k: start[k] for k in start.files}, "cached": True}
    compressor_start = {d: np.asarray(nets[d].get_layer("text_compressor").kernel).copy()
                        for d in ("discriminator", "stage2_discriminator")}
    grid = SampleGrid(every=every, at_start=True, inputs=tuple(inputs))
    begin = time.perf_counter()
    history = model.fit(stackgan.batches(cfg, (train.images, train.embeddings, train.class_ids)),
                        epochs=cfg.total_epochs, callbacks=[grid], verbose=verbose)
    seconds = time.perf_counter() - begin
    history = {k: [float(v) for v in values] for k, values in history.history.items()}
    if folder is not None:
        for name, net in nets.items():
            net.save_weights(folder / f"{name}.weights.h5")
        np.savez(folder / "grids.npz", **{f"e{e}": g for e, g in grid.images.items()})
        np.savez(folder / "compressor_start.npz", **compressor_start)
        (folder / "records.tmp").write_text(json.dumps({"history": history, "seconds": seconds}))
        (folder / "records.tmp").replace(folder / "records.json")  # written last: its presence means complete
    set_seed(cfg.seed + 1)
    return {"model": model, "history": history, "grids": dict(grid.images), "seconds": seconds,
            "compressor_start": compressor_start, "cached": False}


# -- results -------------------------------------------------------------------------------------
def beyond_chance(rows: list[dict]) -> dict[str, bool]:
    """``{attribute: whether the Wilson interval's lower end is above chance}`` for :func:`consistency_rows`."""
    return {r["attribute"]: bool(r["low"] > r["chance"]) for r in rows if np.isfinite(r["chance"])}


def upsample(images, size: int) -> np.ndarray:
    """Images ``(n, s, s, 3)`` resized to ``size`` px by bicubic interpolation, clipped to ``[-1, 1]``."""
    out = tf.image.resize(np.asarray(images, np.float32), (size, size), method="bicubic")
    return np.clip(np.asarray(out), -1.0, 1.0).astype(np.float32)


def caption_sample(birds, n: int, seed: int = 0):
    """``(images (n,), embeddings (n, 1024), captions (n,))``: ``n`` (image, caption) picks of ``birds``, the
    image indices, each image's caption drawn at random (every image once before any twice)."""
    rng = np.random.default_rng(seed)
    count = len(birds.class_ids)
    images = np.concatenate([rng.permutation(count) for _ in range(-(-int(n) // count))])[:int(n)]
    which = rng.integers(0, np.asarray(birds.embeddings).shape[1], size=len(images))
    return (images, np.asarray(birds.embeddings)[images, which].astype(np.float32),
            [birds.captions[i][j] for i, j in zip(images, which)])


def all_right(predicted: dict, wanted: dict) -> np.ndarray:
    """``(n,)`` booleans: every attribute the caption names (``wanted[a] >= 0``) is read as named."""
    from gancourse.data.rendered_birds import ATTRIBUTES

    every = None
    for name in ATTRIBUTES:
        want = np.asarray(wanted[name])
        ok = (np.asarray(predicted[name]) == want) | (want < 0)
        every = ok if every is None else every & ok
    return every


def mcnemar(a, b) -> dict:
    """Exact McNemar test of paired booleans ``a`` and ``b`` (same items): the two-sided binomial test of the
    discordant pairs. Returns ``{"n", "a only", "b only", "p"}`` (``p = 1`` without discordant pairs)."""
    from scipy.stats import binomtest

    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired indicators need one shape, got {a.shape} and {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"n": int(a.size), "a only": only_a, "b only": only_b, "p": float(p)}


def stage_comparison_rows(indicators: dict, alpha: float = 0.05) -> list[dict]:
    """Stage-II against Stage-I on the same captions: ``indicators`` ``{split: (stage1 (n,), stage2 (n,))}`` of
    per-sample "every named attribute right". Exact McNemar per split, Holm over the splits; the verdict
    ("better", "worse", "no difference detected") is Stage-II's."""
    rows = []
    for split, (one, two) in indicators.items():
        test = mcnemar(two, one)
        rows.append({"captions": split, "n": test["n"], "Stage-I": float(np.mean(one)),
                     "Stage-II": float(np.mean(two)), "only Stage-II right": test["a only"],
                     "only Stage-I right": test["b only"], "p": test["p"]})
    for row, p in zip(rows, stats.holm([r["p"] for r in rows])):
        row["p (Holm)"] = p
        row["Stage-II is"] = ("no difference detected" if p >= alpha else
                              "better" if row["Stage-II"] > row["Stage-I"] else "worse")
    return rows


def stage_flags(rows: list[dict], real: list[dict]) -> dict:
    """For one stage's :func:`consistency_rows` and the real images' on the same captions: whether each colour
    is read above chance (Wilson interval), and ``converged`` (its every-attribute interval reaches the real
    images')."""
    above = beyond_chance(rows)
    every = next(r for r in rows if r["attribute"] == "all")
    real_every = next(r for r in real if r["attribute"] == "all")
    return {"body above chance": above.get("body", False), "wing above chance": above.get("wing", False),
            "all right": every["accuracy"], "converged": bool(every["high"] >= real_every["low"])}


def epochs_rows(cfg) -> list[dict]:
    """Each stage's epochs in this configuration against StackGAN's (:data:`PAPER_EPOCHS`)."""
    here = {"Stage-I": cfg.epochs, "Stage-II": cfg.stage2_epochs}
    return [{"stage": k, "epochs here": int(here[k]), "StackGAN's epochs": v,
             "fraction": here[k] / v} for k, v in PAPER_EPOCHS.items()]


def consistency_rows(predicted: dict, wanted: dict, label: str) -> list[dict]:
    """Per attribute: how often ``predicted`` (``{attribute: (n,)}``) equals what the captions name (``wanted``,
    ``-1`` where not named), with the Wilson interval and chance (one over the attribute's values); then
    ``all`` (every named attribute right)."""
    from gancourse.data.rendered_birds import ATTRIBUTES

    rows, every = [], all_right(predicted, wanted)
    for name, values in ATTRIBUTES.items():
        want = np.asarray(wanted[name])
        named = want >= 0
        right = np.asarray(predicted[name]) == want
        if named.any():
            k, n = int(right[named].sum()), int(named.sum())
            rows.append({"images": label, "attribute": name, "n": n, "accuracy": k / n,
                         "low": wilson(k, n)[0], "high": wilson(k, n)[1], "chance": 1 / len(values)})
    k, n = int(every.sum()), len(every)
    rows.append({"images": label, "attribute": "all", "n": n, "accuracy": k / n, "low": wilson(k, n)[0],
                 "high": wilson(k, n)[1], "chance": float("nan")})
    return rows


def fid_is_rows(classifier, sets: dict, reference, parts: int = 4, splits: int = 10) -> tuple[list[dict], dict]:
    """For each ``{label: images}`` (at the classifier's size): the classifier FID of all the images to the
    ``reference`` images, the FIDs of ``parts`` disjoint parts of them (their mean with a t interval: FID grows
    as the sample shrinks, so compare parts with parts), and the Inception Score over the classifier's 36 colour
    pairs (mean and spread over ``splits`` splits). Returns ``(rows, {label: per-part FIDs})``."""
    from gancourse.metrics import fid_from_features, inception_score

    ref = classifier.features(reference)
    rows, per_part = [], {}
    for label, images in sets.items():
        features = classifier.features(images)
        score, spread = inception_score(classifier.class_probabilities(images), splits=int(splits))
        per_part[label] = [fid_from_features(part, ref) for part in np.array_split(features, int(parts))]
        mean, low, high = stats.mean_interval(per_part[label])
        rows.append({"images": label, "n": len(images), "FID": fid_from_features(features, ref),
                     f"FID of {len(images) // int(parts)}": mean, "low": low, "high": high, "IS": score,
                     "IS spread": spread, "IS splits": int(splits)})
    return rows, per_part


def pairwise_diversity(samples) -> np.ndarray:
    """``samples (captions, k, ...)`` -> ``(captions,)``: the mean Euclidean distance between the ``k`` samples
    of each caption over its ``k (k - 1) / 2`` pairs."""
    x = np.asarray(samples, np.float64)
    if x.ndim < 3 or x.shape[1] < 2:
        raise ValueError(f"samples must be (captions, k >= 2, ...), got shape {x.shape}")
    x = x.reshape(x.shape[0], x.shape[1], -1)
    d = np.sqrt(np.maximum(((x[:, :, None] - x[:, None]) ** 2).sum(-1), 0.0))
    k = x.shape[1]
    return d[:, np.triu_indices(k, 1)[0], np.triu_indices(k, 1)[1]].mean(axis=1)


def _stage1_samples(model, embeddings, k: int, seed: int) -> np.ndarray:
    """``(captions, k, s, s, 3)``: Stage-I samples of each caption with ``k`` noise draws (and CA draws)."""
    e = np.repeat(np.asarray(embeddings, np.float32), k, axis=0)
    z = model.fixed_noise(len(e), seed)
    with model.conditioning_noise(seed):
        low, _, _ = model.generator([tf.constant(e), tf.constant(z)], training=False)
    low = np.asarray(low)
    return low.reshape(len(embeddings), k, *low.shape[1:])


def ca_ablation(cfg, train, embeddings, classifier, settings: dict, wanted: dict | None = None, verbose: int = 0,
                cache: bool = False, with_ca=None):
    """The paper's CA ablation on Stage-I: for each seed of ``settings["ablation_seeds"]``, a Stage-I with
    conditioning augmentation and one without (``conditioning="fixed"``: ``c = mu``, no KL), each trained for
    ``cfg.epochs`` with ``cfg``'s other settings. ``with_ca``: a trained model whose Stage-I is the "with CA" arm
    of the first seed (the chapter model; it must have been trained with ``cfg`` and that seed), so only the
    other arms are trained. For every caption of ``embeddings`` ``samples_per_caption`` samples and their
    diversity (mean pairwise distance of the classifier's features, and of the pixels). With ``wanted``
    (``{attribute: (captions,)}``, ``-1`` where not named) also the fraction of each caption's samples whose body
    and wing colours the classifier reads as named (``"colours right"``) and how many different colour pairs it
    reads over all samples (``"pairs read"``). Returns ``{"diversity": {metric: {variant: (seeds * captions,)}},
    "pairs read": {variant: [per seed]}, "seeds", "seconds", "cached"}``; the arrays are aligned over
    (seed, caption)."""
    from gancourse import set_seed
    from gancourse.models import stackgan

    k, epochs, seeds = int(settings["samples_per_caption"]), int(cfg.epochs), tuple(settings["ablation_seeds"])
    if with_ca is not None and int(seeds[0]) != int(cfg.seed):
        raise ValueError(f"the chapter model was trained with seed {cfg.seed}; put it first in ablation_seeds")
    folder = _folder("ablation", cfg, epochs, k, seeds, len(embeddings), wanted is not None,
                     with_ca is not None) if cache else None
    if folder is not None and (folder / "diversity.json").exists():
        records = json.loads((folder / "diversity.json").read_text())
        return {"diversity": {m: {v: np.asarray(x) for v, x in d.items()} for m, d in records["diversity"].items()},
                "pairs read": records["pairs read"], "seeds": list(seeds), "seconds": records["seconds"],
                "cached": True}
    begin = time.perf_counter()
    out = {"features": {}, "pixels": {}, **({"colours right": {}} if wanted is not None else {})}
    pairs = {}
    for variant, conditioning in (("with CA", "augmented"), ("without CA", "fixed")):
        feats, pixels, right, pairs[variant] = [], [], [], []
        for i, seed in enumerate(seeds):
            if variant == "with CA" and i == 0 and with_ca is not None:
                model = with_ca
            else:
                run = cfg.replace(conditioning=conditioning, stage2_epochs=0, seed=int(seed))
                set_seed(run.seed)
                model = stackgan.StackGAN(run)
                model.compile()
                model.fit(stackgan.batches(run, (train.images, train.embeddings, train.class_ids)), epochs=epochs,
                          verbose=verbose)
            samples = _stage1_samples(model, embeddings, k, seed=100 + int(seed))
            flat = samples.reshape(-1, *samples.shape[2:])
            f = classifier.features(flat).reshape(len(embeddings), k, -1)
            feats.append(pairwise_diversity(f))
            pixels.append(pairwise_diversity(samples))
            if wanted is not None:
                read = classifier.predict(flat)
                pairs[variant].append(len(set(zip(read["body"].tolist(), read["wing"].tolist()))))
                ok = np.ones((len(embeddings), k), bool)
                for name in ("body", "wing"):
                    want = np.asarray(wanted[name])[:, None]
                    ok &= (read[name].reshape(len(embeddings), k) == want) | (want < 0)
                right.append(ok.mean(axis=1))
        out["features"][variant], out["pixels"][variant] = np.concatenate(feats), np.concatenate(pixels)
        if wanted is not None:
            out["colours right"][variant] = np.concatenate(right)
    seconds = time.perf_counter() - begin
    if folder is not None:
        records = {"diversity": {m: {v: x.tolist() for v, x in d.items()} for m, d in out.items()},
                   "pairs read": pairs, "seconds": seconds}
        (folder / "diversity.tmp").write_text(json.dumps(records))
        (folder / "diversity.tmp").replace(folder / "diversity.json")
    set_seed(cfg.seed + 1)
    return {"diversity": out, "pairs read": pairs, "seeds": list(seeds), "seconds": seconds, "cached": False}


def ablation_arm_rows(ablation: dict, chance: float = 1 / 36, min_pairs: int = 6) -> list[dict]:
    """Per arm of :func:`ca_ablation` (with ``wanted``): the fraction of samples with both colours right (mean
    over captions, t interval), chance, the colour pairs read (fewest over seeds), and two computed flags:
    ``above chance`` (the interval's lower end is above ``chance``) and ``collapsed`` (the interval lies below
    chance, or fewer than ``min_pairs`` colour pairs are read over all samples)."""
    rows = []
    for variant, right in ablation["diversity"]["colours right"].items():
        mean, low, high = stats.mean_interval(right)
        fewest = int(min(ablation["pairs read"][variant]))
        rows.append({"arm": variant, "colours right": mean, "low": low, "high": high, "chance": chance,
                     "colour pairs read": fewest, "above chance": bool(low > chance),
                     "collapsed": bool(high < chance or fewest < min_pairs)})
    return rows


def ablation_rows(diversity: dict, seeds: int = 1) -> list[dict]:
    """Paired comparisons of "without CA" against "with CA" for each metric of :func:`ca_ablation`,
    Holm-corrected together; verdict words "more diverse" / "less diverse" for the diversities and
    "more faithful" / "less faithful" for ``"colours right"``. With one seed the items are the captions (the
    difference of two trained models); with ``seeds > 1`` each seed's captions are averaged first and the test is
    paired over seeds (the seed is the unit over which CA's effect varies)."""
    groups = {}
    for metric, samples in diversity.items():
        words = ("more faithful", "less faithful") if metric == "colours right" else ("more diverse", "less diverse")
        arms = {v: np.asarray(samples[v], np.float64) for v in ("with CA", "without CA")}
        if seeds > 1:
            arms = {v: x.reshape(int(seeds), -1).mean(axis=1) for v, x in arms.items()}
        rows = stats.compare(arms, higher_is_better=True, words=words, paired=True)
        for row in rows:
            row["metric"] = metric
            row["with CA"] = float(np.mean(arms["with CA"]))
        groups[metric] = (rows, True, words)
    stats.correct_together(groups)
    return [{"metric": r["metric"], "n": r["n"], "with CA": r["with CA"], "without CA": r["mean"],
             "difference": r["difference"], "low": r["low"], "high": r["high"], "p": r["p"],
             "p (Holm)": r["p_holm"], "without CA is": r["verdict"]} for rows, _, _ in groups.values() for r in rows]


def typed_caption_rows(model, classifiers: dict, captions, n: int = 16, seed: int = 0):
    """Captions a reader types: ``n`` samples each, scored at each stage by ``classifiers``
    (``{"Stage-I": classifier at Stage-I's size, "Stage-II": at Stage-II's}``) against the attributes each
    caption names. Returns ``(rows, images (captions, n, S, S, 3))`` (the Stage-II images); one row per caption
    and stage, saying whether the caption's colour pair is one of the held-out test pairs (never seen in
    training)."""
    from gancourse.data.rendered_birds import TEST_CLASSES, WING_COLOURS, parse_caption

    if isinstance(captions, str):
        captions = [captions]
    embeddings = model.embed_captions(list(captions))
    rows, images = [], []
    for i, text in enumerate(captions):
        wanted = parse_caption(text)
        low, high = model.generate(np.repeat(embeddings[i:i + 1], n, axis=0), seed=seed + i)
        for stage, pictures in (("Stage-I", low), ("Stage-II", high)):
            if stage not in classifiers:
                continue
            predicted = classifiers[stage].predict(pictures)
            row = {"caption": text, "stage": stage}
            if "body" in wanted and "wing" in wanted:
                row["held-out pair"] = wanted["body"] * len(WING_COLOURS) + wanted["wing"] in TEST_CLASSES
            for name in ("body", "wing"):
                if name in wanted:
                    row[name] = float(np.mean(predicted[name] == wanted[name]))
            row["all named"] = float(np.mean(np.all([predicted[k] == v for k, v in wanted.items()], axis=0)))
            rows.append(row)
        images.append(high)
    return rows, np.stack(images)


# -- the book's defects --------------------------------------------------------------------------
def ca_outputs(generator: keras.Model, embeddings) -> np.ndarray:
    """The book's ``mean_logsigma`` ``(n, 2 * c_dim)`` from a generator's CA: ``[mu, log sigma]`` with
    ``log sigma = logvar / 2`` (the package's layer parameterises the variance)."""
    _, mu, logvar = generator.get_layer("ca")(tf.constant(np.asarray(embeddings, np.float32)), training=False)
    return np.concatenate([np.asarray(mu), 0.5 * np.asarray(logvar)], axis=1)


def kl_slice_rows(mean_logsigma, scales=(0.25, 1.0, 4.0)) -> list[dict]:
    """The book's KL (:func:`~gancourse.models.stackgan.book_kl_loss`) and the correct one
    (:func:`~gancourse.models.stackgan.correct_kl_loss`) of CA outputs whose ``sigma`` is multiplied by each of
    ``scales``: the book's value never moves."""
    from gancourse.models.stackgan import book_kl_loss, correct_kl_loss

    x = np.asarray(mean_logsigma, np.float32)
    half = x.shape[1] // 2
    rows = []
    for scale in scales:
        y = x.copy()
        y[:, half:] += np.log(scale)
        rows.append({"sigma x": scale, "mean sigma": float(np.exp(y[:, half:]).mean()),
                     "book KL": float(book_kl_loss(y)), "correct KL": float(correct_kl_loss(y))})
    return rows


def book_shared_noise(mean_logsigma, seed: int = 0) -> np.ndarray:
    """The book's CA sample: ``c = mu + exp(log sigma) * eps`` with one ``eps`` of shape ``(c_dim,)`` broadcast
    over the batch."""
    x = np.asarray(mean_logsigma, np.float32)
    half = x.shape[1] // 2
    eps = keras.random.normal((half,), seed=seed)
    return np.asarray(x[:, :half] + np.exp(x[:, half:]) * np.asarray(eps))


def recovered_noise(c, mean_logsigma) -> np.ndarray:
    """``eps = (c - mu) / sigma`` per row: the noise a CA sample ``c`` was drawn with."""
    x = np.asarray(mean_logsigma, np.float64)
    half = x.shape[1] // 2
    return (np.asarray(c, np.float64) - x[:, :half]) / np.exp(x[:, half:])


def distinct_rows(x, decimals: int = 4) -> int:
    """How many different rows ``x`` has (rounded to ``decimals``)."""
    return len(np.unique(np.round(np.asarray(x, np.float64), decimals), axis=0))


def book_compressor(units: int = 128, seed: int | None = None) -> keras.Model:
    """The book's text compressor: a fresh ``Dense(units)`` + ReLU on the 1024-d embedding, a model of its own
    that nothing trains."""
    e = keras.Input((1024,))
    h = keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(seed))(e)
    return keras.Model(e, keras.layers.ReLU()(h), name="book_compressor")


def compressor_exhibit(embeddings, start: dict, model) -> list[dict]:
    """The book's compressor (two fresh instances, as its Stage-I and Stage-II scripts build) against ours: how
    far apart the codes of the same captions are, and how far each of our discriminators' compressor kernels
    moved in training (relative to ``start``, the kernels before training)."""
    e = tf.constant(np.asarray(embeddings, np.float32))
    a, b = np.asarray(book_compressor(seed=1)(e)), np.asarray(book_compressor(seed=2)(e))
    rows = [{"compressor": "book: Stage-I instance vs Stage-II instance",
             "relative change": float(np.linalg.norm(a - b) / np.linalg.norm(a)), "trained": False}]
    for name in ("discriminator", "stage2_discriminator"):
        w = np.asarray(getattr(model, name).get_layer("text_compressor").kernel)
        rows.append({"compressor": f"ours: inside {name}, after training vs before",
                     "relative change": float(np.linalg.norm(w - start[name]) / np.linalg.norm(start[name])),
                     "trained": True})
    return rows


def equal_class_ids(images: int, classes: int) -> np.ndarray:
    """Class ids of a class-ordered set of ``images`` in ``classes`` classes as equal in size as the total
    allows (the first ``images % classes`` classes one larger)."""
    if classes < 1 or images < classes:
        raise ValueError(f"need at least one image per class, got {images} images in {classes} classes")
    base, extra = divmod(int(images), int(classes))
    return np.repeat(np.arange(classes), [base + (c < extra) for c in range(classes)]).astype(np.int32)


def shift_by_one_same_class(class_ids, batch_size: int) -> float:
    """The fraction of the book's "wrong" pairs that are of the same class: contiguous, unshuffled batches of
    ``batch_size``, image ``i`` paired with caption ``i + 1`` within each batch."""
    c = np.asarray(class_ids)
    batches = len(c) // int(batch_size)
    if batches < 1:
        raise ValueError(f"{len(c)} items make no batch of {batch_size}")
    b = c[:batches * batch_size].reshape(batches, batch_size)
    return float(np.mean(b[:, :-1] == b[:, 1:]))


def ours_same_class(class_ids, batch_size: int, seed: int = 0) -> float:
    """The same fraction for :func:`~gancourse.models.stackgan.wrong_indices` on shuffled batches (rows whose
    batch has no other class are left out, as the loss does)."""
    from gancourse.models.stackgan import wrong_indices

    c = np.random.default_rng(seed).permutation(np.asarray(class_ids, np.int32))
    same, total = 0, 0
    for start in range(0, len(c) - batch_size + 1, batch_size):
        batch = c[start:start + batch_size]
        idx, has = (np.asarray(t) for t in wrong_indices(batch, seed=seed + start))
        same += int(np.sum((batch[idx] == batch) & has))
        total += int(has.sum())
    return same / max(total, 1)


def lr_decay_rows(epochs=(0, 100, 200, 300, 600, 1000)) -> list[dict]:
    """The learning rate the book's Adam has after each number of epochs (its ``stage1_lr_decay_step`` is never
    used, so always 2e-4) and the ``paper`` preset's halving schedule, counted in epochs."""
    from gancourse.models import stackgan

    book = keras.optimizers.Adam(2e-4, beta_1=0.5)
    paper = stackgan.config("paper").decay_schedule("generator", steps_per_epoch=1)
    return [{"epoch": int(e), "book": float(np.asarray(book.learning_rate)),
             "paper preset": float(np.asarray(paper(int(e))))} for e in epochs]


def book_stage2_logging(gen_losses) -> str:
    """The book's Stage-II log line ``np.mean(gen_losses)[0]`` on ``gen_losses``: the error it raises (``""`` if
    it ran). NumPy's warning for the mean of an empty list is silenced (the error is the point)."""
    import warnings

    from gancourse.experiments import error_of

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return error_of(lambda: np.mean(gen_losses)[0])


def book_gen_losses(total, kl, kl_weight: float) -> list[list[float]]:
    """What the book's ``gen_losses`` holds: one ``[total, bce, kl]`` per batch (Keras' ``train_on_batch``
    returns the total and each output's loss for a two-output model), built from ``total`` and ``kl`` values
    with ``bce = total - kl_weight * kl``."""
    return [[float(t), float(t) - kl_weight * float(k), float(k)] for t, k in zip(total, kl)]


def book_logging_rows(gen_losses) -> list[dict]:
    """The book's two log lines against the intended one on ``gen_losses`` (from :func:`book_gen_losses`), and
    the Stage-II line on the list as the book's Stage-II loop leaves it (never appended to: empty)."""
    return [{"line": "Stage-I: np.mean(gen_losses[0])", "gen_losses": "filled",
             "result": f"{np.mean(gen_losses[0]):.3f} (mean of total, BCE and KL of the first batch)"},
            {"line": "intended: np.mean(gen_losses, axis=0)[0]", "gen_losses": "filled",
             "result": f"{np.mean(gen_losses, axis=0)[0]:.3f} (mean total loss)"},
            {"line": "Stage-II: np.mean(gen_losses)[0]", "gen_losses": "filled",
             "result": book_stage2_logging(gen_losses)},
            {"line": "Stage-II: np.mean(gen_losses)[0]", "gen_losses": "empty, as the book's Stage-II loop leaves it",
             "result": book_stage2_logging([])}]
