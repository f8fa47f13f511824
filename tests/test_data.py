import hashlib
import http.server
import io
import tarfile
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from gancourse import data
from gancourse.data import cache, digits, faces, keras_datasets
from gancourse.data.pipeline import image_dataset, to_unit_range, with_channels


def test_digits_splits_shapes_and_range():
    train, y_train = digits.arrays("train", 28, 1)
    test, y_test = digits.arrays("test", 32, 3)
    assert train.shape == (1497, 28, 28, 1) and test.shape == (300, 32, 32, 3)
    assert train.dtype == np.float32 and -1.0 <= train.min() and train.max() <= 1.0
    assert train.min() == pytest.approx(-1.0, abs=0.05) and train.max() > 0.9
    assert set(np.unique(y_train)) == set(range(10)) and len(y_test) == 300
    ds = digits.load("train", batch_size=64)
    batch = next(iter(ds))
    assert batch.shape == (64, 28, 28, 1)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        digits.arrays("val")


def test_pipeline_helpers():
    assert to_unit_range(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="uint8"):
        to_unit_range(np.array([0.5]))
    assert with_channels(np.zeros((2, 4, 4)), 3).shape == (2, 4, 4, 3)
    assert with_channels(np.ones((2, 4, 4, 3), np.float32), 1)[0, 0, 0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot convert 2-channel"):
        with_channels(np.zeros((1, 2, 2, 2)), 3)
    with pytest.raises(ValueError, match="only 3 images for batch_size=8"):
        image_dataset(np.zeros((3, 4, 4, 1)), 8)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        image_dataset(np.zeros((3, 4, 4)), 1)


def test_data_load_by_config_name():
    from gancourse.models import dcgan

    cfg = dcgan.config("book").scaled("smoke")
    assert next(iter(data.load(cfg))).shape == (cfg.batch_size, 32, 32, 1)
    with pytest.raises(data.DatasetError, match="--data DIR"):
        data.arrays("faces", image_size=64, channels=3)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.arrays("cifar", image_size=32, channels=3)


def test_keras_dataset_offline_failure_is_explained(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(data.DatasetError, match="needs network access.*GANCOURSE_PROFILE=smoke"):
        keras_datasets.arrays("fashion_mnist")


def test_keras_dataset_conversion(monkeypatch):
    import keras

    fake = ((np.full((4, 28, 28), 255, np.uint8), np.arange(4)), (np.zeros((2, 28, 28), np.uint8), np.arange(2)))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: fake)
    x, y = keras_datasets.arrays("mnist", "all", image_size=64, channels=1)
    assert x.shape == (6, 64, 64, 1) and y.tolist() == [0, 1, 2, 3, 0, 1]
    assert x[0].min() == pytest.approx(1.0) and x[-1].max() == pytest.approx(-1.0)


def _write_faces(folder, n=3, size=40):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"face{i}.png")


def test_face_folder_loader(tmp_path):
    _write_faces(tmp_path / "faces")
    (tmp_path / "faces" / "notes.txt").write_text("not an image")
    x = faces.arrays(tmp_path / "faces", image_size=16, channels=3)
    assert x.shape == (3, 16, 16, 3) and -1 <= x.min() and x.max() <= 1
    assert next(iter(faces.load(tmp_path / "faces", image_size=16, batch_size=2))).shape == (2, 16, 16, 3)


def test_face_folder_errors(tmp_path):
    with pytest.raises(data.DatasetError, match="does not exist"):
        faces.list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DatasetError, match="holds no images"):
        faces.list_images(tmp_path / "empty")
    _write_faces(tmp_path / "broken", n=1)
    (tmp_path / "broken" / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(data.DatasetError, match=r"cannot read .*bad\.jpg: .*\(no image format recognised\); remove"):
        faces.arrays(tmp_path / "broken", image_size=16)


def test_crop_faces_with_a_real_cascade(tmp_path):
    from skimage import data as skdata

    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(skdata.astronaut()).save(src / "astronaut.png")
    Image.fromarray(np.full((120, 120, 3), 128, np.uint8)).save(src / "blank.png")
    (src / "corrupt.png").write_bytes(b"\x89PNG broken")
    report = faces.crop_faces(src, tmp_path / "crops", size=64)
    assert [p.name for p in report.written] == ["astronaut_0.png"]
    assert [p.name for p in report.no_face] == ["blank.png"]
    assert [p.name for p in report.unreadable] == ["corrupt.png"]
    with Image.open(report.written[0]) as im:
        assert im.size == (64, 64)
    assert "1 face crops written; 1 images without a detected face; 1 unreadable" in str(report)
    with pytest.raises(ValueError, match="unknown cascade"):
        faces.cascade_path("cats")


def _tar_with(members: dict[str, bytes]) -> bytes:
    return _tar_of([(tarfile.TarInfo(name), payload) for name, payload in members.items()])


def _tar_of(entries) -> bytes:
    """A .tar.gz of ``(TarInfo, payload or None)`` entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, payload in entries:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buffer.getvalue()


def _special(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def test_safe_extract(tmp_path):
    good = tmp_path / "good.tar.gz"
    good.write_bytes(_tar_with({"facades/train/1.jpg": b"abc"}))
    out = cache.safe_extract(good, tmp_path / "out")
    assert (out / "facades" / "train" / "1.jpg").read_bytes() == b"abc"
    partial = tmp_path / "partial.tar.gz"
    partial.write_bytes(good.read_bytes()[:20])
    with pytest.raises(cache.DatasetError, match="corrupt|neither"):
        cache.safe_extract(partial, tmp_path / "out3")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(_tar_with({"a/1.jpg": bytes(range(256)) * 64})[:-200])
    with pytest.raises(cache.DatasetError, match="truncated.tar.gz is corrupt .*; delete it and download it again"):
        cache.safe_extract(truncated, tmp_path / "out5")
    with pytest.raises(cache.DatasetError, match="does not exist"):
        cache.safe_extract(tmp_path / "nope.tar", tmp_path / "out4")


@pytest.mark.parametrize("entry, why", [
    ((tarfile.TarInfo("../escape.txt"), b"x"), "would be written outside the destination"),
    ((tarfile.TarInfo("/tmp/abs/escape.txt"), b"x"), "has an absolute path"),
    (_special("facades/up", tarfile.SYMTYPE, "../../escape.txt"),
     "is a link to '../../escape.txt', outside the destination"),
    (_special("facades/etc", tarfile.SYMTYPE, "/etc"), "is a link to the absolute path '/etc'"),
    (_special("facades/hard", tarfile.LNKTYPE, "../escape.txt"),
     "is a link to '../escape.txt', outside the destination"),
    (_special("facades/tty", tarfile.CHRTYPE), "is a device file, FIFO or other special file"),
    (_special("facades/fifo", tarfile.FIFOTYPE), "is a device file, FIFO or other special file"),
])
def test_safe_extract_refuses_hostile_tars_and_writes_nothing(tmp_path, entry, why):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_of([(tarfile.TarInfo("facades/train/1.jpg"), b"abc"), entry]))  # a good member first
    name = entry[0].name
    with pytest.raises(cache.DatasetError, match=f"archive member '{name}' {why}; refusing to extract into"):
        cache.safe_extract(archive, tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dest", "evil.tar.gz"]  # nothing written, anywhere


def test_a_link_made_by_an_earlier_member_is_judged_again_while_extracting(tmp_path):
    # Checked alone, "facades/inner" -> ".." stays inside and "facades/inner/../escape.txt" looks like
    # "facades/escape.txt"; once the link exists, the second member would land next to dest.
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_of([_special("facades/inner", tarfile.SYMTYPE, ".."),
                                 (tarfile.TarInfo("facades/inner/../escape.txt"), b"x")]))
    with pytest.raises(cache.DatasetError, match="member 'facades/inner/../escape.txt' would be written outside"):
        cache.safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "dest" / "facades" / "escape.txt").exists()


def test_safe_extract_zip(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("facades/train/1.jpg", b"abc")
    assert (cache.safe_extract(good, tmp_path / "out") / "facades" / "train" / "1.jpg").read_bytes() == b"abc"
    for name in ("../escape.txt", "/abs/escape.txt", "facades/../../escape.txt", "C:/escape.txt"):
        evil = tmp_path / "evil.zip"
        with zipfile.ZipFile(evil, "w") as zf:
            zf.writestr("facades/ok.txt", b"fine")
            zf.writestr(name, b"x")
        with pytest.raises(cache.DatasetError, match=f"archive member '{name}' has an absolute path or a '..' part"):
            cache.safe_extract(evil, tmp_path / "dest")
        assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())
    assert not (tmp_path / "escape.txt").exists()
    # What the check adds: zipfile itself never writes outside, it renames silently.
    with zipfile.ZipFile(tmp_path / "dotdot.zip", "w") as zf:
        zf.writestr("facades/../../escape.txt", b"x")
        zf.extractall(tmp_path / "plain")
    assert (tmp_path / "plain" / "facades" / "escape.txt").read_bytes() == b"x"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(good.read_bytes().replace(b"abc", b"abd"))  # CRC no longer matches
    with pytest.raises(cache.DatasetError, match="broken.zip is corrupt .*BadZipFile"):
        cache.safe_extract(broken, tmp_path / "out6")


@pytest.fixture
def local_server(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "file.bin").write_bytes(b"payload")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "www"), **k)  # noqa
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_checks_the_hash(local_server, tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "cache"))
    digest = "sha256:" + hashlib.sha256(b"payload").hexdigest()
    path = cache.fetch(f"{local_server}/file.bin", known_hash=digest)
    assert path.read_bytes() == b"payload" and path.parent == tmp_path / "cache" / "downloads"
    with pytest.raises(cache.DatasetError, match="does not match its pinned checksum"):
        cache.fetch(f"{local_server}/file.bin", known_hash="sha256:" + "0" * 64, fname="other.bin")
    assert not (tmp_path / "cache" / "downloads" / "other.bin").exists()
    with pytest.raises(cache.DatasetError, match="could not download"):
        cache.fetch(f"{local_server}/missing.bin", known_hash=None)
