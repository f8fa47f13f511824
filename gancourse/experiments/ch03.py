"""Chapter 03 (Age-cGAN): the studies on rendered faces and the source book's defects, computed.

What the chapter measures that is not model code lives here:

* :func:`chapter_config` - the chapter's configuration for a profile and the
  sizes of its studies;
* :func:`train_chapter_model` - phases 1 and 2 with the age grid of fixed
  noise and the age accuracy of the samples recorded every epoch (cached on
  request, keyed by the configuration);
* :func:`age_accuracy` - per requested age, how often the rendered-face age
  classifier reads that age in the generator's samples (Wilson intervals);
* :func:`identity_study` - held-out faces rebuilt from ``E(x)``, after
  pixel-wise and after identity-preserving latent optimisation, scored by
  verification accuracy on cross-age pairs (bootstrap intervals over faces)
  and by per-face distances, with
  paired tests Holm-corrected together, beside a colour-only baseline
  embedding (:func:`colour_embedding`);
* :func:`strip_scores` - aging strips scored per target age (age accuracy,
  identity distance to the input);
* :func:`encoder_overfitting` - the book's fixed 1,000 latents against fresh
  ones: the error on the training latents and on new ones, a paired test on
  the new ones and the predict-zero yardstick;
* :func:`finetune_study` - what the book's joint fine-tuning of E and G on
  the face-network distance does to the samples;
* the book's defects: :func:`book_age_category`, :func:`book_one_hot`,
  :func:`resize_exhibit`, :func:`range_exhibit`, :func:`resizer_exhibit`,
  :func:`lambda_exhibit`, :func:`closure_exhibit`, :func:`phase3_labels`, :func:`book_labels`,
  and the errata table :data:`ERRATA`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from gancourse import stats
from gancourse.data.ages import N_AGES, one_hot
from gancourse.experiments import error_of

#: The spec's parameter counts of the book's networks at 64 px.
BOOK_COUNTS = {"encoder": 18_287_268, "generator": 34_885_251, "discriminator": 1_569_665}

#: Study sizes per profile: the cGAN's epochs, held-out faces of the identity study, latent steps, samples per
#: age, faces optimised by L-BFGS-B, fine-tuning steps.
RUN_SETTINGS = {
    "smoke": dict(image_size=32, g_filters=64, epochs=12, encoder_epochs=4, latent_steps=40, faces=48,
                  per_age=100, lbfgs_faces=6, finetune_steps=40, encoder_samples=1000),
    "standard": dict(image_size=64, epochs=30, encoder_epochs=10, latent_steps=100, faces=60, per_age=300,
                     lbfgs_faces=12, finetune_steps=200, encoder_samples=1000),
    "full": dict(image_size=64, epochs=100, encoder_epochs=30, latent_steps=200, faces=60, per_age=500,
                 lbfgs_faces=24, finetune_steps=500, encoder_samples=1000),
}


def chapter_config(profile: str):
    """The ``book`` preset scaled to ``profile``, on the rendered faces with the rendered identity network as FR,
    and the study sizes. Returns ``(cfg, settings)``.

    On ``smoke`` the faces are 32 px and G's first map 64 channels wide: at 64 px a CPU minute is a few hundred
    steps, too few for the ages to appear in the samples.
    """
    from gancourse.models import agecgan

    if profile not in RUN_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(RUN_SETTINGS)}")
    settings = dict(RUN_SETTINGS[profile])
    cfg = agecgan.config("book").scaled(profile)
    model_keys = ("image_size", "g_filters", "epochs", "encoder_epochs", "latent_steps")
    cfg = cfg.replace(dataset="offline_faces", face_net="rendered",
                      **{k: settings[k] for k in model_keys if k in settings})
    return cfg, settings


# -- counting ------------------------------------------------------------------------------
def book_counts() -> list[dict]:
    """E, G and D built at the book's size, their parameters against the spec's numbers."""
    from gancourse.nn import faces

    nets = {"encoder": faces.age_encoder(), "generator": faces.conditional_generator(),
            "discriminator": faces.conditional_discriminator()}
    return [{"network": name, "parameters": net.count_params(), "spec": BOOK_COUNTS[name],
             "match": net.count_params() == BOOK_COUNTS[name]} for name, net in nets.items()]


def fr_counts(fr: keras.Model) -> dict:
    """The parameters of the book's face network (built with ``weights=None``): its backbone, the untrained
    projection, and how many of them are trainable (none: FR is frozen)."""
    backbone = next(layer for layer in fr.layers if isinstance(layer, keras.Model))
    projection = fr.get_layer("projection")
    return {"backbone": backbone.count_params(), "projection": projection.count_params(),
            "total": fr.count_params(), "trainable": int(sum(np.prod(w.shape) for w in fr.trainable_weights)),
            "backbone input": tuple(backbone.input_shape[1:]), "embedding": tuple(fr.output_shape[1:])}


def tiled_shapes(discriminator: keras.Model) -> dict:
    """The shapes around D's label tiling: the first convolution's map, the tiled label and the concatenation."""
    tiling = next(layer for layer in discriminator.layers if type(layer).__name__ == "ConditionTiling")
    features, condition = (tuple(t.shape) for t in tiling.input)
    out = tuple(tiling.output.shape)
    return {"feature map": features, "label": condition, "tiled label": out[:-1] + (condition[-1],),
            "concatenated": out}


def tile_labels(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """NumPy reference of the label tiling: ``labels (B, k)`` copied to every position of ``features (B, H, W,
    C)`` and concatenated to its channels -> ``(B, H, W, C + k)``."""
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 4 or labels.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need features (B, H, W, C) and labels (B, k) with the same B, got {features.shape} and "
                         f"{labels.shape}")
    tiled = np.broadcast_to(labels[:, None, None, :], features.shape[:3] + labels.shape[1:])
    return np.concatenate([features, tiled.astype(features.dtype)], axis=-1)


# -- training --------------------------------------------------------------------------------
class AgeAccuracyLog(keras.callbacks.Callback):
    """After each cGAN epoch, the age accuracy of ``n`` samples of fixed noise at cycling ages."""

    def __init__(self, classifier, epochs: int, n: int = 240, seed: int = 3):
        super().__init__()
        self.classifier, self.epochs, self.n, self.seed = classifier, int(epochs), int(n), int(seed)
        self.accuracy: dict[int, float] = {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 > self.epochs:
            return
        ages = np.arange(self.n) % N_AGES
        samples = self.model.generate(self.model.fixed_noise(self.n, self.seed), ages)
        self.accuracy[epoch + 1] = float(np.mean(self.classifier.predict_ages(samples) == ages))


#: Bumped whenever the chapter's training changes in a way its configuration does not show (the cache key).
CHAPTER_MODEL_VERSION = 1


def _model_cache(cfg):
    """The cache folder of a chapter model: named by a hash of the whole configuration and the versions of the
    training code and of the renderer."""
    import hashlib
    import json

    from gancourse.data.cache import cache_dir
    from gancourse.data.rendered_faces import RENDERER_VERSION

    fields = json.dumps({k: repr(v) for k, v in sorted(vars(cfg).items())}, sort_keys=True)
    key = hashlib.sha256(f"{fields}|{CHAPTER_MODEL_VERSION}|{RENDERER_VERSION}|{keras.__version__}".encode())
    return cache_dir("chapter_models", f"ch03_{cfg.image_size}px_{key.hexdigest()[:16]}")


def train_chapter_model(cfg, train_faces, classifier, grid_columns: int = 6, verbose: int = 0,
                        cache: bool = False) -> dict:
    """Phases 1 and 2 of an :class:`~gancourse.models.agecgan.AgeCGAN` on ``train_faces`` (a ``FaceSet``).

    ``cache``: keep the trained networks and the records in the package cache (``chapter_models``, keyed by a
    hash of ``cfg``) and load them on the next call instead of training again, the way the evaluators are
    cached; either way the global seeds are reset to ``cfg.seed + 1`` afterwards, so what follows is the same
    whether the model was trained or loaded. Returns ``{"model", "history", "grids" ({epoch: (6, columns, S, S,
    3)} of the cGAN epochs), "accuracy" ({epoch: age accuracy of the samples}), "seconds" (of the training),
    "cached"}``.
    """
    import json
    import time

    from gancourse import set_seed
    from gancourse.models import agecgan
    from gancourse.training import SampleGrid

    set_seed(cfg.seed)
    model = agecgan.AgeCGAN(cfg)
    model.compile()
    nets = {"generator": model.generator, "discriminator": model.discriminator, "encoder": model.encoder}
    folder = _model_cache(cfg) if cache else None
    if folder is not None and (folder / "records.json").exists():
        for name, net in nets.items():
            net.load_weights(folder / f"{name}.weights.h5")
        model.cgan_epochs.assign(cfg.epochs)
        records = json.loads((folder / "records.json").read_text())
        grids = np.load(folder / "grids.npz")
        set_seed(cfg.seed + 1)
        return {"model": model, "history": records["history"], "accuracy": {int(k): v for k, v in
                                                                           records["accuracy"].items()},
                "grids": {int(k[1:]): grids[k] for k in grids.files}, "seconds": records["seconds"],
                "cached": True}
    grids = SampleGrid(n=grid_columns, seed=0, at_start=True)
    log = AgeAccuracyLog(classifier, cfg.epochs)
    start = time.perf_counter()
    history = model.fit(agecgan.batches(cfg, (train_faces.images, train_faces.ages)), epochs=cfg.total_epochs,
                        callbacks=[grids, log], verbose=verbose)
    seconds = time.perf_counter() - start
    kept = {e: g for e, g in grids.images.items() if e <= cfg.epochs}
    history = {k: [float(v) for v in values] for k, values in history.history.items()}
    if folder is not None:
        for name, net in nets.items():
            net.save_weights(folder / f"{name}.weights.h5")
        np.savez(folder / "grids.npz", **{f"e{e}": g for e, g in kept.items()})
        records = {"history": history, "accuracy": log.accuracy, "seconds": seconds}
        (folder / "records.tmp").write_text(json.dumps(records))
        (folder / "records.tmp").replace(folder / "records.json")  # written last: its presence means complete
    set_seed(cfg.seed + 1)
    return {"model": model, "history": history, "grids": kept, "accuracy": log.accuracy, "seconds": seconds,
            "cached": False}


def still_improving(values_by_epoch: dict, tolerance: float = 0.02) -> bool:
    """True when a score recorded by epoch still rises over the last third of training: a straight line fitted
    to it gains more than ``tolerance`` (absolute) from the first to the last of those epochs."""
    epochs = sorted(values_by_epoch)
    tail = epochs[len(epochs) - max(3, len(epochs) // 3):]
    if len(tail) < 3:
        return True
    slope = np.polyfit(tail, [values_by_epoch[e] for e in tail], 1)[0]
    return bool(slope * (tail[-1] - tail[0]) > tolerance)


# -- results -----------------------------------------------------------------------------------
def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a proportion ``successes / n``."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def accuracy_rows(predicted, requested) -> list[dict]:
    """Per age group: how often ``predicted == requested``, with the Wilson interval; then all ages."""
    from gancourse.data.ages import AGE_GROUPS

    predicted, requested = np.asarray(predicted), np.asarray(requested)
    if predicted.shape != requested.shape:
        raise ValueError(f"predicted {predicted.shape} and requested {requested.shape} must have the same shape")
    rows = []
    for label, mask in [(AGE_GROUPS[a], requested == a) for a in range(N_AGES)] + [("all", requested >= 0)]:
        n = int(mask.sum())
        if not n:
            continue
        k = int(np.sum(predicted[mask] == requested[mask]))
        low, high = wilson(k, n)
        rows.append({"age": label, "n": n, "accuracy": k / n, "low": low, "high": high})
    return rows


def age_accuracy(model, classifier, per_age: int = 100, seed: int = 5) -> list[dict]:
    """The age classifier's reading of ``per_age`` samples at each requested age (:func:`accuracy_rows`)."""
    requested = np.repeat(np.arange(N_AGES), per_age)
    samples = model.generate(model.fixed_noise(len(requested), seed), requested)
    return accuracy_rows(classifier.predict_ages(samples), requested)


def held_out_faces(faces, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` held-out faces, one per identity (as many identities as possible), ages spread evenly."""
    identities = np.unique(faces.identity)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(identities))
    chosen = []
    for i in range(n):
        person = identities[order[i % len(identities)]]
        age = (i + i // len(identities)) % N_AGES
        match = np.flatnonzero((faces.identity == person) & (faces.ages == age))
        if not len(match):
            raise ValueError(f"the face set has no face of identity {person} at age {age}")
        chosen.append(int(match[0]))
    return np.asarray(chosen)


def cross_age_pairs(faces, chosen: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each chosen face, one *same* partner (its identity at another age) and one *different* partner
    (another identity at another age). Returns ``(query, partner, same)``: ``query`` indexes ``chosen``,
    ``partner`` indexes ``faces``."""
    rng = np.random.default_rng(seed)
    query, partner, same = [], [], []
    for k, i in enumerate(chosen):
        person, age = faces.identity[i], faces.ages[i]
        for is_same in (True, False):
            pool = np.flatnonzero(((faces.identity == person) == is_same) & (faces.ages != age))
            query.append(k)
            partner.append(int(rng.choice(pool)))
            same.append(is_same)
    return np.asarray(query), np.asarray(partner), np.asarray(same)


def colour_embedding(images, grid: int = 4) -> np.ndarray:
    """A colour-only baseline "identity" embedding: each face average-pooled to ``grid`` x ``grid`` cells,
    flattened and L2-normalised. It knows nothing of faces beyond where the colours are, so whatever it verifies
    is identity that colour alone gives away (skin tone and hair colour are identity features of the renderer)."""
    images = np.asarray(images, np.float64)
    if images.ndim != 4 or images.shape[1] % grid or images.shape[2] % grid:
        raise ValueError(f"images must be (n, S, S, C) with S a multiple of grid={grid}, got {images.shape}")
    n, h, w, c = images.shape
    pooled = images.reshape(n, grid, h // grid, grid, w // grid, c).mean(axis=(2, 4)).reshape(n, -1)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def identity_study(model, faces, embed, classifier, n: int = 48, steps: int = 40, folds: int = 8,
                   seed: int = 0, judge=None, colour: bool = False) -> dict:
    """Reconstruction of ``n`` held-out faces by ``E(x)``, pixel-wise and identity-preserving optimisation.

    ``embed``: images -> unit embeddings (the evaluator's identity network). For every method, each face's
    reconstruction ``G(z, y0)`` is scored by its embedding distance to the face, its pixel distance (RMSE)
    and whether the age classifier reads ``y0`` in it; verification accuracy (LFW protocol, ``folds`` folds)
    asks whether the reconstruction and a real face at *another* age are the same person (one same and one
    different partner per face; ``real`` is the real face itself, the ceiling). ``judge``: a second embedding
    that the optimisation never used; when given, its verification accuracy and distance are added (columns
    ``judge ...``) and tested too. ``colour``: also score verification with :func:`colour_embedding` (column
    ``colour verification``; a baseline, not tested). Each row also gives the mean latent norm ``latent norm``
    (``"-"`` for ``real``). Returns ``{"rows", "per_face", "tests", "reconstructions", "latents", "chosen", "losses"}``.
    """
    from gancourse.faceid import verification_accuracy

    chosen = held_out_faces(faces, n, seed)
    x, ages = np.asarray(faces.images[chosen]), np.asarray(faces.ages[chosen])
    latents = {"E(x)": model.encode(x)}
    recon = {"real": x, "E(x)": model.generate(latents["E(x)"], ages)}
    losses = {}
    for name, objective in (("pixel-wise", "pixel"), ("identity-preserving", "identity")):
        result = model.optimize_latent(x, ages, objective=objective, steps=steps, method="adam",
                                       z0=latents["E(x)"])
        recon[name], latents[name] = model.generate(result.z, ages), result.z
        losses[name] = result.losses
    query, partner, same = cross_age_pairs(faces, chosen, seed)
    partners = np.asarray(faces.images[partner])
    evaluators = {"": embed} if judge is None else {"": embed, "judge ": judge}
    references = {key: (fn(partners), fn(x)) for key, fn in evaluators.items()}
    colour_partners = colour_embedding(partners) if colour else None
    rows, per_face = [], {}
    for name, images in recon.items():
        rmse = np.sqrt(np.mean((images - x) ** 2, axis=(1, 2, 3)))
        age_ok = classifier.predict_ages(images) == ages
        row, per_face[name] = {"reconstruction": name}, {"pixel RMSE": rmse}
        for key, fn in evaluators.items():
            partner_emb, x_emb = references[key]
            emb = fn(images)
            acc, spread = verification_accuracy(emb[query], partner_emb, same, folds=folds, seed=seed)
            low_v, high_v = bootstrap_verification(emb[query], partner_emb, same, query, folds=folds, seed=seed)
            distance = np.linalg.norm(emb - x_emb, axis=1)
            per_face[name][f"{key}embedding distance"] = distance
            mean_d, low_d, high_d = stats.mean_interval(distance) if name != "real" else (0.0, 0.0, 0.0)
            row.update({f"{key}verification": acc, f"{key}fold std": spread, f"{key}verification low": low_v,
                        f"{key}verification high": high_v, f"{key}embedding distance": mean_d,
                        f"{key}distance low": low_d, f"{key}distance high": high_d})
        if colour:
            row["colour verification"] = verification_accuracy(colour_embedding(images)[query], colour_partners,
                                                               same, folds=folds, seed=seed)[0]
        row.update({"pixel RMSE": float(rmse.mean()), "age kept": float(age_ok.mean()),
                    "latent norm": float(np.linalg.norm(latents[name], axis=1).mean()) if name in latents else "-"})
        rows.append(row)
    tests = compare_methods(per_face)
    return {"rows": rows, "per_face": per_face, "tests": tests, "reconstructions": recon, "latents": latents,
            "chosen": chosen, "losses": losses}


def bootstrap_verification(emb_a, emb_b, same, face, folds: int = 8, resamples: int = 200, seed: int = 0,
                           confidence: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval over *faces* of the verification accuracy: the faces (``face[i]`` is the
    face of pair ``i``) are resampled with replacement, each with all its pairs, and the LFW-protocol accuracy
    (:func:`gancourse.faceid.verification_accuracy`, ``folds`` folds) is recomputed. Returns ``(low, high)``."""
    from gancourse.faceid import verification_accuracy

    face, same = np.asarray(face), np.asarray(same, bool)
    faces = np.unique(face)
    pairs_of = [np.flatnonzero(face == f) for f in faces]
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(int(resamples)):
        idx = np.concatenate([pairs_of[k] for k in rng.integers(len(faces), size=len(faces))])
        if same[idx].all() or not same[idx].any() or len(idx) < folds:
            continue
        scores.append(verification_accuracy(emb_a[idx], emb_b[idx], same[idx], folds=folds, seed=seed)[0])
    if not scores:
        raise ValueError("no resample held both same-person and different-person pairs")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def compare_methods(per_face: dict) -> list[dict]:
    """Paired tests on every per-face distance, Holm-corrected as one family (lower is better; verdicts
    "closer" / "further"): each optimisation against ``E(x)`` (variants ``pixel-wise`` and
    ``identity-preserving``), and identity-preserving against pixel-wise (variant ``identity vs pixel``)."""
    groups = {}
    words = ("closer", "further")
    for metric in per_face["E(x)"]:
        samples = {name: per_face[name][metric] for name in ("E(x)", "pixel-wise", "identity-preserving")}
        rows = stats.compare(samples, higher_is_better=False, words=words, paired=True)
        pair = {"pixel-wise": samples["pixel-wise"], "identity vs pixel": samples["identity-preserving"]}
        direct = stats.compare(pair, higher_is_better=False, words=words, paired=True)
        for row in rows + direct:
            row["metric"] = metric
        groups[metric] = (rows + direct, False, words)
    stats.correct_together(groups)
    return [row for rows, _, _ in groups.values() for row in rows]


def verdict(tests: list[dict], variant: str, metric: str) -> str:
    """The verdict word of ``variant`` on ``metric`` in :func:`compare_methods`' rows."""
    for row in tests:
        if row["variant"] == variant and row["metric"] == metric:
            return row["verdict"]
    raise ValueError(f"no test of {variant!r} on {metric!r}")


def optimiser_comparison(model, images, ages, steps: int = 40) -> dict:
    """The identity objective minimised per face by Adam and by L-BFGS-B (SciPy) from the same ``E(x)``, the
    same number of iterations. Returns ``{"rows", "tests", "seconds", "samples"}``: the mean objective at the
    start and after each optimiser, and a paired test of L-BFGS-B against Adam (verdicts "lower"/"higher")."""
    import time

    finals, seconds = {}, {}
    initial = None
    for method in ("adam", "lbfgs"):
        start = time.perf_counter()
        result = model.optimize_latent(images, ages, objective="identity", method=method, steps=steps)
        seconds[method] = time.perf_counter() - start
        finals[method], initial = result.final, result.initial
    samples = {"Adam": finals["adam"], "L-BFGS-B": finals["lbfgs"]}
    tests = stats.compare(samples, higher_is_better=False, words=("lower", "higher"), paired=True)
    rows = [{"latent": "E(x), the start", "objective": float(np.mean(initial)), "seconds": 0.0},
            {"latent": "Adam", "objective": float(np.mean(finals["adam"])), "seconds": seconds["adam"]},
            {"latent": "L-BFGS-B", "objective": float(np.mean(finals["lbfgs"])), "seconds": seconds["lbfgs"]}]
    return {"rows": rows, "tests": tests, "seconds": seconds, "samples": {"E(x)": initial, **samples}}


def encoder_error_on(model, encoder, z: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """Per latent, ``||E(G(z, y)) - z||`` with the given encoder."""
    images = model.generate(z, ages)
    return np.linalg.norm(np.asarray(encoder.predict(images, verbose=0, batch_size=256)) - z, axis=1)


def encoder_overfitting(model, samples: int = 1000, epochs: int | None = None, n: int = 1000) -> dict:
    """The book's phase 2 (one fixed set of ``samples`` latents) against fresh latents every step, with the
    same generator and the same number of steps. For each encoder: its error on the fixed set and on ``n``
    new latents, each with a 95% interval over the latents. The error on the new latents is compared encoder
    against encoder by a paired t-test (the same new latents feed both; verdicts "lower" / "higher" for the
    fixed set against the fresh encoder), and the trivial baseline is the error of predicting ``z = 0``, the
    mean ``||z||`` of the new latents. Returns ``{"rows", "tests", "zero_baseline", "ratio" (each encoder's
    new-latent error over the baseline), "gap_fixed", "gap_fresh", "fixed_model", "history"}``."""
    from gancourse.models import agecgan

    book = agecgan.AgeCGAN(model.cfg.replace(encoder_samples=samples))
    book.compile()
    book.generator.set_weights(model.generator.get_weights())
    history = book.train_encoder(epochs)
    z_fixed, y_fixed = book.fixed_encoder_set()
    ages_fixed = y_fixed.argmax(axis=1)
    rng = np.random.default_rng(11)
    z_new = rng.standard_normal((n, model.latent_dim)).astype(np.float32)
    ages_new = rng.integers(0, N_AGES, n)
    zero = float(np.linalg.norm(z_new, axis=1).mean())
    rows, new_errors = [], {}
    for name, m in ((f"fixed {samples:,} (the book)", book), ("fresh every step", model)):
        train = encoder_error_on(m, m.encoder, z_fixed, ages_fixed)
        new = encoder_error_on(m, m.encoder, z_new, ages_new)
        new_errors[name] = new
        (fixed_mean, fixed_low, fixed_high), (new_mean, new_low, new_high) = (stats.mean_interval(train),
                                                                              stats.mean_interval(new))
        rows.append({"encoder trained on": name, "error on the fixed set": fixed_mean, "fixed low": fixed_low,
                     "fixed high": fixed_high, "error on new latents": new_mean, "new low": new_low,
                     "new high": new_high, "gap": new_mean - fixed_mean, "new / predicting 0": new_mean / zero})
    fixed_name, fresh_name = list(new_errors)
    tests = stats.compare({fresh_name: new_errors[fresh_name], fixed_name: new_errors[fixed_name]},
                          higher_is_better=False, words=("lower", "higher"), paired=True)
    return {"rows": rows, "tests": tests, "zero_baseline": zero,
            "ratio": {row["encoder trained on"]: row["new / predicting 0"] for row in rows},
            "gap_fixed": rows[0]["gap"], "gap_fresh": rows[1]["gap"], "fixed_model": book,
            "history": history.history}


def finetune_study(model, faces, classifier, steps: int = 40, per_age: int = 60, seed: int = 0) -> dict:
    """The book's phase 3: E and G fine-tuned jointly on the face-network distance over ``faces`` (copies).

    Compares the original and the fine-tuned G on the same noise: the age classifier's accuracy and D's mean
    probability "real" (D from phase 1, trained against the original G: a weak, uncalibrated realism proxy).
    Paired tests, Holm-corrected together. Returns ``{"rows", "tests", "encoder", "generator", "pictures"
    ({generator: (6, S, S, 3)}, the same noise at ages 0-5 through each)}``.
    """
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(faces.images), size=min(512, len(faces.images)), replace=False)
    encoder, generator = model.finetuned(np.asarray(faces.images[pick]), np.asarray(faces.ages[pick]),
                                         steps=steps, seed=seed)
    requested = np.repeat(np.arange(N_AGES), per_age)
    z = model.fixed_noise(len(requested), 7)
    y = one_hot(requested)
    scores, correct, pictures = {}, {}, {}
    for name, g in (("G after phases 1-2", model.generator), ("G fine-tuned (the book's phase 3)", generator)):
        samples = np.asarray(g([z, y], training=False))
        pictures[name] = samples[::per_age]  # one noise per age, the same in both rows
        correct[name] = (classifier.predict_ages(samples) == requested).astype(np.float64)
        scores[name] = np.asarray(tf.sigmoid(model.discriminator([samples, y], training=False))).ravel()
    groups = {
        "age accuracy": (stats.compare(correct, words=("higher", "lower"), paired=True), True, ("higher", "lower")),
        "D(real)": (stats.compare(scores, words=("higher", "lower"), paired=True), True, ("higher", "lower")),
    }
    rows = [{"generator": name, "age accuracy": float(correct[name].mean()), "D's P(real)": float(scores[name].mean())}
            for name in correct]
    stats.correct_together(groups)
    tests = []
    for metric, (r, _, _) in groups.items():
        for row in r:
            row["metric"] = metric
            tests.append(row)
    return {"rows": rows, "tests": tests, "encoder": encoder, "generator": generator, "pictures": pictures}


# -- the book's defects ---------------------------------------------------------------------
def book_age_category(ages) -> list:
    """The book's bucket function, rebuilt: a chain of ``if``/``elif`` with no ``else``, called in a loop that
    keeps the last value. An age <= 0 matches no branch and gets the *previous* image's group; as the first
    item it raises ``NameError`` (as the book's does)."""
    groups = []
    for age in ages:
        if 0 < age <= 18:
            category = 0
        elif 18 < age <= 29:
            category = 1
        elif 29 < age <= 39:
            category = 2
        elif 39 < age <= 49:
            category = 3
        elif 49 < age <= 59:
            category = 4
        elif age >= 60:
            category = 5
        try:
            groups.append(category)  # noqa: F821 - stale or unbound, as in the book
        except UnboundLocalError as error:
            raise NameError(f"age {age}: {error}") from None
    return groups


def book_one_hot(categories) -> np.ndarray:
    """The book's ``to_categorical(y, num_classes=len(set(y)))``: as wide as the number of *distinct* groups."""
    categories = np.asarray(categories)
    return keras.utils.to_categorical(categories, num_classes=len(set(categories.tolist())))


def resize_exhibit(faces_high: np.ndarray, size: int) -> dict:
    """A face rendered at high resolution shrunk to ``size`` px by nearest neighbour (the book's default) and by
    bilinear interpolation with antialiasing, each against the area average (the faithful reduction): RMSE."""
    x = tf.constant(faces_high)
    nearest = tf.image.resize(x, (size, size), method="nearest").numpy()
    bilinear = tf.image.resize(x, (size, size), method="bilinear", antialias=True).numpy()
    area = tf.image.resize(x, (size, size), method="area").numpy()

    def rmse(a):
        return float(np.sqrt(np.mean((a - area) ** 2)))

    return {"nearest": nearest, "bilinear": bilinear, "area": area,
            "rows": [{"resize": "nearest (the book)", "RMSE to the area average": rmse(nearest)},
                     {"resize": "bilinear, antialiased", "RMSE to the area average": rmse(bilinear)}]}


def range_exhibit(images: np.ndarray, generated: np.ndarray, embed) -> dict:
    """The book's phase-3 ``/ 255`` against the ``[-1, 1]`` of training: the ranges, and the embedding distance
    between each face fed in the right range and the same face fed as ``(x + 1) / 2`` (what ``/ 255`` gives).
    ``images`` are in [-1, 1]."""
    images = np.asarray(images, np.float32)
    book = (images + 1) / 2  # = uint8 / 255
    right, wrong = embed(images), embed(book)
    return {"rows": [{"tensor": "G's output (tanh)", "min": float(generated.min()), "max": float(generated.max())},
                     {"tensor": "real faces, x / 127.5 - 1", "min": float(images.min()), "max": float(images.max())},
                     {"tensor": "real faces, x / 255 (book's phase 3)", "min": float(book.min()),
                      "max": float(book.max())}],
            "distance": np.linalg.norm(right - wrong, axis=1)}


def resizer_exhibit(fr: keras.Model) -> dict:
    """The repository's x2 resizer: 64 px becomes 128, which the FR backbone built for 192 px refuses."""
    backbone = next(layer for layer in fr.layers if isinstance(layer, keras.Model))
    image = np.zeros((1, 64, 64, 3), np.float32)
    twice = keras.layers.UpSampling2D(2)(image)
    thrice = keras.layers.UpSampling2D(3)(image)
    return {"x2": tuple(twice.shape), "x3": tuple(thrice.shape), "backbone input": tuple(backbone.input_shape),
            "x2 error": error_of(lambda: backbone(twice), first_line=True),
            "x3 error": error_of(lambda: backbone(thrice), first_line=True)}


def lambda_exhibit(discriminator: keras.Model, path) -> dict:
    """The book tiles the label in a ``Lambda``; Keras refuses to load a saved ``Lambda`` in safe mode. Our
    discriminator (a registered layer) reloads in safe mode with the same outputs.

    Returns ``{"lambda_error", "reload_difference"}``.
    """
    from pathlib import Path

    path = Path(path)
    labels = keras.Input((N_AGES,))
    features = keras.Input((4, 4, 2))
    tiled = keras.layers.Lambda(lambda t: keras.ops.tile(keras.ops.reshape(t, (-1, 1, 1, N_AGES)),
                                                         (1, 4, 4, 1)))(labels)
    book = keras.Model([features, labels], keras.layers.Concatenate()([features, tiled]))
    book.save(path / "book_tiling.keras")
    lambda_error = error_of(lambda: keras.models.load_model(path / "book_tiling.keras"), first_line=True)
    discriminator.save(path / "discriminator.keras")
    reloaded = keras.models.load_model(path / "discriminator.keras")
    rng = np.random.default_rng(0)
    side = discriminator.input[0].shape[1]
    x = rng.uniform(-1, 1, (4, side, side, 3)).astype(np.float32)
    y = one_hot(np.arange(4))
    difference = float(np.max(np.abs(np.asarray(discriminator([x, y])) - np.asarray(reloaded([x, y])))))
    return {"lambda_error": lambda_error, "reload_difference": difference}


def closure_exhibit(size: int = 4, factor: int = 3, seed: int = 0) -> dict:
    """The repository's resizing ``Lambda`` closes over a tensor of the enclosing code instead of its argument.
    Rebuilt eagerly: ``captured = x1``; ``Lambda(lambda x: resize(captured))`` called on another tensor ``x2``.
    Returns the largest differences of its output from ``resize(x1)`` and from ``resize(x2)``."""
    rng = np.random.default_rng(seed)
    x1, x2 = (tf.constant(rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)) for _ in range(2))
    target = (size * factor, size * factor)
    captured = x1  # the enclosing code's tensor (the repository's gen_images)
    layer = keras.layers.Lambda(lambda x: keras.ops.image.resize(captured, target))  # ignores x
    out = np.asarray(layer(x2))

    def difference(x):
        return float(np.max(np.abs(out - np.asarray(keras.ops.image.resize(x, target)))))

    return {"shape": out.shape, "from resize(x1)": difference(x1), "from resize(x2)": difference(x2)}


def strip_scores(strips: np.ndarray, classifier, embed) -> list[dict]:
    """Aging strips ``(n, 7, S, S, 3)`` (the input, then ages 0-5) scored per target age: how often the age
    classifier reads the target age (Wilson interval) and the identity distance ``embed`` puts between each
    output and its input (mean and 95% interval over the faces)."""
    from gancourse.data.ages import AGE_GROUPS

    strips = np.asarray(strips)
    if strips.ndim != 5 or strips.shape[1] != N_AGES + 1:
        raise ValueError(f"strips must be (n, {N_AGES + 1}, S, S, 3): the input, then the six ages; got "
                         f"{strips.shape}")
    inputs = embed(strips[:, 0])
    rows = []
    for age in range(N_AGES):
        outputs = strips[:, 1 + age]
        hits = int(np.sum(classifier.predict_ages(outputs) == age))
        low, high = wilson(hits, len(outputs))
        distance = np.linalg.norm(embed(outputs) - inputs, axis=1)
        mean_d, low_d, high_d = stats.mean_interval(distance)
        rows.append({"target age": AGE_GROUPS[age], "n": len(outputs), "age accuracy": hits / len(outputs),
                     "low": low, "high": high, "judge distance to the input": mean_d, "distance low": low_d,
                     "distance high": high_d})
    return rows


def phase3_labels(true_ages: np.ndarray, batch_size: int = 128, phase2_samples: int = 5000, seed: int = 0) -> dict:
    """The repository's script run start to finish: phase 2 replaces ``y`` by ``phase2_samples`` random one-hots,
    and phase 3 slices its batches of real faces out of that ``y``. Returns the fraction of phase-3 faces
    paired with their true age, and how many batches come back short (``short batches``: fewer rows than
    ``batch_size``, empty ones included) and how many empty (``empty batches``)."""
    true_ages = np.asarray(true_ages)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_AGES, phase2_samples)
    matched, short, empty = [], 0, 0
    batches = len(true_ages) // batch_size
    for index in range(batches):
        labels = y[index * batch_size:(index + 1) * batch_size]
        if len(labels) < batch_size:
            short += 1
            empty += not len(labels)
        matched.extend(labels == true_ages[index * batch_size:index * batch_size + len(labels)])
    return {"matched": float(np.mean(matched)) if matched else float("nan"), "batches": batches,
            "short batches": short, "empty batches": empty}


def book_labels(batch_size: int = 4) -> dict:
    """The repository's label arrays: ``ones * 0.9`` and ``zeros * 0.1``."""
    real = np.ones((batch_size, 1), np.float32) * 0.9
    fake = np.zeros((batch_size, 1), np.float32) * 0.1
    return {"real": float(real.mean()), "fake": float(fake.mean())}


#: The book's errata (spec, section 3.11, checked against the text and the repository): where, what, correct.
_ERRATA_ROWS = (
    ("text", "the generator is built by `build_generator1()`",
     "`build_generator()`"),
    ("text", "the G step passes an undefined `sampled_labels`",
     "`random_labels`"),
    ("text", "`image_resizer.compile(loss=loss, ...)` with `loss` undefined",
     "no compile: the resizer only runs forward"),
    ("text", "a wrong GitHub path for `build_fr_model`",
     "`Chapter03/run.py`"),
    ("text", "y has shape (total_values, 5)",
     "(total_values, 6)"),
    ("text", "the encoder's dense layer has 2096 units",
     "4096 (the code)"),
    ("text", "64,328 images",
     "62,328 (the dataset's page)"),
    ("text", "FaceNet needs more than 150 px",
     "Keras' InceptionResNetV2 takes 75 px and up"),
    ("text", "phase 3 scales by `/ 255`",
     "`/ 127.5 - 1` (the repository)"),
    ("text", "E is trained on generated and real images",
     "generated only (the code)"),
    ("code", "`from keras.layers import K`, `keras_preprocessing.image`, `K.resize_images`",
     "`keras.ops`, `keras.utils.load_img`, `layers.UpSampling2D`"),
    ("code", "`Adam(lr=...)`",
     "`Adam(learning_rate=...)`"),
    ("code", "`Adam(..., epsilon=10e-8)`",
     "that is 1e-7 (Keras' default), not 1e-8"),
    ("code", "`save_rgb_img` hands `imshow` floats in [-1, 1], which it clips",
     "`(x + 1) / 2` first"),
    ("code", "phase 3's saved samples come from random z",
     "reconstructions `G(E(x), y)` show what phase 3 does"),
    ("text", "`real_labels` and `fake_labels` are used but never defined",
     "`ones * 0.9` and `zeros * 0.1` (= 0) in the repository"),
    ("text", "phase 2 never appends to `encoder_losses`",
     "append each epoch's mean loss (the repository does)"),
    ("code", "weights and models saved under the same `.h5` names",
     "`*.weights.h5` for weights, `.keras` for models"),
    ("code", "`D.trainable = False` compiled into the combined model",
     "one `train_step` that updates each network with its own optimizer"),
)
ERRATA = [dict(zip(("where", "what", "correct"), row)) for row in _ERRATA_ROWS]
