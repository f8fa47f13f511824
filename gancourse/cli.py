"""Command line: ``python -m gancourse train|sample|bench|data ...``.

Examples::

    python -m gancourse train dcgan --preset pyimagesearch --profile smoke --out runs/x
    python -m gancourse train dcgan --preset book --profile standard --data faces64/ --out runs/book
    python -m gancourse train pix2pix --preset paper --profile standard --out runs/facades
    python -m gancourse sample dcgan --out runs/x --n 64
    python -m gancourse sample pix2pix --out runs/facades --n 8
    python -m gancourse bench dcgan
    python -m gancourse data crop-faces photos/ faces64/ --size 64

``train`` writes ``config.json``, ``history.json``, sample grids
(``samples/``: fixed noise for a GAN, input / output / target rows of
fixed validation pairs for a translation model), TensorBoard logs
(``logs/``) and checkpoints (``checkpoints/``) into ``--out``; running it
again resumes from the last checkpoint.

Every model module the CLI knows provides ``config(preset)``, the model
class (built from a config, ``data_dir=`` where it reads data itself),
``training_data(cfg, data_dir) -> (dataset, preview inputs or None)`` and a
``sample(n, seed)`` method on the model.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

MODELS = {"dcgan": ("gancourse.models.dcgan", "DCGAN", "DCGANConfig"),
          "pix2pix": ("gancourse.models.pix2pix", "Pix2Pix", "Pix2PixConfig")}
DEFAULT_PRESET = {"dcgan": "modern", "pix2pix": "paper"}


def _model(name: str):
    if name not in MODELS:
        raise SystemExit(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    module_name, class_name, config_name = MODELS[name]
    module = importlib.import_module(module_name)
    return module, getattr(module, class_name), getattr(module, config_name)


def _train(args) -> int:
    from gancourse import set_seed, training
    from gancourse.config import parse_overrides

    module, model_cls, config_cls = _model(args.model)
    cfg = module.config(args.preset or DEFAULT_PRESET[args.model]).scaled(args.profile)
    overrides = parse_overrides(config_cls, args.set or [])
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    cfg = cfg.replace(**overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "config.json"
    if saved.exists():
        previous = json.loads(saved.read_text())
        changed = sorted(k for k in previous if k != "epochs" and previous[k] != cfg.to_dict().get(k))
        if changed:
            raise SystemExit(f"{out} holds a run with a different config ({', '.join(changed)} differ); "
                             "use another --out, or the same settings to resume")
    saved.write_text(json.dumps(cfg.to_dict(), indent=2))
    print(f"training {args.model} preset={cfg.preset} profile={cfg.profile} dataset={cfg.dataset} "
          f"image={cfg.image_size}x{cfg.image_size}x{cfg.channels} epochs={cfg.epochs} -> {out}")
    set_seed(cfg.seed)
    gan = _build(model_cls, cfg, args.data)
    gan.compile()
    dataset, preview = module.training_data(cfg, data_dir=args.data)
    history, _ = training.fit(gan, dataset, cfg, out, verbose=1 if sys.stdout.isatty() else 2,
                              preview_inputs=preview)
    if history is not None:
        log = out / "history.json"
        past = json.loads(log.read_text()) if log.exists() else {}
        for key, values in history.history.items():
            past[key] = past.get(key, [])[:history.epoch[0]] + [float(v) for v in values]
        log.write_text(json.dumps(past, indent=2))
    print(f"done: samples in {out / 'samples'}, checkpoints in {out / 'checkpoints'}, "
          f"TensorBoard: tensorboard --logdir {out / 'logs'}")
    return 0


def _build(model_cls, cfg, data_dir):
    """The model; translation models also learn where their data lives (for previews)."""
    import inspect

    if "data_dir" in inspect.signature(model_cls).parameters:
        return model_cls(cfg, data_dir=data_dir)
    return model_cls(cfg)


def _sample(args) -> int:
    from gancourse import training, viz

    _, model_cls, config_cls = _model(args.model)
    out = Path(args.out)
    saved = out / "config.json"
    if not saved.exists():
        raise SystemExit(f"{out} has no config.json; train a model there first")
    cfg = config_cls.from_dict(json.loads(saved.read_text()))
    gan = _build(model_cls, cfg, args.data)
    gan.compile()
    epoch = training.restore(gan, out / "checkpoints")
    if epoch == 0:
        raise SystemExit(f"{out / 'checkpoints'} holds no checkpoint; train first")
    target = Path(args.file) if args.file else out / f"sample_epoch{epoch:04d}_seed{args.seed}.png"
    viz.save_grid(gan.sample(args.n, seed=args.seed), target)
    print(f"wrote {args.n} samples of the epoch-{epoch} generator to {target}")
    return 0


def _bench(args) -> int:
    from gancourse import bench

    sizes = tuple(s.strip() for s in args.sizes.split(","))
    print(f"benchmarking {args.model} on {bench.device_name()}: {args.steps} timed steps after "
          f"{args.warmup} warm-up steps, one process per variant")
    results = bench.measure(args.model, sizes, steps=args.steps, warmup=args.warmup)
    print(bench.report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _data(args) -> int:
    from gancourse.data import faces

    report = faces.crop_faces(args.src, args.dst, size=args.size, cascade=args.cascade)
    print(report)
    for label, paths in (("no face found", report.no_face), ("unreadable", report.unreadable)):
        for p in paths:
            print(f"  {label}: {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gancourse`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m gancourse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model (resumes from the last checkpoint in --out)")
    train.add_argument("model", choices=sorted(MODELS))
    train.add_argument("--preset", default=None, help="default: dcgan modern, pix2pix paper")
    train.add_argument("--profile", default=None, help="smoke | standard | full (default: $GANCOURSE_PROFILE or smoke)")
    train.add_argument("--out", required=True)
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--data", default=None, help="folder of images for datasets you provide (faces), or "
                       "of an extracted pix2pix dataset (default: download into the cache)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    train.set_defaults(func=_train)

    sample = sub.add_parser("sample", help="write a grid of samples from a trained run")
    sample.add_argument("model", choices=sorted(MODELS))
    sample.add_argument("--out", required=True, help="the run folder given to train")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--file", default=None)
    sample.add_argument("--data", default=None, help="the dataset folder the run was trained with, if any")
    sample.set_defaults(func=_sample)

    bench = sub.add_parser("bench", help="training throughput and memory against the Keras 2 loop")
    bench.add_argument("model", choices=sorted(MODELS))
    bench.add_argument("--sizes", default="smoke,standard")
    bench.add_argument("--steps", type=int, default=40)
    bench.add_argument("--warmup", type=int, default=8)
    bench.add_argument("--json", default=None)
    bench.set_defaults(func=_bench)

    data = sub.add_parser("data", help="dataset tools")
    data_sub = data.add_subparsers(dest="tool", required=True)
    crop = data_sub.add_parser("crop-faces", help="detect faces and write square crops")
    crop.add_argument("src")
    crop.add_argument("dst")
    crop.add_argument("--size", type=int, default=64)
    crop.add_argument("--cascade", default="frontalface", help="frontalface | anime | path/to/cascade.xml")
    crop.set_defaults(func=_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # configuration and input errors: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
