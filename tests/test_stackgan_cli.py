"""StackGAN through the CLI: both stages, resume, the caption grid, typed captions, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from gancourse.cli import main

SMALL = ["--set", "g1_filters=32", "--set", "d1_filters=8", "--set", "g2_filters=8", "--set", "d2_filters=4",
         "--set", "stage2_epochs=1", "--set", "batch_size=64"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("birds") / "run"
    args = ["train", "stackgan", "--profile", "smoke", "--out", str(out)] + SMALL
    assert main(args + ["--epochs", "1"]) == 0  # Stage-I for 1 epoch, then Stage-II's epoch: 2 in all
    return out, args


def test_cli_trains_both_stages_and_resumes(run, capsys):
    out, args = run
    saved = json.loads((out / "config.json").read_text())
    assert (saved["dataset"], saved["image_size"], saved["stage2_epochs"]) == ("offline_birds", 16, 1)
    history = json.loads((out / "history.json").read_text())
    assert len(history["d_loss"]) == 1 and history["d2_loss"][0] is None  # each stage logs its own metrics
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["d2_loss"][1])
    grid = out / "samples" / "epoch_0002.png"
    # 8 held-out captions (rows) x 4 noise vectors, each a Stage-I | Stage-II pair of 64 px pictures
    assert Image.open(grid).size == (8 * 65 + 1, 8 * 65 + 1)
    assert main(args + ["--epochs", "2"]) == 2
    assert "Stage-I ended after epoch 1 and its Stage-II was trained on that generator" in capsys.readouterr().err
    assert main(args + ["--epochs", "1"]) == 0
    assert "already completed 2 of 2 epochs; nothing to train" in capsys.readouterr().out


def test_cli_samples_typed_captions(run, tmp_path, capsys):
    out, _ = run
    target = tmp_path / "birds.png"
    captions = ["a small red bird with blue wings", "a large yellow bird with black wings, flying over grass"]
    assert main(["sample", "stackgan", "--out", str(out), "--caption", captions[0], "--caption", captions[1],
                 "--n", "3", "--file", str(target)]) == 0
    assert "2 caption(s) x 3 samples (Stage-I, Stage-II side by side)" in capsys.readouterr().out
    assert Image.open(target).size == (6 * 65 + 1, 2 * 65 + 1)
    default = tmp_path / "held_out.png"
    assert main(["sample", "stackgan", "--out", str(out), "--n", "2", "--file", str(default)]) == 0
    assert Image.open(default).size == (8 * 65 + 1, 2 * 65 + 1)  # 2 held-out captions


def test_cli_refuses_bad_captions(run, tmp_path, capsys):
    out, _ = run
    assert main(["sample", "stackgan", "--out", str(out), "--caption", "   ", "--file", str(tmp_path / "x.png")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["sample", "stackgan", "--out", str(out), "--caption", "a red bird", "--n", "0",
                 "--file", str(tmp_path / "y.png")]) == 2
    assert "n=0 must be >= 1" in capsys.readouterr().err
    assert main(["train", "stackgan", "--profile", "smoke", "--out", str(tmp_path / "r"), "--set",
                 "captions_per_step=11"]) == 2
    assert "captions_per_step" in capsys.readouterr().err
