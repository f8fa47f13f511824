"""Voxel data: 3D ShapeNets occupancy grids and offline procedural shapes with structure.

**Storage and batches.** A voxel grid is an occupancy array ``(L, L, L)`` with
values in ``{0, 1}``; a set of them is stored ``uint8`` ``(N, L, L, L)`` (one
64^3 grid is 256 KiB as ``uint8``, 1 MiB as ``float32``). Training pipelines
(:func:`voxel_dataset`) yield ``float32`` batches ``(B, L, L, L, 1)`` in
``{0, 1}``, converted batch by batch inside ``tf.data``: a float copy of the
whole set is never made. Axis convention: axis 0 runs front to back (an
airplane's nose is at low indices), axis 1 left to right, axis 2 bottom to top
(up). The 3D ShapeNets grids are stored in their archive's order of axes.

**3D ShapeNets** (``shapenet``; Wu et al. 2015): the volumetric data of the
``3DShapeNetsCode.zip`` archive (:data:`SHAPENETS_URL`, downloaded once into
the cache by :func:`gancourse.data.cache.fetch` and unpacked by
:func:`gancourse.data.cache.safe_extract`), the 40 ModelNet40 categories
(:data:`CATEGORIES`), each as ``volumetric_data/<category>/30/{train,test}/*.mat``.
Every file holds one 30^3 grid, ``scipy.io.loadmat(path)["instance"]``
(:func:`load_mat`). :func:`preprocess` pads one empty voxel on every
side (30 -> 32) and, for 64^3, repeats every voxel twice along each axis
(nearest-neighbour zoom by 2); for 16^3 it max-pools 2x2x2 blocks, so thin
parts (legs, wings) survive. :func:`shapenet_volumes` reads *all* the files of
a category's split in sorted order (the source reads 10 random files, a
debugging leftover). Licence: :data:`LICENCE`.

**Offline procedural shapes** (``offline_shapes``; :func:`procedural_shapes`,
:func:`offline_shapes`): parametric objects of the classes :data:`SHAPE_CLASSES`,
built from axis-aligned boxes with proportions and positions drawn from a seed:

* chair: a seat on four legs with a back rising from the seat's rear edge;
* table: a top on four legs (usually wider and higher than a chair's seat; no back);
* airplane: a fuselage along axis 0, wings across it, a tail plane and a fin
  standing on the rear of the fuselage;
* lamp: a square base, a thin pole and a shade that narrows upwards.

Parts are placed on the voxel grid so that touching parts share faces: every
shape is ONE 6-connected component (so also 26-connected), standing on the
floor of the usable cube (airplanes float), inside the grid with an empty
margin of :func:`margin` voxels on every side. The random draws are fractions
of the cube, so the same seed gives the same objects at 16^3, 32^3 and 64^3
(rounded to the grid). :func:`offline_shapes` gives fixed train and test sets
(:data:`OFFLINE_N`) drawn from independent random streams (no test grid
equals a training grid) and cached.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np

from gancourse.data.cache import DatasetError, fetch, safe_extract

CUBE_LENS = (16, 32, 64)
SPLITS = ("train", "test")
SOURCE_LEN = 30  # the side of the archive's grids
SHAPENETS_URL = "http://3dshapenets.cs.princeton.edu/3DShapeNetsCode.zip"
LICENCE = ("3D ShapeNets data (Wu et al., Princeton): for academic use only; commercial use needs the "
           "authors' consent (contact them through http://3dshapenets.cs.princeton.edu).")
CATEGORIES = ("airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone", "cup",
              "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp",
              "laptop", "mantel", "monitor", "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink",
              "sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox")
SHAPE_CLASSES = ("chair", "table", "airplane", "lamp")
OFFLINE_N = {"train": 600, "test": 150}


def _check_cube_len(cube_len: int) -> int:
    if cube_len not in CUBE_LENS:
        raise ValueError(f"cube_len must be one of {', '.join(map(str, CUBE_LENS))}, got {cube_len!r}")
    return int(cube_len)


# ---------------------------------------------------------------------------
# Offline procedural shapes
# ---------------------------------------------------------------------------
def margin(cube_len: int) -> int:
    """Empty voxels left on every side of a procedural shape: ``cube_len // 16`` (1 at 16^3, 4 at 64^3)."""
    return max(1, _check_cube_len(cube_len) // 16)


class _Grid:
    """A ``uint8`` cube with a usable inner cube of side ``usable`` starting at ``lo``, filled by boxes."""

    def __init__(self, cube_len: int):
        self.cube_len = cube_len
        self.lo = margin(cube_len)
        self.usable = cube_len - 2 * self.lo
        self.voxels = np.zeros((cube_len,) * 3, dtype=np.uint8)

    def size(self, fraction: float, least: int = 1) -> int:
        """A length of ``fraction`` of the usable cube in voxels, at least ``least``."""
        return max(least, int(round(fraction * self.usable)))

    def place(self, u: float, extent: int) -> int:
        """The first index of a run of ``extent`` voxels at relative position ``u`` in [0, 1) of the usable cube."""
        return self.lo + min(int(u * (self.usable - extent + 1)), self.usable - extent)

    def box(self, x0, dx, y0, dy, z0, dz) -> None:
        hi = self.lo + self.usable
        if not all(self.lo <= start and start + extent <= hi and extent >= 1
                   for start, extent in ((x0, dx), (y0, dy), (z0, dz))):
            raise RuntimeError(f"procedural part {(x0, dx, y0, dy, z0, dz)} outside the usable cube [{self.lo}, {hi})")
        self.voxels[x0:x0 + dx, y0:y0 + dy, z0:z0 + dz] = 1


def _legs(g: _Grid, x0, dx, y0, dy, z0, height, thick, inset=0) -> None:
    """Four legs of ``height`` under the rectangle ``[x0, x0+dx) x [y0, y0+dy)``, ending at ``z0 + height``."""
    for x in (x0 + inset, x0 + dx - inset - thick):
        for y in (y0 + inset, y0 + dy - inset - thick):
            g.box(x, thick, y, thick, z0, height)


def _chair(g: _Grid, u) -> None:
    depth, width = g.size(u(0.45, 0.7), 4), g.size(u(0.45, 0.7), 4)
    leg_h, seat_t = g.size(u(0.28, 0.42), 2), g.size(u(0.05, 0.1))
    back_h = min(g.size(u(0.3, 0.45), 2), g.usable - leg_h - seat_t)
    leg_t = min(g.size(u(0.06, 0.1)), (min(depth, width) - 1) // 2)
    back_t = g.size(u(0.05, 0.1))
    x0, y0, z0 = g.place(u(), depth), g.place(u(), width), g.lo
    _legs(g, x0, depth, y0, width, z0, leg_h, leg_t)
    g.box(x0, depth, y0, width, z0 + leg_h, seat_t)  # seat
    g.box(x0 + depth - back_t, back_t, y0, width, z0 + leg_h + seat_t, back_h)  # back, on the rear edge


def _table(g: _Grid, u) -> None:
    depth, width = g.size(u(0.45, 0.8), 4), g.size(u(0.6, 0.95), 4)
    leg_h, top_t = g.size(u(0.35, 0.6), 2), g.size(u(0.05, 0.12))
    leg_t = min(g.size(u(0.06, 0.12)), (min(depth, width) - 1) // 2)
    inset = min(int(round(u(0.0, 0.08) * g.usable)), (min(depth, width) - 2 * leg_t - 1) // 2)
    x0, y0, z0 = g.place(u(), depth), g.place(u(), width), g.lo
    _legs(g, x0, depth, y0, width, z0, leg_h, leg_t, inset)
    g.box(x0, depth, y0, width, z0 + leg_h, top_t)  # top


def _airplane(g: _Grid, u) -> None:
    length, body = g.size(u(0.75, 1.0), 6), g.size(u(0.09, 0.16))
    span, chord, wing_t = g.size(u(0.6, 1.0), body + 4), g.size(u(0.15, 0.28)), g.size(u(0.03, 0.06))
    wing_at = u(0.3, 0.5)
    stab_span, stab_chord = g.size(u(0.25, 0.45), body + 2), g.size(u(0.08, 0.15))
    fin_h, fin_chord, fin_t = g.size(u(0.08, 0.18)), g.size(u(0.1, 0.18)), g.size(u(0.03, 0.05))
    wing_t, fin_t, stab_span = min(wing_t, body), min(fin_t, body), min(stab_span, span)
    stab_chord, fin_chord = min(stab_chord, length // 4), min(fin_chord, length // 3)
    chord = min(chord, length - stab_chord - 2)  # the wings keep a gap before the tail plane
    x0, y0, z0 = g.place(u(), length), g.place(u(), span), g.place(u(), body + fin_h)
    tail = x0 + length  # one past the last voxel
    body_y = y0 + (span - body) // 2
    g.box(x0, length, body_y, body, z0, body)  # fuselage, nose at x0
    wing_x = min(x0 + int(round(wing_at * length)), tail - stab_chord - 1 - chord)
    g.box(wing_x, chord, y0, span, z0 + (body - wing_t) // 2, wing_t)  # wings, across the fuselage
    g.box(tail - stab_chord, stab_chord, y0 + (span - stab_span) // 2, stab_span, z0 + body - wing_t, wing_t)
    g.box(tail - fin_chord, fin_chord, body_y + (body - fin_t) // 2, fin_t, z0 + body, fin_h)  # fin


def _lamp(g: _Grid, u) -> None:
    pole_t = g.size(u(0.05, 0.09))
    base_w, base_t = g.size(u(0.3, 0.5), pole_t + 2), g.size(u(0.04, 0.08))
    pole_h, shade_h = g.size(u(0.35, 0.55), 2), g.size(u(0.2, 0.32), 2)
    shade_w = g.size(u(0.4, 0.7), pole_t + 2)
    top_w = max(pole_t + 2, int(round(shade_w * u(0.35, 0.7))))
    shade_h = min(shade_h, g.usable - base_t - pole_h)
    widest = max(base_w, shade_w)
    cx, cy = g.place(u(), widest) + widest // 2, g.place(u(), widest) + widest // 2  # the pole's axis
    z = g.lo

    def square(side, z0, dz):
        g.box(cx - side // 2, side, cy - side // 2, side, z0, dz)

    square(base_w, z, base_t)
    square(pole_t, z + base_t, pole_h)
    for k in range(shade_h):  # a frustum, one layer at a time, narrowing upwards
        side = int(round(shade_w + (top_w - shade_w) * k / max(1, shade_h - 1)))
        side -= (side - pole_t) % 2  # same parity as the pole: centred on it
        square(side, z + base_t + pole_h + k, 1)


_BUILDERS = {"chair": _chair, "table": _table, "airplane": _airplane, "lamp": _lamp}


def _check_classes(classes) -> tuple[str, ...]:
    if isinstance(classes, str):
        classes = (classes,)
    classes = tuple(classes)
    unknown = [name for name in classes if name not in SHAPE_CLASSES]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {', '.join(SHAPE_CLASSES)}, got {classes!r}")
    return classes


def procedural_shapes(n: int, cube_len: int = 32, classes=SHAPE_CLASSES, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random procedural objects: ``(voxels uint8 (n, L, L, L), labels int32 (n,))``.

    Shape ``i`` belongs to ``classes[i % len(classes)]`` (``labels[i]`` is
    that index into ``classes``), so the classes are balanced in every prefix.
    Each shape's proportions and position are drawn from ``seed`` (the draws
    do not depend on ``cube_len``). See the module docstring for the classes.

    Raises:
        ValueError: ``cube_len`` not in :data:`CUBE_LENS`, unknown classes, or ``n < 0``.
    """
    _check_cube_len(cube_len)
    classes = _check_classes(classes)
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _draw(int(n), cube_len, classes, np.random.default_rng(seed), frozenset())


def _draw(n: int, cube_len: int, classes: tuple, rng: np.random.Generator, exclude: frozenset):
    """:func:`procedural_shapes` from ``rng``; a shape whose grid's bytes are in ``exclude`` is drawn again."""
    voxels = np.zeros((n,) + (cube_len,) * 3, dtype=np.uint8)
    labels = (np.arange(n) % len(classes)).astype(np.int32)

    def u(low=0.0, high=1.0):
        return float(rng.uniform(low, high))

    for i, label in enumerate(labels):
        while True:
            grid = _Grid(cube_len)
            _BUILDERS[classes[label]](grid, u)
            if grid.voxels.tobytes() not in exclude:
                break
        voxels[i] = grid.voxels
    return voxels, labels


@functools.lru_cache(maxsize=8)
def _offline(split: str, cube_len: int, n: int, seed: int, classes: tuple) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, SPLITS.index(split)])  # train and test: two independent random streams
    exclude = frozenset()
    if split == "test":  # no test grid repeats a grid of the default training set (memorisation checks)
        exclude = frozenset(x.tobytes() for x in _offline("train", cube_len, OFFLINE_N["train"], seed, classes)[0])
    voxels, labels = _draw(n, cube_len, classes, rng, exclude)
    for array in (voxels, labels):
        array.flags.writeable = False  # shared by every caller (cached)
    return voxels, labels


def offline_shapes(split: str = "train", cube_len: int = 32, n: int | None = None, seed: int = 0,
                   classes=SHAPE_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """The fixed offline set: ``(voxels uint8 (n, L, L, L), labels int32 (n,))`` of :func:`procedural_shapes`.

    ``train`` and ``test`` are drawn from two independent random streams of
    ``seed``, and a test shape whose grid equals one of the default training
    set's (600 shapes; at 16^3 a few draws round to the same grid) is drawn
    again, so a test shape is never a copy of a training shape. ``n`` defaults
    to :data:`OFFLINE_N` (600 train, 150 test). The arrays are cached and
    read-only (copy them to change them).

    Raises:
        ValueError: unknown split, cube length or class.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_shapes; choose one of {', '.join(SPLITS)}")
    n = OFFLINE_N[split] if n is None else int(n)
    return _offline(split, _check_cube_len(cube_len), n, int(seed), _check_classes(classes))


# ---------------------------------------------------------------------------
# 3D ShapeNets
# ---------------------------------------------------------------------------
def load_mat(path) -> np.ndarray:
    """The 30^3 occupancy grid of one 3D ShapeNets ``.mat`` file, ``uint8`` ``(30, 30, 30)`` in ``{0, 1}``.

    Raises:
        DatasetError: the file is missing or unreadable, has no ``instance``
            variable, or holds a grid of another shape or with values other than 0 and 1.
    """
    import scipy.io

    path = Path(path)
    fix = "delete it and extract the 3D ShapeNets archive again"
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; extract the 3D ShapeNets archive ({SHAPENETS_URL}) again")
    try:
        content = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError... on broken files
        raise DatasetError(f"{path} is not a readable .mat file ({type(exc).__name__}: {exc}); {fix}") from None
    if "instance" not in content:
        keys = ", ".join(k for k in content if not k.startswith("__")) or "none"
        raise DatasetError(f"{path} has no 'instance' variable (variables: {keys}); it is not a 3D ShapeNets "
                           f"volume: {fix}")
    volume = np.asarray(content["instance"])
    if volume.shape != (SOURCE_LEN,) * 3:
        raise DatasetError(f"{path} holds a grid of shape {volume.shape}, not (30, 30, 30); {fix}")
    if volume.dtype == bool:
        return volume.astype(np.uint8)
    if not np.isin(volume, (0, 1)).all():
        raise DatasetError(f"{path} holds values other than 0 and 1 (e.g. {volume[~np.isin(volume, (0, 1))][0]!r}); "
                           f"{fix}")
    return volume.astype(np.uint8)


def preprocess(volume, cube_len: int = 64) -> np.ndarray:
    """A 30^3 grid -> ``uint8`` ``(cube_len,) * 3``: padded by one empty voxel per side (32^3), then, for
    64, every voxel repeated twice along each axis (the same as ``scipy.ndimage.zoom(v, 2, order=0)``),
    for 32 kept, for 16 max-pooled over 2x2x2 blocks (a voxel is occupied when any of its 8 is).

    Raises:
        ValueError: ``cube_len`` not in :data:`CUBE_LENS` or a grid that is not 30^3.
    """
    _check_cube_len(cube_len)
    volume = np.asarray(volume)
    if volume.shape != (SOURCE_LEN,) * 3:
        raise ValueError(f"expected a (30, 30, 30) grid, got shape {volume.shape}")
    padded = np.pad(volume.astype(np.uint8), 1)
    if cube_len == 64:
        return padded.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    if cube_len == 16:
        return padded.reshape(16, 2, 16, 2, 16, 2).max(axis=(1, 3, 5))
    return padded


def _has_categories(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name / "30").is_dir() for name in CATEGORIES)


def volumetric_root(data_dir=None) -> Path:
    """The ``volumetric_data`` folder (it holds ``<category>/30/{train,test}``).

    ``data_dir`` may be that folder, its parent (``3DShapeNets``), the folder
    the archive was extracted into (``volumetric_data`` one level below it), or the ``3DShapeNetsCode.zip`` archive
    itself (extracted next to itself once). Without ``data_dir`` the archive is
    downloaded into the cache once (:data:`SHAPENETS_URL`) and extracted safely.

    Raises:
        DatasetError: nothing of the kind under ``data_dir``, a failed
            download, or a corrupt archive; the message says where to get the data.
    """
    get = f"get {SHAPENETS_URL} and unzip it there ({LICENCE})"
    if data_dir is None:
        archive = fetch(SHAPENETS_URL, known_hash=None, subdir="shapenets")  # no published checksum
        data_dir = archive
    data_dir = Path(data_dir)
    if data_dir.is_file() and zipfile.is_zipfile(data_dir):
        dest = data_dir.parent / "extracted"
        if _find_root(dest) is None:
            safe_extract(data_dir, dest)
        found = _find_root(dest)
        if found is None:
            raise DatasetError(f"{data_dir} holds no volumetric_data/<category>/30 folders; delete it and "
                               f"download it again ({SHAPENETS_URL})")
        return found
    found = _find_root(data_dir)
    if found is None:
        raise DatasetError(f"no 3D ShapeNets volumetric data under {data_dir} (expected "
                           f"volumetric_data/<category>/30/train/*.mat); {get}")
    return found


def _find_root(folder: Path) -> Path | None:
    """``folder`` or the ``volumetric_data`` folder in it or one level below it (``3DShapeNets/``), if any."""
    below = sorted(folder.glob("*/volumetric_data")) if folder.is_dir() else []
    for candidate in [folder, folder / "volumetric_data"] + below:
        if _has_categories(candidate):
            return candidate
    return None


def shapenet_files(data_dir, category: str, split: str = "train") -> list[Path]:
    """The sorted ``.mat`` files of ``<category>/30/<split>`` (see :func:`volumetric_root` for ``data_dir``).

    Raises:
        ValueError: an unknown category (the message lists them) or split.
        DatasetError: the data or the category's folder is missing, or the folder holds no ``.mat`` file.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown 3D ShapeNets category {category!r}; choose one of {', '.join(CATEGORIES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for shapenet; choose one of {', '.join(SPLITS)}")
    folder = volumetric_root(data_dir) / category / "30" / split
    files = sorted(folder.glob("*.mat")) if folder.is_dir() else []
    if not files:
        raise DatasetError(f"no .mat files in {folder}; the 3D ShapeNets data is incomplete: get "
                           f"{SHAPENETS_URL} and unzip it again")
    return files


@functools.lru_cache(maxsize=2)
def _shapenet(root: Path, category: str, split: str, cube_len: int) -> np.ndarray:
    files = shapenet_files(root, category, split)
    volumes = np.empty((len(files),) + (cube_len,) * 3, dtype=np.uint8)
    for i, path in enumerate(files):
        volumes[i] = preprocess(load_mat(path), cube_len)
    volumes.flags.writeable = False  # shared by every caller (cached)
    return volumes


def shapenet_volumes(data_dir=None, category: str = "airplane", split: str = "train", cube_len: int = 64
                     ) -> np.ndarray:
    """All grids of one category's split, ``uint8`` ``(N, cube_len, cube_len, cube_len)``, files in sorted
    order, each through :func:`load_mat` and :func:`preprocess`. Cached (read-only) for the last two calls.

    Raises:
        ValueError: unknown category, split or cube length.
        DatasetError: missing data or a broken file (the message names it).
    """
    _check_cube_len(cube_len)
    if category not in CATEGORIES:
        raise ValueError(f"unknown 3D ShapeNets category {category!r}; choose one of {', '.join(CATEGORIES)}")
    return _shapenet(volumetric_root(data_dir).resolve(), category, split, cube_len)


# ---------------------------------------------------------------------------
# tf.data
# ---------------------------------------------------------------------------
def voxel_dataset(volumes, batch_size: int, *, shuffle: bool = True, seed: int = 0, upsample: int = 1):
    """A batched ``tf.data.Dataset`` of ``float32`` ``(B, L, L, L, 1)`` batches in ``{0, 1}`` from ``uint8``
    ``(N, L, L, L)`` grids, held once as a ``uint8`` tensor (each batch is gathered and cast inside the
    pipeline; no Python runs per batch). Reshuffled every epoch with ``seed`` when ``shuffle``; the last incomplete batch is
    dropped. ``upsample`` 2 repeats every voxel twice along each axis (a 32^3 store served as 64^3).

    Raises:
        ValueError: not ``(N, L, L, L)`` ``uint8``/``bool`` grids, or fewer grids than one batch.
    """
    import tensorflow as tf

    volumes = np.asarray(volumes)
    if volumes.ndim != 4 or volumes.shape[1] != volumes.shape[2] or volumes.shape[1] != volumes.shape[3]:
        raise ValueError(f"expected voxel grids of shape (N, L, L, L), got {volumes.shape}")
    if volumes.dtype not in (np.uint8, np.bool_):
        raise ValueError(f"expected uint8 or bool voxel grids in {{0, 1}}, got dtype {volumes.dtype}")
    if upsample not in (1, 2):
        raise ValueError(f"upsample must be 1 or 2, got {upsample}")
    if len(volumes) < batch_size:
        raise ValueError(f"only {len(volumes)} voxel grids for batch_size={batch_size}; lower batch_size or add data")
    side = volumes.shape[1] * upsample
    store = tf.constant(volumes.view(np.uint8) if volumes.dtype == np.bool_ else volumes)  # the uint8 grids, once

    def to_batch(index):
        batch = tf.cast(tf.gather(store, index), tf.float32)
        for axis in (1, 2, 3) if upsample == 2 else ():
            batch = tf.repeat(batch, 2, axis=axis)
        return tf.reshape(batch, (batch_size, side, side, side, 1))

    ds = tf.data.Dataset.range(len(volumes))
    if shuffle:
        ds = ds.shuffle(len(volumes), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).map(to_batch).prefetch(tf.data.AUTOTUNE)


def _cfg_classes(cfg) -> tuple[str, ...]:
    classes = getattr(cfg, "classes", None)
    return SHAPE_CLASSES if classes is None else _check_classes(classes)


def voxel_arrays(name: str, split: str = "train", cfg=None, *, cube_len: int | None = None,
                 category: str | None = None, classes=None, n: int | None = None, seed: int = 0,
                 data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(volumes uint8 (N, L, L, L), labels int32 (N,))`` of a voxel dataset's split, for evaluation.

    ``offline_shapes``: :func:`offline_shapes` (labels index ``classes``,
    default all of :data:`SHAPE_CLASSES`; ``n`` and ``seed`` as there). ``shapenet``:
    :func:`shapenet_volumes` of ``category`` (labels: the category's index in
    :data:`CATEGORIES`). Settings come from the keywords, else from ``cfg``
    (``cube_len``, ``category``, ``classes``), else the defaults (32^3, airplane).

    Raises:
        ValueError: unknown dataset, split, category or class.
        DatasetError: the 3D ShapeNets data is missing or broken.
    """
    cube_len = cube_len or getattr(cfg, "cube_len", None) or 32
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name}; choose one of {', '.join(SPLITS)}")
    if name == "offline_shapes":
        chosen = _cfg_classes(cfg) if classes is None else _check_classes(classes)
        return offline_shapes(split, cube_len, n, seed, classes=chosen)
    if name == "shapenet":
        category = category or getattr(cfg, "category", None) or "airplane"
        volumes = shapenet_volumes(data_dir, category, split, cube_len)
        volumes = volumes if n is None else volumes[:n]  # the first n files in sorted order
        return volumes, np.full(len(volumes), CATEGORIES.index(category), dtype=np.int32)
    raise ValueError(f"{name!r} is not a voxel dataset; choose shapenet or offline_shapes")


def offline_dataset(split: str, cfg, *, shuffle: bool = True):
    """:func:`offline_shapes` at ``cfg.cube_len`` (classes ``cfg.classes``, default all) as
    :func:`voxel_dataset` batches of ``cfg.batch_size``, shuffled with ``cfg.seed``."""
    volumes, _ = offline_shapes(split, _check_cube_len(cfg.cube_len), classes=_cfg_classes(cfg))
    return voxel_dataset(volumes, cfg.batch_size, shuffle=shuffle, seed=cfg.seed)


def shapenet_dataset(split: str, cfg, data_dir=None, *, shuffle: bool = True):
    """:func:`shapenet_volumes` of ``cfg.category`` (default airplane) at ``cfg.cube_len`` as
    :func:`voxel_dataset` batches; a 64^3 set is held at 32^3 and upsampled batch by batch."""
    cube_len = _check_cube_len(cfg.cube_len)
    category = getattr(cfg, "category", None) or "airplane"
    volumes = shapenet_volumes(data_dir, category, split, 32 if cube_len == 64 else cube_len)
    return voxel_dataset(volumes, cfg.batch_size, shuffle=shuffle, seed=cfg.seed, upsample=2 if cube_len == 64 else 1)
