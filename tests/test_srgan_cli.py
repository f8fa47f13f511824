"""SRGAN through the CLI: train, kill-and-resume across the phase switch, sample, upscale a folder, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from gancourse.cli import main
from gancourse.models import srgan


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr") / "run"
    args = ["train", "srgan", "--preset", "book", "--profile", "smoke", "--out", str(out),
            "--set", "steps_per_epoch=3", "--set", "pretrain_epochs=1"]
    assert main(args + ["--epochs", "1"]) == 0
    return out, args


def test_cli_trains_and_resumes_into_the_gan_phase(run, capsys):
    out, args = run
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == "offline_sr" and saved["image_size"] == 64 and saved["feature_weights"] == "random"
    assert (out / "samples" / "epoch_0001.png").exists()
    assert main(args + ["--epochs", "2"]) == 0
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert set(history) == set(srgan.SRGAN.METRICS) and all(len(v) == 2 for v in history.values())
    assert history["d_loss"][0] == 0.0 and history["d_loss"][1] > 0.0  # pre-training, then the GAN phase
    assert history["g_adv"][1] > 0.0


def test_cli_samples_and_upscales_a_folder(run, tmp_path, capsys):
    out, _ = run
    target = tmp_path / "s.png"
    assert main(["sample", "srgan", "--out", str(out), "--n", "2", "--file", str(target)]) == 0
    assert Image.open(target).size[0] > 64
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)).save(src / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(src / "b.jpg")  # grey: read as RGB
    dst = tmp_path / "big"
    assert main(["upscale", str(src), str(dst), "--out", str(out)]) == 0, capsys.readouterr().err
    assert Image.open(dst / "a_x4.png").size == (56, 40) and Image.open(dst / "b_x4.png").size == (64, 64)
    assert main(["upscale", str(src), str(dst), "--out", str(out)]) == 2  # nothing is overwritten
    assert "exists" in capsys.readouterr().err


def test_cli_upscale_refuses_bad_input(run, tmp_path, capsys):
    out, _ = run
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["upscale", str(empty), str(tmp_path / "o"), "--out", str(out)]) == 2
    assert "holds no images" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"not a png")
    assert main(["upscale", str(broken), str(tmp_path / "o2"), "--out", str(out)]) == 2
    assert "x.png" in capsys.readouterr().err
    big = tmp_path / "big"
    big.mkdir()
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(big / "huge.png")
    assert main(["upscale", str(big), str(tmp_path / "o3"), "--out", str(out)]) == 2
    assert "crop or shrink it first" in capsys.readouterr().err
    assert main(["upscale", str(big), str(tmp_path / "o4"), "--out", str(tmp_path / "norun")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_cli_rejects_bad_srgan_settings(tmp_path, capsys):
    assert main(["train", "srgan", "--profile", "smoke", "--out", str(tmp_path), "--set", "upscale=8"]) == 2
    assert "unknown SRGANConfig key" in capsys.readouterr().err
    assert main(["train", "srgan", "--profile", "smoke", "--out", str(tmp_path), "--set", "scale=3"]) == 2
    assert "scale" in capsys.readouterr().err
    assert main(["train", "srgan", "--profile", "smoke", "--out", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "celeba" in capsys.readouterr().err.lower()
