"""``python -m gancourse bench``: training throughput and peak memory.

Every measurement runs in its own Python process, so the peak resident memory
(``ru_maxrss``) belongs to that variant alone and no variant inherits another's
compiled functions. Each variant trains the same networks on the same offline
data: first a warm-up (tracing and compilation are not timed), then ``steps``
timed steps. Ratios are taken against the baseline measured in the same run:
the source book's Keras 2 loop style (:class:`gancourse.legacy.LegacyLoop`,
and :class:`gancourse.legacy.LegacyPairedLoop` for pix2pix).

Sizes: ``smoke`` is the smoke profile's network; ``standard`` the preset's
full-width network at its own batch size (DCGAN ``modern`` on digits; pix2pix
``paper``: the 54M-parameter U-Net at 256 px, batch 1) on offline data.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

MODELS = ("dcgan", "pix2pix")
SIZES = ("smoke", "standard")
BASELINE = "legacy loop (baseline)"
VARIANTS = {
    BASELINE: {},
    "fit, 1 step per call": {"jit_compile": False, "steps_per_execution": 1},
    "fit, 8 steps per call": {"jit_compile": False, "steps_per_execution": 8},
    "fit + XLA, 1 step per call": {"jit_compile": True, "steps_per_execution": 1},
    "fit + XLA, 8 steps per call": {"jit_compile": True, "steps_per_execution": 8},
}
MODEL_VARIANTS = {
    "dcgan": tuple(VARIANTS),
    "pix2pix": (BASELINE, "fit, 1 step per call", "fit, 8 steps per call", "fit + XLA, 1 step per call"),
}


def _config(model: str, size: str):
    """The measured config: the smoke network, or the full-width one (``standard``) on offline data."""
    if model == "pix2pix":
        from gancourse.models import pix2pix

        cfg = pix2pix.config("paper")
        return cfg.scaled("smoke") if size == "smoke" else cfg.replace(dataset="offline")
    from gancourse.models import dcgan

    cfg = dcgan.config("modern")
    return cfg.scaled("smoke") if size == "smoke" else cfg.replace(dataset="digits")


def _dcgan_runner(cfg, variant: str):
    import keras
    import numpy as np
    import tensorflow as tf

    from gancourse import data
    from gancourse.legacy import LegacyLoop
    from gancourse.models import dcgan

    images, _ = data.arrays("digits", "all", image_size=cfg.image_size, channels=cfg.channels)
    batch = cfg.batch_size
    if variant == BASELINE:
        loop = LegacyLoop(dcgan.build_generator(cfg), dcgan.build_discriminator(cfg), cfg.latent_dim,
                          keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1),
                          keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1))
        rng = np.random.default_rng(0)

        def run(n):
            for _ in range(n):
                loop.step(images[rng.choice(len(images), batch, replace=False)])
        return run
    gan = dcgan.DCGAN(cfg)
    gan.compile(**VARIANTS[variant])
    ds = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0).repeat()
    return _fit_runner(gan, ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def _pix2pix_runner(cfg, variant: str):
    import numpy as np

    from gancourse.data import paired
    from gancourse.legacy import LegacyPairedLoop
    from gancourse.models import pix2pix
    from gancourse.training import make_optimizer

    inputs, targets = paired.offline_pairs("train", cfg.image_size, n=64)
    batch = cfg.batch_size
    if variant == BASELINE:
        loop = LegacyPairedLoop(pix2pix.build_generator(cfg), pix2pix.build_discriminator(cfg),
                                make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1),
                                make_optimizer("adam", cfg.learning_rate, beta_1=cfg.beta_1), l1_weight=cfg.l1_weight)
        rng = np.random.default_rng(0)

        def run(n):
            for _ in range(n):
                pick = rng.choice(len(inputs), batch, replace=False)
                loop.step(inputs[pick], targets[pick])
        return run
    model = pix2pix.Pix2Pix(cfg)
    model.compile(**VARIANTS[variant])
    ds = paired.paired_dataset(inputs, targets, batch, jitter=cfg.jitter, seed=0).repeat()
    return _fit_runner(model, ds)


def _fit_runner(model, ds):
    def run(n):
        model.fit(ds, epochs=1, steps_per_epoch=n, verbose=0)
    return run


def _worker(model: str, size: str, variant: str, steps: int, warmup: int) -> dict:
    """Run one measurement in this process and return its numbers."""
    from gancourse import set_seed

    set_seed(0)
    cfg = _config(model, size)
    run = (_pix2pix_runner if model == "pix2pix" else _dcgan_runner)(cfg, variant)
    run(warmup)
    start = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - start
    batch = cfg.batch_size
    return {"model": model, "size": size, "variant": variant, "steps": steps, "batch": batch,
            "seconds": seconds, "steps_per_s": steps / seconds, "images_per_s": steps * batch / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(model: str = "dcgan", sizes=SIZES, steps: int = 40, warmup: int = 8, variants=None) -> list[dict]:
    """Measure every variant for every size, each in a fresh process."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} for bench; choose one of {', '.join(MODELS)}")
    results = []
    for size in sizes:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose from {', '.join(SIZES)}")
        for variant in variants or MODEL_VARIANTS[model]:
            if variant not in MODEL_VARIANTS[model]:
                raise ValueError(f"unknown variant {variant!r} for {model}; choose from "
                                 f"{', '.join(MODEL_VARIANTS[model])}")
            args = json.dumps([model, size, variant, steps, warmup])
            proc = subprocess.run([sys.executable, "-m", "gancourse.bench", args], capture_output=True,
                                  text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if proc.returncode != 0:
                raise RuntimeError(f"bench worker for {size}/{variant} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def report(results: list[dict]) -> str:
    """A plain-text table with each variant's speed-up over the baseline of its size."""
    lines = [f"{'size':9} {'variant':34} {'steps/s':>8} {'images/s':>9} {'peak MB':>8} {'x baseline':>10}"]
    for size in dict.fromkeys(r["size"] for r in results):
        rows = [r for r in results if r["size"] == size]
        base = next((r for r in rows if r["variant"] == BASELINE), None)
        for r in rows:
            ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}" if base else "-"
            lines.append(f"{size:9} {r['variant']:34} {r['steps_per_s']:8.2f} {r['images_per_s']:9.1f} "
                         f"{r['peak_rss_mb']:8.0f} {ratio:>10}")
    return "\n".join(lines)


def device_name() -> str:
    """'GPU: <name>' or 'CPU (<n> cores)' for the report header."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU ({os.cpu_count()} cores)"


if __name__ == "__main__":
    print(json.dumps(_worker(*json.loads(sys.argv[1]))))
