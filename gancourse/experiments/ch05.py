"""Chapter 05 (SRGAN): the paper's reference numbers, the exhibits of the book's defects, the up-sampling
comparison and the SRResNet-vs-SRGAN study on the offline photos."""

from __future__ import annotations

import numpy as np

from gancourse.experiments import error_of

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
    """The paper's table as rows ``{"test set", "<method> PSNR (dB)", "<method> SSIM"}`` of strings (PSNR to
    2 decimals, SSIM to 3, ``"not checked"`` where the value could not be verified), in the order bicubic,
    SRResNet, SRGAN."""
    rows = []
    for dataset, methods in PAPER_TABLE.items():
        row = {"test set": dataset}
        for method in METHODS:
            psnr, ssim = methods[method]
            row[f"{method} PSNR (dB)"] = f"{psnr:.2f}"
            row[f"{method} SSIM"] = "not checked" if ssim is None else f"{ssim:.3f}"
        rows.append(row)
    return rows


def paper_gaps() -> dict:
    """Per test set, SRGAN's PSNR minus SRResNet's (dB): the price in distortion the paper paid for perception."""
    return {name: round(m["SRGAN"][0] - m["SRResNet"][0], 2) for name, m in PAPER_TABLE.items()}


def paper_below_bicubic() -> list[str]:
    """The test sets on which the paper's SRGAN has a lower PSNR than bicubic interpolation."""
    return [name for name, m in PAPER_TABLE.items() if m["SRGAN"][0] < m["bicubic"][0]]


# -- the book's defects ------------------------------------------------------------------------------------------

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

    error = error_of(assign)
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


def _spectrum(image: np.ndarray, cutoff):
    grey = np.asarray(image, np.float64)
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    spectrum = np.fft.fft2(grey - grey.mean())
    cut_y, cut_x = (cutoff, cutoff) if np.isscalar(cutoff) else cutoff
    fy = np.abs(np.fft.fftfreq(grey.shape[0]))[:, None] / 0.5
    fx = np.abs(np.fft.fftfreq(grey.shape[1]))[None, :] / 0.5
    return spectrum, (fy > cut_y) | (fx > cut_x)


def high_frequency_share(image: np.ndarray, cutoff) -> float:
    """The share of an image's spectral energy (mean removed, grey) at frequencies above ``cutoff`` times the
    Nyquist frequency along either axis (``cutoff`` one number, or ``(rows, columns)``): 0 for an image that
    holds no detail finer than that."""
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
    its ``high_frequency_share`` above the finest frequency its source can hold (``cutoff``, as a fraction of the
    HR image's Nyquist frequency: 178 px across for the square images; for the book's, 218 px down the rows and
    178 across the columns).
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
    cutoffs = {"book_hr": (rows / hr_size, cols / hr_size), "square_hr": cutoff, "native_hr": cutoff}
    return {"celeba": celeba, "book_hr": book_hr, "square_hr": square_hr, "native_hr": native_hr,
            "column_stretch": hr_size / cols, "row_stretch": hr_size / rows, "aspect_change": rows / cols,
            "cutoff": cutoff,
            **{f"hf_{name}": high_frequency_share(img, cutoffs[name])
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
    {"where": "Post-residual block (text)", "book's table": "activation ReLU", "code": "conv and batch norm, no "
     "activation"},
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

def preprocess_shift(images: np.ndarray, layer: str = "block3_conv3", weights: str = "imagenet",
                     width_divisor: int = 1, seed: int = 0) -> dict:
    """How far VGG19 features at ``layer`` move when ``[-1, 1]`` images are fed raw (the book) instead of
    converted as ``keras.applications.vgg19.preprocess_input((x + 1) * 127.5)`` (the input the weights were
    trained on: 0..255, BGR, ImageNet means subtracted).

    ``weights``: ``"imagenet"`` (Keras's trained VGG19, downloaded once) or ``"random"``: the offline extractor
    of the smoke profile (:func:`gancourse.nn.superres.vgg19_trunk`: the VGG19 layout, widths divided by
    ``width_divisor``, fixed random weights from ``seed``). Returns per image ``relative_change``
    ``|f(raw) - f(pre)| / |f(pre)|``, ``cosine`` (the cosine similarity of the two feature vectors: their
    directions) and ``norm_ratio`` ``|f(raw)| / |f(pre)|``, and ``weights``.
    """
    import keras

    from gancourse.nn import superres

    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"preprocess_shift needs square RGB images (n, S, S, 3) in [-1, 1], got shape {x.shape}")
    if weights == "random":
        net = superres.vgg19_trunk(layer, x.shape[1], width_divisor, seed)
    elif weights == "imagenet":
        base = keras.applications.VGG19(include_top=False, weights="imagenet", input_shape=x.shape[1:])
        net = keras.Model(base.input, base.get_layer(layer).output)
    else:
        raise ValueError(f"weights must be 'imagenet' or 'random', got {weights!r}")
    pre = keras.applications.vgg19.preprocess_input((x + 1.0) * 127.5)
    f_pre = np.asarray(net(pre), np.float64).reshape(len(x), -1)
    f_raw = np.asarray(net(x), np.float64).reshape(len(x), -1)
    norm_pre, norm_raw = np.linalg.norm(f_pre, axis=1), np.linalg.norm(f_raw, axis=1)
    return {"relative_change": np.linalg.norm(f_raw - f_pre, axis=1) / np.maximum(norm_pre, 1e-30),
            "cosine": np.sum(f_raw * f_pre, axis=1) / np.maximum(norm_pre * norm_raw, 1e-30),
            "norm_ratio": norm_raw / np.maximum(norm_pre, 1e-30), "weights": weights}


# -- why the squared error blurs ---------------------------------------------------------------------------------

def plausible_candidates(hr: np.ndarray, donors: np.ndarray) -> dict:
    """HR images that share (almost) one LR image: ``hr`` itself and, for each donor crop, the LR content of
    ``hr`` (its bicubic up-sampling) plus the donor's detail (the donor minus the up-sampling of its own LR).

    Returns ``candidates`` ``(1 + len(donors), H, W, 3)``, their pixel-wise ``mean`` (the estimate a
    squared-error loss converges to), ``lr_spread`` (the largest RMS difference between a candidate's LR image
    and ``hr``'s), ``hr_spread`` (the mean RMS difference of the candidates from ``hr``), ``mse_of_mean`` and
    ``mse_of_candidate`` (the mean squared error of the mean, and of a candidate, against the other
    candidates, on average) and ``sharpness_of_mean`` (the mean's Laplacian variance over the candidates'
    average).
    """
    from scipy import ndimage

    from gancourse.data.superres import SCALE, degrade
    from gancourse.models.srgan import bicubic

    hr = np.asarray(hr, np.float32)
    donors = np.asarray(donors, np.float32)
    if hr.ndim != 3 or donors.ndim != 4 or donors.shape[1:] != hr.shape:
        raise ValueError(f"plausible_candidates needs one (H, W, 3) image and donors (n, H, W, 3) of its size, "
                         f"got {hr.shape} and {donors.shape}")
    base = bicubic(np.asarray(degrade(hr[None])), SCALE)[0]
    detail = donors - bicubic(np.asarray(degrade(donors)), SCALE)
    candidates = np.concatenate([hr[None], base[None] + detail]).astype(np.float32)
    mean = candidates.mean(axis=0)
    lr_c, lr_0 = np.asarray(degrade(candidates)), np.asarray(degrade(hr[None]))
    k = len(candidates)
    pair = [np.mean((candidates[i] - candidates[j]) ** 2) for i in range(k) for j in range(k) if i != j]
    lap = lambda im: ndimage.laplace(im.mean(axis=-1)).var()  # noqa: E731
    return {"candidates": candidates, "mean": mean,
            "lr_spread": float(np.sqrt(((lr_c - lr_0) ** 2).mean(axis=(1, 2, 3))).max()),
            "hr_spread": float(np.sqrt(((candidates[1:] - hr) ** 2).mean(axis=(1, 2, 3))).mean()),
            "mse_of_mean": float(np.mean([np.mean((mean - c) ** 2) for c in candidates])),
            "mse_of_candidate": float(np.mean(pair)),
            "sharpness_of_mean": float(lap(mean) / np.mean([lap(c) for c in candidates]))}


def enlarge(images: np.ndarray, factor: int) -> np.ndarray:
    """Images ``(n, h, w, c)`` enlarged ``factor`` times by pixel repetition (nearest neighbour), for display."""
    return np.repeat(np.repeat(np.asarray(images), factor, axis=1), factor, axis=2)


def zoom(images: np.ndarray, size: int = 16, corner=(0, 0)) -> np.ndarray:
    """A ``size x size`` window of every image (top-left ``corner``), enlarged to the images' own size."""
    images = np.asarray(images)
    factor = images.shape[1] // size
    if factor < 1 or images.shape[1] % size:
        raise ValueError(f"size must divide the image size {images.shape[1]}, got {size}")
    r, c = corner
    return enlarge(images[:, r:r + size, c:c + size], factor)


# -- the networks ---------------------------------------------------------------------------------------------

def describe_presets(names=("book", "paper")) -> list[dict]:
    """One row per preset at its own HR size: the networks' parameter counts (built as the model builds them),
    the discriminator's output, the content layer and its feature-map shape, the optimizer and the batch."""
    from gancourse.models import srgan
    from gancourse.nn import superres

    rows = []
    for name in names:
        cfg = srgan.config(name)
        g, d = srgan.build_generator(cfg), srgan.build_discriminator(cfg)
        trunk = superres.vgg19_trunk(cfg.content_layer, cfg.image_size, 16)  # narrow: only its shape is read
        shape = tuple(trunk.output.shape[1:3]) + (superres.VGG19_WIDTHS[int(cfg.content_layer[5]) - 1],)
        rows.append({"preset": name, "LR -> HR": f"{cfg.lr_size} -> {cfg.image_size}",
                     "generator": g.count_params(), "up-sampling": "nearest + conv" if cfg.generator == "book"
                     else "sub-pixel conv", "discriminator": d.count_params(),
                     "D output": "x".join(map(str, d.output_shape[1:])),
                     "content layer": f"{cfg.content_layer} {'x'.join(map(str, shape))}"
                                      + (f", x{cfg.feature_scale:.4f}" if cfg.feature_scale != 1 else ""),
                     "objective": cfg.objective, "Adam": f"{cfg.learning_rate:g}, beta_1 {cfg.beta_1:g}",
                     "batch": cfg.batch_size})
    return rows


# -- the study: SRResNet (pixel MSE) then SRGAN (perceptual loss) on the offline photos ---------------------------

def _srgan_model():
    import tensorflow as tf

    from gancourse.models import srgan

    class StudySRGAN(srgan.SRGAN):
        """An :class:`~gancourse.models.srgan.SRGAN` with one traced training step per phase, restarted for each
        seed from new initial weights and fresh optimizer state (tracing costs more than a short run)."""

        def __init__(self, cfg):
            super().__init__(cfg)
            self.compile()
            self.build_optimizers()
            self._fresh = {g: [v.numpy() for v in opt.variables] for g, opt in self.optimizers.items()}
            self._steps = {}

        def restart(self, weights: list, seed: int) -> None:
            """Start a run from ``weights`` (generator's, discriminator's), fresh optimizers and ``seed``'s
            random state."""
            for net, values in zip(self.networks.values(), weights):
                net.set_weights(values)
            for group, opt in self.optimizers.items():
                for variable, value in zip(opt.variables, self._fresh[group]):
                    variable.assign(value)
            self.seed_generator.state.assign(tf.cast([seed, 0], self.seed_generator.state.dtype))
            for tracker in self.metrics:
                tracker.reset_state()

        def run_step(self, batch, phase: str) -> dict:
            """One training step of ``phase`` (``"pretrain"`` or ``"gan"``): each phase's step is traced once."""
            self.phase = phase  # read when the step is traced
            if phase not in self._steps:
                self._steps[phase] = tf.function(self.train_step, autograph=False)  # no tensor-dependent Python
            return self._steps[phase](batch)

    return StudySRGAN


def initial_weights(cfg, seed: int) -> list:
    """The generator's and the discriminator's initial weights for ``seed``, built as the model builds them."""
    from gancourse import set_seed
    from gancourse.models import srgan

    set_seed(seed)
    return [srgan.build_generator(cfg).get_weights(), srgan.build_discriminator(cfg).get_weights()]


SCORING_LAYER = "block3_conv3"
SCORING_SEED = 1000  # the offline scorer's random weights: another draw than any training run's


def scoring_features(cfg):
    """The feature network that *scores* the study (not the one SRGAN trains against, which would make "closer
    in features" its own training loss): VGG19's ``block3_conv3`` where the content loss uses ``block5_conv4``,
    and, for random weights, another random draw (seed ``SCORING_SEED + cfg.seed``)."""
    from gancourse.nn import superres as sr_nets

    if cfg.content_layer == SCORING_LAYER:
        raise ValueError(f"the study scores features at {SCORING_LAYER}; train the content loss on another layer")
    return sr_nets.feature_extractor(SCORING_LAYER, cfg.image_size, cfg.feature_weights,
                                     width_divisor=cfg.feature_width_divisor, seed=SCORING_SEED + cfg.seed)


STUDY_METRICS = {  # key in metrics.sr_scores: (column, higher is better, verdict words)
    "psnr_y": ("PSNR-Y (dB) ↑", True, ("higher", "lower")),
    "ssim_y": ("SSIM-Y ↑", True, ("higher", "lower")),
    "sharpness": ("sharpness (HR = 1)", True, ("sharper", "smoother")),
    "feature_mse": ("feature distance ↓", False, ("closer", "further")),
}
BASELINE = "SRResNet"
#: Ratios are compared and averaged on a log scale (a geometric mean): a per-image ratio is heavy-tailed.
LOG_METRICS = ("sharpness",)


def _log(history: dict, logs: dict) -> None:
    for key, value in logs.items():
        history.setdefault(key, []).append(float(value))


def study(cfg, seeds=(0, 1), *, pretrain_steps: int = 100, gan_steps: int = 40, test=None, n_test: int = 32,
          train=None, log_every: int = 5) -> dict:
    """Train SRResNet (``pretrain_steps`` of pixel MSE) and then SRGAN (``gan_steps`` of the perceptual loss,
    starting from it) for every seed, and score both and bicubic interpolation on held-out crops.

    ``train``/``test``: ``(lr, hr)`` arrays (default: ``offline_sr`` at ``cfg.image_size``); the first
    ``n_test`` test pairs are scored. Returns ``scores`` ``{method: {metric: (seeds, images) array}}``
    (:func:`gancourse.metrics.sr_scores`, with the feature distance in :func:`scoring_features`),
    ``histories`` ``{seed: {phase: {metric: values every log_every steps}}}``, ``shown`` (the first seed's
    first four test crops: LR enlarged, bicubic, SRResNet, SRGAN, HR), ``model`` (the last run's),
    ``cfg``, ``seeds``, the step counts and ``log_every``.
    """
    from gancourse import metrics
    from gancourse.data import superres
    from gancourse.models import srgan

    if pretrain_steps < 8 * log_every or gan_steps < 8 * log_every:
        raise ValueError(f"each phase needs at least 8 logged points for the convergence check: steps >= "
                         f"{8 * log_every} with log_every={log_every}, got {pretrain_steps} and {gan_steps}")
    train = superres.offline_sr("train", cfg.image_size) if train is None else train
    test_lr, test_hr = superres.offline_sr("test", cfg.image_size) if test is None else test
    test_lr, test_hr = np.asarray(test_lr[:n_test]), np.asarray(test_hr[:n_test])
    model = _srgan_model()(cfg)
    scorer = scoring_features(cfg)
    features = lambda x: scorer(x, training=False)  # noqa: E731
    bicubic = srgan.bicubic(test_lr, cfg.scale)
    bicubic_scores = metrics.sr_scores(bicubic, test_hr, features=features)
    scores = {m: {k: [] for k in bicubic_scores} for m in METHODS}
    histories, shown = {}, {}
    for seed in seeds:
        model.restart(initial_weights(cfg, seed), seed)
        batches = iter(srgan.batches(cfg.replace(seed=seed), train).repeat())
        outputs, histories[seed] = {}, {}
        for phase, steps, method in (("pretrain", pretrain_steps, "SRResNet"), ("gan", gan_steps, "SRGAN")):
            history = histories[seed].setdefault(phase, {})
            for step in range(1, steps + 1):
                logs = model.run_step(next(batches), phase)
                if step % log_every == 0:
                    _log(history, logs)
                    for tracker in model.metrics:
                        tracker.reset_state()
            outputs[method] = model.super_resolve(test_lr)
        outputs["bicubic"] = bicubic
        for method in METHODS:
            found = bicubic_scores if method == "bicubic" else metrics.sr_scores(outputs[method], test_hr,
                                                                                 features=features)
            for key, values in found.items():
                scores[method][key].append(values)
        if not shown:
            shown = {"LR": enlarge(test_lr[:4], cfg.scale), "bicubic": bicubic[:4], "SRResNet": outputs["SRResNet"][:4],
                     "SRGAN": outputs["SRGAN"][:4], "HR": test_hr[:4]}
    return {"scores": {m: {k: np.stack(v) for k, v in s.items()} for m, s in scores.items()}, "histories": histories,
            "shown": shown, "model": model, "cfg": cfg, "seeds": tuple(seeds), "pretrain_steps": pretrain_steps,
            "gan_steps": gan_steps, "log_every": log_every, "n_test": len(test_hr)}


#: The smoke study's constant learning rate: 3x the paper's initial 1e-4, so that a few dozen steps of pixel MSE
#: move SRResNet off bicubic interpolation (at 1e-4 its PSNR and sharpness barely change in 64 steps).
SMOKE_LEARNING_RATE = 3e-4


def study_settings(profile: str) -> dict:
    """The study's size for a profile: seeds, steps per phase, held-out crops scored and config overrides (on
    the 64 px offline data). ``smoke`` runs two seeds with 4 residual blocks and the generator's
    ``bicubic_skip`` (it learns a correction to bicubic interpolation and starts exactly there, so that a run of
    a few dozen steps starts from a sensible image, not from noise; not in the paper) at
    :data:`SMOKE_LEARNING_RATE`; ``standard`` runs three seeds of the paper's network (no skip, the paper's
    widths) with the ImageNet VGG19 at the paper's initial 1e-4. The rate is constant through the run (the
    paper drops it to 1e-5 halfway through the GAN phase)."""
    if profile == "smoke":
        return {"seeds": (0, 1), "pretrain_steps": 64, "gan_steps": 48, "n_test": 128, "log_every": 4,
                "srgan": {"res_blocks": 4, "bicubic_skip": True, "learning_rate": SMOKE_LEARNING_RATE}}
    return {"seeds": (0, 1, 2), "pretrain_steps": 3000, "gan_steps": 1500, "n_test": 128, "log_every": 50,
            "srgan": {"base_filters": 64, "res_blocks": 16, "d_filters": 64, "d_dense": 1024, "batch_size": 16,
                      "feature_weights": "imagenet", "feature_width_divisor": 1}}


#: The paper's updates: 10^6 for SRResNet, 2 x 10^5 for SRGAN (Ledig et al., section 3.2). A run that is a small
#: fraction of this is not called converged, whatever its curve does.
PAPER_STEPS = {"pretrain": 1_000_000, "gan": 200_000}
SHORT_FRACTION = 0.01


def convergence(study: dict, tolerance: float = 0.02) -> dict:
    """Whether each phase had stopped improving: for every seed, :func:`gancourse.experiments.ch07.still_falling`
    on SRResNet's pixel MSE and on SRGAN's content loss. A flat curve is not convergence when the phase ran less
    than :data:`SHORT_FRACTION` of the paper's updates (:data:`PAPER_STEPS`): such runs are reported as not
    converged. Returns the flags per phase (lists over seeds), ``short`` and ``text``, a sentence that calls
    unconverged runs that."""
    from gancourse.experiments.ch07 import still_falling

    flags = {"pretrain": [still_falling(h["pretrain"]["g_mse"], tolerance) for h in study["histories"].values()],
             "gan": [still_falling(h["gan"]["g_content"], tolerance) for h in study["histories"].values()]}
    n = len(flags["pretrain"])
    rule = ("a straight line fitted to the second half of its curve drops by more than "
            f"{tolerance:.0%} of the curve's level")
    parts = []
    for phase, label, curve in (("pretrain", "SRResNet", "pixel MSE"), ("gan", "SRGAN", "content loss")):
        falling = sum(flags[phase])
        every = {1: "in the run", 2: "in both runs"}.get(n, f"in all {n} runs")
        parts.append(f"{label}'s {curve} was still falling at the end in {falling} of {n} runs" if falling
                     else f"{label}'s {curve} showed no downward trend over its second half {every}")
    steps = {"pretrain": study["pretrain_steps"], "gan": study["gan_steps"]}
    short = any(steps[phase] < SHORT_FRACTION * PAPER_STEPS[phase] for phase in steps)
    unconverged = any(flags["pretrain"]) or any(flags["gan"]) or short
    budget = (f" The runs took {steps['pretrain']:,} + {steps['gan']:,} steps, less than "
              f"{SHORT_FRACTION:.0%} of the paper's {PAPER_STEPS['pretrain']:,} + {PAPER_STEPS['gan']:,}."
              if short else "")
    verdict = ("Those runs have **not converged**: the results below describe early training, not the end point "
               "the paper reports." if unconverged else "No run was still improving by this criterion.")
    return {**flags, "short": short, "unconverged": unconverged,
            "text": f"Convergence ({rule}): " + "; ".join(parts) + "." + budget + " " + verdict}


def per_image(study: dict, metric: str) -> dict:
    """``{method: each held-out crop's score averaged over the seeds}``, SRResNet first; for
    :data:`LOG_METRICS` the average and the result are of the logarithm."""
    order = (BASELINE,) + tuple(m for m in METHODS if m != BASELINE)
    scale = np.log if metric in LOG_METRICS else (lambda v: v)
    return {m: scale(study["scores"][m][metric]).mean(axis=0) for m in order}


def study_table(study: dict, alpha: float = 0.05) -> tuple[list[dict], list[dict]]:
    """The results table and its comparisons: every metric's per-crop scores (averaged over seeds) compared with
    SRResNet's by the paired t-test, Holm-corrected over all metrics and methods together.

    Returns ``(rows, comparisons)``: one row per method, each cell ``mean [95% interval]`` (geometric for
    :data:`LOG_METRICS`; the interval is the method's own) plus, for bicubic and SRGAN, the verdict against
    SRResNet and the paired difference it rests on, with its interval (a ratio for :data:`LOG_METRICS`); ``comparisons`` are :func:`gancourse.stats.compare` rows with ``metric`` added.
    """
    from gancourse import stats

    metrics_here = [m for m in STUDY_METRICS if m in study["scores"][BASELINE]]
    groups = {}
    for metric in metrics_here:
        _, higher, words = STUDY_METRICS[metric]
        rows = stats.compare(per_image(study, metric), higher_is_better=higher, words=words, paired=True)
        for row in rows:
            row["metric"] = metric
        groups[metric] = (rows, higher, words)
    stats.correct_together(groups, alpha)
    comparisons = [row for rows, _, _ in groups.values() for row in rows]
    table = []
    for method in METHODS:
        row = {"method": method}
        for metric in metrics_here:
            values = per_image(study, metric)[method]
            mean, low, high = stats.mean_interval(values)
            if metric in LOG_METRICS:  # the geometric mean and its interval
                mean, low, high = np.exp([mean, low, high])
            cell = f"{mean:.3g} [{low:.3g}, {high:.3g}]"
            if method != BASELINE:
                found = next(r for r in comparisons if r["metric"] == metric and r["variant"] == method)
                cell += f": {found['verdict']}, {_paired_change(found, metric)}"
            row[STUDY_METRICS[metric][0]] = cell
        table.append(row)
    return table, comparisons


def _paired_change(row: dict, metric: str) -> str:
    """The paired difference to SRResNet with its interval: ``"-0.27 [-0.35, -0.19]"``, or for
    :data:`LOG_METRICS` the ratio of geometric means ``"x1.19 [1.12, 1.27]"``."""
    if metric in LOG_METRICS:
        ratio, low, high = np.exp([row["difference"], row["low"], row["high"]])
        return f"x{ratio:.3g} [{low:.3g}, {high:.3g}]"
    return f"{row['difference']:+.3g} [{row['low']:+.3g}, {row['high']:+.3g}]"


def verdict(comparisons: list[dict], method: str, metric: str) -> str:
    """The verdict of ``method`` against SRResNet on ``metric``."""
    return next(r["verdict"] for r in comparisons if r["variant"] == method and r["metric"] == metric)


def headline(comparisons: list[dict], converged: dict) -> str:
    """The paper's pattern, checked: SRResNet above bicubic on PSNR, SRGAN below SRResNet on PSNR (both measured
    in the paper), and sharper and closer in features (our stand-ins for its opinion scores). One paragraph,
    every clause from a verdict."""
    claims = [("bicubic", "psnr_y", "lower", "SRResNet has a higher PSNR than bicubic interpolation"),
              ("SRGAN", "psnr_y", "lower", "SRGAN has a lower PSNR than SRResNet"),
              ("SRGAN", "sharpness", "sharper", "SRGAN is sharper than SRResNet"),
              ("SRGAN", "feature_mse", "closer", "SRGAN is closer to the HR crops in the scoring features")]
    held = [text for method, metric, word, text in claims if verdict(comparisons, method, metric) == word]
    missed = [f"{text} ({verdict(comparisons, method, metric)})" for method, metric, word, text in claims
              if verdict(comparisons, method, metric) != word]
    out = (f"Of four expectations (the first two are the paper's PSNR results; sharpness and feature distance "
           f"stand in for its opinion scores), {len(held)} {'holds' if len(held) == 1 else 'hold'} here")
    out += (": " + "; ".join(held) + "." if held else ".")
    if missed:
        out += " Not found: " + "; ".join(missed) + "."
    if converged["unconverged"] and missed:
        out += (" The runs had not converged, so an expectation that is missing may only be one the runs have not "
                "reached yet.")
    elif converged["unconverged"]:
        out += (" The runs had not converged: these are the directions early training took, not the end point "
                "the paper reports.")
    return out


def batch_one_exhibit(generator, lr: np.ndarray, hr: np.ndarray) -> dict:
    """Each low-resolution image run alone (a batch of one) through ``generator`` in training mode (batch norm
    uses the image's own statistics, as the book's training steps do) and in inference mode (the running
    averages). The generator's weights, including batch norm's averages, are restored afterwards.

    Returns ``difference`` (the RMS difference of the two outputs, averaged over images) and the mean Y-channel
    PSNR of each mode against ``hr`` (``psnr_training``, ``psnr_inference``).
    """
    from gancourse import metrics

    saved = generator.get_weights()
    try:
        # inference first: a training-mode call moves batch norm's running averages
        inference = np.concatenate([np.asarray(generator(lr[i:i + 1], training=False)) for i in range(len(lr))])
        training = np.concatenate([np.asarray(generator(lr[i:i + 1], training=True)) for i in range(len(lr))])
    finally:
        generator.set_weights(saved)
    return {"difference": float(np.sqrt(((training - inference) ** 2).mean(axis=(1, 2, 3))).mean()),
            "psnr_training": float(metrics.psnr_y(training, hr).mean()),
            "psnr_inference": float(metrics.psnr_y(inference, hr).mean())}


def draw_curves(study: dict, phase: str, keys, ax, title: str = "") -> None:
    """Every seed's training curves of ``keys`` in ``phase`` (the mean over each ``log_every`` steps)."""
    every = study["log_every"]
    for key in keys:
        for i, (seed, history) in enumerate(study["histories"].items()):
            values = history[phase][key]
            steps = every * np.arange(1, len(values) + 1)
            ax.plot(steps, values, color=f"C{list(keys).index(key)}", alpha=0.8,
                    label=key if i == 0 else None)
    ax.set_xlabel(f"step of the {phase} phase")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
