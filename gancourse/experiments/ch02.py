"""Chapter 02 (3D-GAN): the cost of 3-D convolutions, the networks' counts for every batch-norm placement, the
training run with its samples over time, the latent interpolation, the memorisation check, the paper's
feature-classification test on the offline shape classes, the hyper-parameter space for KerasTuner and the
exhibits of the source book's defects."""

from __future__ import annotations

import time

import numpy as np

from gancourse.experiments import error_of

#: Wu et al. (2016), Table 1: a linear SVM on the features of a 3D-GAN discriminator trained without labels (on
#: ShapeNet's seven major categories) classifies ModelNet40 with 83.3% accuracy and ModelNet10 with 91.0%.
PAPER_SVM_ACCURACY = {"ModelNet40": 0.833, "ModelNet10": 0.910}

#: The book's 64^3 generator as (input side, input channels, output channels, stride) per transposed convolution.
BOOK_GENERATOR = ((1, 200, 512, 1), (4, 512, 256, 2), (8, 256, 128, 2), (16, 128, 64, 2), (32, 64, 1, 2))

#: The rates as the source writes them: the book's listing for D ("text"), the script in its repository for D
#: ("code"), both for G.
LEARNING_RATES = {"text: D": "0.00001", "code: D": "10e-5", "text and code: G": "0.0025"}


# -- the cost of a convolution in 2-D and 3-D ---------------------------------------------------------------------

def conv_params(in_channels: int, filters: int, kernel: int, rank: int, bias: bool = True) -> int:
    """Weights of a ``Conv{rank}D`` (or its transpose): ``kernel**rank * in_channels * filters`` (+ ``filters``)."""
    if rank not in (1, 2, 3):
        raise ValueError(f"rank must be 1, 2 or 3, got {rank!r}")
    return kernel ** rank * in_channels * filters + (filters if bias else 0)


def conv_macs(in_channels: int, filters: int, kernel: int, rank: int, in_side: int, out_side: int,
              transposed: bool = False) -> int:
    """Multiply-accumulates of one convolution on one sample, every kernel tap counted.

    A convolution computes ``kernel**rank * in_channels`` products for each of its ``out_side**rank * filters``
    outputs; a transposed one scatters each of its ``in_side**rank * in_channels`` inputs into
    ``kernel**rank * filters`` outputs (the taps that ``"same"`` padding crops away included).
    """
    positions = (in_side if transposed else out_side) ** rank
    return positions * kernel ** rank * in_channels * filters


def keras_params(in_channels: int, filters: int, kernel: int, rank: int, transposed: bool = False) -> int:
    """The parameter count Keras gives the layer (built on a dummy input): the check on :func:`conv_params`."""
    from keras import layers

    cls = {(2, False): layers.Conv2D, (3, False): layers.Conv3D, (2, True): layers.Conv2DTranspose,
           (3, True): layers.Conv3DTranspose}[(rank, transposed)]
    layer = cls(filters, kernel)
    layer.build((None,) + (8,) * rank + (in_channels,))
    return int(layer.count_params())


def layer_shapes(side: int = 8, filters: int = 16, kernel: int = 4, stride: int = 2) -> list[dict]:
    """One ``Conv3D`` and one ``Conv3DTranspose`` of each padding applied to a single ``(1, side, side, side, 1)``
    grid: per layer its input, output and kernel shapes and parameter count (as Keras builds them)."""
    import keras

    cube = np.zeros((1, side, side, side, 1), np.float32)
    rows = []
    for cls in (keras.layers.Conv3D, keras.layers.Conv3DTranspose):
        for padding in ("same", "valid"):
            layer = cls(filters, kernel, strides=stride, padding=padding)
            out = layer(cube)
            rows.append({"layer": f"{cls.__name__}({filters}, {kernel}, strides={stride}, padding={padding!r})",
                         "input": str(cube.shape), "output": str(tuple(out.shape)),
                         "kernel": str(tuple(layer.kernel.shape)), "parameters": int(layer.count_params())})
    return rows


def cost_rows(layers=BOOK_GENERATOR, kernel: int = 4) -> list[dict]:
    """The book generator's transposed convolutions in 3-D beside the same layers in 2-D (same side, channels and
    kernel): parameters (Keras's count), multiply-accumulates per sample and the float32 size of the output of
    one sample, with the 3-D/2-D ratios. The last row sums the network."""
    rows, totals = [], {}
    for in_side, c_in, c_out, stride in layers:
        out_side = in_side * stride if stride > 1 else in_side + kernel - 1
        row = {"layer": f"{in_side}->{out_side}, {c_in}->{c_out} channels"}
        for rank in (2, 3):
            row[f"{rank}-D params"] = keras_params(c_in, c_out, kernel, rank, transposed=True)
            row[f"{rank}-D MACs"] = conv_macs(c_in, c_out, kernel, rank, in_side, out_side, transposed=True)
            row[f"{rank}-D output (MiB)"] = out_side ** rank * c_out * 4 / 2 ** 20
        for key in list(row)[1:]:
            totals[key] = totals.get(key, 0) + row[key]
        rows.append(row)
    rows.append({"layer": "generator", **totals})
    for row in rows:
        row["params ratio"] = row["3-D params"] / row["2-D params"]
        row["MACs ratio"] = row["3-D MACs"] / row["2-D MACs"]
    return rows


def model_costs(model) -> dict:
    """Parameters, multiply-accumulates per sample (convolutions only) and the float32 size of every layer's
    output for one sample, of any Keras model made of Conv/ConvTranspose layers of rank 2 or 3."""
    from keras import layers

    macs = 0
    activations = 0
    for layer in model.layers:
        out_shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        if isinstance(layer, (layers.Conv2D, layers.Conv3D, layers.Conv2DTranspose, layers.Conv3DTranspose)):
            rank = len(layer.kernel_size)
            transposed = isinstance(layer, (layers.Conv2DTranspose, layers.Conv3DTranspose))
            in_side = int(layer.input.shape[1])
            c_in = int(layer.input.shape[-1])
            macs += conv_macs(c_in, layer.filters, layer.kernel_size[0], rank, in_side, int(out_shape[0]), transposed)
        if out_shape and not isinstance(layer, layers.InputLayer):
            activations += int(np.prod(out_shape))
    return {"params": int(model.count_params()), "macs": int(macs), "activations_mib": activations * 4 / 2 ** 20}


# -- the networks and their counts --------------------------------------------------------------------------------

#: The spec's counts of the book's 64^3 networks (built with Keras 3, moving statistics included).
SPEC_COUNTS = {("generator", "canonical"): 17_572_545, ("generator", "text"): 17_572_549,
               ("discriminator", "canonical"): 11_051_457, ("discriminator", "description"): 11_051_713,
               ("discriminator", "text"): 11_051_717, ("discriminator", "repo"): 11_051_461}

#: Where each placement puts batch norm (the layers of the 64^3 networks, numbered from the input), and where the
#: placement comes from.
BN_PLACEMENTS = {
    ("generator", "canonical"): ("1-4", "the architecture description; the course's default"),
    ("generator", "text"): ("1-5", "the printed code (and the repository)"),
    ("discriminator", "canonical"): ("2-4", "the course's default (DCGAN's rule: none on D's first layer)"),
    ("discriminator", "description"): ("1-4", "the architecture description"),
    ("discriminator", "text"): ("1-5", "the printed code"),
    ("discriminator", "repo"): ("2-5", "the repository"),
}


def architecture_rows(cfg=None) -> list[dict]:
    """Every batch-norm variant of the ``book`` networks built at their size (``cfg``: the full ``book`` preset by
    default) with its parameter count, per-sample multiply-accumulates and activation memory, beside the count the
    spec gives. Builds the networks: a few seconds at 64^3."""
    import keras

    from gancourse.models import gan3d
    from gancourse.nn import voxels

    cfg = gan3d.config("book") if cfg is None else cfg
    rows = []
    for (network, variant), (layers_, source) in BN_PLACEMENTS.items():
        keras.backend.clear_session()
        if network == "generator":
            model = voxels.voxel_generator(cfg.cube_len, cfg.latent_dim, cfg.g_filters, variant)
        else:
            model = voxels.voxel_discriminator(cfg.cube_len, cfg.d_filters, variant)
        cost = model_costs(model)
        rows.append({"network": network, "batch norm on": layers_, "from": source, "parameters": cost["params"],
                     "spec": SPEC_COUNTS.get((network, variant)) if cfg.cube_len == 64 else None,
                     "GMACs per sample": cost["macs"] / 1e9,
                     "activations per sample (MiB)": cost["activations_mib"]})
        del model
    keras.backend.clear_session()
    return rows


def voxel_memory(cube_len: int = 64, n: int = 1) -> dict:
    """Bytes of ``n`` occupancy grids of side ``cube_len`` stored as uint8 and as float32."""
    cells = n * cube_len ** 3
    return {"uint8": cells, "float32": 4 * cells}


# -- training with snapshots --------------------------------------------------------------------------------------

def train(cfg, volumes: np.ndarray, steps: int, log_every: int = 10, snapshots=(0, 0.25, 0.5, 1.0),
          n_shown: int = 4, seed: int = 0) -> dict:
    """Train a :class:`gancourse.models.gan3d.GAN3D` for ``steps`` batches on ``volumes`` (uint8
    ``(N, L, L, L)``), recording the mean of its metrics over every ``log_every`` steps and, at the given fractions
    of the run (rounded to a window's end), samples from the same fixed noise.

    Returns ``model``, ``history`` (``{metric: one mean per window}``), ``samples`` (``{step: float (n_shown, L, L,
    L) occupancy probabilities}``), ``step_seconds`` (the wall time per step of each call Keras makes, which runs
    ``cfg.steps_per_execution`` steps; the first call includes building the graph), ``steps``, ``log_every`` and
    ``z`` (the fixed noise).
    """
    import keras

    from gancourse.models import gan3d

    if steps < log_every or steps % log_every:
        raise ValueError(f"steps must be a positive multiple of log_every={log_every}, got {steps}")
    if log_every % cfg.steps_per_execution:
        raise ValueError(f"log_every={log_every} must be a multiple of the config's steps_per_execution="
                         f"{cfg.steps_per_execution} (Keras runs that many steps per call)")
    volumes = np.asarray(volumes)
    if volumes.ndim != 4 or volumes.shape[1:] != (cfg.cube_len,) * 3:
        raise ValueError(f"volumes must be (N, {cfg.cube_len}, {cfg.cube_len}, {cfg.cube_len}) for this config, "
                         f"got {volumes.shape}")
    model = gan3d.GAN3D(cfg)
    model.compile()
    z = model.fixed_noise(n_shown, seed)
    windows = steps // log_every
    marks = sorted({int(round(f * windows)) for f in snapshots})
    history, samples, seconds = {}, {}, []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.done = 0

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            ran = batch + 1 - self.done  # steps in this call
            self.done = batch + 1
            seconds.append((time.perf_counter() - self.start) / max(ran, 1))

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            if epoch + 1 in marks:
                samples[(epoch + 1) * log_every] = model.generate(z)[..., 0]

    if 0 in marks:
        samples[0] = model.generate(z)[..., 0]
    dataset = gan3d.batches(cfg, volumes).repeat()
    model.fit(dataset, epochs=windows, steps_per_epoch=log_every, verbose=0, callbacks=[Recorder()])
    return {"model": model, "history": history, "samples": samples, "step_seconds": np.array(seconds),
            "steps": steps, "log_every": log_every, "z": z}


#: The chapter's run per profile: training steps, the window the curves average over, generated shapes in the
#: memorisation check.
RUN_SETTINGS = {"smoke": {"steps": 200, "log_every": 8, "n_memorisation": 32},
                "standard": {"steps": 3000, "log_every": 40, "n_memorisation": 128},
                "full": {"steps": 20000, "log_every": 200, "n_memorisation": 256}}


def chapter_config(profile: str):
    """The chapter's configuration and run settings for a profile: the ``paper`` preset (the 80% rule) scaled to
    the profile, on the offline shapes in every profile (the feature-classification test needs labelled
    classes). Returns ``(cfg, settings)``."""
    from gancourse.models import gan3d

    if profile not in RUN_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(RUN_SETTINGS)}")
    cfg = gan3d.config("paper").scaled(profile)
    if cfg.dataset != "offline_shapes":
        cfg = cfg.replace(dataset="offline_shapes", cube_len=min(cfg.cube_len, 32))
    return cfg, dict(RUN_SETTINGS[profile])


def step_time(run: dict) -> tuple[float, float, float]:
    """The median time per training step (s) over the calls after the first (which builds the graph), with the
    10th and 90th percentiles."""
    t = run["step_seconds"][1:] if len(run["step_seconds"]) > 1 else run["step_seconds"]
    return float(np.median(t)), float(np.percentile(t, 10)), float(np.percentile(t, 90))


def still_moving(values, tolerance: float = 0.05) -> bool:
    """True when the second half of a curve still trends: a straight line fitted to it changes by more than
    ``tolerance`` of the curve's mean absolute level over that half (falling or rising)."""
    values = np.asarray(values, np.float64)
    half = values[len(values) // 2:]
    if len(half) < 4:
        return True
    slope = np.polyfit(np.arange(len(half)), half, 1)[0]
    return bool(abs(slope * (len(half) - 1)) > tolerance * max(np.abs(half).mean(), 1e-12))


#: A run of fewer updates than this is called unconverged whatever its curves do: a GAN's losses can sit flat for
#: a while and then move, and a few hundred steps of a 3-D GAN are early training on any data.
SHORT_RUN = 1000


def convergence_text(run: dict, tolerance: float = 0.05) -> str:
    """A sentence on the run's state: it has **not converged** if it is shorter than :data:`SHORT_RUN` steps or if
    either loss still trends over the second half (:func:`still_moving`). Flat losses after a long run are only
    reported as flat: a GAN's losses also stop trending at an equilibrium far from the data or with a collapsed
    generator, so they never make the run "converged"."""
    moving = [k for k in ("d_loss", "g_loss") if k in run["history"] and still_moving(run["history"][k], tolerance)]
    short = run["steps"] < SHORT_RUN
    parts = [f"over the second half of the run, {' and '.join(moving)} still "
             f"{'trends' if len(moving) == 1 else 'trend'} (a fitted line moves by more than {tolerance:.0%} of "
             "its level)" if moving else "over the second half of the run, neither loss trends"]
    if short:
        parts.append(f"the run took {run['steps']} steps, fewer than the {SHORT_RUN} we ask of a run before reading "
                     "anything into flat losses")
    verdict = ("The run has **not converged**: what follows shows early training." if moving or short
               else "The losses no longer trend; this does not show that the generator has reached the data "
                    "distribution (flat losses also come with an equilibrium far from the data or a collapsed "
                    "generator).")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + ". " + verdict


def occupancy_text(samples: dict, train_share: float, threshold: float = 0.5) -> str:
    """A sentence on the share of occupied cells (above ``threshold``) in the run's samples (``{step: grids}``)
    from the first snapshot to the last, against the training shapes' share ``train_share``: whether the
    generator moved towards the data's share, and whether it got within a quarter of it (relative)."""
    steps = sorted(samples)
    first, last = (float(np.mean(np.asarray(samples[s]) > threshold)) for s in (steps[0], steps[-1]))
    towards = abs(last - train_share) < abs(first - train_share)
    close = abs(last - train_share) <= 0.25 * train_share
    text = (f"From step {steps[0]} to step {steps[-1]} the share of occupied cells went from {first:.1%} to "
            f"{last:.1%} ({'towards' if towards else 'not towards'} the training shapes' {train_share:.1%}")
    if close:
        return text + ", and within a quarter of it): this run has learnt the first statistic."
    return text + ("; not yet within a quarter of it): this run is still learning the first statistic."
                   if towards else "): this run has not learnt even the first statistic.")


# -- interpolation and memorisation -------------------------------------------------------------------------------

def interpolate(model, steps: int = 6, seed: int = 3) -> np.ndarray:
    """Occupancy grids ``(steps, L, L, L)`` generated along the straight line between two fixed noise vectors."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    z0, z1 = model.fixed_noise(2, seed)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.generate((1 - t) * z0 + t * z1)[..., 0]


def memorisation(samples: np.ndarray, train: np.ndarray, test: np.ndarray, threshold: float = 0.5) -> dict:
    """The memorisation check: each generated shape's IoU with its nearest training shape, beside each held-out
    test shape's IoU with its nearest training shape (how close a new shape of the same classes comes by chance).

    Returns ``samples`` and ``test`` (the nearest IoUs), ``index`` (each sample's nearest training shape), the
    Welch comparison row (:func:`gancourse.stats.compare`, samples against test shapes; ``"closer"`` means the
    samples sit nearer the training set than new shapes do), ``phrase`` (the verdict in words) and ``copies``
    (samples with IoU above 0.95).
    """
    from gancourse import metrics, stats

    best, index = metrics.nearest_iou(samples, train, threshold)
    test_best, _ = metrics.nearest_iou(test, train, threshold)
    row = stats.compare({"held-out shapes": test_best, "generated shapes": best}, higher_is_better=True,
                        words=("closer", "further"))[0]
    phrase = {"closer": "closer to the training set than new shapes are",
              "further": "further from the training set than new shapes are"}.get(row["verdict"],
                                                                                  "not detectably closer or further")
    return {"samples": np.asarray(best), "test": np.asarray(test_best), "index": np.asarray(index), "row": row,
            "copies": int(np.sum(np.asarray(best) > 0.95)), "phrase": phrase}


# -- the paper's evaluation: a linear SVM on discriminator features -----------------------------------------------

def flat_voxels(volumes: np.ndarray) -> np.ndarray:
    """Raw occupancy grids as float32 vectors ``(n, L**3)``."""
    volumes = np.asarray(volumes)
    return volumes.reshape(len(volumes), -1).astype(np.float32)


def svm_predictions(train_x, train_y, test_x, c: float = 0.1) -> np.ndarray:
    """A linear SVM (scikit-learn's ``LinearSVC``, one-vs-rest, ``C = c``) fitted on the training features and
    labels; its predictions for ``test_x``. Each feature is divided by its largest absolute value on the training
    set (``MaxAbsScaler``): binary voxels stay as they are and every feature gets the same range, where
    standardising would blow up the cells that a few shapes occupy and slow the solver down several times."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler
    from sklearn.svm import LinearSVC

    classifier = make_pipeline(MaxAbsScaler(), LinearSVC(C=c, max_iter=20000))
    classifier.fit(np.asarray(train_x, np.float64), np.asarray(train_y))
    return classifier.predict(np.asarray(test_x, np.float64))


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``correct / n``."""
    from scipy import stats as st

    return tuple(float(v) for v in st.binomtest(int(correct), int(n)).proportion_ci(confidence, "wilson"))


def mcnemar(a_correct, b_correct) -> dict:
    """McNemar's exact test for two classifiers scored on the same items: the two-sided binomial test of the
    discordant pairs (``a`` right and ``b`` wrong: ``a_only``; the reverse: ``b_only``) against 1/2."""
    from scipy import stats as st

    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ValueError(f"McNemar's test needs both classifiers scored on the same items, got {a.shape} and "
                         f"{b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = 1.0 if a_only + b_only == 0 else float(st.binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p": p}


def compare_classifiers(correct: dict, baseline: str, alpha: float = 0.05) -> tuple[list[dict], list[dict]]:
    """Accuracies of classifiers scored on the same held-out items, and the baseline against each other one.

    ``correct``: ``{name: bool array}`` (item ``i`` right or wrong), the same items for all. Returns
    ``(rows, comparisons)``: a row per classifier with its accuracy and Wilson 95% interval; per other classifier
    the paired difference in accuracy (baseline minus it) with its paired-t interval, McNemar's exact p-value,
    the Holm-adjusted one (over all the comparisons) and the verdict (``"better"``, ``"worse"`` or
    ``"no difference detected"``, for the baseline).
    """
    from gancourse import stats

    if baseline not in correct:
        raise ValueError(f"no classifier named {baseline!r}; classifiers: {', '.join(correct)}")
    rows = []
    for name, right in correct.items():
        right = np.asarray(right, bool)
        low, high = wilson_interval(right.sum(), right.size)
        rows.append({"features": name, "accuracy": float(right.mean()), "95% interval": f"[{low:.3f}, {high:.3f}]",
                     "held-out shapes": int(right.size)})
    base = np.asarray(correct[baseline], bool)
    comparisons = []
    for name, right in correct.items():
        if name == baseline:
            continue
        right = np.asarray(right, bool)
        diff, low, high, _ = stats.paired_difference(base.astype(float), right.astype(float))
        test = mcnemar(base, right)
        comparisons.append({"comparison": f"{baseline} vs {name}", "difference": diff, "low": low, "high": high,
                            "baseline right, other wrong": test["a_only"],
                            "other right, baseline wrong": test["b_only"], "p": test["p"]})
    for row, adjusted in zip(comparisons, stats.holm([r["p"] for r in comparisons])):
        row["p_holm"] = adjusted
        row["verdict"] = (stats.NO_DIFFERENCE if adjusted > alpha or row["difference"] == 0
                          else "better" if row["difference"] > 0 else "worse")
    return rows, comparisons


#: The SVM's regularisation strengths the cross-validation chooses from, and its number of folds.
C_GRID = (0.01, 0.1, 1.0)
CV_FOLDS = 3


def choose_c(train_x, train_y, grid=C_GRID, folds: int = CV_FOLDS, seed: int = 0) -> tuple[float, dict]:
    """The ``C`` of :func:`svm_predictions` with the best mean accuracy over a stratified ``folds``-fold split of
    the training set only (ties: the smallest ``C``). Returns ``(c, {c: mean cross-validated accuracy})``."""
    from sklearn.model_selection import StratifiedKFold

    x, y = np.asarray(train_x), np.asarray(train_y)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    scores = {float(c): float(np.mean([np.mean(svm_predictions(x[a], y[a], x[b], c) == y[b]) for a, b in splits]))
              for c in grid}
    best = max(scores.values())
    return min(c for c, v in scores.items() if v == best), scores


def untrained_features(cfg, volumes_list, seed: int) -> list[np.ndarray]:
    """The discriminator features (:func:`gancourse.nn.voxels.feature_model`) of a discriminator of ``cfg``'s
    architecture with freshly initialised weights, for each array of ``volumes_list``. Only the discriminator is
    built; ``keras.utils.set_random_seed(seed)`` fixes its initialisation (and reseeds Keras's global
    generators)."""
    import keras

    from gancourse.nn.voxels import feature_model, voxel_discriminator

    keras.utils.set_random_seed(seed)
    features = feature_model(voxel_discriminator(cfg.cube_len, cfg.d_filters, cfg.d_batch_norm))
    out = []
    for volumes in volumes_list:
        v = np.asarray(volumes, np.float32)
        out.append(np.concatenate([np.asarray(features(v[i:i + 128, ..., None], training=False))
                                   for i in range(0, len(v), 128)]))
    del features
    return out


def svm_study(model, cfg, train: tuple, test: tuple, untrained_seeds=(0, 1, 2, 3, 4), grid=C_GRID,
              folds: int = CV_FOLDS) -> dict:
    """The paper's evaluation on labelled shapes: a linear SVM on the features of ``model``'s discriminator
    (trained), on those of discriminators of the same architecture with random weights (one per seed of
    ``untrained_seeds``) and on the raw voxels, each fitted on ``train`` ``(volumes, labels)`` and scored on
    ``test``.

    ``C`` is chosen per representation by cross-validation on the training split (:func:`choose_c`; for the
    untrained discriminators on the first seed's features, then used for every seed). The paired comparisons
    (:func:`compare_classifiers`, the trained discriminator as the baseline) are against the first untrained
    seed and the raw voxels; the other seeds give the spread of the untrained accuracy.

    Returns ``correct`` (``{name: bool per test item}``), ``rows``, ``comparisons``, the feature sizes ``dims``,
    the chosen ``c`` and cross-validation ``cv`` scores per representation, ``untrained`` (the accuracy of each
    seed), ``untrained_interval`` (``gancourse.stats.mean_interval`` over the seeds), ``seconds`` (time spent
    choosing C) and ``position`` (``"above"``, ``"below"`` or ``"within"``: the trained discriminator's accuracy
    against the seeds' range).
    """
    from gancourse import stats

    (train_v, train_y), (test_v, test_y) = train, test
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    untrained_seeds = tuple(untrained_seeds)
    if not untrained_seeds:
        raise ValueError("svm_study needs at least one untrained seed")
    fresh = {seed: untrained_features(cfg, (train_v, test_v), seed) for seed in untrained_seeds}
    features = {"trained D": (model.discriminator_features(train_v), model.discriminator_features(test_v)),
                "untrained D": fresh[untrained_seeds[0]],
                "raw voxels": (flat_voxels(train_v), flat_voxels(test_v))}
    correct, dims, chosen, cv = {}, {}, {}, {}
    start = time.perf_counter()
    for name, (train_x, _) in features.items():
        chosen[name], cv[name] = choose_c(train_x, train_y, grid, folds)
    seconds = time.perf_counter() - start
    for name, (train_x, test_x) in features.items():
        dims[name] = int(np.asarray(train_x).shape[1])
        correct[name] = svm_predictions(train_x, train_y, test_x, chosen[name]) == test_y
    untrained = {untrained_seeds[0]: float(correct["untrained D"].mean())}
    for seed in untrained_seeds[1:]:
        train_x, test_x = fresh[seed]
        untrained[seed] = float(np.mean(svm_predictions(train_x, train_y, test_x, chosen["untrained D"]) == test_y))
    rows, comparisons = compare_classifiers(correct, "trained D")
    for row in rows:
        row["feature size"] = dims[row["features"]]
        row["C (cross-validated)"] = chosen[row["features"]]
    values = np.array(list(untrained.values()))
    trained = float(correct["trained D"].mean())
    position = "above" if trained > values.max() else "below" if trained < values.min() else "within"
    interval = stats.mean_interval(values) if len(values) > 1 else (float(values[0]),) * 3
    return {"correct": correct, "rows": rows, "comparisons": comparisons, "dims": dims, "c": chosen, "cv": cv,
            "untrained": untrained, "untrained_interval": interval, "seconds": seconds, "position": position}


def svm_verdict(study: dict) -> str:
    """One sentence, every clause from a verdict: the trained discriminator's features against each other
    representation."""
    parts = []
    for row in study["comparisons"]:
        other = row["comparison"].split(" vs ", 1)[1]
        word = {"better": "better than", "worse": "worse than"}.get(row["verdict"], "not detectably different from")
        parts.append(f"{word} those of the {other}" if other.endswith(" D") else f"{word} the {other}")
    return (f"On the held-out shapes, the linear SVM on the trained discriminator's features is "
            + " and ".join(parts) + f" (McNemar's exact test, Holm-corrected over {len(study['comparisons'])} "
            f"comparison{'s' if len(study['comparisons']) != 1 else ''} at 0.05).")


def svm_spread_text(study: dict) -> str:
    """The untrained discriminators' accuracies over their seeds, and where the trained one falls."""
    values = list(study["untrained"].values())
    mean, low, high = study["untrained_interval"][:3]
    trained = float(np.mean(study["correct"]["trained D"]))
    return (f"Untrained discriminators, {len(values)} initialisations: accuracy {min(values):.3f} to "
            f"{max(values):.3f} (mean {mean:.3f}, 95% interval [{low:.3f}, {high:.3f}]); the trained "
            f"discriminator's {trained:.3f} lies {study['position']} that range.")


def svm_closing(study: dict) -> str:
    """The closing reading of the SVM study, chosen by its verdicts and the untrained seeds' spread: what the
    untrained discriminator's result says about architecture and training."""
    by = {row["comparison"].split(" vs ", 1)[1]: row for row in study["comparisons"]}
    untrained, raw = by.get("untrained D"), by.get("raw voxels")
    if untrained is None or raw is None:
        raise ValueError("svm_closing needs the comparisons against 'untrained D' and 'raw voxels'")
    untrained_acc = float(np.mean(study["correct"]["untrained D"]))
    raw_acc = float(np.mean(study["correct"]["raw voxels"]))
    random_beats_raw = min(study["untrained"].values()) > raw_acc
    if untrained["verdict"] == "better" and study["position"] == "above":
        first = ("Here the adversarial training added something detectable over random weights of the same "
                 "architecture, and the trained discriminator beat every random initialisation we drew.")
    elif untrained["verdict"] == "worse":
        first = ("Here the random discriminator's features classified better than the trained one's: this "
                 "run's training made the features worse for this task.")
    elif untrained["verdict"] == "better":
        first = ("Here the trained features beat the first random initialisation, but not every one we drew: "
                 "the gain is within what the initialisation alone moves.")
    else:
        first = "Here the training added nothing we can detect over random weights of the same architecture."
    if random_beats_raw:
        second = (f" Every random initialisation scored above the raw voxels ({raw_acc:.3f}): random 3-D filters "
                  "followed by max-pooling already respond to parts and their rough positions and tolerate the "
                  "shift of a part by a cell or two, so on these classes the architecture alone makes a useful "
                  "feature extractor.")
    else:
        second = (f" The random initialisations did not all beat the raw voxels ({raw_acc:.3f}; the first seed "
                  f"{untrained_acc:.3f}), so the architecture alone is not shown to help here.")
    return first + second


# -- hyper-parameter search ---------------------------------------------------------------------------------------

#: The source's suggested grid for the batch size.
BATCH_SIZES = (8, 16, 32, 64, 128)


def search_space(cfg):
    """A KerasTuner ``HyperParameters`` space over a :class:`~gancourse.models.gan3d.GAN3DConfig`: both learning
    rates (log-uniform around the book's), the source's batch sizes and the 80% rule on or off (``d_threshold``
    1.0 never skips D's update). Each name is a config field (:func:`config_from`)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Float("g_learning_rate", 1e-4, 1e-2, sampling="log", default=cfg.g_learning_rate)
    hp.Float("learning_rate", 1e-6, 1e-3, sampling="log", default=cfg.learning_rate)
    hp.Choice("batch_size", list(BATCH_SIZES), default=cfg.batch_size if cfg.batch_size in BATCH_SIZES else 32)
    hp.Choice("d_threshold", [0.8, 1.0], default=0.8 if cfg.d_threshold is not None else 1.0)
    return hp


def config_from(cfg, values: dict):
    """``cfg`` with a trial's values (a ``HyperParameters.values`` dict); ``d_threshold`` 1.0 means none."""
    values = dict(values)
    if values.get("d_threshold") == 1.0:
        values["d_threshold"] = None
    return cfg.replace(**values)


def draw_trials(cfg, n: int = 5, seed: int = 0) -> list[dict]:
    """``n`` configurations a random search over :func:`search_space` would try first, as rows (no training)."""
    import keras_tuner as kt

    space = search_space(cfg)
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=n, seed=seed,
                                           hyperparameters=space)
    rows = []
    for _ in range(n):
        values = oracle.populate_space(f"trial_{len(rows)}")["values"]
        rows.append(dict(values))
    return rows


# -- the book's defects -------------------------------------------------------------------------------------------

def deconv3d_exhibit() -> dict:
    """What ``keras.layers.Deconv3D`` (the book's layer) gives in Keras 3, and the replacement's name."""
    import keras

    return {"error": error_of(lambda: keras.layers.Deconv3D),
            "replacement": "Conv3DTranspose" if hasattr(keras.layers, "Conv3DTranspose") else ""}


def baked_batch_norm_exhibit(seed: int = 0, n: int = 8) -> dict:
    """A layer ``BatchNormalization()(x, training=True)`` baked into a functional model, as the book writes it,
    on a batch whose channels have mean 3 and standard deviation 2.

    Returns the mean and standard deviation of the output for a plain call (``model(x)``: the baked batch
    statistics), ``predict`` and ``model(x, training=False)`` (both override the flag: moving averages), plus the
    largest difference between the plain call and ``predict``.
    """
    import keras
    from keras import layers

    x = keras.Input((4, 4, 4, 2))
    model = keras.Model(x, layers.BatchNormalization()(x, training=True))
    data = (3 + 2 * np.random.default_rng(seed).standard_normal((n, 4, 4, 4, 2))).astype(np.float32)
    predicted = model.predict(data, verbose=0)  # first: the plain call below moves the moving averages
    inference = np.asarray(model(data, training=False))
    plain = np.asarray(model(data))
    out = {}
    for name, value in (("plain call", plain), ("predict", predicted), ("training=False", inference)):
        out[name] = (float(value.mean()), float(value.std()))
    out["max difference"] = float(np.abs(plain - predicted).max())
    return out


def generator_modes(generator, z: np.ndarray, threshold: float = 0.5) -> dict:
    """A generator's output for the same noise with batch norm in training mode (batch statistics, how the book's
    baked ``training=True`` meant it) and in inference mode (what ``predict`` runs in Keras 3): the mean absolute
    difference of the occupancy probabilities and the share of voxels whose thresholded occupancy differs. The
    generator's weights (moving averages included) are restored."""
    saved = generator.get_weights()
    try:
        inference = np.asarray(generator(z, training=False))
        training = np.asarray(generator(z, training=True))
    finally:
        generator.set_weights(saved)
    return {"mean abs difference": float(np.abs(training - inference).mean()),
            "voxels flipped": float(np.mean((training > threshold) != (inference > threshold))),
            "occupied (training mode)": float(np.mean(training > threshold)),
            "occupied (inference mode)": float(np.mean(inference > threshold))}


def trainable_never_reset(generator, discriminator, latent_dim: int, real: np.ndarray, steps: int = 3,
                          learning_rate: float = 1e-3, seed: int = 0) -> dict:
    """The book's loop (:class:`gancourse.legacy.LegacyGAN3DLoop`) on fresh copies of the networks, with
    ``D.trainable`` never set back after D's update (``reset=False``, the book's text) and set back before the G
    step (``reset=True``, the book's repository), measuring the generator's step alone. Adam(``learning_rate``,
    0.5) for both networks.

    Returns for each loop the relative change of D's trainable weights during the G steps (norm of the change
    over the norm of the weights, summed over steps: what gradient updates move), the same for all of D's
    weights (batch norm's moving mean and variance included, which also move whenever D runs in training mode)
    and the mean rise of D's probability of "real" on the G step's fakes that the change of D alone causes (D
    after the step minus D before, both on the fakes of G before it).
    """
    import keras

    from gancourse.legacy import LegacyGAN3DLoop

    real = np.asarray(real, np.float32)
    ones, zeros = np.ones((len(real), 1), np.float32), np.zeros((len(real), 1), np.float32)
    out = {}
    for reset in (False, True):
        keras.utils.set_random_seed(seed)
        g, d = keras.models.clone_model(generator), keras.models.clone_model(discriminator)
        g.set_weights(generator.get_weights())
        d.set_weights(discriminator.get_weights())
        loop = LegacyGAN3DLoop(g, d, latent_dim, keras.optimizers.Adam(learning_rate, beta_1=0.5),
                               keras.optimizers.Adam(learning_rate, beta_1=0.5), reset=reset)
        moved, moved_trainable, rise = 0.0, 0.0, []
        for _ in range(steps):  # LegacyLoop.step, with the G step measured on its own
            fakes = g.predict(loop.noise(len(real)), verbose=0)
            d.trainable = True
            weights = list(d.trainable_weights)  # the variables gradients update, read while the flag is on
            d.train_on_batch(real, ones)
            d.train_on_batch(fakes, zeros)
            if reset:
                d.trainable = False
            z = loop.noise(len(real))
            before = [w.copy() for w in d.get_weights()]
            trainable_before = [np.array(w) for w in weights]
            fakes_before = np.asarray(g(z, training=False))
            p_before = float(np.mean(keras.ops.sigmoid(d(fakes_before, training=False))))
            loop.stacked.train_on_batch(z, ones)
            p_after = float(np.mean(keras.ops.sigmoid(d(fakes_before, training=False))))
            change = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(d.get_weights(), before)))
            moved += change / np.sqrt(sum(float(np.sum(b ** 2)) for b in before))
            after = [np.array(w) for w in weights]
            moved_trainable += (np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, trainable_before)))
                                / np.sqrt(sum(float(np.sum(b ** 2)) for b in trainable_before)))
            rise.append(p_after - p_before)
        name = "reset before the G step (the repository)" if reset else "never reset (the book's text)"
        out[name] = {"relative change of D's trainable weights in G steps": float(moved_trainable),
                     "relative change of all D's weights (moving statistics included)": float(moved),
                     "D's rise on the same fakes": float(np.mean(rise))}
    return out


def undefined_alphas_exhibit() -> str:
    """The error of a discriminator builder that names its LeakyReLU slopes ``dis_alphas`` and then reads
    ``alphas[0]``, as the book's step-by-step listing does (a minimal function of our own with that mistake)."""
    source = ("def build_discriminator(dis_alphas=(0.2, 0.2, 0.2, 0.2, 0.2)):\n"
              "    first_slope = alphas[0]\n"
              "    return first_slope\n")
    namespace: dict = {}
    exec(compile(source, "<the listing's mistake>", "exec"), namespace)  # noqa: S102 - a fixed string
    return error_of(namespace["build_discriminator"])


def numpy_aliases_exhibit() -> dict:
    """What the book's ``np.bool`` and ``np.float`` do in the installed NumPy: ``np.bool`` was removed in 1.24
    (after a deprecation in 1.20) and came back in 2.0 as NumPy's own boolean type; ``np.float`` stays removed."""
    return {"numpy": np.__version__,
            "np.bool": (f"works: it is {np.bool.__module__}.{np.bool.__name__}" if hasattr(np, "bool")
                        else error_of(lambda: np.bool)),
            "np.float": error_of(lambda: getattr(np, "float")) or "works"}


def learning_rate_exhibit(cfg) -> dict:
    """The discriminator's rate as the book's listing writes it (``text``) and as its repository's script does
    (``code``), their ratio, the preset's values and the ratio of the generator's rate to the discriminator's."""
    text, code = float(LEARNING_RATES["text: D"]), float(LEARNING_RATES["code: D"])
    return {"text": text, "code": code, "code / text": code / text, "preset D": cfg.learning_rate,
            "preset G": cfg.g_learning_rate, "G / D": cfg.g_learning_rate / cfg.learning_rate}
