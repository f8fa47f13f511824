"""The optional dlib face embedder, on a fake dlib module (dlib is not installed for the tests)."""

import sys
import types

import numpy as np
import pytest

from gancourse import dlib_faces
from gancourse.dlib_faces import SAME_PERSON_THRESHOLD, DlibFaceEmbedder, distance, to_uint8


class _Rect:
    def __init__(self, left, top, right, bottom):
        self.box = (left, top, right, bottom)

    def width(self):
        return self.box[2] - self.box[0] + 1

    def height(self):
        return self.box[3] - self.box[1] + 1


def _fake_dlib(calls):
    """A stand-in for dlib: the detector finds two faces (a small and a large one) in bright images only;
    the descriptor is the image's mean colour in the box, repeated, plus the padding."""
    module = types.ModuleType("dlib")
    module.rectangle = _Rect

    def detector():
        def detect(image, upsample):
            calls.append(("detect", upsample))
            assert image.dtype == np.uint8 and image.flags["C_CONTIGUOUS"]
            return [_Rect(0, 0, 3, 3), _Rect(2, 2, 9, 9)] if image.mean() > 128 else []
        return detect

    def shape_predictor(path):
        calls.append(("landmarks", path))
        return lambda image, box: (image, box)

    class Recognition:
        def __init__(self, path):
            calls.append(("resnet", path))

        def compute_face_descriptor(self, image, shape, jitters, padding):
            assert shape[0] is image
            left, top, right, bottom = shape[1].box
            calls.append(("box", shape[1].box))
            colour = image[top:bottom + 1, left:right + 1].reshape(-1, 3).mean(0) / 255.0
            return list(np.resize(colour, 128) + padding)

    module.get_frontal_face_detector = detector
    module.shape_predictor = shape_predictor
    module.face_recognition_model_v1 = Recognition
    return module


@pytest.fixture
def fake(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "dlib", _fake_dlib(calls))
    package = tmp_path / "site" / "face_recognition_models"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('the package must not be imported')\n")
    for name in (dlib_faces.RECOGNITION_MODEL, dlib_faces.LANDMARK_MODEL):
        (package / "models" / name).write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return calls, package


def test_missing_dependencies_name_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    with pytest.raises(ImportError, match=r'needs dlib.*pip install "gancourse\[faces\]"'):
        DlibFaceEmbedder()
    monkeypatch.setitem(sys.modules, "dlib", _fake_dlib([]))
    monkeypatch.setattr(dlib_faces.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r'face_recognition_models weights.*pip install "gancourse\[faces\]"'):
        DlibFaceEmbedder()


def test_an_incomplete_weights_install_is_named(fake):
    _, package = fake
    (package / "models" / dlib_faces.LANDMARK_MODEL).unlink()
    with pytest.raises(ImportError, match="shape_predictor_5_face_landmarks.dat is missing"):
        DlibFaceEmbedder()


def test_embeds_detected_and_undetected_faces(fake):
    calls, package = fake
    embedder = DlibFaceEmbedder(upsample=2, padding=0.5)
    assert embedder.differentiable is False and embedder.dim == 128
    assert ("resnet", str(package / "models" / dlib_faces.RECOGNITION_MODEL)) in calls
    assert ("landmarks", str(package / "models" / dlib_faces.LANDMARK_MODEL)) in calls
    rng = np.random.default_rng(0)
    bright = rng.integers(160, 256, (16, 12, 3), dtype=np.uint8)
    dark = rng.integers(0, 90, (16, 12, 3), dtype=np.uint8)
    descriptors = embedder(np.stack([bright, dark]))
    assert descriptors.shape == (2, 128) and descriptors.dtype == np.float32
    assert embedder.found.tolist() == [True, False]
    boxes = [c[1] for c in calls if c[0] == "box"]
    assert boxes == [(2, 2, 9, 9), (0, 0, 11, 15)]  # the largest face; else the whole image (width 12, height 16)
    assert ("detect", 2) in calls
    np.testing.assert_allclose(descriptors[0, :3], bright[2:10, 2:10].reshape(-1, 3).mean(0) / 255 + 0.5, rtol=1e-6)
    floats = np.stack([bright, dark]).astype(np.float32) / 127.5 - 1.0
    np.testing.assert_array_equal(embedder(floats), descriptors)  # [-1, 1] floats and uint8 agree
    grey = embedder(bright[None, ..., :1])
    assert grey.shape == (1, 128)


def test_distance_threshold_and_input_checks():
    a = np.zeros((3, 128), np.float32)
    b = a.copy()
    b[0, 0], b[1, 0], b[2, :2] = 0.59, 0.61, (0.3, 0.4)
    np.testing.assert_allclose(distance(a, b), [0.59, 0.61, 0.5], rtol=1e-6)
    assert SAME_PERSON_THRESHOLD == 0.6 and DlibFaceEmbedder.threshold == 0.6
    assert DlibFaceEmbedder.distance is distance
    assert to_uint8(np.array([[[[-1.0, 0.0, 1.0]]]])).tolist() == [[[[0, 128, 255]]]]
    with pytest.raises(ValueError, match=r"face images must be \(n, H, W, 3\), got shape \(4, 4, 3\)"):
        to_uint8(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="float face images must be in \\[-1, 1\\], got values from 0 to 255"):
        to_uint8(np.linspace(0.0, 255.0, 12).reshape(1, 2, 2, 3))
    with pytest.raises(ValueError, match="got dtype int64"):
        to_uint8(np.zeros((1, 2, 2, 3), np.int64))


def test_the_faces_extra_is_declared_but_not_in_the_default_environment():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [r.split(">")[0] for r in extras["faces"]] == ["dlib-bin", "face-recognition-models"]
    assert "dlib" not in (root / "environment.yml").read_text()
