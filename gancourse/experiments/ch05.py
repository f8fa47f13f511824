"""Chapter 05 (SRGAN): the paper's reference numbers, the exhibits of the book's defects, the up-sampling
comparison and the SRResNet-vs-SRGAN study on the offline photos."""

from __future__ import annotations

import numpy as np

#: Ledig et al. (2017), "Photo-realistic single image super-resolution using a generative adversarial network",
#: CVPR 2017 (arXiv:1609.04802), Table 2: 4x super-resolution, PSNR (dB) and SSIM on the Y channel with a 4-px
#: border crop. The PSNR values were checked against a reimplementation's README that quotes the paper
#: (github.com/JunghyunKim242/GAN_tmp, readme.md), the SSIM values of SRResNet and of SRGAN on Set5 and Set14
#: against a second one's (three decimals, as stored here). Values we could not check are ``None`` and are not
#: printed.
PAPER_TABLE_SOURCE = ("Ledig et al. (2017), Table 2 (arXiv:1609.04802); PSNR cross-checked against "
                      "github.com/JunghyunKim242/GAN_tmp readme.md")
PAPER_TABLE = {
    "Set5": {"bicubic": (28.43, None), "SRResNet": (32.05, 0.902), "SRGAN": (29.40, 0.847)},
    "Set14": {"bicubic": (25.99, None), "SRResNet": (28.49, 0.818), "SRGAN": (26.02, 0.740)},
    "BSD100": {"bicubic": (25.94, None), "SRResNet": (27.58, 0.762), "SRGAN": (25.16, None)},
}
METHODS = ("bicubic", "SRResNet", "SRGAN")


def paper_rows() -> list[dict]:
    """The paper's table as rows ``{"test set", "<method> PSNR", "<method> SSIM"}`` (``"not checked"`` where the
    value could not be verified), in the order bicubic, SRResNet, SRGAN."""
    rows = []
    for dataset, methods in PAPER_TABLE.items():
        row = {"test set": dataset}
        for method in METHODS:
            psnr, ssim = methods[method]
            row[f"{method} PSNR"] = psnr
            row[f"{method} SSIM"] = "not checked" if ssim is None else ssim
        rows.append(row)
    return rows


def paper_gaps() -> dict:
    """Per test set, SRGAN's PSNR minus SRResNet's (dB): the price in distortion the paper paid for perception."""
    return {name: round(m["SRGAN"][0] - m["SRResNet"][0], 2) for name, m in PAPER_TABLE.items()}


# -- the book's defects ------------------------------------------------------------------------------------------

def _error_of(fn) -> str:
    try:
        fn()
    except Exception as exc:  # the exhibit shows the message
        return f"{type(exc).__name__}: {exc}"
    return ""


def vgg_outputs_exhibit(image_size: int = 256) -> dict:
    """Run the book's VGG construction in Keras 3 without downloading weights (``weights=None``).

    Returns ``layer`` (the name of ``vgg.layers[9]``, the layer the book picks), ``error`` (what the book's
    ``vgg.outputs = [vgg.layers[9].output]`` raises, ``""`` if nothing), and ``shape``: that layer's output
    shape at ``image_size`` when the sub-model is built the Keras 3 way
    (``keras.Model(base.input, base.get_layer(name).output)``). The network is built without its classifier
    (``include_top=False``), whose layers come after ``layers[9]`` and would only cost time here: the
    assignment fails the same way on either.
    """
    import keras

    vgg = keras.applications.VGG19(weights=None, include_top=False, input_shape=(image_size, image_size, 3))
    layer = vgg.layers[9].name

    def assign():
        vgg.outputs = [vgg.layers[9].output]

    error = _error_of(assign)
    sub = keras.Model(vgg.input, vgg.get_layer(layer).output)
    return {"layer": layer, "error": error, "shape": tuple(sub.output.shape[1:])}


def bytescale(data: np.ndarray, low: int = 0, high: int = 255) -> np.ndarray:
    """SciPy <= 1.2's ``bytescale`` as ``toimage`` applied it to non-uint8 arrays: the array's own minimum goes to
    ``low``, its maximum to ``high``, linearly, then rounded to uint8 (uint8 input is returned unchanged)."""
    data = np.asarray(data)
    if data.dtype == np.uint8:
        return data
    cmin, cmax = float(data.min()), float(data.max())
    span = cmax - cmin if cmax > cmin else 1.0
    scaled = (data - cmin) * ((high - low) / span) + low
    return (np.clip(scaled, low, high) + 0.5).astype(np.uint8)


def legacy_imresize(image: np.ndarray, size, interp: str = "bilinear") -> np.ndarray:
    """SciPy <= 1.2's ``scipy.misc.imresize(image, size)`` for a tuple ``size`` ``(rows, cols[, channels])``:
    ``bytescale`` (on float input a per-image contrast stretch), then Pillow's resize with ``interp``; uint8 out.

    The book casts every photo to float32 before calling it, so every image it trains on is stretched to span
    0..255, whatever its own range was.
    """
    from PIL import Image

    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    if interp not in filters:
        raise ValueError(f"interp must be one of {sorted(filters)}, got {interp!r}")
    rows, cols = int(size[0]), int(size[1])
    resized = Image.fromarray(bytescale(image)).resize((cols, rows), resample=filters[interp])
    return np.asarray(resized)


def contrast_stretch_exhibit(image: np.ndarray, size=(64, 64)) -> dict:
    """The book's float ``imresize`` on a uint8 photo: returns ``book`` (cast to float32 first, as the book does)
    and ``uint8`` (the same call on the uint8 image: a plain resize), both uint8 ``size`` images, with the
    ``min``/``max``/``mean`` of the input and of each output."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"contrast_stretch_exhibit needs an (H, W, 3) uint8 photo, got {image.dtype} "
                         f"{image.shape}")
    book = legacy_imresize(image.astype(np.float32), size)
    plain = legacy_imresize(image, size)
    out = {"book": book, "uint8": plain}
    for name, im in (("input", image), ("book", book), ("uint8", plain)):
        out[f"{name}_min"], out[f"{name}_max"] = int(im.min()), int(im.max())
        out[f"{name}_mean"] = float(im.mean())
    return out


def _spectrum(image: np.ndarray, cutoff: float):
    grey = np.asarray(image, np.float64)
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    spectrum = np.fft.fft2(grey - grey.mean())
    fy = np.abs(np.fft.fftfreq(grey.shape[0]))[:, None] / 0.5
    fx = np.abs(np.fft.fftfreq(grey.shape[1]))[None, :] / 0.5
    return spectrum, (fy > cutoff) | (fx > cutoff)


def high_frequency_share(image: np.ndarray, cutoff: float) -> float:
    """The share of an image's spectral energy (mean removed, grey) at frequencies above ``cutoff`` times the
    Nyquist frequency along either axis: 0 for an image that holds no detail finer than that."""
    spectrum, high = _spectrum(image, cutoff)
    power = np.abs(spectrum) ** 2
    return float(power[high].sum() / max(power.sum(), 1e-30))


CELEBA_SHAPE = (218, 178)  # rows, columns of an aligned CelebA image


def resampling_exhibit(photo: np.ndarray, hr_size: int = 256) -> dict:
    """What the book's preprocessing does to a CelebA-shaped image, shown on a photo that has real detail.

    ``photo`` (uint8, larger than CelebA) is cropped to CelebA's aspect and shrunk (antialiased) to 218x178, the
    size of an aligned CelebA image. Returns the images ``book_hr`` (the book: the whole 218x178 image stretched
    to ``hr_size`` square by ``imresize`` on float input), ``square_hr`` (the package's ``book`` preset: the
    centre 178x178 square resized to ``hr_size``) and ``native_hr`` (the same square field of view taken from
    the full-resolution photo, shrunk to ``hr_size``: an HR image with real detail at every frequency); the
    factors by which the book stretches the columns and the rows and the aspect change; and, for each HR image,
    its ``high_frequency_share`` above the finest frequency a 178-px-wide source can hold (``cutoff``, as a
    fraction of the HR image's Nyquist frequency).
    """
    from PIL import Image

    photo = np.asarray(photo)
    rows, cols = CELEBA_SHAPE
    h = photo.shape[0]
    w = int(round(h * cols / rows))
    if photo.ndim != 3 or w > photo.shape[1] or h < rows:
        raise ValueError(f"resampling_exhibit needs an (H, W, 3) photo at least {rows} px high and "
                         f"{cols / rows:.3f} times as wide as high, got {photo.shape}")
    if hr_size <= cols:
        raise ValueError(f"hr_size must be larger than {cols} (the exhibit is about up-sampled HR images), "
                         f"got {hr_size}")
    left = (photo.shape[1] - w) // 2
    crop = photo[:, left:left + w]
    celeba = np.asarray(Image.fromarray(crop).resize((cols, rows), Image.Resampling.LANCZOS))
    book_hr = legacy_imresize(celeba.astype(np.float32), (hr_size, hr_size))
    top = (rows - cols) // 2
    square = celeba[top:top + cols]
    square_hr = np.asarray(Image.fromarray(square).resize((hr_size, hr_size), Image.Resampling.BICUBIC))
    side = w  # the same field of view as the 178x178 square, at the photo's own resolution
    native_top = int(round(top * h / rows))
    native = crop[native_top:native_top + side]
    native_hr = np.asarray(Image.fromarray(native).resize((hr_size, hr_size), Image.Resampling.LANCZOS))
    cutoff = cols / hr_size
    return {"celeba": celeba, "book_hr": book_hr, "square_hr": square_hr, "native_hr": native_hr,
            "column_stretch": hr_size / cols, "row_stretch": hr_size / rows, "aspect_change": rows / cols,
            "cutoff": cutoff,
            **{f"hf_{name}": high_frequency_share(img, cutoff)
               for name, img in (("book_hr", book_hr), ("square_hr", square_hr), ("native_hr", native_hr))}}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def objective_mismatch(logits=(-6.0, -3.0, 0.0, 3.0)) -> list[dict]:
    """The book's two adversarial objectives on a fake image, by the discriminator's pre-activation ``z``
    (``D = sigmoid(z)``): D minimises the squared error to 0 (``D ** 2``), G the cross-entropy to 1
    (``-log D``). Each row gives D, both losses and their gradients with respect to ``z``, and for comparison
    the gradient D would get from the cross-entropy its partner uses."""
    rows = []
    for z in logits:
        p = float(_sigmoid(z))
        rows.append({"pre-activation z": z, "D(G(x))": p, "D's loss (MSE to 0)": p * p,
                     "its gradient in z": 2 * p * p * (1 - p), "BCE gradient D would get": p,
                     "G's loss (BCE to 1)": float(-np.log(p)), "G's gradient in z": -(1 - p)})
    return rows


def optimal_discriminators(ratios=(0.25, 1.0, 4.0), grid: int = 200001) -> list[dict]:
    """Where real and fake images have densities ``a`` and ``b`` (``ratios`` = a / b), the D that minimises the
    book's squared error, found on a grid of D in [0, 1], beside the one that minimises the cross-entropy and the
    closed form ``a / (a + b)``: the two objectives share their optimal D and differ in how they get there."""
    d = np.linspace(0.0, 1.0, grid)
    rows = []
    for ratio in ratios:
        a, b = ratio / (1 + ratio), 1 / (1 + ratio)
        mse = a * (d - 1) ** 2 + b * d ** 2
        with np.errstate(divide="ignore"):
            bce = -(a * np.log(d) + b * np.log1p(-d))
        rows.append({"a / b": ratio, "argmin MSE": float(d[np.argmin(mse)]), "argmin BCE": float(d[np.argmin(bce)]),
                     "a / (a + b)": a})
    return rows


#: The printed tables of the book's chapter against the code it prints. ``"code"`` is filled in from the built
#: network by :func:`table_errata` where the network can tell; the others are read off the printed code.
TABLE_ERRATA = [
    {"where": "Table 5-1, pre-residual convolution", "book's table": "kernel_size=3", "code": "kernel_size=9"},
    {"where": "Table 5-2, residual block", "book's table": "conv with ReLU, then batch norm",
     "code": "conv, ReLU, batch norm (the paper: conv, batch norm, PReLU)"},
    {"where": "Up-sampling block bullets", "book's table": "activation PReLU", "code": "ReLU (PReLU imported, unused)"},
    {"where": "Table 5-4, convolution after the first up-sampling", "book's table": "input (128, 128, 256)",
     "code": "input (128, 128, 64)"},
    {"where": "Table 5-7, discriminator", "book's table": "six convolutions listed; 'each block has batch norm'",
     "code": "eight convolutions; the first has no batch norm"},
    {"where": "Discriminator head", "book's table": "two dense layers 'estimate the probability'",
     "code": "no Flatten: Dense acts per position, 16x16 outputs"},
]


# -- up-sampling: sub-pixel convolution, ICNR, nearest + conv, transposed conv -------------------------------------

def icnr_kernel(kernel: np.ndarray, scale: int) -> np.ndarray:
    """ICNR (Aitken et al. 2017): a kernel for ``C`` output channels repeated so that a convolution to
    ``C * scale**2`` channels followed by ``depth_to_space(scale)`` gives every sub-pixel position the same
    filter: at initialisation the layer equals nearest-neighbour up-sampling after a convolution."""
    kernel = np.asarray(kernel)
    return np.tile(kernel, (1, 1, 1, scale * scale))


def phase_contrast(images: np.ndarray, scale: int = 2, border: int = 4) -> float:
    """The checkerboard of an up-sampled image: the spread (max - min) of the mean over each of the
    ``scale x scale`` sub-pixel positions, divided by the mean absolute value, away from the border;
    0 when every sub-pixel position looks alike."""
    x = np.asarray(images, np.float64)
    x = x[:, border:x.shape[1] - border, border:x.shape[2] - border]
    means = np.array([x[:, i::scale, j::scale].mean() for i in range(scale) for j in range(scale)])
    return float((means.max() - means.min()) / max(np.abs(x).mean(), 1e-12))


UPSAMPLERS = ("nearest + conv", "sub-pixel conv, random init", "sub-pixel conv, ICNR init", "transposed conv")


def upsampler_outputs(image: np.ndarray, channels: int = 8, seed: int = 0) -> dict:
    """Each of the ``UPSAMPLERS`` x2, freshly initialised (Glorot uniform, zero bias: Keras's defaults; one
    seed), applied to ``image`` ``(1, H, W, C)``. Returns ``{name: (1, 2H, 2W, channels)}``."""
    import keras

    from gancourse import set_seed
    from gancourse.nn.spatial import pixel_shuffle

    image = np.asarray(image, np.float32)
    if image.ndim != 4:
        raise ValueError(f"upsampler_outputs needs a (1, H, W, C) batch, got shape {image.shape}")
    set_seed(seed)
    nearest_conv = keras.layers.Conv2D(channels, 3, padding="same")
    sub = keras.layers.Conv2D(channels * 4, 3, padding="same")
    icnr = keras.layers.Conv2D(channels * 4, 3, padding="same")
    transposed = keras.layers.Conv2DTranspose(channels, 3, strides=2, padding="same")
    up = keras.layers.UpSampling2D(2)
    out = {"nearest + conv": nearest_conv(up(image))}
    out["sub-pixel conv, random init"] = pixel_shuffle(sub(image), 2)
    icnr.build(image.shape)
    icnr.kernel.assign(icnr_kernel(np.asarray(nearest_conv.kernel), 2))
    out["sub-pixel conv, ICNR init"] = pixel_shuffle(icnr(image), 2)
    out["transposed conv"] = transposed(image)
    return {name: np.asarray(v) for name, v in out.items()}


def checkerboard_rows(outputs: dict) -> list[dict]:
    """One row per up-sampler: its :func:`phase_contrast` on a constant input."""
    return [{"up-sampler": name, "checkerboard (phase contrast)": phase_contrast(v)} for name, v in outputs.items()]


# -- the content loss's input: preprocess_input or not ---------------------------------------------------------

def preprocess_shift(images: np.ndarray, layer: str = "block3_conv3", weights: str | None = "imagenet",
                     seed: int = 0) -> dict:
    """How far VGG19 features at ``layer`` move when ``[-1, 1]`` images are fed raw (the book) instead of through
    ``keras.applications.vgg19.preprocess_input`` of ``(x + 1) * 127.5`` (what the weights were trained on).

    ``weights`` is ``"imagenet"`` (downloaded once by Keras) or ``None`` (VGG19's layers with Keras's default
    random initialisation, seeded by ``seed``: no download). Returns the per-image ``relative_change``
    ``|f(raw) - f(pre)| / |f(pre)|``, ``cosine`` (the cosine similarity of the two feature vectors: their
    directions), ``norm_ratio`` ``|f(raw)| / |f(pre)|``, and ``weights``.
    """
    import keras

    from gancourse import set_seed

    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"preprocess_shift needs RGB images (n, H, W, 3) in [-1, 1], got shape {x.shape}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    set_seed(seed)
    base = keras.applications.VGG19(weights=weights, include_top=False, input_shape=x.shape[1:])
    net = keras.Model(base.input, base.get_layer(layer).output)
    pre = keras.applications.vgg19.preprocess_input((x + 1.0) * 127.5)
    f_pre = np.asarray(net(pre), np.float64).reshape(len(x), -1)
    f_raw = np.asarray(net(x), np.float64).reshape(len(x), -1)
    norm_pre, norm_raw = np.linalg.norm(f_pre, axis=1), np.linalg.norm(f_raw, axis=1)
    return {"relative_change": np.linalg.norm(f_raw - f_pre, axis=1) / np.maximum(norm_pre, 1e-30),
            "cosine": np.sum(f_raw * f_pre, axis=1) / np.maximum(norm_pre * norm_raw, 1e-30),
            "norm_ratio": norm_raw / np.maximum(norm_pre, 1e-30), "weights": weights or "random"}
