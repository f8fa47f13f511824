"""Age-cGAN through the CLI: both phases, resume in either phase, sample the age grid, the age command, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from gancourse.cli import main

SMALL = ["--set", "g_dense=32", "--set", "g_filters=16", "--set", "d_filters=8", "--set", "e_filters=8",
         "--set", "e_dense=32", "--set", "encoder_epochs=1", "--set", "encoder_steps_per_epoch=3",
         "--set", "batch_size=32", "--set", "latent_steps=3"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("age") / "run"
    args = ["train", "agecgan", "--profile", "smoke", "--out", str(out)] + SMALL
    assert main(args + ["--epochs", "1"]) == 0  # phase 1 for 1 epoch, then the encoder's epoch: 2 in all
    return out, args


def test_cli_trains_both_phases_and_resumes(run, capsys):
    out, args = run
    saved = json.loads((out / "config.json").read_text())
    assert (saved["dataset"], saved["face_net"], saved["image_size"]) == ("offline_faces", "rendered", 32)
    history = json.loads((out / "history.json").read_text())
    assert len(history["d_loss"]) == 1 and history["encoder_loss"] == [None, pytest.approx(history["encoder_loss"][1])]
    assert np.isfinite(history["encoder_loss"][1])
    assert (out / "samples" / "epoch_0001.png").exists()
    # the encoder was trained on the epoch-1 generator: a longer cGAN phase now is refused, not silently mixed
    assert main(args + ["--epochs", "2"]) == 2
    assert "cGAN phase ended after epoch 1 and its encoder was trained on that generator" in capsys.readouterr().err
    assert main(args + ["--epochs", "1"]) == 0
    assert "already completed 2 of 2 epochs; nothing to train" in capsys.readouterr().out


def test_cli_sample_writes_the_age_grid(run, tmp_path, capsys):
    out, _ = run
    target = tmp_path / "grid.png"
    assert main(["sample", "agecgan", "--out", str(out), "--n", "4", "--file", str(target)]) == 0
    width, height = Image.open(target).size
    assert (width, height) == (4 * 33 + 1, 6 * 33 + 1)  # four latents (columns) at six ages (rows)


def test_cli_age_writes_a_strip_per_face(run, tmp_path, capsys):
    out, _ = run
    faces = []
    for i, size in enumerate((32, 90)):
        path = tmp_path / f"face{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
        faces.append(str(path))
    target = tmp_path / "strip.png"
    assert main(["age", "--out", str(out), *faces, "--years", "34", "--file", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "columns: input, 0-18, 19-29, 30-39, 40-49, 50-59, 60+" in printed and "identity optimisation" in printed
    assert Image.open(target).size == (7 * 33 + 1, 2 * 33 + 1)
    # the input column is the input, resized
    strip = np.asarray(Image.open(target))
    assert np.array_equal(strip[1:33, 1:33], np.asarray(Image.open(faces[0]).convert("RGB").resize((32, 32),
                                                                                                  Image.BILINEAR)))
    again = tmp_path / "strip2.png"
    assert main(["age", "--out", str(out), faces[0], "--group", "60+", "--refine", "none", "--file",
                 str(again)]) == 0
    assert "E(x) alone" in capsys.readouterr().out


def test_cli_age_refuses_bad_input(run, tmp_path, capsys):
    out, _ = run
    face = tmp_path / "f.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(face)
    cases = [
        (["--years", "0"], "--years 0 is not an age in years"),
        (["--group", "7"], "--group '7' is not an age group; give 0-5 or one of 0-18"),
        (["--years", "30", "--steps", "-1"], "steps=-1 must be >= 0"),
    ]
    for extra, message in cases:
        assert main(["age", "--out", str(out), str(face), "--file", str(tmp_path / "o.png"), *extra]) == 2
        assert message in capsys.readouterr().err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert main(["age", "--out", str(out), str(broken), "--years", "30", "--file", str(tmp_path / "o.png")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["age", "--out", str(out), str(tmp_path / "none.png"), "--years", "30"]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert main(["age", "--out", str(tmp_path / "norun"), str(face), "--years", "30"]) == 2
    assert "has no config.json; train a model there first" in capsys.readouterr().err
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"")
    assert main(["age", "--out", str(out), str(face), "--years", "30", "--file", str(existing)]) == 2
    assert "exists; choose another --file" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_cli_refuses_bad_settings(tmp_path, capsys):
    base = ["train", "agecgan", "--profile", "smoke", "--out", str(tmp_path / "x")]
    assert main(base + ["--set", "image_size=48"]) == 2
    assert "image_size=48 is not allowed; choose one of 32, 64, 128" in capsys.readouterr().err
    assert main(base + ["--set", "objective=wgan"]) == 2
    assert "objective='wgan' is not supported" in capsys.readouterr().err
    assert main(base + ["--profile", "full", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "wiki_crop" in err
    assert not (tmp_path / "x").exists()
