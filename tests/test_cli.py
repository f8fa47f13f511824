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
    history = json.loads((out / "history.json").read_text())
    assert len(history["d_loss"]) == 2
    assert main(["sample", "dcgan", "--out", str(out), "--n", "4", "--file", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").exists()


def test_cli_errors_are_messages(tmp_path, capsys):
    assert main(["train", "dcgan", "--preset", "anime", "--out", str(tmp_path)]) == 2
    assert "unknown DCGAN preset 'anime'" in capsys.readouterr().err
    assert main(["train", "dcgan", "--profile", "smoke", "--out", str(tmp_path), "--set", "lr=1"]) == 2
    assert "unknown DCGANConfig key" in capsys.readouterr().err
    assert main(["train", "dcgan", "--profile", "medium", "--out", str(tmp_path)]) == 2
    assert "valid profiles are smoke, standard, full" in capsys.readouterr().err
    try:
        main(["sample", "dcgan", "--out", str(tmp_path / "nothing")])
    except SystemExit as exc:
        assert "no config.json" in str(exc)
    else:
        raise AssertionError("sample without a run must fail")
