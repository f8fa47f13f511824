"""Chapter 02 (3D-GAN) exercises: references and graders."""

from __future__ import annotations

import numpy as np


def transposed_sizes(side: int, stack) -> list[int]:
    """Reference: the side of a cube after each layer of a stack of transposed convolutions.

    ``stack`` is a list of ``(kernel, stride, padding)`` with padding ``"same"`` (side times stride) or
    ``"valid"`` (``(side - 1) * stride + max(kernel, stride)``: a kernel smaller than the stride leaves gaps of
    empty outputs that still count), Keras's rules for ``Conv3DTranspose`` without ``output_padding``. Returns
    one side per layer.
    """
    sides = []
    for kernel, stride, padding in stack:
        if padding == "same":
            side = side * stride
        elif padding == "valid":
            side = (side - 1) * stride + max(kernel, stride)
        else:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        sides.append(int(side))
    return sides


def _stack_cases():
    yield "the book's generator from a 1x1x1 input", 1, [(4, 1, "valid")] + [(4, 2, "same")] * 4
    yield "the smoke generator (one block fewer per halving)", 1, [(4, 1, "valid")] + [(4, 2, "same")] * 2
    yield "valid layers with stride 2 and kernel 3", 2, [(3, 2, "valid"), (3, 2, "valid")]
    yield "a mixed stack with stride 3", 3, [(5, 1, "valid"), (2, 3, "same"), (4, 2, "valid")]
    yield "valid layers whose kernel is smaller than the stride", 2, [(2, 3, "valid"), (1, 2, "valid")]


def grade_transposed_sizes(answer) -> None:
    """Grade a reader's ``transposed_sizes``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, side, stack in _stack_cases():
        want = transposed_sizes(side, stack)
        got = [int(v) for v in answer(side, list(stack))]
        if got == want:
            continue
        hint = ""
        assert len(got) == len(want), f"{name}: expected one side per layer ({len(want)}), got {len(got)}"
        conv_ceil, conv_valid, s_ceil, s_valid = [], [], side, side
        for kernel, stride, padding in stack:
            s_ceil = -(-s_ceil // stride) if padding == "same" else (s_ceil - kernel) // stride + 1
            s_valid = (s_valid - kernel) // stride + 1
            conv_ceil.append(s_ceil)
            conv_valid.append(s_valid)
        if got in (conv_ceil, conv_valid):
            hint = " Those are the sizes of ordinary (strided) convolutions; a transposed one grows the cube."
        elif any(p == "valid" for _, _, p in stack) and got == transposed_sizes(
                side, [(k, s, "same") for k, s, _ in stack]):
            hint = (" With padding='valid' the output is (side - 1) * stride + max(kernel, stride), "
                    "not side * stride.")
        elif got == [((s0 - 1) * st + k if p == "valid" else s0 * st)
                     for s0, (k, st, p) in zip([side] + got[:-1], stack)]:
            hint = (" When the kernel is smaller than the stride, Keras's 'valid' output is (side - 1) * stride + "
                    "max(kernel, stride): the gaps between the scattered kernels count.")
        elif got == [((s0 - 1) * st + k) for s0, (k, st, _) in zip([side] + want[:-1], stack)] and want != got:
            hint = " With padding='same' the output is side * stride."
        raise AssertionError(f"{name}: expected sides {want}, got {got}.{hint}")


def voxel_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Reference: the intersection over union of the occupied voxels (value above ``threshold``) of each pair of
    grids ``a[i]``, ``b[i]`` (shapes ``(n, L, L, L)``), one float per pair; two empty grids have IoU 1."""
    a = np.asarray(a) > threshold
    b = np.asarray(b) > threshold
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    inter = np.sum(a & b, axis=1)
    union = np.sum(a | b, axis=1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def _iou_cases():
    rng = np.random.default_rng(20)
    a = (rng.uniform(size=(3, 6, 6, 6)) > 0.6).astype(np.float32)
    b = (rng.uniform(size=(3, 6, 6, 6)) > 0.6).astype(np.float32)
    yield "three random pairs of binary grids", a, b, 0.5
    probs = rng.uniform(size=(2, 5, 5, 5))
    yield "occupancy probabilities against a binary grid, threshold 0.5", probs, (probs > 0.3).astype(float), 0.5
    edge = np.full((1, 4, 4, 4), 0.5)
    edge[0, 0] = 0.9
    yield "voxels at exactly the threshold count as empty", edge, np.ones((1, 4, 4, 4)), 0.5
    p, q = rng.uniform(size=(2, 5, 5, 5)), rng.uniform(size=(2, 5, 5, 5))
    yield "two grids of probabilities, threshold 0.3", p, q, 0.3
    yield "two grids of probabilities, threshold 0.7", p, q, 0.7
    faint = np.where(rng.uniform(size=(2, 5, 5, 5)) > 0.5, 0.9, 0.2)
    yield "b with faint values between 0 and the threshold (empty), threshold 0.4", p, faint, 0.4
    empty = np.zeros((2, 4, 4, 4))
    one = empty.copy()
    one[1, 1, 1, 1] = 1
    yield "two empty grids (IoU 1) and an empty grid against one voxel (IoU 0)", empty, one, 0.5


def grade_voxel_iou(answer) -> None:
    """Grade a reader's ``voxel_iou``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, a, b, threshold in _iou_cases():
        want = voxel_iou(a, b, threshold)
        got = np.asarray(answer(a.copy(), b.copy(), threshold), np.float64)
        if got.shape == want.shape and np.allclose(got, want, equal_nan=False):
            continue
        hint = ""
        if got.size == 1 and want.size > 1:
            hint = " Return one IoU per pair (axis 0), not one for the whole batch."
        elif got.shape == want.shape and np.any(np.isnan(got)):
            hint = " Two empty grids have no union: define their IoU as 1 instead of dividing by zero."
        elif got.shape == want.shape:
            aa, bb = (np.asarray(a) >= threshold), (np.asarray(b) >= threshold)
            aa, bb = aa.reshape(len(aa), -1), bb.reshape(len(bb), -1)
            dice = 2 * np.sum((np.asarray(a) > threshold).reshape(len(a), -1) & (np.asarray(b) > threshold)
                              .reshape(len(b), -1), 1) / np.maximum(
                np.sum(np.asarray(a).reshape(len(a), -1) > threshold, 1)
                + np.sum(np.asarray(b).reshape(len(b), -1) > threshold, 1), 1)
            union = np.sum(aa | bb, 1)
            if np.allclose(got, np.where(union == 0, 1.0, np.sum(aa & bb, 1) / np.maximum(union, 1))):
                hint = " A voxel is occupied when its value is above the threshold (>), not at it."
            elif threshold != 0.5 and np.allclose(got, voxel_iou(a, b, 0.5)):
                hint = " Use the threshold argument instead of a fixed 0.5."
            elif np.allclose(got, voxel_iou(a, (np.asarray(b) > 0).astype(np.float64), threshold)):
                hint = " Threshold both grids: a value in b between 0 and the threshold is an empty cell."
            elif np.allclose(got, dice):
                hint = " That is the Dice coefficient 2|A&B| / (|A| + |B|); IoU divides by |A|B|, the union."
        raise AssertionError(f"{name}: expected {np.round(want, 4).tolist()}, got "
                             f"{np.round(got, 4).ravel().tolist()}.{hint}")


def conv3d_params(in_channels: int, filters: int, kernel: int, use_bias: bool = True) -> int:
    """Reference: the trainable parameters of ``Conv3D(filters, kernel)`` (or ``Conv3DTranspose``) on
    ``in_channels`` channels: ``kernel**3 * in_channels * filters`` weights plus one bias per filter."""
    return kernel ** 3 * in_channels * filters + (filters if use_bias else 0)


def _param_cases():
    yield "the book's first D layer: 1 -> 64 channels, kernel 4", 1, 64, 4, True
    yield "the book's G layer 2: 512 -> 256 channels, kernel 4", 512, 256, 4, True
    yield "3 -> 8 channels, kernel 3, no bias", 3, 8, 3, False
    yield "16 -> 1 channel, kernel 5", 16, 1, 5, True


def grade_conv3d_params(answer) -> None:
    """Grade a reader's ``conv3d_params``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, c, f, k, bias in _param_cases():
        want = conv3d_params(c, f, k, bias)
        got = int(answer(c, f, k, bias))
        if got == want:
            continue
        hint = ""
        if got == k * k * c * f + (f if bias else 0):
            hint = " That is a 2-D kernel (k * k); a 3-D kernel has k * k * k taps per input channel."
        elif got == k ** 3 * c * f:
            hint = " Add one bias per filter when use_bias=True."
        elif got == k ** 3 * c * f + c * f:
            hint = " There is one bias per filter (output channel), not per pair of channels."
        elif got == k ** 3 * f + (f if bias else 0):
            hint = " Each filter has a kernel for every input channel: multiply by in_channels."
        raise AssertionError(f"{name}: expected {want:,}, got {got:,}.{hint}")


def upsample_volume(volume: np.ndarray, factor: int = 2) -> np.ndarray:
    """Reference: the book's preprocessing of a 30^3 grid: pad one empty voxel on every side (32^3), then repeat
    every voxel ``factor`` times along each axis (nearest-neighbour zoom: 64^3 for 2). The dtype is kept."""
    volume = np.asarray(volume)
    padded = np.pad(volume, 1)
    for axis in range(3):
        padded = np.repeat(padded, factor, axis=axis)
    return padded


def _upsample_cases():
    rng = np.random.default_rng(22)
    yield "a random 6^3 binary grid, factor 2", (rng.uniform(size=(6, 6, 6)) > 0.5).astype(np.uint8), 2
    box = np.zeros((5, 5, 5), np.uint8)
    box[1:4, 2, 0:5] = 1
    yield "a bar touching two faces, factor 2", box, 2
    yield "a random 4^3 grid, factor 3", (rng.uniform(size=(4, 4, 4)) > 0.5).astype(np.uint8), 3


def grade_upsample_volume(answer) -> None:
    """Grade a reader's ``upsample_volume``: raise ``AssertionError`` naming the first case it gets wrong."""
    from scipy import ndimage

    for name, volume, factor in _upsample_cases():
        want = upsample_volume(volume, factor)
        got = np.asarray(answer(volume.copy(), factor))
        assert got.shape == want.shape, (f"{name}: expected shape {want.shape}, got {got.shape}"
                                         + (" (pad before zooming: (L + 2) * factor)"
                                            if got.shape == tuple(s * factor for s in volume.shape) else ""))
        if np.array_equal(got, want):
            continue
        hint = ""
        if not np.all(np.isin(got, (0, 1))):
            hint = " Values other than 0 and 1 appeared: zoom by nearest neighbour (order=0), not interpolation."
        elif np.array_equal(got, ndimage.zoom(np.pad(volume, 1), factor, order=0, mode="constant")):
            hint = (" That is scipy.ndimage.zoom(order=0) with its default grid_mode=False, which does not "
                    "repeat every voxel exactly factor times; use np.repeat along each axis.")
        raise AssertionError(f"{name}: {int(np.sum(got != want))} voxels differ from the reference.{hint}")


EXERCISES = {
    "02.transposed_sizes": ("the cube's side after each layer of a Conv3DTranspose stack", transposed_sizes,
                            grade_transposed_sizes),
    "02.voxel_iou": ("the IoU of two occupancy grids, per pair, with empty pairs at 1", voxel_iou, grade_voxel_iou),
    "02.conv3d_params": ("the parameter count of a 3-D convolution", conv3d_params, grade_conv3d_params),
    "02.upsample_volume": ("the book's preprocessing: pad 30^3 to 32^3, then nearest-neighbour zoom x2",
                           upsample_volume, grade_upsample_volume),
}
