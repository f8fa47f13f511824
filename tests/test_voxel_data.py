"""Voxel data: the procedural shapes, the 3D ShapeNets reader (on .mat fixtures written here) and the pipeline."""

import time
import types
import zipfile

import numpy as np
import pytest
import scipy.io
import scipy.ndimage

from gancourse import data
from gancourse.data import DatasetError, voxels
from gancourse.data.voxels import CUBE_LENS, SHAPE_CLASSES, offline_shapes, preprocess, procedural_shapes


def _cfg(dataset="offline_shapes", cube_len=16, batch_size=8, seed=0, **extra):
    return types.SimpleNamespace(dataset=dataset, cube_len=cube_len, batch_size=batch_size, seed=seed, **extra)


def _shapes(name, n=40, cube_len=32, seed=3):
    grids, labels = procedural_shapes(n, cube_len, classes=(name,), seed=seed)
    assert (labels == 0).all()
    return grids


def _layers(grid):
    """Occupied voxels per horizontal layer (axis 2 is up)."""
    return grid.sum(axis=(0, 1), dtype=np.int64)


def _extent(grid, axis):
    occupied = np.nonzero(grid.any(axis=tuple(a for a in range(3) if a != axis)))[0]
    return occupied[0], occupied[-1] + 1


def _pieces(layer):
    return scipy.ndimage.label(layer)[1]


# ---------------------------------------------------------------------------
# Procedural shapes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cube_len", CUBE_LENS)
def test_shapes_have_the_claimed_resolution_margin_and_one_component(cube_len):
    n = 40 if cube_len == 64 else 200
    grids, labels = procedural_shapes(n, cube_len, seed=1)
    assert grids.shape == (n, cube_len, cube_len, cube_len) and grids.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int32
    assert set(np.unique(grids)) == {0, 1}
    m = voxels.margin(cube_len)
    assert m == max(1, cube_len // 16)
    inner = np.zeros((cube_len,) * 3, bool)
    inner[m:-m, m:-m, m:-m] = True
    assert not grids[:, ~inner].any()  # an empty margin on every side
    for grid in grids:
        assert scipy.ndimage.label(grid)[1] == 1  # 6-connected (scipy's default structure): one component
        assert grid.sum() >= 20
    # each shape fills a good part of the usable cube along its longest axis
    spans = [max(np.subtract(*_extent(g, a)[::-1]) for a in range(3)) for g in grids]
    assert min(spans) >= 0.4 * (cube_len - 2 * m)


def test_classes_are_balanced_labelled_and_chosen():
    grids, labels = procedural_shapes(10, 16, seed=0)
    assert list(labels) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]  # balanced in every prefix
    assert np.bincount(procedural_shapes(600, 16)[1]).tolist() == [150] * 4
    sub, sub_labels = procedural_shapes(6, 16, classes=("airplane", "chair"), seed=0)
    assert list(sub_labels) == [0, 1, 0, 1, 0, 1]  # indices into the classes given
    assert SHAPE_CLASSES == ("chair", "table", "airplane", "lamp")
    with pytest.raises(ValueError, match="classes must be distinct names from chair, table, airplane, lamp"):
        procedural_shapes(4, 16, classes=("chair", "sofa"))
    with pytest.raises(ValueError, match="cube_len must be one of 16, 32, 64, got 48"):
        procedural_shapes(4, 48)
    with pytest.raises(ValueError, match="n must be >= 0"):
        procedural_shapes(-1, 16)


def test_shapes_are_determined_by_the_seed():
    a, _ = procedural_shapes(12, 32, seed=7)
    b, _ = procedural_shapes(12, 32, seed=7)
    c, _ = procedural_shapes(12, 32, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({g.tobytes() for g in a}) == 12  # random proportions: no two alike
    # the draws do not depend on the resolution: the same objects, coarser (heights agree within rounding)
    small, _ = procedural_shapes(12, 16, seed=7)
    for big, little in zip(a, small):
        tall = [np.subtract(*_extent(g, 2)[::-1]) / (len(g) - 2 * voxels.margin(len(g))) for g in (big, little)]
        assert abs(tall[0] - tall[1]) < 0.2


@pytest.mark.parametrize("cube_len", [16, 32])
def test_a_chair_has_a_back_above_its_seat_at_the_rear_and_four_legs(cube_len):
    for grid in _shapes("chair", cube_len=cube_len):
        layers = _layers(grid)
        seat = int(np.nonzero(layers == layers.max())[0][-1])  # the seat's top layer: the largest
        top = _extent(grid, 2)[1] - 1
        assert top - seat >= 2  # the back rises above the seat
        above = grid[:, :, seat + 1:]
        seat_x = _extent(grid[:, :, seat][:, :, None], 0)
        back_x = _extent(above, 0)
        assert back_x[1] == seat_x[1] and back_x[1] - back_x[0] <= (seat_x[1] - seat_x[0]) / 2  # at the rear edge
        assert _pieces(grid[:, :, _extent(grid, 2)[0]]) == 4  # four legs on the floor
        assert layers[seat] > 3 * layers[_extent(grid, 2)[0]]


@pytest.mark.parametrize("cube_len", [16, 32])
def test_a_table_has_its_top_highest_and_no_back(cube_len):
    for grid in _shapes("table", cube_len=cube_len):
        layers = _layers(grid)
        low, high = _extent(grid, 2)
        assert layers[high - 1] == layers.max()  # nothing above the top
        assert _pieces(grid[:, :, low]) == 4  # four legs
        assert (layers[low:high] == layers[low]).sum() + (layers[low:high] == layers.max()).sum() == high - low


@pytest.mark.parametrize("cube_len", [16, 32])
def test_an_airplane_is_longer_than_tall_with_wings_wider_than_the_fuselage_and_a_fin_at_the_rear(cube_len):
    for grid in _shapes("airplane", cube_len=cube_len):
        length, span, height = (np.subtract(*_extent(grid, a)[::-1]) for a in range(3))
        assert length >= 2 * height
        nose = grid[_extent(grid, 0)[0]]  # the first slice across the fuselage: only the fuselage
        fuselage = np.subtract(*_extent(nose[None], 1)[::-1])
        assert span >= fuselage + 4
        fin = grid[:, :, _extent(grid, 2)[1] - 1]  # the highest layer: the fin's tip
        x0, x1 = _extent(grid, 0)
        assert _extent(fin[:, :, None], 0)[1] == x1 and _extent(fin[:, :, None], 0)[0] > (x0 + x1) / 2
        assert np.subtract(*_extent(fin[:, :, None], 1)[::-1]) <= fuselage  # the fin is no wider than the body


@pytest.mark.parametrize("cube_len", [16, 32])
def test_a_lamp_has_a_base_a_thin_pole_and_a_wider_shade_on_top(cube_len):
    for grid in _shapes("lamp", cube_len=cube_len):
        layers = _layers(grid)
        low, high = _extent(grid, 2)
        pole = layers[low:high].min()
        thin = np.nonzero(layers == pole)[0]
        assert (np.diff(thin) == 1).all() and low < thin[0] and thin[-1] < high - 2  # one pole between base and shade
        base, shade = layers[low:thin[0]], layers[thin[-1] + 1:high]
        assert base.min() > pole and shade.min() > 2 * pole
        assert (np.diff(shade) <= 0).all() and shade[0] > shade[-1]  # the shade narrows upwards


def test_offline_sets_are_fixed_cached_disjoint_and_fast():
    voxels._offline.cache_clear()
    for cube_len in (16, 32):
        start = time.perf_counter()
        train, train_labels = offline_shapes("train", cube_len)
        test, test_labels = offline_shapes("test", cube_len)
        assert time.perf_counter() - start < 2.0
        assert train.shape == (600,) + (cube_len,) * 3 and test.shape == (150,) + (cube_len,) * 3
        assert np.bincount(train_labels).tolist() == [150] * 4 and np.bincount(test_labels).tolist() == [38, 38, 37, 37]
        assert not {g.tobytes() for g in test} & {g.tobytes() for g in train}  # no test shape copies a training one
        assert offline_shapes("train", cube_len)[0] is train  # cached
        assert not train.flags.writeable
    small, _ = offline_shapes("train", 16, n=20, classes=("chair", "table"))
    assert small.shape == (20, 16, 16, 16)
    picked, labels = data.voxel_arrays("offline_shapes", "train", cube_len=16, n=20, classes=("chair", "table"))
    assert picked is small and list(labels[:4]) == [0, 1, 0, 1]
    assert not np.array_equal(data.voxel_arrays("offline_shapes", "train", cube_len=16, n=20, seed=1)[0], small)
    with pytest.raises(ValueError, match="unknown split 'val' for offline_shapes; choose one of train, test"):
        offline_shapes("val", 16)


# ---------------------------------------------------------------------------
# 3D ShapeNets .mat files
# ---------------------------------------------------------------------------
def _volume(seed=0):
    rng = np.random.default_rng(seed)
    volume = np.zeros((30, 30, 30), np.uint8)
    x, y, z = rng.integers(2, 20, 3)
    volume[x:x + 8, y:y + 5, z:z + 3] = 1
    volume[x, y, z + 3:z + 9] = 1  # a one-voxel-thin post
    return volume


def _tree(root, category="chair", counts=(("train", 5), ("test", 2))):
    """``root/3DShapeNets/volumetric_data/<category>/30/<split>/*.mat`` (file names as the archive's)."""
    written = {}
    for split, count in counts:
        folder = root / "3DShapeNets" / "volumetric_data" / category / "30" / split
        folder.mkdir(parents=True)
        for i in reversed(range(count)):  # written out of order: the reader sorts
            name = folder / f"{category}_{i:09d}_1.mat"
            scipy.io.savemat(name, {"instance": _volume(i + 10 * (split == "test"))})
            written.setdefault(split, []).insert(0, name)
    return written


def test_load_mat_reads_a_grid_and_refuses_broken_files_in_one_line(tmp_path):
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"instance": _volume()})
    volume = voxels.load_mat(good)
    assert volume.dtype == np.uint8 and volume.shape == (30, 30, 30)
    np.testing.assert_array_equal(volume, _volume())
    scipy.io.savemat(tmp_path / "bool.mat", {"instance": _volume().astype(bool)})
    np.testing.assert_array_equal(voxels.load_mat(tmp_path / "bool.mat"), _volume())
    scipy.io.savemat(tmp_path / "key.mat", {"voxels": _volume()})
    scipy.io.savemat(tmp_path / "shape.mat", {"instance": np.zeros((32, 32, 32), np.uint8)})
    scipy.io.savemat(tmp_path / "values.mat", {"instance": _volume() * 0.5})
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    cases = {"key.mat": "has no 'instance' variable \\(variables: voxels\\)",
             "shape.mat": "holds a grid of shape \\(32, 32, 32\\), not \\(30, 30, 30\\)",
             "values.mat": "holds values other than 0 and 1",
             "junk.mat": "is not a readable .mat file",
             "missing.mat": "does not exist"}
    for name, message in cases.items():
        with pytest.raises(DatasetError, match=message) as info:
            voxels.load_mat(tmp_path / name)
        assert str(tmp_path / name) in str(info.value) and "\n" not in str(info.value)


def test_preprocess_pads_zooms_and_pools():
    volume = _volume(3)
    padded = preprocess(volume, 32)
    assert padded.shape == (32, 32, 32) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[1:-1, 1:-1, 1:-1], volume)
    assert padded.sum() == volume.sum()
    big = preprocess(volume, 64)
    zoomed = scipy.ndimage.zoom(np.pad(volume, 1), (2, 2, 2), mode="constant", order=0)  # the source's way
    np.testing.assert_array_equal(big, zoomed)
    assert big.sum() == 8 * volume.sum()
    small = preprocess(volume, 16)
    assert small.shape == (16, 16, 16)
    np.testing.assert_array_equal(small, padded.reshape(16, 2, 16, 2, 16, 2).max(axis=(1, 3, 5)))
    post = np.zeros((30, 30, 30), np.uint8)
    post[10, 10, 5:25] = 1  # one voxel thin
    assert preprocess(post, 16).sum() == 10  # survives max-pooling (a mean would halve it away)
    with pytest.raises(ValueError, match="cube_len must be one of 16, 32, 64, got 128"):
        preprocess(volume, 128)
    with pytest.raises(ValueError, match="expected a \\(30, 30, 30\\) grid, got shape \\(32, 32, 32\\)"):
        preprocess(padded, 32)


@pytest.mark.parametrize("where", ["root", "parent", "volumetric_data"])
def test_shapenet_volumes_reads_every_file_sorted_from_any_of_the_folders(tmp_path, where):
    written = _tree(tmp_path)
    data_dir = {"root": tmp_path, "parent": tmp_path / "3DShapeNets",
                "volumetric_data": tmp_path / "3DShapeNets" / "volumetric_data"}[where]
    assert voxels.shapenet_files(data_dir, "chair", "train") == written["train"]
    for cube_len in CUBE_LENS:
        for split, count in (("train", 5), ("test", 2)):
            grids = voxels.shapenet_volumes(data_dir, "chair", split, cube_len)
            assert grids.shape == (count,) + (cube_len,) * 3 and grids.dtype == np.uint8
            for grid, path in zip(grids, written[split]):
                np.testing.assert_array_equal(grid, preprocess(scipy.io.loadmat(path)["instance"], cube_len))


def test_the_volumetric_folder_may_sit_under_any_top_folder(tmp_path):
    _tree(tmp_path)
    (tmp_path / "3DShapeNets").rename(tmp_path / "unpacked")
    assert voxels.volumetric_root(tmp_path) == tmp_path / "unpacked" / "volumetric_data"
    assert len(voxels.shapenet_files(tmp_path, "chair", "test")) == 2


def test_shapenet_errors_name_the_problem(tmp_path):
    _tree(tmp_path)
    with pytest.raises(ValueError, match="unknown 3D ShapeNets category 'chairs'; choose one of airplane, bathtub"):
        voxels.shapenet_volumes(tmp_path, "chairs")
    with pytest.raises(DatasetError, match="no .mat files in .*airplane/30/train; the 3D ShapeNets data is "
                                           "incomplete: get http://3dshapenets.cs.princeton.edu/3DShapeNetsCode.zip"):
        voxels.shapenet_volumes(tmp_path, "airplane")
    (tmp_path / "3DShapeNets" / "volumetric_data" / "chair" / "30" / "test" / "chair_000000000_1.mat").write_text("x")
    with pytest.raises(DatasetError, match="chair_000000000_1.mat is not a readable .mat file"):
        voxels.shapenet_volumes(tmp_path, "chair", "test")
    with pytest.raises(DatasetError, match="no 3D ShapeNets volumetric data under .*empty .*unzip it there "
                                           "\\(3D ShapeNets data .*academic use only"):
        voxels.shapenet_volumes(tmp_path / "empty")
    assert len(voxels.CATEGORIES) == 40 == len(set(voxels.CATEGORIES))
    assert {"airplane", "chair", "table", "lamp", "night_stand", "flower_pot", "xbox"} <= set(voxels.CATEGORIES)
    assert "academic use only" in voxels.LICENCE and "commercial" in voxels.LICENCE


def _zip_tree(tmp_path, extra=None):
    _tree(tmp_path / "src", counts=(("train", 3), ("test", 1)))
    archive = tmp_path / "dl" / "3DShapeNetsCode.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((tmp_path / "src").rglob("*.mat")):
            zf.write(path, path.relative_to(tmp_path / "src").as_posix())
        if extra:
            zf.writestr(extra, b"evil")
    return archive


def test_the_archive_is_downloaded_through_the_cache_and_extracted_safely(tmp_path, monkeypatch):
    archive = _zip_tree(tmp_path)
    asked = []

    def fake_fetch(url, *, known_hash, fname=None, subdir="downloads"):
        asked.append((url, subdir))
        return archive

    monkeypatch.setattr(voxels, "fetch", fake_fetch)
    voxels._shapenet.cache_clear()
    grids = voxels.shapenet_volumes(None, "chair", "train", 32)
    assert asked == [("http://3dshapenets.cs.princeton.edu/3DShapeNetsCode.zip", "shapenets")]
    assert grids.shape == (3, 32, 32, 32)
    assert (tmp_path / "dl" / "extracted" / "3DShapeNets" / "volumetric_data" / "chair" / "30" / "test").is_dir()
    assert voxels.shapenet_volumes(archive, "chair", "test", 16).shape == (1, 16, 16, 16)  # the zip as data_dir
    hostile = _zip_tree(tmp_path / "h", extra="../outside.mat")
    monkeypatch.setattr(voxels, "fetch", lambda *a, **k: hostile)
    with pytest.raises(DatasetError, match="'../outside.mat' has an absolute path or a '..' part; refusing"):
        voxels.shapenet_volumes(None, "chair")
    assert not (tmp_path / "h" / "outside.mat").exists()


# ---------------------------------------------------------------------------
# Registry and pipeline
# ---------------------------------------------------------------------------
def test_registry_entries():
    assert data.VOXEL_DATASETS == ("shapenet", "offline_shapes")
    real, offline = data.get("shapenet"), data.get("offline_shapes")
    assert real.kind == offline.kind == "voxels" and real.splits == offline.splits == ("train", "test")
    assert offline.offline and not real.offline and real.reads_folder and not offline.reads_folder
    with pytest.raises(ValueError, match="offline_shapes dataset reads no folder"):
        data.load(_cfg(), data_dir="/somewhere")
    with pytest.raises(ValueError, match="shapenet is a voxel dataset; read its uint8 grids and labels with "
                                         "gancourse.data.voxel_arrays"):
        data.arrays("shapenet", image_size=32, channels=1)


def test_offline_batches_are_float_occupancy_reshuffled_by_seed():
    ds = data.load(_cfg(classes=("chair", "airplane")), "train")
    batches = [b.numpy() for b in ds]
    assert len(batches) == 600 // 8 and batches[0].shape == (8, 16, 16, 16, 1) and batches[0].dtype == np.float32
    assert set(np.unique(np.concatenate(batches))) == {0.0, 1.0}
    grids, labels = data.voxel_arrays("offline_shapes", "train", _cfg(classes=("chair", "airplane")))
    assert len(grids) == 600 and np.bincount(labels).tolist() == [300, 300]
    as_set = {g.tobytes() for g in grids.astype(np.float32)}
    assert all(b[..., 0].tobytes() in as_set for batch in batches for b in batch)  # every batch grid is a stored one
    again = [b.numpy() for b in ds]  # the next epoch: another order
    assert not np.array_equal(batches[0], again[0])
    first = next(iter(data.load(_cfg(classes=("chair", "airplane")), "train"))).numpy()
    np.testing.assert_array_equal(first, batches[0])  # same seed, same order
    other = next(iter(data.load(_cfg(seed=1, classes=("chair", "airplane")), "train"))).numpy()
    assert not np.array_equal(other, batches[0])
    ordered = next(iter(data.load(_cfg(), "test", shuffle=False))).numpy()
    np.testing.assert_array_equal(ordered[..., 0], offline_shapes("test", 16)[0][:8])


def test_shapenet_batches_from_a_folder_at_64_are_zoomed_32_grids(tmp_path):
    written = _tree(tmp_path, "airplane", counts=(("train", 6), ("test", 2)))
    cfg = _cfg("shapenet", cube_len=64, batch_size=3, category="airplane")
    batches = [b.numpy() for b in data.load(cfg, "train", data_dir=tmp_path)]
    assert len(batches) == 2 and batches[0].shape == (3, 64, 64, 64, 1) and batches[0].dtype == np.float32
    expected = {preprocess(scipy.io.loadmat(p)["instance"], 64).astype(np.float32).tobytes() for p in written["train"]}
    assert {g[..., 0].tobytes() for batch in batches for g in batch} == expected
    grids, labels = data.voxel_arrays("shapenet", "test", cfg, data_dir=tmp_path)
    assert grids.shape == (2, 64, 64, 64) and (labels == voxels.CATEGORIES.index("airplane")).all()
    with pytest.raises(ValueError, match="only 2 voxel grids for batch_size=3"):
        data.load(cfg, "test", data_dir=tmp_path)


def test_voxel_dataset_refuses_float_or_misshapen_grids():
    with pytest.raises(ValueError, match="expected uint8 or bool voxel grids"):
        voxels.voxel_dataset(np.zeros((4, 8, 8, 8), np.float32), 2)
    with pytest.raises(ValueError, match="expected voxel grids of shape \\(N, L, L, L\\), got \\(4, 8, 8\\)"):
        voxels.voxel_dataset(np.zeros((4, 8, 8), np.uint8), 2)
    with pytest.raises(ValueError, match="cube_len must be one of 16, 32, 64, got 20"):
        data.load(_cfg(cube_len=20))
    with pytest.raises(ValueError, match="'digits' is not a voxel dataset"):
        data.voxel_arrays("digits")
