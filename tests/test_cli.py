import json

from gancourse.cli import main


def test_train_resume_and_sample(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "dcgan", "--preset", "pyimagesearch", "--profile", "smoke", "--out", str(out)]
    assert main(args + ["--epochs", "1", "--set", "batch_size=32"]) == 0
    assert json.loads((out / "config.json").read_text())["preset"] == "pyimagesearch"
    assert (out / "samples" / "epoch_0001.png").exists()
    assert main(args + ["--epochs", "2", "--set", "batch_size=32"]) == 0
    printed = capsys.readouterr().out
    assert "resuming from the checkpoint of epoch 1" in printed
    assert "training health: no problems detected in 1 epoch (details in" in printed  # the monitor is on
    assert json.loads((out / "health.json").read_text())["findings"] == []
    history = json.loads((out / "history.json").read_text())
    assert len(history["d_loss"]) == 2
    assert main(["sample", "dcgan", "--out", str(out), "--n", "4", "--file", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").exists()


def test_the_health_monitor_names_a_broken_run_and_can_be_turned_off(tmp_path, capsys):
    args = ["train", "dcgan", "--profile", "smoke", "--epochs", "4", "--set", "learning_rate=0.3"]
    assert main(args + ["--out", str(tmp_path / "broken")]) == 0
    printed = capsys.readouterr().out
    assert "training health: [d_overpowers_g]" in printed and "Try: " in printed
    saved = json.loads((tmp_path / "broken" / "health.json").read_text())
    assert "d_overpowers_g" in [f["kind"] for f in saved["findings"]]
    assert main(args + ["--out", str(tmp_path / "quiet"), "--no-health"]) == 0
    assert "training health" not in capsys.readouterr().out
    assert not (tmp_path / "quiet" / "health.json").exists()


def test_cli_errors_are_messages(tmp_path, capsys):
    assert main(["train", "dcgan", "--preset", "anime", "--out", str(tmp_path)]) == 2
    assert "unknown dcgan preset 'anime'" in capsys.readouterr().err
    assert main(["train", "dcgan", "--profile", "smoke", "--out", str(tmp_path), "--set", "lr=1"]) == 2
    assert "unknown DCGANConfig key" in capsys.readouterr().err
    assert main(["train", "dcgan", "--profile", "medium", "--out", str(tmp_path)]) == 2
    assert "valid profiles are smoke, standard, full" in capsys.readouterr().err
    assert main(["sample", "dcgan", "--out", str(tmp_path / "nothing")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_data_folder_is_used_on_every_profile_or_refused(tmp_path, capsys):
    out = tmp_path / "run"
    # smoke would train on offline digits; --data switches back to the preset's own dataset (a face folder)
    assert main(["train", "dcgan", "--preset", "book", "--profile", "smoke", "--data", str(tmp_path / "none"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err and "Traceback" not in err
    assert not out.exists()  # nothing written for a run that cannot start
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"not a png")
    assert main(["train", "dcgan", "--preset", "book", "--profile", "smoke", "--data", str(bad),
                 "--out", str(out)]) == 2
    assert "a.png" in capsys.readouterr().err
    assert main(["train", "pix2pix", "--profile", "smoke", "--data", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no facades dataset under" in capsys.readouterr().err
    assert main(["train", "gan", "--preset", "ring", "--data", str(bad), "--out", str(out)]) == 2
    assert "reads no folder" in capsys.readouterr().err


def test_killed_run_resumes_with_the_whole_history(tmp_path):
    """SIGKILL a CLI run after its second checkpoint, resume it, and find every epoch in history.json once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "gancourse", "train", "gan", "--preset", "ring", "--profile", "smoke",
           "--epochs", "12", "--set", "steps_per_epoch=50", "--out", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not list((out / "checkpoints").glob("ckpt-2.index")) and time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = json.loads((out / "history.json").read_text())
    assert 2 <= len(killed["d_loss"]) < 12  # written after every epoch, not at the end
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from the checkpoint of epoch" in done.stdout
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"d_loss", "g_loss", "d_acc", "d_real", "d_fake"}
    assert all(len(values) == 12 for values in history.values())
    resumed_at = int(done.stdout.split("resuming from the checkpoint of epoch ")[1].split()[0])
    assert history["d_loss"][:resumed_at] == killed["d_loss"][:resumed_at]  # the killed run's epochs kept


def test_history_log_replaces_epochs_after_the_checkpoint(tmp_path):
    from gancourse.training import HistoryLog

    log = HistoryLog(tmp_path / "history.json")
    for epoch in range(3):
        log.on_epoch_end(epoch, {"loss": float(epoch)})
    log.on_epoch_end(1, {"loss": 10.0, "fid": 5.0})  # resumed from the epoch-1 checkpoint
    assert log.read() == {"loss": [0.0, 10.0], "fid": [None, 5.0]}
    (tmp_path / "history.json").write_text("{broken")
    import pytest

    with pytest.raises(ValueError, match="is not valid JSON"):
        log.on_epoch_end(2, {"loss": 1.0})


def test_help_lists_presets_and_every_argument_has_help(capsys, monkeypatch):
    import argparse
    import sys

    import pytest

    from gancourse.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in list(subparsers.choices.items()) + [("crop-faces", subparsers.choices["data"]._actions[-1]
                                                          .choices["crop-faces"])]:
        for action in sub._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{name} {action.dest} has no help"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    text = capsys.readouterr().out
    assert "dcgan: modern, paper, book, pyimagesearch" in " ".join(text.split()) and "``" not in text
    monkeypatch.setattr(sys, "argv", ["/usr/bin/gancourse"])
    assert build_parser().prog == "gancourse"
    monkeypatch.setattr(sys, "argv", ["/x/gancourse/__main__.py"])
    assert build_parser().prog == "python -m gancourse"


def test_history_is_written_before_the_checkpoint(tmp_path):
    """A kill between the two callbacks must leave history ahead of the checkpoint, never behind it."""
    import keras
    import numpy as np

    from gancourse import models
    from gancourse.training import HistoryLog, fit
    from gancourse.training.checkpoints import Checkpoint

    class Marker(keras.callbacks.Callback):
        pass

    entry = models.get("gan")
    cfg = entry.config("ring").scaled("smoke").replace(epochs=1, steps_per_epoch=2)
    model = entry.model_class(cfg)
    model.compile()
    data = entry.batches(cfg, np.zeros((256, 2), "float32"))
    _, cbs = fit(model, data, cfg, tmp_path, extra_callbacks=[Marker()], verbose=0, tensorboard=False)
    kinds = [type(cb) for cb in cbs]
    assert kinds.index(Marker) < kinds.index(HistoryLog) < kinds.index(Checkpoint) == len(kinds) - 1
