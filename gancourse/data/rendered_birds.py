"""Offline captioned birds whose attributes are known: a procedural bird renderer, template captions, fixed sets.

The CUB captions were written by people, and whether a generated bird obeys
its caption can only be judged by eye. Rendered birds make it measurable:
every bird is drawn from five attributes (:data:`ATTRIBUTES`),

* ``body``: the colour of the body, head and tail (:data:`COLOURS`: red,
  blue, yellow, green, black, white);
* ``wing``: the colour of the wings (the same six colours);
* ``size``: small or large (the bird is scaled by :data:`SCALES`);
* ``pose``: perched (wings folded, legs on a branch) or flying (wings spread
  up, no branch);
* ``background``: sky, grass or sand (a colour and a texture);

and its captions (:func:`captions_for`) name them in varied, CUB-like wording:
every caption names the body and wing colours, and some also the size, the
pose or the background, so the mean of several captions' embeddings says more
than one caption (as in StackGAN, which averages four). :func:`parse_caption`
reads the attributes a typed caption names, so a generated image can be
scored against a caption nobody wrote before
(:func:`gancourse.birdattr.caption_consistency`).

The class of a bird is its colour pair, ``class_id = body * 6 + wing`` (36
classes): a "wrong" caption for the matching-aware discriminator is a caption
of another colour pair. The test split holds out six pairs,
:data:`TEST_CLASSES`: ``(b, (b + 3) % 6)`` for every body colour ``b`` (a red
bird with green wings, a blue bird with black wings, ...), never rendered in
the training split, while every colour still appears in training both as a
body colour and as a wing colour. A model that draws them has combined what it
learnt, not recalled it.

The renderer is vectorised NumPy: every part is an anti-aliased soft shape
(coverage from an approximate signed distance), painted back to front into
per-pose, per-size maps of how much of each pixel shows the body colour, the
wing colour, the background and the fixed colours (beak, eye, legs, branch).
An image is these maps shifted by the bird's position, times its colours. So a
wing colour changes exactly the pixels where a wing shows. ``render_birds(...,
seed=s)`` adds a nuisance that is no attribute: a shift of up to about 6% of
the image, slightly different colours (within 0.05 per channel) and lighting
(brightness and its left-right balance).

:func:`offline_birds` gives the fixed sets the ``offline_birds`` dataset
serves, with ten captions per image and their embeddings by
:func:`gancourse.text.encode_captions` (``(N, 10, 1024)``, the shape of the
CUB release's char-CNN-RNN embeddings): ``train`` has the 30 training colour
pairs, ``test`` the 6 held-out ones, each pair with every size, pose and
background four times (48 images).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import NamedTuple

import numpy as np

from gancourse.data.captioned import CAPTIONS_PER_IMAGE
from gancourse.data.rendered_faces import _segment

#: Bumped whenever the pictures change; the caches of models trained on rendered birds are keyed by it.
RENDERER_VERSION = 2
SPLITS = ("train", "test")
MIN_SIZE = 8

COLOURS = ("red", "blue", "yellow", "green", "black", "white")
BODY_COLOURS = WING_COLOURS = COLOURS
SIZES = ("small", "large")
POSES = ("perched", "flying")
BACKGROUNDS = ("sky", "grass", "sand")
#: Every attribute and its values; a bird holds the index of the value.
ATTRIBUTES = {"body": BODY_COLOURS, "wing": WING_COLOURS, "size": SIZES, "pose": POSES, "background": BACKGROUNDS}
N_CLASSES = len(BODY_COLOURS) * len(WING_COLOURS)
#: The held-out colour pairs: class ids of ``(b, (b + 3) % 6)``; only the test split has them.
TEST_CLASSES = tuple(b * len(WING_COLOURS) + (b + 3) % len(WING_COLOURS) for b in range(len(BODY_COLOURS)))
#: The 30 colour pairs of the training split.
TRAIN_CLASSES = tuple(c for c in range(N_CLASSES) if c not in TEST_CLASSES)
#: Images of every colour pair in :func:`offline_birds`: each size x pose x background 4 times.
PER_CLASS = 48
#: How large the bird is drawn, by size (1 fills about three quarters of the image's width).
SCALES = (0.66, 0.95)

_RGB = np.array([[0.86, 0.13, 0.10], [0.13, 0.27, 0.86], [0.98, 0.84, 0.12],
                 [0.14, 0.62, 0.18], [0.08, 0.08, 0.09], [0.97, 0.97, 0.95]], np.float32)
_BEAK = np.array([0.90, 0.55, 0.15], np.float32)
_EYE = np.array([0.03, 0.03, 0.03], np.float32)
_LEGS = np.array([0.30, 0.22, 0.16], np.float32)
_BRANCH = np.array([0.45, 0.30, 0.16], np.float32)
_SPLIT_SEED = {"train": 0, "test": 1}


@dataclasses.dataclass(frozen=True)
class Birds:
    """Attributes of ``n`` birds: ``int32`` arrays of length ``n``, indices into the values of :data:`ATTRIBUTES`.

    Index it like an array (``birds[3]``, ``birds[:10]``, ``birds[[0, 0, 1]]``) to get another :class:`Birds`.
    """

    body: np.ndarray
    wing: np.ndarray
    size: np.ndarray
    pose: np.ndarray
    background: np.ndarray

    def __len__(self) -> int:
        return len(self.body)

    def __getitem__(self, index) -> "Birds":
        if np.isscalar(index):
            index = [index]
        return Birds(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    @property
    def class_ids(self) -> np.ndarray:
        """``int32`` ``(n,)``: ``body * 6 + wing``, the colour pair."""
        return (self.body * len(WING_COLOURS) + self.wing).astype(np.int32)

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{attribute: int32 array}`` (the form :func:`gancourse.birdattr.caption_consistency` reads)."""
        return {name: getattr(self, name) for name in ATTRIBUTES}


def _value(name: str, value) -> np.ndarray:
    values = ATTRIBUTES[name]
    array = np.asarray(value)
    if array.dtype.kind in "US":
        lookup = {v: i for i, v in enumerate(values)}
        unknown = sorted({str(v) for v in array.ravel() if str(v) not in lookup})
        if unknown:
            raise ValueError(f"unknown {name} {', '.join(unknown)}; choose from {', '.join(values)}")
        array = np.vectorize(lookup.__getitem__, otypes=[np.int32])(array) if array.size else array.astype(np.int32)
    if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() >= len(values))):
        raise ValueError(f"{name} must be integers 0-{len(values) - 1} or names ({', '.join(values)}), got {value!r}")
    return array.astype(np.int32)


def make_birds(body, wing, size=0, pose=0, background=0) -> Birds:
    """Birds with the given attributes, as indices or names (``make_birds("red", ["blue", "green"])``), broadcast
    to one length.

    Raises:
        ValueError: an unknown value, or lengths that do not broadcast.
    """
    values = {name: _value(name, v) for name, v in zip(ATTRIBUTES, (body, wing, size, pose, background))}
    try:
        arrays = np.broadcast_arrays(*(np.atleast_1d(v) for v in values.values()))
    except ValueError:
        raise ValueError("the attributes must have one length (or be single values), got lengths "
                         + ", ".join(str(np.size(v)) for v in values.values())) from None
    return Birds(*(np.ascontiguousarray(a, np.int32) for a in arrays))


def random_birds(n: int, seed: int = 0, classes=None) -> Birds:
    """``n`` random birds drawn from ``seed``: a colour pair from ``classes`` (class ids; default all 36),
    size, pose and background uniformly at random.

    Raises:
        ValueError: ``n < 0`` or a class id outside 0-35.
    """
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    classes = np.arange(N_CLASSES) if classes is None else np.asarray(classes, np.int64).ravel()
    if not len(classes) or classes.min() < 0 or classes.max() >= N_CLASSES:
        raise ValueError(f"classes must be class ids 0-{N_CLASSES - 1} (body * 6 + wing), got {classes!r}")
    n = int(n)
    rng = np.random.default_rng(seed)
    c = classes[rng.integers(len(classes), size=n)]
    return make_birds(c // len(WING_COLOURS), c % len(WING_COLOURS), rng.integers(len(SIZES), size=n),
                      rng.integers(len(POSES), size=n), rng.integers(len(BACKGROUNDS), size=n))


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------
def _ellipse(u, v, a, b, angle=0.0):
    """Approximate signed distance to an ellipse with half-axes ``a``, ``b`` turned by ``angle`` (radians)."""
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        u, v = c * u + s * v, -s * u + c * v
    return (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * min(a, b)


def max_shift(size: int) -> int:
    """The largest nuisance shift, in pixels, at ``size`` (about 6% of the image, at least 1)."""
    return max(1, int(round(0.06 * size)))


class _Layers:
    """Per-pixel weights of the body colour, the wing colour, fixed colours (RGB) and the background, painted
    back to front with anti-aliased coverage."""

    def __init__(self, shape):
        self.body = np.zeros(shape, np.float32)
        self.wing = np.zeros(shape, np.float32)
        self.fixed = np.zeros(shape + (3,), np.float32)
        self.background = np.ones(shape, np.float32)

    def paint(self, alpha, slot, shade=1.0):
        keep = 1.0 - alpha
        for array in (self.body, self.wing, self.background):
            array *= keep
        self.fixed *= keep[..., None]
        if isinstance(slot, str):
            getattr(self, slot)[...] += alpha * shade
        else:
            self.fixed += alpha[..., None] * slot


@functools.lru_cache(maxsize=8)
def _templates(size: int):
    """Maps ``(size class, pose)`` -> layers on a canvas ``2 * max_shift`` pixels larger than the image."""
    m = max_shift(size)
    px = 2.0 / size
    coords = ((np.arange(size + 2 * m, dtype=np.float32) - m + 0.5) * px - 1.0)
    x, y = coords[None, :], coords[:, None]

    def cover(distance):
        return np.clip(0.5 - distance / px, 0.0, 1.0).astype(np.float32)

    out = {}
    for k, scale in enumerate(SCALES):
        for pose in range(len(POSES)):
            flying = pose == 1
            cx, cy = 0.0, (0.16 if flying else -0.10)
            u, v = (x - cx) / scale, (y - cy) / scale

            def shape(d, s=scale):
                return cover(d * s)  # local distances -> image units

            layers = _Layers(np.broadcast_shapes(u.shape, v.shape))
            shade = np.clip(1.0 - 0.18 * (v + 0.3), 0.8, 1.0)  # lit from above
            if not flying:  # the branch: a band across the image below the feet, slightly slanted
                branch_top = 0.47 + 0.05 * u
                layers.paint(shape(np.maximum(branch_top - v, v - branch_top - 0.11)), _BRANCH)
                for foot in (-0.06, 0.12):
                    layers.paint(shape(_segment(u, v, foot, 0.2, foot + 0.03, 0.49) - 0.035), _LEGS)
                tail = _ellipse(u + 0.6, v - 0.14, 0.30, 0.09, angle=-0.45)
            else:  # the far wing, behind the body, darker
                layers.paint(shape(_ellipse(u - 0.10, v + 0.46, 0.17, 0.44, angle=-0.30)), "wing", 0.72)
                tail = _ellipse(u + 0.62, v - 0.02, 0.30, 0.11, angle=-0.12)
            layers.paint(shape(tail), "body", 0.82)
            layers.paint(shape(_ellipse(u, v, 0.46, 0.28, angle=-0.25 if not flying else -0.05)), "body", shade)
            layers.paint(shape(_ellipse(u - 0.42, v + 0.26, 0.20, 0.20)), "body", shade)  # head
            layers.paint(shape(_ellipse(u - 0.66, v + 0.24, 0.15, 0.055, angle=0.1)), _BEAK)
            layers.paint(shape(_ellipse(u - 0.48, v + 0.30, 0.045, 0.045)), _EYE)
            if flying:  # the near wing, spread up and back
                layers.paint(shape(_ellipse(u + 0.10, v + 0.48, 0.21, 0.50, angle=0.45)), "wing",
                             np.clip(1.0 - 0.12 * (v + 0.6), 0.88, 1.0))
            else:  # the folded wing along the body
                layers.paint(shape(_ellipse(u + 0.08, v + 0.02, 0.38, 0.19, angle=-0.30)), "wing", 0.95)
            layers.stack = np.concatenate([np.stack([layers.body, layers.wing, layers.background]),
                                           layers.fixed.transpose(2, 0, 1)])
            out[k, pose] = layers
    return out


@functools.lru_cache(maxsize=8)
def _backgrounds(size: int) -> np.ndarray:
    """``(3 channels, 3 kinds, size, size)``: sky (a gradient with soft clouds), grass (blades), sand (ripples,
    grains)."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    x, y = coords[None, :, None], coords[:, None, None]
    sky = np.array([0.55, 0.74, 0.94], np.float32) + (y + 1) / 2 * np.array([0.20, 0.14, 0.04], np.float32)
    cloud = np.exp(-((x + 0.45) ** 2 / 0.08 + (y + 0.6) ** 2 / 0.01)) + np.exp(-((x - 0.5) ** 2 / 0.06
                                                                                 + (y + 0.25) ** 2 / 0.008))
    sky = sky + 0.35 * cloud * (1.0 - sky)
    blades = 0.5 + 0.5 * np.sin(38.0 * x + 4.0 * np.sin(5.0 * y))
    grass = np.array([0.50, 0.60, 0.28], np.float32) * (0.88 + 0.14 * blades) * (1.05 - 0.08 * (y + 1) / 2)
    grains = np.random.default_rng(7).uniform(-1, 1, (size, size, 1)).astype(np.float32)
    sand = np.array([0.90, 0.80, 0.58], np.float32) * (1.0 + 0.04 * np.sin(9.0 * y + 3.0 * x) + 0.03 * grains)
    backgrounds = np.clip(np.stack(np.broadcast_arrays(sky, grass, sand)), 0, 1).astype(np.float32)
    return np.ascontiguousarray(backgrounds.transpose(3, 0, 1, 2))  # channels first: (3, kind, size, size)


def render_birds(birds: Birds, size: int = 64, seed=None) -> np.ndarray:
    """``float32`` ``(n, size, size, 3)`` images in ``[-1, 1]`` of ``birds``.

    Args:
        birds: the attributes (:class:`Birds`).
        size: the image side in pixels (at least 8).
        seed: ``None`` draws every bird centred with its exact colours; anything
            NumPy accepts as a seed adds a nuisance drawn from it (the same seed
            gives the same images): a shift of up to :func:`max_shift` pixels,
            colours moved by up to 0.05 per channel and lighting (brightness
            0.9-1.08 and a left-right balance of up to 6%).

    Raises:
        ValueError: a size below 8.
    """
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} pixels, got {size}")
    size, n = int(size), len(birds)
    m = max_shift(size)
    body_rgb, wing_rgb = _RGB[birds.body], _RGB[birds.wing]
    if seed is None:
        oy = ox = np.full(n, m)
        gain, tilt = np.ones(n, np.float32), np.zeros(n, np.float32)
    else:
        rng = np.random.default_rng(seed)
        oy, ox = rng.integers(0, 2 * m + 1, size=(2, n))
        body_rgb = np.clip(body_rgb + rng.uniform(-0.05, 0.05, (n, 3)), 0, 1).astype(np.float32)
        wing_rgb = np.clip(wing_rgb + rng.uniform(-0.05, 0.05, (n, 3)), 0, 1).astype(np.float32)
        gain = rng.uniform(0.9, 1.08, n).astype(np.float32)
        tilt = rng.uniform(-0.06, 0.06, n).astype(np.float32)
    templates = _templates(size)
    background = _backgrounds(size)
    coords = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    light = 2.0 * gain[:, None, None] * (1.0 + tilt[:, None, None] * coords[None, None, :])  # (n, 1, size)
    planes = np.empty((3, n, size, size), np.float32)  # channels first: every blend is one plane at a time
    key = ((birds.size.astype(np.int64) * len(POSES) + birds.pose) * (2 * m + 1) + oy) * (2 * m + 1) + ox
    for k in np.unique(key):  # birds of one size and pose at one shift share the maps of their pixels
        index = np.flatnonzero(key == k)
        first = index[0]
        stack = templates[int(birds.size[first]), int(birds.pose[first])].stack
        body, wing, visible, *fixed = stack[:, None, oy[first]:oy[first] + size, ox[first]:ox[first] + size]
        kinds = birds.background[index]
        for c in range(3):
            plane = background[c][kinds] * visible
            plane += fixed[c]
            plane += body * body_rgb[index, c, None, None]
            plane += wing * wing_rgb[index, c, None, None]
            plane *= light[index]
            planes[c, index] = plane
    images = np.moveaxis(planes, 0, -1) - 1.0
    return np.clip(images, -1.0, 1.0, out=images)


# ---------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------
_SIZE_WORDS = (("small", "little", "tiny"), ("large", "big"))
_POSE_PHRASES = (("perched on a branch", "sitting on a branch", "resting on a twig"),
                 ("flying", "in flight", "flying with its wings spread"))
_BACKGROUND_PHRASES = (("against the sky", "with the sky behind it", "in front of a clear sky"),
                       ("over the grass", "with grass behind it", "in front of a grassy field"),
                       ("over the sand", "with sand behind it", "in front of sandy ground"))
#: Caption templates: every one names {b} (body colour) and {w} (wing colour); some {size}, {pose}, {bg}.
TEMPLATES = (
    "a {size} {b} bird with {w} wings",
    "this bird has a {b} body and {w} wings",
    "a {b} bird with {w} wings {pose}",
    "this {size} bird is {b} with {w} wings",
    "the bird has {w} wings and a {b} body",
    "a {b} bird with {w} wings {bg}",
    "this bird is {b} all over except for its {w} wings",
    "a {size} bird with a {b} breast, {b} belly and {w} wings {pose}",
    "this {b} bird has {w} wings and is {pose} {bg}",
    "{w} wings and a {b} body on a {size} bird",
    "a {b} bird whose wings are {w}",
    "the {size} bird has a {b} body, {w} wings and is {pose}",
    "a {b} bird {pose} {bg}, with {w} wings",
    "a {size} {b} bird with wings of {w}, {pose} {bg}",
)

_ALL_OVER = TEMPLATES.index("this bird is {b} all over except for its {w} wings")
_SAME_COLOUR = "this bird is {b} all over, {w} wings included"  # that template when the wings match the body

#: The words :func:`parse_caption` reads, by attribute: ``{attribute: {word: value index}}``.
VOCABULARY = {
    "colour": {c: i for i, c in enumerate(COLOURS)},
    "size": {"small": 0, "little": 0, "tiny": 0, "large": 1, "big": 1},
    "pose": {"perched": 0, "perching": 0, "sitting": 0, "sits": 0, "resting": 0, "branch": 0, "twig": 0,
             "flying": 1, "flight": 1, "flies": 1, "soaring": 1, "spread": 1},
    "background": {"sky": 0, "grass": 1, "grassy": 1, "field": 1, "sand": 2, "sandy": 2, "beach": 2},
}
_WING_WORDS = {"wing", "wings", "winged"}
_BODY_WORDS = {"body", "bird", "breast", "belly", "back", "head", "chest", "tail"}
_LINK_WORDS = {"are", "is", "of", "mostly", "all", "bright", "dark", "pale", "look", "coloured", "colored"}


def captions_for(birds: Birds, n: int = CAPTIONS_PER_IMAGE, seed=0) -> list[list[str]]:
    """``n`` distinct-template captions for every bird (a list per bird), drawn from ``seed``.

    Every caption names the body and the wing colours; the size, pose and
    background are each named by only some templates (:data:`TEMPLATES`), in
    one of several wordings.

    Raises:
        ValueError: ``n`` outside 1 to the number of templates.
    """
    if not 1 <= int(n) <= len(TEMPLATES):
        raise ValueError(f"n must be between 1 and {len(TEMPLATES)} (the number of caption templates), got {n}")
    n, count = int(n), len(birds)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((count, len(TEMPLATES))), axis=1)[:, :n]
    picks = rng.integers(0, 6, size=(count, n, 3))
    out = []
    for i in range(count):
        b, w = COLOURS[birds.body[i]], COLOURS[birds.wing[i]]
        sizes, poses = _SIZE_WORDS[birds.size[i]], _POSE_PHRASES[birds.pose[i]]
        backgrounds = _BACKGROUND_PHRASES[birds.background[i]]
        out.append([(_SAME_COLOUR if b == w and t == _ALL_OVER else TEMPLATES[t]).format(
            b=b, w=w, size=sizes[p[0] % len(sizes)], pose=poses[p[1] % len(poses)],
            bg=backgrounds[p[2] % len(backgrounds)]) for t, p in zip(order[i], picks[i])])
    return out


def describe(birds: Birds) -> list[str]:
    """One caption per bird naming all five attributes, in a fixed wording
    (``"a small red bird with blue wings, perched on a branch against the sky"``)."""
    return [f"a {SIZES[s]} {COLOURS[b]} bird with {COLOURS[w]} wings, {_POSE_PHRASES[p][0]} "
            f"{_BACKGROUND_PHRASES[g][0]}"
            for b, w, s, p, g in zip(birds.body, birds.wing, birds.size, birds.pose, birds.background)]


def _known_words() -> str:
    return "; ".join(f"{name}: {', '.join(words)}" for name, words in VOCABULARY.items())


def parse_caption(text: str) -> dict[str, int]:
    """The attributes a caption names: ``{attribute: value index}`` (only those it names).

    A colour followed within two words by "wing", "wings" or "winged", or
    preceded by "wings are", "wings of" (and the like), is the wing colour; any
    other colour is the body colour. Size, pose and background are read from
    their words (:data:`VOCABULARY`); unknown words are ignored.

    Raises:
        ValueError: the caption names no colour (the message lists the words
            this parser knows), or names two different values for one attribute.
    """
    from gancourse.text import tokens

    words = tokens(text)
    found: dict[str, set[int]] = {}
    colours = VOCABULARY["colour"]
    for i, word in enumerate(words):
        if word in colours:
            part = "body"
            for ahead in words[i + 1:i + 3]:
                if ahead in _WING_WORDS:
                    part = "wing"
                    break
                if ahead in colours or ahead in _BODY_WORDS:
                    break
            back = i - 1
            while back >= 0 and words[back] in _LINK_WORDS:
                back -= 1
            if back < i - 1 and back >= 0 and words[back] in _WING_WORDS:
                part = "wing"
            found.setdefault(part, set()).add(colours[word])
        for name in ("size", "pose", "background"):
            if word in VOCABULARY[name]:
                found.setdefault(name, set()).add(VOCABULARY[name][word])
    if "body" not in found and "wing" not in found:
        raise ValueError(f"the caption {text!r} names no colour; the words it can read are {_known_words()}")
    for name, values in found.items():
        if len(values) > 1:
            names = ", ".join(ATTRIBUTES[name][v] for v in sorted(values))
            raise ValueError(f"the caption {text!r} names two {name} values ({names}); name one")
    return {name: found[name].pop() for name in ATTRIBUTES if name in found}


def wanted_attributes(texts) -> dict[str, np.ndarray]:
    """``{attribute: int32 (n,)}`` of the attributes named by each caption of ``texts``, ``-1`` where a caption
    names none (the ``wanted`` argument of :func:`gancourse.birdattr.caption_consistency`)."""
    if isinstance(texts, str):
        texts = [texts]
    parsed = [parse_caption(t) for t in texts]
    return {name: np.array([p.get(name, -1) for p in parsed], np.int32) for name in ATTRIBUTES}


# ---------------------------------------------------------------------------
# The fixed sets
# ---------------------------------------------------------------------------
class BirdSet(NamedTuple):
    """One split of the offline birds: ``images`` ``float32`` ``(N, S, S, 3)`` in ``[-1, 1]``, ``captions``
    (``N`` lists of 10 strings), ``embeddings`` ``float32`` ``(N, 10, 1024)`` (:func:`gancourse.text.encode_captions`
    of the captions), ``class_ids`` ``int32`` ``(N,)`` (``body * 6 + wing``) and ``birds`` (:class:`Birds`)."""

    images: np.ndarray
    captions: list
    embeddings: np.ndarray
    class_ids: np.ndarray
    birds: Birds


def split_birds(split: str) -> Birds:
    """The birds of ``split``: every colour pair of the split (:data:`TRAIN_CLASSES` or :data:`TEST_CLASSES`) with
    every size, pose and background 4 times, class-major (48 consecutive birds per pair)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_birds; choose one of {', '.join(SPLITS)}")
    classes = np.array(TRAIN_CLASSES if split == "train" else TEST_CLASSES)
    combos = len(SIZES) * len(POSES) * len(BACKGROUNDS)
    c = np.repeat(classes, PER_CLASS)
    k = np.tile(np.arange(PER_CLASS) % combos, len(classes))
    return make_birds(c // len(WING_COLOURS), c % len(WING_COLOURS), k // (len(POSES) * len(BACKGROUNDS)),
                      (k // len(BACKGROUNDS)) % len(POSES), k % len(BACKGROUNDS))


@functools.lru_cache(maxsize=2)
def _split_captions(split: str):
    from gancourse.text import encode_captions

    birds = split_birds(split)
    captions = captions_for(birds, CAPTIONS_PER_IMAGE, seed=(RENDERER_VERSION, 20 + _SPLIT_SEED[split]))
    embeddings = encode_captions([c for per_bird in captions for c in per_bird])
    return birds, captions, embeddings.reshape(len(birds), CAPTIONS_PER_IMAGE, -1)


@functools.lru_cache(maxsize=4)
def _offline(split: str, size: int) -> BirdSet:
    birds, captions, embeddings = _split_captions(split)
    images = render_birds(birds, size, seed=(RENDERER_VERSION, 10 + _SPLIT_SEED[split]))
    result = BirdSet(images, captions, embeddings, birds.class_ids, birds)
    for array in (images, embeddings, result.class_ids):
        array.flags.writeable = False  # shared by every caller (cached)
    return result


def offline_birds(split: str = "train", size: int = 64) -> BirdSet:
    """The fixed offline birds of ``split`` at ``size`` pixels (cached, read-only arrays).

    ``train``: the 30 colour pairs of :data:`TRAIN_CLASSES` x 48 birds (1,440);
    ``test``: the 6 held-out pairs of :data:`TEST_CLASSES` x 48 (288). Each pair
    has every size x pose x background 4 times, each with its own nuisance, and
    every bird 10 captions and their embeddings.

    Raises:
        ValueError: unknown split or a size below 8.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_birds; choose one of {', '.join(SPLITS)}")
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} pixels, got {size}")
    return _offline(split, int(size))


def offline_dataset(split: str, cfg, *, shuffle: bool = True):
    """:func:`offline_birds` as ``captions`` batches ``(lr, hr, embedding, class_id)``
    (:func:`gancourse.data.captioned.from_arrays`): Stage-II images of ``4 * cfg.image_size`` pixels."""
    from gancourse.data import captioned

    birds = offline_birds(split, captioned.STAGE2_SCALE * int(cfg.image_size))
    return captioned.from_arrays(birds.images, birds.embeddings, birds.class_ids, cfg, shuffle=shuffle)
