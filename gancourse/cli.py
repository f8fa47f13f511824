"""Command line: ``python -m gancourse train|sample|upscale|age|bench|data ...``.

Examples::

    python -m gancourse train dcgan --preset pyimagesearch --profile smoke --out runs/x
    python -m gancourse train dcgan --preset book --profile standard --data faces64/ --out runs/book
    python -m gancourse train pix2pix --preset paper --profile standard --out runs/facades
    python -m gancourse sample dcgan --out runs/x --n 64
    python -m gancourse sample pix2pix --out runs/facades --n 8
    python -m gancourse train cyclegan --preset paper --profile smoke --out runs/cycle
    python -m gancourse sample cyclegan --out runs/cycle --n 4
    python -m gancourse train srgan --preset paper --profile smoke --out runs/sr
    python -m gancourse upscale --out runs/sr photos/ photos_x4/
    python -m gancourse train agecgan --profile smoke --out runs/age
    python -m gancourse age --out runs/age face.png --years 34 --file face_ages.png
    python -m gancourse train stackgan --profile smoke --out runs/birds
    python -m gancourse sample stackgan --out runs/birds --caption "a small red bird with blue wings" --n 4
    python -m gancourse train acgan --preset modern --profile smoke --out runs/digits
    python -m gancourse sample acgan --out runs/digits --label 3 --n 16
    python -m gancourse bench dcgan
    python -m gancourse data crop-faces photos/ faces64/ --size 64

``train`` writes ``config.json``, ``history.json`` (after every epoch, kept
across resumes), sample grids (``samples/``: fixed noise for a GAN, input /
output / target rows of fixed validation pairs for a translation model),
TensorBoard logs (``logs/``) and checkpoints (``checkpoints/``) into
``--out``; running it again resumes from the last checkpoint.

The models are those of :data:`gancourse.models.REGISTRY`; each module
provides its config class and presets, its model class and
``training_data(cfg, data_dir)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gancourse.models import REGISTRY


def _config(args):
    """The run's config: the preset scaled to the profile, with ``--data``, ``--epochs`` and ``--set`` applied.

    ``--data`` names the folder of the preset's own dataset. A profile that
    would train on offline data (smoke) then trains on that folder instead, at
    the profile's size; a model whose data reads no folder refuses it.
    """
    from gancourse import models
    from gancourse.config import parse_overrides

    entry = models.get(args.model)
    full = entry.config(args.preset)
    cfg = full.scaled(args.profile)
    if args.data is not None and getattr(cfg, "dataset", None) != getattr(full, "dataset", None):
        cfg = cfg.replace(dataset=full.dataset)
    overrides = parse_overrides(entry.config_class, args.set or [])
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    return entry, cfg.replace(**overrides)


def _train(args) -> int:
    from gancourse import set_seed, training

    entry, cfg = _config(args)
    out = Path(args.out)
    saved = out / "config.json"
    if saved.exists():
        previous = json.loads(saved.read_text())
        changed = sorted(k for k in previous if k != "epochs" and previous[k] != cfg.to_dict().get(k))
        if changed:
            raise ValueError(f"{out} holds a run with a different config ({', '.join(changed)} differ); "
                             "use another --out, or the same settings to resume")
    channels = getattr(cfg, "channels", 3)
    shape = (f" image={cfg.image_size}x{cfg.image_size}x{channels}" if hasattr(cfg, "image_size")
             else f" voxels={cfg.cube_len}^3" if hasattr(cfg, "cube_len") else "")
    source = getattr(cfg, "dataset", getattr(cfg, "data", "?"))
    print(f"training {args.model} preset={cfg.preset} profile={cfg.profile} data={source}{shape} "
          f"epochs={cfg.epochs}{_second_phase(cfg)} -> {out}")
    data, preview = entry.training_data(cfg, data_dir=args.data)  # dataset errors before anything is written
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(cfg.to_dict(), indent=2))
    set_seed(cfg.seed)
    model = entry.model_class(cfg)
    model.compile()
    _, cbs = training.fit(model, data, cfg, out, verbose=1 if sys.stdout.isatty() else 2, preview_inputs=preview,
                          health=not args.no_health)
    for monitor in (cb for cb in cbs if isinstance(cb, training.HealthMonitor)):
        print(monitor.report() + f" (details in {out / 'health.json'})")
    print(f"done: history in {out / 'history.json'}, samples in {out / 'samples'}, checkpoints in "
          f"{out / 'checkpoints'}, TensorBoard: tensorboard --logdir {out / 'logs'}")
    return 0


def _second_phase(cfg) -> str:
    """`` + N of the second phase`` for a model trained in two phases (Age-cGAN, StackGAN), else ``""``."""
    more = cfg.total_epochs - cfg.epochs
    return f" + {more} of the second phase" if more else ""


def _trained(model_name: str, out: Path):
    """``(entry, cfg, model, epoch)`` of the trained run in ``out`` (its config and last checkpoint)."""
    from gancourse import models, training

    entry = models.get(model_name)
    saved = out / "config.json"
    if not saved.exists():
        raise ValueError(f"{out} has no config.json; train a model there first")
    cfg = entry.config_class.from_dict(json.loads(saved.read_text()))
    model = entry.model_class(cfg)
    model.compile()
    epoch = training.restore(model, out / "checkpoints")
    if epoch == 0:
        raise ValueError(f"{out / 'checkpoints'} holds no checkpoint; train first")
    return entry, cfg, model, epoch


def _sample(args) -> int:
    from gancourse import viz

    out = Path(args.out)
    entry, cfg, model, epoch = _trained(args.model, out)
    if args.label is not None and not hasattr(model, "class_grid"):
        raise ValueError(f"{args.model} is not class-conditional; --label is for acgan")
    target = Path(args.file) if args.file else out / f"sample_epoch{epoch:04d}_seed{args.seed}.png"
    if args.label is not None:
        if args.file is None:
            target = out / f"sample_epoch{epoch:04d}_seed{args.seed}_label{args.label}.png"
        viz.save_grid(model.sample(args.n, args.seed, labels=args.label), target)
        print(f"wrote {args.n} samples of class {args.label} of the epoch-{epoch} model to {target}")
        return 0
    if args.caption:
        if not hasattr(model, "caption_inputs"):
            raise ValueError(f"{args.model} does not generate from text; --caption is for stackgan")
        inputs = model.caption_inputs(args.caption, args.n, args.seed)
    elif hasattr(entry.module, "preview_pairs"):  # held-out examples of its dataset (inputs, or captions)
        inputs = entry.module.preview_pairs(cfg, args.n, args.seed, data_dir=args.data)
    else:
        inputs = model.preview_inputs(args.n, args.seed)
    pictures = model.preview(inputs)
    if pictures.ndim < 4:
        raise ValueError(f"{args.model} preset {cfg.preset} generates {pictures.shape[1:]} points, not images; "
                         "plot them with gancourse.viz instead")
    viz.save_grid(pictures, target)
    what = (f"{len(args.caption)} caption(s) x {args.n} samples (Stage-I, Stage-II side by side)" if args.caption
            else f"{args.n} samples")
    print(f"wrote {what} of the epoch-{epoch} model to {target}")
    if hasattr(model, "save_renders"):  # voxel shapes: surfaces and the grids themselves
        for path in model.save_renders(inputs, target.with_suffix("")):
            print(f"wrote {path}")
    return 0


#: The largest input ``upscale`` takes (pixels): the book generator holds 256 channels at 4x the size.
UPSCALE_MAX_PIXELS = 256 * 256


def _upscale(args) -> int:
    import numpy as np
    from PIL import Image

    from gancourse.data import files
    from gancourse.models import srgan

    src, dst = Path(args.src), Path(args.dst)
    images = files.list_images(src, "the folder to upscale")
    targets = [dst / f"{path.stem}_x{{scale}}.png" for path in images]
    _, cfg, model, epoch = _trained("srgan", Path(args.out))
    targets = [Path(str(t).format(scale=cfg.scale)) for t in targets]
    existing = [t for t in targets if t.exists()]
    if existing:
        raise ValueError(f"{existing[0]} exists ({len(existing)} of the outputs do); upscale into an empty folder")
    pictures = []
    for path in images:
        try:
            with Image.open(path) as im:
                picture = np.asarray(im.convert("RGB"))
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error}; remove or replace it") from error
        if picture.shape[0] * picture.shape[1] > UPSCALE_MAX_PIXELS:
            raise ValueError(f"{path} is {picture.shape[1]}x{picture.shape[0]} px; upscale takes at most "
                             f"{UPSCALE_MAX_PIXELS} pixels per image (the output is {cfg.scale}x larger): crop or "
                             "shrink it first")
        pictures.append(picture)
    dst.mkdir(parents=True, exist_ok=True)
    for picture, target in zip(pictures, targets):
        Image.fromarray(srgan.upscale(picture, model)).save(target)
    print(f"wrote {len(targets)} images {cfg.scale}x larger (the epoch-{epoch} model of {args.out}) to {dst}")
    return 0


def _read_faces(paths, size: int):
    """The images at ``paths`` as ``(n, size, size, 3)`` float32 in [-1, 1]: RGB, the whole picture resized
    bilinearly (as the IMDB-WIKI loader does with its crops)."""
    import numpy as np
    from PIL import Image

    faces = []
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"{path} is not a file; give the paths of face images (PNG, JPEG, ...)")
        try:
            with Image.open(path) as im:
                picture = im.convert("RGB").resize((size, size), Image.BILINEAR)
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error}; give a readable image") from error
        faces.append(np.asarray(picture, np.float32) / 127.5 - 1.0)
    return np.stack(faces)


def _age_group(args) -> int:
    from gancourse.data.ages import AGE_GROUPS, age_category

    if args.years is not None:
        if not 0 < args.years <= 120:
            raise ValueError(f"--years {args.years} is not an age in years; give the person's age, 1 to 120")
        return int(age_category(args.years))
    if args.group in AGE_GROUPS:
        return AGE_GROUPS.index(args.group)
    if args.group.isdigit() and int(args.group) < len(AGE_GROUPS):
        return int(args.group)
    raise ValueError(f"--group {args.group!r} is not an age group; give 0-5 or one of {', '.join(AGE_GROUPS)}")


def _age(args) -> int:
    import numpy as np

    from gancourse import viz
    from gancourse.data.ages import AGE_GROUPS

    out = Path(args.out)
    target = Path(args.file) if args.file else out / "age_strip.png"
    if target.exists():
        raise ValueError(f"{target} exists; choose another --file or remove it")
    group = _age_group(args)
    _, cfg, model, epoch = _trained("agecgan", out)
    faces = _read_faces(args.images, cfg.image_size)
    refine = None if args.refine == "none" else args.refine
    strips = model.age_strip(faces, np.full(len(faces), group), refine=refine, steps=args.steps)
    viz.save_grid(strips, target)
    steps = cfg.latent_steps if args.steps is None else args.steps
    how = "E(x) alone" if refine is None else f"E(x) refined by {refine} optimisation ({steps} steps)"
    print(f"wrote {len(faces)} face(s) at the six ages (columns: input, {', '.join(AGE_GROUPS)}) to {target}; "
          f"latents from {how}, the epoch-{epoch} model of {out}")
    return 0


def _bench(args) -> int:
    from gancourse import bench

    sizes = tuple(s.strip() for s in args.sizes.split(","))
    print(f"benchmarking {args.model} on {bench.device_name()}: {args.repeats} blocks of {args.steps} timed steps "
          f"after {args.warmup} warm-up steps, one process per variant")
    results = bench.measure(args.model, sizes, steps=args.steps, warmup=args.warmup, repeats=args.repeats)
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


def _prog() -> str:
    """``gancourse`` when run as the installed script, ``python -m gancourse`` otherwise."""
    return "python -m gancourse" if Path(sys.argv[0]).name in ("__main__.py", "-m", "-c", "") else "gancourse"


def _presets_help() -> str:
    from gancourse import models

    listed = "; ".join(f"{name}: {', '.join(models.get(name).presets)}" for name in REGISTRY)
    return f"a preset of the model (default: its first). {listed}"


def build_parser() -> argparse.ArgumentParser:
    """The ``gancourse`` argument parser."""
    parser = argparse.ArgumentParser(prog=_prog(), description="Train, sample and benchmark the gancourse models; "
                                     "prepare datasets. Each command has its own --help.")
    sub = parser.add_subparsers(dest="command", required=True)
    models_help = f"the model: {', '.join(REGISTRY)}"

    train = sub.add_parser("train", help="train a model (resumes from the last checkpoint in --out)")
    train.add_argument("model", choices=list(REGISTRY), help=models_help)
    train.add_argument("--preset", default=None, help=_presets_help())
    train.add_argument("--profile", default=None, help="smoke | standard | full (default: $GANCOURSE_PROFILE or smoke)")
    train.add_argument("--out", required=True, help="the run folder: config, history, samples, checkpoints, logs")
    train.add_argument("--epochs", type=int, default=None, help="train to this epoch (default: the profile's)")
    train.add_argument("--data", default=None, help="folder of the preset's dataset: images you provide (faces), "
                       "or an extracted pix2pix dataset; used on every profile (default: download into the cache)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    train.add_argument("--no-health", action="store_true", help="turn off the training-health monitor (on by "
                       "default: it names failure modes such as divergence, mode collapse or a frozen network)")
    train.set_defaults(func=_train)

    sample = sub.add_parser("sample", help="write a grid of samples from a trained run")
    sample.add_argument("model", choices=list(REGISTRY), help=models_help)
    sample.add_argument("--out", required=True, help="the run folder given to train")
    sample.add_argument("--n", type=int, default=64, help="how many samples (default 64)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the noise or of the picked examples")
    sample.add_argument("--file", default=None, help="the PNG to write (default: in --out, named by epoch and seed)")
    sample.add_argument("--data", default=None, help="the dataset folder the run was trained with, if any")
    sample.add_argument("--caption", action="append", metavar="TEXT", help="stackgan trained on offline_birds: "
                        "a caption to draw (repeatable); --n is then the samples per caption")
    sample.add_argument("--label", type=int, default=None, help="acgan: draw --n samples of this class "
                        "(default: a grid with one row per class)")
    sample.set_defaults(func=_sample)

    upscale = sub.add_parser("upscale", help="super-resolve every image of a folder with a trained srgan run")
    upscale.add_argument("src", help="folder of images (PNG, JPEG, ...), any size up to 256x256 pixels")
    upscale.add_argument("dst", help="folder for the results, NAME_x4.png (created; existing files are not replaced)")
    upscale.add_argument("--out", required=True, help="the srgan run folder given to train")
    upscale.set_defaults(func=_upscale)

    age = sub.add_parser("age", help="show faces at all six ages with a trained agecgan run")
    age.add_argument("images", nargs="+", help="face images (PNG, JPEG, ...), cropped to the face like the "
                     "training data; each is resized to the run's image size")
    age.add_argument("--out", required=True, help="the agecgan run folder given to train")
    known = age.add_mutually_exclusive_group(required=True)
    known.add_argument("--years", type=int, help="the age of the person in the images, in years")
    known.add_argument("--group", help="or their age group: 0-5 or 0-18, 19-29, 30-39, 40-49, 50-59, 60+")
    age.add_argument("--refine", choices=("identity", "pixel", "none"), default="identity",
                     help="how the latent is found: E(x) refined on the face network's distance (the paper's, "
                     "default; a run with face_net=imagenet downloads InceptionResNetV2's weights, about 220 MB, "
                     "on first use), on the pixel distance, or E(x) alone")
    age.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the run's latent_steps)")
    age.add_argument("--file", default=None, help="the PNG to write (default: age_strip.png in --out); one row "
                     "per image: the input, then ages 0-18 ... 60+")
    age.set_defaults(func=_age)

    bench = sub.add_parser("bench", help="training throughput, memory and FLOP/s against the Keras 2 loop")
    bench.add_argument("model", choices=list(REGISTRY), help=models_help)
    bench.add_argument("--sizes", default="smoke,standard", help="comma-separated: smoke, standard")
    bench.add_argument("--steps", type=int, default=40, help="timed steps per block")
    bench.add_argument("--warmup", type=int, default=8, help="untimed steps first (tracing, compilation)")
    bench.add_argument("--repeats", type=int, default=3, help="timed blocks per variant (the spread is reported)")
    bench.add_argument("--json", default=None, help="also write the results to this JSON file")
    bench.set_defaults(func=_bench)

    data = sub.add_parser("data", help="dataset tools")
    data_sub = data.add_subparsers(dest="tool", required=True)
    crop = data_sub.add_parser("crop-faces", help="detect faces and write square crops")
    crop.add_argument("src", help="folder of photos or drawings")
    crop.add_argument("dst", help="folder for the crops (created)")
    crop.add_argument("--size", type=int, default=64, help="side of the crops in pixels (default 64)")
    crop.add_argument("--cascade", default="frontalface", help="frontalface | anime | path/to/cascade.xml")
    crop.set_defaults(func=_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from gancourse.data.cache import DatasetError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, DatasetError) as exc:  # configuration, input and dataset errors: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
