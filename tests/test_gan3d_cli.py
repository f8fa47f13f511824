"""3D-GAN through the CLI: train, resume, sample (depth pictures, surfaces and the grids), bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from gancourse.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("g3d") / "run"
    args = ["train", "gan3d", "--preset", "paper", "--profile", "smoke", "--out", str(out),
            "--set", "g_filters=16", "--set", "d_filters=16"]
    assert main(args + ["--epochs", "1"]) == 0
    return out, args


def test_cli_trains_and_resumes(run, capsys):
    out, args = run
    saved = json.loads((out / "config.json").read_text())
    assert (saved["dataset"], saved["cube_len"], saved["d_threshold"]) == ("offline_shapes", 16, 0.8)
    assert (out / "samples" / "epoch_0001.png").exists()
    assert main(args + ["--epochs", "2"]) == 0
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert len(history["d_updates"]) == 2 and all(0.0 <= v <= 1.0 for v in history["d_updates"])


def test_cli_sample_writes_pictures_surfaces_and_grids(run, tmp_path, capsys):
    out, _ = run
    target = tmp_path / "s.png"
    assert main(["sample", "gan3d", "--out", str(out), "--n", "4", "--file", str(target)]) == 0
    printed = capsys.readouterr().out
    surfaces, grids = tmp_path / "s_surfaces.png", tmp_path / "s_voxels.npz"
    assert str(surfaces) in printed and str(grids) in printed
    assert Image.open(target).size[0] >= 64 and Image.open(surfaces).size[0] > 100
    with np.load(grids) as saved:
        assert saved["voxels"].shape == (4, 16, 16, 16) and saved["voxels"].dtype == np.uint8
        assert set(np.unique(saved["voxels"])) <= {0, 1}
        assert saved["noise"].shape == (4, 200)


def test_cli_refuses_bad_settings(tmp_path, capsys):
    base = ["train", "gan3d", "--profile", "smoke", "--out", str(tmp_path / "x")]
    assert main(base + ["--set", "cube_len=24"]) != 0
    assert "cube_len=24 is not allowed; choose one of 16, 32, 64" in capsys.readouterr().err
    assert main(base + ["--profile", "full", "--data", str(tmp_path / "missing")]) != 0
    err = capsys.readouterr().err
    assert "3DShapeNetsCode.zip" in err and "academic use" in err
    assert not (tmp_path / "x").exists()
