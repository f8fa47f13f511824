"""CycleGAN through the registry: the CLI trains, resumes and samples it; the Keras 2 baseline loop trains."""

import json

import numpy as np
from PIL import Image

from gancourse.cli import main
from gancourse.legacy import LegacyCycleLoop
from gancourse.models import cyclegan


def test_cli_trains_resumes_and_samples_cyclegan(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "cyclegan", "--preset", "paper", "--profile", "smoke", "--out", str(out),
            "--set", "decay_epochs=1"]
    assert main(args + ["--epochs", "1"]) == 0, capsys.readouterr().err
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == "offline_unpaired" and saved["image_size"] == 32
    assert (out / "samples" / "epoch_0001.png").exists()
    assert main(args + ["--epochs", "2"]) == 0
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert set(history) == set(cyclegan.CycleGAN.METRICS) and all(len(v) == 2 for v in history.values())
    target = tmp_path / "s.png"
    assert main(["sample", "cyclegan", "--out", str(out), "--n", "3", "--file", str(target)]) == 0
    width, height = Image.open(target).size
    assert width > 0 and height > 0


def test_cli_rejects_bad_cyclegan_settings(tmp_path, capsys):
    assert main(["train", "cyclegan", "--profile", "smoke", "--out", str(tmp_path), "--set", "direction=a2b"]) == 2
    assert "unknown CycleGANConfig key" in capsys.readouterr().err
    assert main(["train", "cyclegan", "--preset", "cartoon", "--out", str(tmp_path)]) == 2
    assert "unknown cyclegan preset 'cartoon'" in capsys.readouterr().err


def test_keras2_cycle_loop_trains_all_four_networks():
    cfg = cyclegan.config("book").scaled("smoke")
    model = cyclegan.CycleGAN(cfg)
    loop = LegacyCycleLoop(model.g_ab, model.g_ba, model.d_a, model.d_b, lambda: cfg.make_optimizer("generators"))
    before = {k: [w.copy() for w in net.get_weights()] for k, net in model.networks.items()}
    a, b = (np.random.default_rng(s).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32) for s in (1, 2))
    d_loss, g_loss = loop.step(a, b)
    assert np.isfinite([d_loss, g_loss]).all()
    for key, net in model.networks.items():
        assert any(not np.array_equal(x, y) for x, y in zip(before[key], net.get_weights())), key
