"""Plots: image grids with correct de-normalisation, training curves.

Images in gancourse are float ``[-1, 1]`` (a ``tanh`` generator's range);
:func:`to_uint8` maps them to displayable ``uint8`` with ``(x + 1) / 2 * 255``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map float images in ``value_range`` to ``uint8`` ``[0, 255]`` (values outside are clipped)."""
    low, high = value_range
    if high <= low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    x = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def grid(images: np.ndarray, ncols: int | None = None, pad: int = 1,
         value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Tile ``(n, H, W, C)`` images into one ``uint8`` image of ``ceil(n / ncols)`` rows.

    A ``(rows, cols, H, W, C)`` array keeps its own layout (e.g. rows input /
    output / target of a translation model). Greyscale (C = 1) gives a
    ``(rows*H, cols*W)`` array; colour gives ``(..., 3)``.
    """
    images = np.asarray(images)
    if images.ndim == 5:
        if ncols not in (None, images.shape[1]):
            raise ValueError(f"a (rows, cols, H, W, C) array has {images.shape[1]} columns, not ncols={ncols}")
        ncols = images.shape[1]
        images = images.reshape((-1,) + images.shape[2:])
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (n, H, W, 1|3), got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, dtype=np.uint8)
    tiles = to_uint8(images, value_range)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = tiles[i]
    return out[..., 0] if c == 1 else out


def save_grid(images: np.ndarray, path: str | Path, ncols: int | None = None) -> Path:
    """Write :func:`grid` of ``images`` as a PNG file."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid(images, ncols)).save(path)
    return path


def show_grid(images: np.ndarray, ax=None, title: str | None = None, ncols: int | None = None,
              value_range: tuple[float, float] = (-1.0, 1.0)):
    """Draw :func:`grid` of ``images`` on a matplotlib axis (a new figure when ``None``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    tiled = grid(images, ncols, value_range=value_range)
    ax.imshow(tiled, cmap="gray" if tiled.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_rows(rows: dict, ax=None, title: str | None = None, value_range: tuple[float, float] = (-1.0, 1.0)):
    """Draw image rows with their names on the left: ``{"input": (n, H, W, C), "output": ..., ...}``.

    Every row must hold the same number of images of the same shape; used for
    translation triptychs (input / output / target) and side-by-side comparisons.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows is empty: pass {name: images, ...}")
    arrays = [np.asarray(v) for v in rows.values()]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"every row needs the same (n, H, W, C) shape, got {sorted(shapes)}")
    stacked = np.stack(arrays)
    if stacked.ndim == 4:
        stacked = stacked[..., None]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * stacked.shape[1] + 1, 1.1 * stacked.shape[0]))
    show_grid(stacked, ax=ax, title=title, value_range=value_range)
    ax.set_axis_on()  # for the row names; no frame, no x ticks
    height = stacked.shape[2] + 1
    ax.set_yticks([1 + height * (i + 0.5) for i in range(len(arrays))], list(rows))
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return ax


def show_evolution(images_by_epoch: dict[int, np.ndarray], n: int = 8, max_columns: int = 6):
    """One grid per recorded epoch, side by side: the same noise as training goes on."""
    import matplotlib.pyplot as plt

    epochs = sorted(images_by_epoch)
    if not epochs:
        raise ValueError("no sample images were recorded")
    if len(epochs) > max_columns:
        picks = np.linspace(0, len(epochs) - 1, max_columns).round().astype(int)
        epochs = [epochs[i] for i in sorted(set(picks))]
    fig, axes = plt.subplots(1, len(epochs), figsize=(2.2 * len(epochs), 2.4), squeeze=False)
    for ax, epoch in zip(axes[0], epochs):
        show_grid(images_by_epoch[epoch][:n * n] if n else images_by_epoch[epoch], ax=ax, title=f"epoch {epoch}")
    fig.tight_layout()
    return fig


def _epoch_axis(ax) -> None:
    """Label the x axis "epoch" with whole-number ticks only."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_history(history, keys=("d_loss", "g_loss"), ax=None, title: str | None = None):
    """Plot per-epoch curves from a ``keras.callbacks.History`` or a dict of lists."""
    import matplotlib.pyplot as plt

    logs = getattr(history, "history", history)
    missing = [k for k in keys if k not in logs]
    if missing:
        raise ValueError(f"history has no {', '.join(missing)}; it has {', '.join(logs)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for key in keys:
        values = logs[key]
        ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
    _epoch_axis(ax)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_metric(values_by_epoch: dict[int, float], baselines: dict[str, float] | None = None, ax=None,
                label: str = "generator", ylabel: str = "FID", title: str | None = None):
    """A per-epoch metric as a line, with reference values as dashed horizontal lines."""
    import matplotlib.pyplot as plt

    if not values_by_epoch:
        raise ValueError("no metric values were recorded")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    epochs = sorted(values_by_epoch)
    ax.plot(epochs, [values_by_epoch[e] for e in epochs], marker="o", label=label)
    for i, (name, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=name)
    _epoch_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def markdown_table(rows: list[dict], columns: list[str] | None = None, digits: int = 3) -> str:
    """A Markdown table of ``rows`` (dicts): integers with thousands separators, floats to ``digits`` places.

    Show it in a notebook with ``IPython.display.Markdown``. A ``|`` in a header
    or a cell is escaped (``\\|``), so it cannot split the cell, and a newline
    becomes a space.
    """
    if not rows:
        raise ValueError("no rows to tabulate")
    columns = list(columns or rows[0])
    missing = sorted({c for c in columns for r in rows if c not in r})
    if missing:
        raise ValueError(f"columns {missing} are missing from some rows; rows have {sorted(rows[0])}")

    def text(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    def cell(value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return text(value)
        if isinstance(value, (int, np.integer)):
            return f"{value:,}"
        return f"{value:.{digits}f}"

    lines = ["| " + " | ".join(text(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Voxel grids (3D-GAN). Axis order (x, y, z) with z up.
# ---------------------------------------------------------------------------
def _cubes(volumes, threshold: float) -> np.ndarray:
    """``(n, L, L, L)`` booleans from one ``(L, L, L)`` grid or a batch ``(n, L, L, L[, 1])``."""
    v = np.asarray(volumes)
    if v.ndim == 5 and v.shape[-1] == 1:
        v = v[..., 0]
    if v.ndim == 3:
        v = v[None]
    if v.ndim != 4 or len(set(v.shape[1:])) != 1:
        raise ValueError(f"voxel grids must be (L, L, L) or (n, L, L, L[, 1]) cubes, got shape {np.shape(volumes)}")
    return v > threshold


def voxel_images(volumes, threshold: float = 0.5, min_size: int = 64) -> np.ndarray:
    """Depth-shaded oblique pictures of voxel grids: ``(n, H, W, 1)`` float32 in ``[-1, 1]``, white background.

    A cabinet projection seen from the front (-y), above and to the right:
    voxel ``(x, y, z)`` lands on column ``x + y // 2`` and row ``z + y // 2``
    from the bottom, painted from the back to the front so that nearer
    voxels cover farther ones. Nearer voxels are lighter, and a voxel with an
    empty cell above it shows a lit top. Pure NumPy (64 grids of 64^3 in a
    fraction of a second), for sample grids during training; see
    :func:`show_voxels` for surfaces.
    """
    v = _cubes(volumes, threshold)
    n, side = v.shape[0], v.shape[1]
    shift = side // 2
    size = side + shift
    top = v & ~np.concatenate([v[..., 1:], np.zeros_like(v[..., :1])], axis=-1)  # nothing directly above
    canvas = np.ones((n, size, size), np.float32)
    for y in range(side - 1, -1, -1):  # back to front
        d = y // 2
        occupied = v[:, :, y, :]  # (n, x, z)
        shade = -0.85 + 0.9 * (1.0 - y / side) + 0.45 * top[:, :, y, :]
        region = canvas[:, d:d + side, d:d + side]  # columns x + d, rows (from the bottom) z + d
        np.copyto(region, shade.astype(np.float32), where=occupied)
    pictures = np.flip(np.transpose(canvas, (0, 2, 1)), axis=1)  # rows top-down
    factor = max(1, -(-min_size // size))
    pictures = np.repeat(np.repeat(pictures, factor, axis=1), factor, axis=2)
    return np.ascontiguousarray(pictures[..., None])


def voxel_surface(ax, volume, threshold: float = 0.5, color: str = "tab:blue", title: str | None = None):
    """Draw the ``threshold`` iso-surface of one voxel grid on a 3-D axis (marching cubes, Lorensen and
    Cline 1987, from scikit-image), shaded by matplotlib's light source. An empty grid is labelled as such."""
    from skimage.measure import marching_cubes

    grid3 = np.asarray(volume, dtype=np.float32)
    if grid3.ndim == 4 and grid3.shape[-1] == 1:
        grid3 = grid3[..., 0]
    if grid3.ndim != 3 or len(set(grid3.shape)) != 1:
        raise ValueError(f"voxel_surface draws one (L, L, L) grid, got shape {np.shape(volume)}")
    side = grid3.shape[0]
    if (grid3 > threshold).any():
        verts, faces, _, _ = marching_cubes(np.pad(grid3, 1), level=threshold)
        verts = verts - 1.0
        ax.plot_trisurf(verts[:, 0], verts[:, 1], faces, verts[:, 2], color=color, linewidth=0, shade=True)
    else:
        ax.text(side / 2, side / 2, side / 2, "empty", ha="center")
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(0, side)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=25, azim=-60)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_voxels(volumes, titles=None, ncols: int = 4, threshold: float = 0.5, size: float = 2.2,
                color: str = "tab:blue"):
    """A figure of :func:`voxel_surface` renders, one per grid, ``ncols`` per row; ``titles`` one per grid."""
    import matplotlib.pyplot as plt

    v = np.asarray(volumes, dtype=np.float32)
    v = v[..., 0] if v.ndim == 5 else v
    v = v[None] if v.ndim == 3 else v
    if v.ndim != 4:
        raise ValueError(f"volumes must be (n, L, L, L[, 1]), got shape {np.shape(volumes)}")
    titles = list(titles) if titles is not None else [None] * len(v)
    if len(titles) != len(v):
        raise ValueError(f"got {len(titles)} titles for {len(v)} grids")
    ncols = max(1, min(ncols, len(v)))
    nrows = -(-len(v) // ncols)
    fig = plt.figure(figsize=(size * ncols, size * nrows))
    for i, (grid3, title) in enumerate(zip(v, titles)):
        voxel_surface(fig.add_subplot(nrows, ncols, i + 1, projection="3d"), grid3, threshold, color, title)
    fig.tight_layout()
    return fig
