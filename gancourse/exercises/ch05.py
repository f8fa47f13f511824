"""Chapter 05 (SRGAN) exercises: references and graders."""

from __future__ import annotations

import numpy as np

from gancourse import metrics

#: ITU-R BT.601 luma weights of RGB in [0, 1], giving Y in [16, 235] (MATLAB's rgb2ycbcr).
Y_WEIGHTS = np.array(metrics.BT601_Y)


def pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    """Reference: sub-pixel rearrangement ``(N, H, W, C * r * r)`` -> ``(N, H * r, W * r, C)``.

    Output pixel ``(h * r + i, w * r + j)``, channel ``c`` reads input pixel
    ``(h, w)``, channel ``(i * r + j) * C + c``: TensorFlow's
    ``depth_to_space`` order (``keras.ops.depth_to_space``,
    :func:`gancourse.nn.spatial.pixel_shuffle`).
    """
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] % (r * r):
        raise ValueError(f"pixel_shuffle needs (N, H, W, C * {r * r}) input, got shape {x.shape}")
    n, h, w, depth = x.shape
    c = depth // (r * r)
    return x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, c)


def _torch_order(x, r):  # PyTorch's PixelShuffle on channels-last data: channel index c * r * r + i * r + j
    n, h, w, depth = x.shape
    c = depth // (r * r)
    return x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, c)


def _shuffle_cases():
    rng = np.random.default_rng(5)
    yield "r = 2, 3 channels out, 4x4 input", rng.normal(size=(1, 4, 4, 12)), 2
    yield "r = 3, 1 channel out, 2x3 input", rng.normal(size=(1, 2, 3, 9)), 3
    yield "r = 2, a batch of 2 non-square 3x5 maps, 2 channels out", rng.normal(size=(2, 3, 5, 8)), 2


def grade_pixel_shuffle(answer) -> None:
    """Grade a reader's ``pixel_shuffle``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, x, r in _shuffle_cases():
        want = pixel_shuffle(x, r)
        got = np.asarray(answer(x.copy(), r))
        assert got.shape == want.shape, f"{name}: expected shape {want.shape}, got {got.shape}"
        if np.allclose(got, want):
            continue
        n, h, w, depth = x.shape
        hint = ""
        if np.allclose(got, _torch_order(x, r)):
            hint = (" That is PyTorch's channel order (channel c * r * r + i * r + j); depth_to_space reads "
                    "channel (i * r + j) * C + c.")
        elif np.allclose(got, x.reshape(want.shape)):
            hint = " A reshape alone keeps each input row's values in one output row: move the r x r block into space."
        elif np.allclose(got, want.reshape(n, h, r, w, r, -1).transpose(0, 1, 4, 3, 2, 5).reshape(want.shape)):
            hint = " The sub-pixel row i and column j are swapped: block (i, j) is channel group i * r + j."
        raise AssertionError(f"{name}: the pixels are not where depth_to_space puts them.{hint}")


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] of one ``(H, W, 3)`` RGB image in [-1, 1], unquantised (float64)."""
    return metrics.rgb_to_y(image, quantize=False)[0]


def psnr_y(prediction: np.ndarray, target: np.ndarray, border: int = 4) -> float:
    """Reference: PSNR (dB, peak 255) between the Y channels of two ``(H, W, 3)`` images in [-1, 1], after
    cropping ``border`` pixels from every side: the protocol of the SR literature (Ledig et al. 2017)."""
    y_pred, y_true = rgb_to_y(prediction), rgb_to_y(target)
    if border:
        y_pred, y_true = y_pred[border:-border, border:-border], y_true[border:-border, border:-border]
    mse = np.mean((y_pred - y_true) ** 2)
    return float(10.0 * np.log10(255.0 ** 2 / mse))


def _psnr(a, b, peak):
    return float(10.0 * np.log10(peak ** 2 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def _psnr_cases():
    rng = np.random.default_rng(50)
    target = np.clip(rng.normal(0, 0.4, (24, 20, 3)), -0.9, 0.9)
    yield "noise over the whole image, border 4", np.clip(target + rng.normal(0, 0.05, target.shape), -1, 1), \
        target, 4
    framed = target + 0.01 * rng.normal(size=target.shape)
    framed[:4] += 0.5
    framed[:, -4:] -= 0.5
    yield "large errors only in the 4-px frame, border 4", np.clip(framed, -1, 1), target, 4
    chroma = target.copy()
    d = rng.normal(0, 0.15, target.shape[:2])
    chroma[..., 0] += d  # red up where green goes down: a change of hue that hardly moves the luma
    chroma[..., 1] -= d * Y_WEIGHTS[0] / Y_WEIGHTS[1]
    chroma += 0.003 * rng.normal(size=target.shape)
    yield "a change of colour that barely changes the luma, border 4", chroma, target, 4
    yield "noise, border 2", np.clip(target + rng.normal(0, 0.08, target.shape), -1, 1), target, 2
    yield "noise, border 0 (no crop)", np.clip(target + rng.normal(0, 0.02, target.shape), -1, 1), target, 0


def grade_psnr_y(answer) -> None:
    """Grade a reader's ``psnr_y``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, pred, target, border in _psnr_cases():
        want = psnr_y(pred, target, border)
        got = float(answer(pred.copy(), target.copy(), border))
        if abs(got - want) < 1e-6:
            continue
        hint = ""
        crop = (slice(border, -border), slice(border, -border)) if border else (slice(None), slice(None))
        if abs(got - psnr_y(pred, target, 0)) < 1e-6:
            hint = f" That is the PSNR of the whole image: crop {border} px from every side first."
        elif abs(got - _psnr(pred[crop], target[crop], 2.0)) < 1e-6 or \
                abs(got - _psnr(pred, target, 2.0)) < 1e-6:
            hint = " That is the PSNR of the RGB values: compare the luma (Y) channels only."
        elif abs(got - _psnr(rgb_to_y(pred)[crop], rgb_to_y(target)[crop], 219.0)) < 1e-6:
            hint = " The peak is 255 (8-bit values), not 235 - 16."
        raise AssertionError(f"{name}: expected {want:.4f} dB, got {got:.4f} dB.{hint}")


def content_loss(features, hr: np.ndarray, sr: np.ndarray, scale: float = 1.0) -> float:
    """Reference: the content loss ``mean((scale * features(hr) - scale * features(sr)) ** 2)``: the mean
    squared error between the feature maps of the real and the super-resolved images (``features`` is a function
    of a batch of images; the paper's VGG54 loss uses ``scale = 1 / 12.75``)."""
    a = np.asarray(features(hr), np.float64) * scale
    b = np.asarray(features(sr), np.float64) * scale
    return float(np.mean((a - b) ** 2))


def toy_features(images: np.ndarray, seed: int = 55, channels: int = 6) -> np.ndarray:
    """A fixed, non-linear stand-in for a VGG block: a random 3x3 convolution, ReLU and 2x2 average pooling."""
    x = np.asarray(images, np.float64)
    kernel = np.random.default_rng(seed).normal(0, 0.5, (3, 3, x.shape[-1], channels))
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, h, w, channels))
    for i in range(3):
        for j in range(3):
            out += padded[:, i:i + h, j:j + w] @ kernel[i, j]
    out = np.maximum(out, 0.0)
    return out[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, channels).mean(axis=(2, 4))


def _content_cases():
    rng = np.random.default_rng(56)
    hr = rng.uniform(-1, 1, (3, 8, 8, 3))
    yield "identical images", hr, hr.copy(), 1.0
    yield "a noisy reconstruction, scale 1", hr, np.clip(hr + rng.normal(0, 0.3, hr.shape), -1, 1), 1.0
    yield "a blurred reconstruction, the paper's scale 1/12.75", hr, (hr + np.roll(hr, 1, axis=2)) / 2, 1 / 12.75


def grade_content_loss(answer) -> None:
    """Grade a reader's ``content_loss``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, hr, sr, scale in _content_cases():
        want = content_loss(toy_features, hr, sr, scale)
        got = float(answer(toy_features, hr.copy(), sr.copy(), scale))
        if abs(got - want) < 1e-9 * max(1.0, abs(want)):
            continue
        fa, fb = toy_features(hr), toy_features(sr)
        hint = ""
        if abs(got - scale ** 2 * np.mean(toy_features(hr - sr) ** 2)) < 1e-9:
            hint = " features(hr - sr) is not features(hr) - features(sr): the extractor is not linear."
        elif abs(got - np.mean((hr - sr) ** 2) * scale ** 2) < 1e-9 or abs(got - np.mean((hr - sr) ** 2)) < 1e-9:
            hint = " That is the pixel MSE: compare the feature maps of the two images."
        elif abs(got - scale * np.mean((fa - fb) ** 2)) < 1e-9:
            hint = " Scale the features before the difference is squared (the loss then scales by scale ** 2)."
        elif abs(got - scale ** 2 * np.sum((fa - fb) ** 2)) < 1e-6 * max(1.0, got):
            hint = " Take the mean over the feature map, not the sum."
        elif abs(got - np.sqrt(scale ** 2 * np.mean((fa - fb) ** 2))) < 1e-9:
            hint = " The loss is the mean squared difference, without a square root."
        raise AssertionError(f"{name}: expected {want:.6g}, got {got:.6g}.{hint}")


def best_estimate(candidates: np.ndarray, loss: str = "mse") -> np.ndarray:
    """Reference: the one image that minimises the expected ``loss`` (``"mse"`` or ``"l1"``) against
    ``candidates`` ``(K, H, W, C)``, K equally likely high-resolution images consistent with one low-resolution
    input: their pixel-wise mean for the squared error, their pixel-wise median for the absolute error."""
    candidates = np.asarray(candidates, np.float64)
    if loss == "mse":
        return candidates.mean(axis=0)
    if loss == "l1":
        return np.median(candidates, axis=0)
    raise ValueError(f"loss must be 'mse' or 'l1', got {loss!r}")


def _estimate_cases():
    rng = np.random.default_rng(57)
    stripes = np.where(np.arange(8) % 2, 1.0, -1.0)[None, :, None] * np.ones((8, 8, 1))
    shifted = np.stack([np.roll(stripes, s, axis=1) for s in range(2)])  # the same stripes, one pixel apart
    yield "two shifts of a stripe pattern, MSE", shifted, "mse"
    textures = rng.choice([-1.0, 1.0], size=(5, 6, 6, 3))
    yield "five random textures, MSE", textures, "mse"
    yield "five random textures, L1", textures, "l1"
    yield "three skewed candidates, L1", np.stack([np.full((4, 4, 1), v) for v in (-1.0, -0.8, 1.0)]), "l1"


def grade_best_estimate(answer) -> None:
    """Grade a reader's ``best_estimate``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, candidates, loss in _estimate_cases():
        want = best_estimate(candidates, loss)
        got = np.asarray(answer(candidates.copy(), loss), np.float64)
        assert got.shape == want.shape, f"{name}: expected one image of shape {want.shape}, got {got.shape}"
        if np.allclose(got, want):
            continue
        expected = {"mse": "squared error", "l1": "absolute error"}[loss]
        risk_got = np.mean([np.mean((got - c) ** 2 if loss == "mse" else np.abs(got - c)) for c in candidates])
        risk_want = np.mean([np.mean((want - c) ** 2 if loss == "mse" else np.abs(want - c)) for c in candidates])
        hint = ""
        if any(np.allclose(got, c) for c in candidates):
            hint = (" You returned one of the candidates: a sharp, plausible image, but on average further from "
                    "the others than a compromise between them.")
        elif loss == "l1" and np.allclose(got, candidates.mean(axis=0)):
            hint = " The mean minimises the squared error; for the absolute error take the median."
        elif loss == "mse" and np.allclose(got, np.median(candidates, axis=0)):
            hint = " The median minimises the absolute error; for the squared error take the mean."
        raise AssertionError(f"{name}: your image's expected {expected} is {risk_got:.4f}, the best possible "
                             f"{risk_want:.4f}.{hint}")


EXERCISES = {
    "05.pixel_shuffle": ("sub-pixel convolution's rearrangement of channels into space (depth_to_space order)",
                         pixel_shuffle, grade_pixel_shuffle),
    "05.psnr_y": ("PSNR on the Y channel with a border crop, as SR papers measure it", psnr_y, grade_psnr_y),
    "05.content_loss": ("the content (perceptual) loss: the MSE of feature maps", content_loss, grade_content_loss),
    "05.best_estimate": ("the single estimate that minimises the expected MSE or L1 over plausible images",
                         best_estimate, grade_best_estimate),
}
