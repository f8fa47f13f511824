"""Folders of face images (the 64x64 anime-face / CelebA setting) and face cropping.

Loading
-------
:func:`load` streams a folder of images (PNG, JPEG, BMP, WebP directly inside
it) through ``tf.data``: every file's header is checked first (a broken file
is an error naming it, before training starts), then each image is decoded,
cut to its central square, resized (bilinear, antialiased, like torchvision's
``Resize`` in the PyTorch DCGAN tutorial; Pillow and ``tf.image`` agree on it
to one grey level, while their Lanczos and bicubic filters differ by up to 38
levels at sharp edges) and scaled to ``[-1, 1]`` inside the pipeline, so a
folder as large as CelebA (202,599 images) is never held in memory; a small
folder is decoded once and cached (see :mod:`gancourse.data.pipeline`).
:func:`arrays` reads a folder into one array with Pillow, for evaluation on
small folders.

Data source and licence
-----------------------
The source book scrapes an image board and crops the faces it finds. This
course does not scrape, and neither should you: images on such sites belong to
their artists, and a site's terms usually forbid bulk downloading. Use a
dataset whose licence allows your use, for example CelebA (research, non-commercial
use only; see its agreement) or an anime-face collection published with an
explicit licence, and keep its licence file next to the images. gancourse never
downloads face images itself: you point :func:`load` at a folder you obtained.

Cropping
--------
:func:`crop_faces` runs a real OpenCV cascade detector over every image in a
folder and writes one square crop per detected face, resized to ``size``. The
frontal-face Haar cascade ships with OpenCV; for drawings use the
``lbpcascade_animeface`` LBP cascade (by nagadomi, MIT licence), which
:func:`cascade_path` downloads into the cache on first use, from a pinned commit, and
checks against its SHA-256. Nothing is skipped
silently: the returned :class:`CropReport` lists the files with no face and the
files that could not be read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gancourse.data import files as image_files
from gancourse.data.cache import DatasetError, fetch
from gancourse.data.files import IMAGE_SUFFIXES  # noqa: F401 (part of this module's API)
from gancourse.data.pipeline import example_bytes, read_rgb, stream_files, to_model_range

FIX_ADVICE = "remove or replace it"
#: The anime-face cascade at a fixed commit of nagadomi/lbpcascade_animeface (the file is unchanged since the
#: repository's first commit, 2014), and the SHA-256 of that file: a download that differs is refused.
ANIME_CASCADE_COMMIT = "4433ab1ae1166ea75acfe99eb0f18709dac329a0"
ANIME_CASCADE_URL = (f"https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/{ANIME_CASCADE_COMMIT}/"
                     "lbpcascade_animeface.xml")
ANIME_CASCADE_SHA256 = "9376d30ac38db6bda2a68b88b3b76bbd7e6aa33af47f7f5c76bc88ca75f1ce30"


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted.

    Raises:
        DatasetError: the folder does not exist or holds no image files.
    """
    return image_files.list_images(
        folder, "face folder",
        "create it with images of faces (see gancourse.data.faces for sources and "
        "gancourse.data.faces.crop_faces to crop them)")


def checked_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """The first ``limit`` (default: all) of :func:`list_images`, each file's header
    checked (:func:`gancourse.data.files.check_images`)."""
    files = list_images(folder)[:limit]
    image_files.check_images(files, FIX_ADVICE)
    return files


def read_image(path: str | Path, image_size: int, channels: int = 3) -> np.ndarray:
    """One image as ``uint8`` ``(image_size, image_size, channels)``: its central
    square, resized (bilinear, antialiased).

    Raises:
        DatasetError: the file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            side = min(im.size)
            left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
            im = im.crop((left, top, left + side, top + side))
            if im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise image_files.unreadable(path, exc, FIX_ADVICE) from exc
    return arr[..., None] if channels == 1 else arr


def arrays(folder: str | Path, image_size: int = 64, channels: int = 3, limit: int | None = None) -> np.ndarray:
    """The first ``limit`` (default: all) images of ``folder`` as ``float32``
    ``(N, size, size, channels)`` in ``[-1, 1]``, read with Pillow."""
    files = checked_images(folder, limit)
    images = np.stack([read_image(f, image_size, channels) for f in files])
    return (images.astype(np.float32) - 127.5) / 127.5


def decode(path, image_size: int, channels: int):
    """``tf`` decoding of one face file: central square, bilinear resize, ``[-1, 1]`` (as :func:`read_image`)."""
    import tensorflow as tf

    image = read_rgb(path)
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
    return to_model_range(image, image_size, channels)


def load(folder: str | Path, cfg=None, *, image_size: int = 64, channels: int = 3,
         batch_size: int = 128, seed: int = 0, shuffle: bool = True, cache_budget: int | None = None):
    """A shuffled, batched ``tf.data.Dataset`` streaming the face images of ``folder``.

    Batches are ``float32`` ``(batch_size, image_size, image_size, channels)``
    in ``[-1, 1]``. ``cfg`` (any object with ``image_size``, ``channels``,
    ``batch_size`` and ``seed``) overrides the keywords. ``cache_budget``:
    see :func:`gancourse.data.pipeline.stream_files`.

    Raises:
        DatasetError: the folder is missing or empty, or a file in it is not a
            readable image (checked before the dataset is returned).
    """
    if cfg is not None:
        image_size, channels, batch_size, seed = cfg.image_size, cfg.channels, cfg.batch_size, cfg.seed
    return stream_files(checked_images(folder), lambda path: decode(path, image_size, channels),
                        batch_size=batch_size, bytes_per_example=example_bytes(image_size, channels),
                        shuffle=shuffle, seed=seed, cache_budget=cache_budget)


@dataclasses.dataclass
class CropReport:
    """What :func:`crop_faces` did with every input file."""

    written: list[Path] = dataclasses.field(default_factory=list)
    no_face: list[Path] = dataclasses.field(default_factory=list)
    unreadable: list[Path] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return (f"{len(self.written)} face crops written; {len(self.no_face)} images without a detected face; "
                f"{len(self.unreadable)} unreadable files")


def cascade_path(kind: str = "frontalface") -> Path:
    """Path of an OpenCV cascade: ``"frontalface"`` (ships with OpenCV) or
    ``"anime"`` (downloaded once into the cache from a pinned commit and checked
    against :data:`ANIME_CASCADE_SHA256`).

    Raises:
        DatasetError: the anime cascade could not be downloaded, or the download
            does not match its pinned SHA-256 (the file is not kept).
        ValueError: ``kind`` is neither of the two.
    """
    import cv2

    if kind == "frontalface":
        return Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    if kind == "anime":
        return fetch(ANIME_CASCADE_URL, known_hash=f"sha256:{ANIME_CASCADE_SHA256}", subdir="cascades")
    raise ValueError(f"unknown cascade {kind!r}; choose 'frontalface', 'anime' or pass a file path")


def crop_faces(src: str | Path, dst: str | Path, *, size: int = 64, cascade: str | Path = "frontalface",
               margin: float = 0.1, min_face: int = 24, all_faces: bool = False) -> CropReport:
    """Detect faces in every image of ``src`` and write square crops to ``dst``.

    Args:
        src: folder of input images.
        dst: output folder (created). Each crop is named
            ``<input stem>_<face index>.png``, so no crop overwrites another.
        size: side of the written crops in pixels.
        cascade: ``"frontalface"``, ``"anime"`` or the path of a cascade XML file.
        margin: fraction of the face box added on every side before cropping.
        min_face: smallest face side (pixels) the detector reports.
        all_faces: write every detected face instead of only the largest.

    Returns:
        A :class:`CropReport` listing what was written and what was not.
    """
    import cv2
    from PIL import Image

    xml = Path(cascade) if str(cascade).endswith(".xml") else cascade_path(str(cascade))
    detector = cv2.CascadeClassifier(str(xml))
    if detector.empty():
        raise DatasetError(f"could not load the cascade detector {xml}")
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    report = CropReport()
    for path in list_images(src):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            report.unreadable.append(path)
            continue
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        boxes = detector.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_face, min_face))
        if len(boxes) == 0:
            report.no_face.append(path)
            continue
        boxes = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
        for index, (x, y, w, h) in enumerate(boxes if all_faces else boxes[:1]):
            side = int(max(w, h) * (1 + 2 * margin))
            cx, cy = x + w // 2, y + h // 2
            x0 = max(0, min(cx - side // 2, image.shape[1] - side))
            y0 = max(0, min(cy - side // 2, image.shape[0] - side))
            crop = image[y0:y0 + side, x0:x0 + side, ::-1]
            out = dst / f"{path.stem}_{index}.png"
            Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.Resampling.LANCZOS).save(out)
            report.written.append(out)
    return report
