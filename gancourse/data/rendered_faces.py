"""Offline faces whose identity and age are known: a procedural face renderer and fixed train/test sets.

Real face datasets give an age label but no way to check what a face-aging
model did to a face: whether the output really shows the requested age, and
whether it is still the same person. Rendered faces give both for free. Each
face is drawn from two independent sets of parameters:

* the **identity** (:class:`Identities`, drawn by :func:`random_identities`):
  the features of :data:`IDENTITY_FEATURES` - face shape (width and how square
  it is), skin tone, eye spacing, eye colour, nose (length and width), mouth
  (width and lip thickness), hair colour and hair style (short, long or
  voluminous, and its volume);
* the **age group** (0-5, the six groups of :mod:`gancourse.data.ages`), which
  sets only the features of :data:`AGE_FEATURES`: the jaw (a child's short,
  round lower face; a longer, then wider one with age), the hairline (low in
  children, receding from the forties, nearly bald at 60+), grey hair (from
  the thirties, almost white at 60+) and wrinkles (forehead lines, lines from
  the nose to the mouth, crow's feet and, from 50, lines below the mouth
  corners).

An age never moves an identity feature: the eyes, brows, nose and mouth of one
identity are the same pixels at every age (without nuisance), and an identity
never changes an age feature's value (:func:`face_attributes` gives both).
``render_faces(..., seed=s)`` adds a nuisance that is neither identity nor
age: a shift of up to 1.5 pixels and a slight change of brightness and of its
left-right balance.

The renderer is vectorised NumPy: every shape is an anti-aliased soft mask
computed from an approximate signed distance, and the small features (eyes,
nose, mouth, lines) are computed only on the rows and columns they can reach,
64 faces at a time. 2,000 faces at 64 px take about 1.2 s of CPU time (measured
on a busy 2-core machine).

:func:`offline_faces` gives the fixed sets the ``offline_faces`` dataset serves:
``train`` has :data:`N_IDENTITIES` ``["train"]`` identities at all six ages,
each rendered :data:`NUISANCE_DRAWS` ``["train"]`` times with different
nuisance; ``test`` has other identities (drawn from another random stream,
numbered after the training ones) at all six ages, rendered once. A test
identity is never a training identity, so an evaluator trained on ``train``
and scored on ``test`` is scored on people it has never seen.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from gancourse.data.ages import N_AGES, one_hot
from gancourse.data.pipeline import image_dataset

#: Bumped whenever the pictures change; the caches of models trained on rendered faces are keyed by it.
RENDERER_VERSION = 2
SPLITS = ("train", "test")
#: Identities per split.
N_IDENTITIES = {"train": 240, "test": 60}
#: Renderings of every (identity, age) per split, each with its own nuisance.
NUISANCE_DRAWS = {"train": 2, "test": 1}
_SPLIT_SEED = {"train": 0, "test": 1}
MIN_SIZE = 16

#: The identity features and the :class:`Identities` fields that hold them.
IDENTITY_FEATURES = {
    "face shape": ("face_width", "face_squareness"),
    "skin tone": ("skin",),
    "eye spacing": ("eye_spacing",),
    "eye colour": ("eye_colour",),
    "nose": ("nose_length", "nose_width"),
    "mouth": ("mouth_width", "lip_thickness"),
    "hair colour": ("hair_colour",),
    "hair style": ("hair_style", "hair_volume", "hair_parting"),
}
#: The age features: their value in each of the six age groups (see :func:`face_attributes`).
AGE_FEATURES = {
    "jaw": (0.50, 0.63, 0.66, 0.69, 0.72, 0.75),  # chin below the face centre (face heights are about 1.3)
    "jaw_width": (0.88, 1.0, 1.0, 1.03, 1.06, 1.09),  # lower face width / upper face width (jowls)
    "hairline": (0.27, 0.35, 0.40, 0.46, 0.53, 0.61),  # hairline above the face centre
    "recession": (0.3, 0.3, 0.15, -0.05, -0.3, -0.6),  # temples: > 0 hair comes down, < 0 recedes
    "grey hair": (0.0, 0.0, 0.12, 0.35, 0.62, 0.9),  # mix of the hair colour with silver
    "wrinkles": (0.0, 0.0, 0.3, 0.55, 0.8, 1.0),  # lines appear at 0.3, 0.55, 0.8; darker with the value
}
HAIR_STYLES = ("short", "long", "voluminous")

_SKIN = np.array([[0.98, 0.84, 0.74], [0.87, 0.66, 0.50], [0.62, 0.43, 0.30], [0.40, 0.27, 0.19]], np.float32)
_EYES = np.array([[0.40, 0.24, 0.12], [0.22, 0.13, 0.07], [0.28, 0.48, 0.78], [0.30, 0.55, 0.35],
                  [0.50, 0.56, 0.62], [0.55, 0.45, 0.20]], np.float32)
_HAIR = np.array([[0.08, 0.07, 0.06], [0.24, 0.15, 0.09], [0.45, 0.29, 0.16], [0.58, 0.26, 0.11],
                  [0.86, 0.72, 0.44], [0.64, 0.50, 0.32], [0.75, 0.35, 0.15]], np.float32)
_SILVER = np.array([0.84, 0.84, 0.86], np.float32)
_BACKGROUND = np.array([0.70, 0.76, 0.82], np.float32)
_SHIRT = np.array([0.25, 0.30, 0.40], np.float32)
_LIPS = np.array([0.78, 0.32, 0.32], np.float32)
_CENTRE_Y = 0.08  # the face centre (between the cheeks), in [-1, 1] image coordinates, y down
_EYE_Y, _BROW_Y, _MOUTH_Y = -0.05, -0.17, 0.34  # relative to the face centre
_MAX_SHIFT = 1.5  # nuisance shift, pixels


@dataclasses.dataclass(frozen=True)
class Identities:
    """Identity parameters, one row per identity (arrays of length ``n``; colours ``(n, 3)`` in ``[0, 1]``).

    Lengths are in image coordinates (the image spans ``[-1, 1]``). Index it
    like an array (``ids[3]``, ``ids[:10]``, ``ids[[0, 0, 1]]``) to get another
    :class:`Identities`; :meth:`repeat` repeats every row.
    """

    face_width: np.ndarray
    face_squareness: np.ndarray
    skin: np.ndarray
    eye_spacing: np.ndarray
    eye_colour: np.ndarray
    nose_length: np.ndarray
    nose_width: np.ndarray
    mouth_width: np.ndarray
    lip_thickness: np.ndarray
    hair_colour: np.ndarray
    hair_style: np.ndarray
    hair_volume: np.ndarray
    hair_parting: np.ndarray

    def __len__(self) -> int:
        return len(self.face_width)

    def __getitem__(self, index) -> "Identities":
        if np.isscalar(index):
            index = [index]
        return Identities(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def repeat(self, k: int) -> "Identities":
        """Every identity ``k`` times in a row (``ids.repeat(6)`` pairs with ``np.tile(np.arange(6), n)``)."""
        return self[np.repeat(np.arange(len(self)), int(k))]


def random_identities(n: int, seed: int = 0) -> Identities:
    """``n`` random identities drawn from ``seed`` (the same seed gives the same people).

    Raises:
        ValueError: ``n < 0``.
    """
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    n = int(n)
    rng = np.random.default_rng(seed)

    def palette(colours, jitter):
        return np.clip(colours[rng.integers(len(colours), size=n)] + rng.uniform(-jitter, jitter, (n, 3)), 0, 1)

    tone = rng.uniform(0, len(_SKIN) - 1, n)  # a point on the line through the skin anchors
    low = np.minimum(tone.astype(int), len(_SKIN) - 2)
    skin = _SKIN[low] + (tone - low)[:, None] * (_SKIN[low + 1] - _SKIN[low])
    f32 = np.float32
    return Identities(
        face_width=rng.uniform(0.48, 0.60, n).astype(f32),
        face_squareness=rng.uniform(0.0, 1.0, n).astype(f32),
        skin=np.clip(skin + rng.uniform(-0.02, 0.02, (n, 3)), 0, 1).astype(f32),
        eye_spacing=rng.uniform(0.19, 0.27, n).astype(f32),
        eye_colour=palette(_EYES, 0.05).astype(f32),
        nose_length=rng.uniform(0.12, 0.22, n).astype(f32),
        nose_width=rng.uniform(0.05, 0.10, n).astype(f32),
        mouth_width=rng.uniform(0.10, 0.17, n).astype(f32),
        lip_thickness=rng.uniform(0.022, 0.045, n).astype(f32),
        hair_colour=palette(_HAIR, 0.04).astype(f32),
        hair_style=rng.integers(len(HAIR_STYLES), size=n).astype(np.int32),
        hair_volume=rng.uniform(0.0, 0.08, n).astype(f32),
        hair_parting=rng.uniform(-0.12, 0.12, n).astype(f32),
    )


def _check_ages(ages, n: int) -> np.ndarray:
    ages = np.asarray(ages)
    if ages.ndim == 0:
        ages = np.full(n, ages)
    if ages.shape != (n,):
        raise ValueError(f"ages must be one age group per identity ({n}), got shape {ages.shape}")
    if ages.size and (not np.issubdtype(ages.dtype, np.integer) or ages.min() < 0 or ages.max() >= N_AGES):
        raise ValueError(f"ages must be integer age groups 0-{N_AGES - 1} (gancourse.data.ages), got {ages!r}")
    return ages.astype(np.int64)


def _age_table(name: str, ages: np.ndarray) -> np.ndarray:
    return np.asarray(AGE_FEATURES[name], np.float32)[ages]


def hair_colour(identities: Identities, ages) -> np.ndarray:
    """``(n, 3)`` rendered hair colour: the identity's colour mixed with silver by the age's ``grey hair``."""
    grey = _age_table("grey hair", _check_ages(ages, len(identities)))[:, None]
    return (identities.hair_colour * (1 - grey) + _SILVER * grey).astype(np.float32)


def face_attributes(identities: Identities, ages) -> dict[str, np.ndarray]:
    """Every parameter a face is drawn with: ``{name: array with one row per face}``.

    The identity fields (see :data:`IDENTITY_FEATURES`), the age features
    (the keys of :data:`AGE_FEATURES`), ``"age"`` and ``"hair_rgb"`` (the
    rendered hair colour, :func:`hair_colour`).
    """
    ages = _check_ages(ages, len(identities))
    attributes = {f.name: getattr(identities, f.name) for f in dataclasses.fields(identities)}
    attributes.update({name: _age_table(name, ages) for name in AGE_FEATURES})
    attributes["age"] = ages.astype(np.int32)
    attributes["hair_rgb"] = hair_colour(identities, ages)
    return attributes


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------
class _Canvas:
    """``n`` images being painted (channels first), with per-face centres as ``(n, 1, 1)`` columns.

    Every shape is computed and blended only inside a window: the rows and
    columns that the shape can reach on any face, nuisance shift included.
    """

    def __init__(self, n: int, size: int, cx: np.ndarray, cy: np.ndarray):
        self.size, self.px = size, 2.0 / size
        self.coords = ((np.arange(size, dtype=np.float32) + 0.5) * self.px - 1.0)
        self.cx, self.cy = cx[:, None, None], cy[:, None, None]
        self.image = np.empty((3, n, size, size), np.float32)  # channels first: fast blends per plane
        self.image[:] = (_BACKGROUND[:, None, None, None]
                         * (1.0 - 0.12 * (self.coords[None, None, :, None] + 1) / 2))

    def _span(self, lo: float, hi: float) -> slice:
        margin = _MAX_SHIFT + 2
        first = int(np.floor((lo + 1) / self.px - 0.5 - margin))
        last = int(np.ceil((hi + 1) / self.px - 0.5 + margin))
        return slice(max(0, first), min(self.size, last + 1))

    def window(self, v0: float, v1: float, half_width: float = 2.0) -> tuple[slice, slice]:
        """Rows and columns that can hold face-relative heights ``[v0, v1]`` and ``|u| <= half_width``."""
        return self._span(_CENTRE_Y + v0, _CENTRE_Y + v1), self._span(-half_width, half_width)

    def grid(self, window) -> tuple[np.ndarray, np.ndarray]:
        """Face-relative ``u`` ``(n, 1, w)`` and ``v`` ``(n, h, 1)`` of ``window``."""
        rows, cols = window
        return self.coords[None, None, cols] - self.cx, self.coords[None, rows, None] - self.cy

    def cover(self, distance: np.ndarray) -> np.ndarray:
        """Anti-aliased coverage of a shape from its signed distance (negative inside)."""
        return np.clip(0.5 - distance * (1.0 / self.px), 0.0, 1.0)

    def line(self, distance: np.ndarray, width: float = 0.028) -> np.ndarray:
        """Coverage of a line of ``width`` along the zero set of ``distance``."""
        return self.cover(np.abs(distance) - width / 2)

    def paint(self, window, alpha: np.ndarray, colour: np.ndarray, shade: np.ndarray | None = None) -> None:
        """Blend ``colour`` (``(3,)`` or ``(n, 3)``, times ``shade`` if given) over ``window`` with ``alpha``."""
        rows, cols = window
        colour = np.asarray(colour, np.float32)
        keep = 1.0 - alpha  # exact where alpha is 1: what lies below leaves no trace
        if shade is not None:
            alpha = alpha * shade
        for channel in range(3):
            band = self.image[channel, :, rows, cols]
            value = colour[..., channel]
            band *= keep
            band += alpha * (value[:, None, None] if value.ndim else value)


def _ellipse(u, v, a, b, square=None):
    """Approximate signed distance to an ellipse with half-axes ``a``, ``b``; ``square`` in ``[0, 1]`` blends
    the radius towards the 4-norm's (a squarer outline)."""
    x, y = (u / a) ** 2, (v / b) ** 2
    r = np.sqrt(x + y)
    if square is not None:
        r += square * (np.sqrt(np.sqrt(x * x + y * y)) - r)
    return (r - 1.0) * np.minimum(a, b)


def _segment(u, v, u0, v0, u1, v1):
    """Distance to the segment from ``(u0, v0)`` to ``(u1, v1)``."""
    du, dv = u1 - u0, v1 - v0
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv), 0.0, 1.0)
    return np.hypot(u - u0 - t * du, v - v0 - t * dv)


def _col(x) -> np.ndarray:
    return np.asarray(x, np.float32)[:, None, None]


def _draw(c: _Canvas, ids: Identities, ages: np.ndarray) -> None:
    fw, sq = _col(ids.face_width), _col(ids.face_squareness)
    skin, hair = ids.skin, hair_colour(ids, ages)
    jaw, jaw_w = _col(_age_table("jaw", ages)), _col(_age_table("jaw_width", ages))
    hairline, recession = _col(_age_table("hairline", ages)), _col(_age_table("recession", ages))
    wrinkles = _col(_age_table("wrinkles", ages))
    style, volume, parting = ids.hair_style[:, None, None], _col(ids.hair_volume), _col(ids.hair_parting)
    # short: a close cap above the ears; long: the cap and hair down to the shoulders; voluminous: a big cap
    cap_width = fw + np.where(style == 2, 0.13, np.where(style == 1, 0.06, 0.03)) + volume
    cap_height = 0.58 + np.where(style == 2, 0.1, 0.02) + volume
    cap_bottom = np.where(style == 0, -0.12, np.where(style == 1, 0.02, 0.14))

    # Behind the face: shirt, long hair, neck, ears.
    win = c.window(0.6, 1.2)
    u, v = c.grid(win)
    c.paint(win, c.cover(0.80 + 0.3 * u * u - v), _SHIRT)
    win = c.window(-0.95, 0.85, 0.80)
    u, v = c.grid(win)
    c.paint(win, c.cover(_ellipse(u, v + 0.05, fw + 0.16, 0.85)) * (style == 1), hair * 0.9)
    win = c.window(0.15, 1.2, 0.40)
    u, v = c.grid(win)
    c.paint(win, c.cover(np.maximum(np.abs(u) - 0.55 * fw, 0.2 - v)), skin * 0.82)
    win = c.window(-0.12, 0.16, 0.70)
    u, v = c.grid(win)
    c.paint(win, c.cover(_ellipse(np.abs(u) - fw, v - 0.02, 0.07, 0.12)) * (style == 0), skin * 0.9)

    # The face: upper half fixed by the identity, lower half (jaw) by the age; shaded by the identity only.
    head = c.window(-0.95, 0.8, 0.82)
    u, v = c.grid(head)
    au = np.abs(u)
    lower = v > 0
    face_d = _ellipse(u, v, np.where(lower, fw * jaw_w, fw), np.where(lower, jaw, 0.66), sq)
    c.paint(head, c.cover(face_d), skin, shade=1.0 - 0.22 * np.minimum(au / fw, 1.0) ** 3)

    # Forehead lines (on the skin, under the hair).
    wrinkle_colour = skin * 0.66
    fwin = c.window(-0.5, -0.15, 0.35)
    fu, fv = c.grid(fwin)
    fore = np.zeros(np.broadcast_shapes(fu.shape, fv.shape), np.float32)
    for k, offset in enumerate((0.25, 0.31, 0.37)):
        curve = fv + offset + 0.05 * (fu / 0.3) ** 2
        fore = np.maximum(fore, c.line(curve) * c.cover(np.abs(fu) - 0.28) * (wrinkles >= (0.3, 0.55, 0.8)[k]))
    c.paint(fwin, fore * (0.3 + 0.6 * wrinkles), wrinkle_colour)

    # Hair on the head: a cap around the top of the face, minus the forehead below the hairline.
    cap = c.cover(np.maximum(_ellipse(u, v + 0.1, cap_width, cap_height), v - cap_bottom))
    side = u - parting
    forehead = c.cover(np.maximum(face_d, -hairline + recession * side * side - v))
    c.paint(head, cap * (1 - forehead), hair)

    _features(c, ids, wrinkles, wrinkle_colour)


def _features(c: _Canvas, ids: Identities, wrinkles, wrinkle_colour) -> None:
    es, nl, nw = _col(ids.eye_spacing), _col(ids.nose_length), _col(ids.nose_width)
    mw, lip = _col(ids.mouth_width), _col(ids.lip_thickness)
    skin = ids.skin
    ew, eh = 0.095, 0.052

    # Brows and eyes (both eyes at once: the face is symmetric in |u|).
    win = c.window(_BROW_Y - 0.08, _EYE_Y + 0.08, 0.56)
    u, v = c.grid(win)
    au = np.abs(u)
    t = (au - es) / (ew + 0.02)
    c.paint(win, c.line(v - _BROW_Y + 0.03 * (1 - t * t), 0.035) * c.cover(np.abs(t) - 1), ids.hair_colour * 0.75)
    eye_d = _ellipse(au - es, v - _EYE_Y, ew, eh)
    white = c.cover(eye_d)
    c.paint(win, white, np.array([0.96, 0.96, 0.95], np.float32))
    centre = np.hypot(au - es, v - _EYE_Y)
    c.paint(win, c.cover(centre - 0.042) * white, ids.eye_colour)
    c.paint(win, c.cover(centre - 0.017) * white, np.zeros(3, np.float32))
    c.paint(win, c.line(eye_d, 0.02) * (v < _EYE_Y + 0.01), skin * 0.35)
    # crow's feet: short lines fanning out from the outer corners
    x0 = es + ew + 0.05
    feet = np.zeros_like(white)
    for k, slope in enumerate((-0.5, 0.0, 0.5)):
        seg = _segment(au, v, x0, _EYE_Y + 0.02 * slope, x0 + 0.08, _EYE_Y + 0.06 * slope)
        feet = np.maximum(feet, c.line(seg, 0.024) * (wrinkles >= (0.55, 0.3, 0.8)[k]))
    c.paint(win, feet * (0.3 + 0.6 * wrinkles), wrinkle_colour)

    # Nose: a shaded side of the bridge, the tip and two nostrils.
    win = c.window(0.0, 0.3, 0.16)
    u, v = c.grid(win)
    c.paint(win, c.line(_segment(u, v, 0.03, _EYE_Y + 0.06, nw * 0.6, nl - 0.02), 0.02) * 0.35, skin * 0.7)
    c.paint(win, c.cover(_ellipse(u, v - nl, nw, 0.04)) * 0.45, skin * 0.78)
    c.paint(win, c.cover(_ellipse(np.abs(u) - nw * 0.55, v - nl - 0.012, 0.02, 0.012)), skin * 0.35)

    # Mouth, and the lines beside the nose and below the mouth corners.
    win = c.window(0.08, _MOUTH_Y + 0.2, 0.36)
    u, v = c.grid(win)
    au = np.abs(u)
    c.paint(win, c.cover(_ellipse(u, v - _MOUTH_Y, mw, lip)), skin * 0.45 + _LIPS * 0.55)
    c.paint(win, c.line(v - _MOUTH_Y + 0.008 * (1 - (u / mw) ** 2), 0.016) * c.cover(au - mw), skin * 0.3)
    fold = _segment(au, v, np.maximum(nw + 0.07, mw + 0.06), nl - 0.01, mw + 0.09, _MOUTH_Y + 0.07)
    marionette = _segment(au, v, mw + 0.06, _MOUTH_Y + 0.06, mw + 0.08, _MOUTH_Y + 0.15)
    lines = np.maximum(c.line(fold) * (wrinkles >= 0.3), c.line(marionette) * (wrinkles >= 0.8))
    c.paint(win, lines * (0.3 + 0.6 * wrinkles), wrinkle_colour)


def render_faces(identities: Identities, ages, size: int = 64, seed: int | None = None) -> np.ndarray:
    """Faces of ``identities`` at age groups ``ages``: ``float32`` ``(n, size, size, 3)`` in ``[-1, 1]``.

    Args:
        identities: one row per face (:func:`random_identities`, indexed or
            :meth:`Identities.repeat`-ed to pair identities with ages).
        ages: integer age groups 0-5, one per identity (or one for all).
        size: image side in pixels (at least 16).
        seed: ``None`` renders every face centred with neutral light; a seed
            draws a nuisance per face (a shift of up to 1.5 pixels, brightness
            x 0.92-1.06 and a left-right light gradient of up to 6%).

    Raises:
        ValueError: ages outside 0-5 or not one per identity, or a size below 16.
    """
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} pixels, got {size}")
    size, n = int(size), len(identities)
    ages = _check_ages(ages, n)
    px = 2.0 / size
    if seed is None:
        shift, gain, tilt = np.zeros((2, n), np.float32), np.ones(n, np.float32), np.zeros(n, np.float32)
    else:
        rng = np.random.default_rng(seed)
        shift = rng.uniform(-_MAX_SHIFT, _MAX_SHIFT, (2, n)).astype(np.float32) * px
        gain, tilt = rng.uniform(0.92, 1.06, n).astype(np.float32), rng.uniform(-0.06, 0.06, n).astype(np.float32)
    out = np.empty((n, size, size, 3), np.float32)
    chunk = max(1, (1 << 18) // (size * size))  # 1 MB per plane: the working set stays in cache
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        canvas = _Canvas(part.stop - part.start, size, shift[0, part], _CENTRE_Y + shift[1, part])
        _draw(canvas, identities[np.arange(part.start, part.stop)], ages[part])
        light = gain[part, None, None] * (1 + tilt[part, None, None] * canvas.coords[None, None, :])
        image = canvas.image
        image *= light
        np.clip(image, 0.0, 1.0, out=image)
        image *= 2.0
        image -= 1.0
        out[part] = image.transpose(1, 2, 3, 0)
    return out


# ---------------------------------------------------------------------------
# The fixed offline sets
# ---------------------------------------------------------------------------
class FaceSet(NamedTuple):
    """Rendered faces with their labels: ``images`` float32 ``(N, S, S, 3)`` in ``[-1, 1]``, ``ages`` int32
    ``(N,)`` age groups 0-5, ``identity`` int32 ``(N,)`` person numbers (unique across splits)."""

    images: np.ndarray
    ages: np.ndarray
    identity: np.ndarray


def split_identities(split: str) -> tuple[Identities, np.ndarray]:
    """The identities of an offline split and their person numbers (train: 0-239, test: 240-299)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_faces; choose one of {', '.join(SPLITS)}")
    ids = random_identities(N_IDENTITIES[split], seed=(RENDERER_VERSION, _SPLIT_SEED[split]))
    first = 0 if split == "train" else N_IDENTITIES["train"]
    return ids, np.arange(first, first + len(ids), dtype=np.int32)


@functools.lru_cache(maxsize=4)
def _offline(split: str, size: int) -> FaceSet:
    ids, numbers = split_identities(split)
    draws = NUISANCE_DRAWS[split]
    person = np.repeat(np.arange(len(ids)), N_AGES * draws)  # identity-major: all ages and draws of one person
    ages = np.tile(np.repeat(np.arange(N_AGES), draws), len(ids)).astype(np.int32)
    images = render_faces(ids[person], ages, size, seed=(RENDERER_VERSION, 10 + _SPLIT_SEED[split]))
    faces = FaceSet(images, ages, numbers[person])
    for array in faces:
        array.flags.writeable = False  # shared by every caller (cached)
    return faces


def offline_faces(split: str = "train", size: int = 64) -> FaceSet:
    """The fixed offline faces of ``split`` at ``size`` pixels (cached, read-only arrays).

    ``train``: 240 identities x 6 ages x 2 nuisance draws (2,880 faces);
    ``test``: 60 other identities x 6 ages x 1 draw (360 faces). Faces are in
    identity-major order: all renderings of one person are consecutive.

    Raises:
        ValueError: unknown split or a size below 16.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for offline_faces; choose one of {', '.join(SPLITS)}")
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} pixels, got {size}")
    return _offline(split, int(size))


def offline_dataset(split: str, cfg, *, shuffle: bool = True):
    """:func:`offline_faces` at ``cfg.image_size`` as ``(images, one-hot ages (B, 6))`` batches of
    ``cfg.batch_size``, reshuffled every epoch with ``cfg.seed``; the last incomplete batch is dropped."""
    faces = offline_faces(split, cfg.image_size)
    return image_dataset(faces.images, cfg.batch_size, shuffle=shuffle, seed=cfg.seed, labels=one_hot(faces.ages))
