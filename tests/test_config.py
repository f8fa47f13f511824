import dataclasses
import os

import pytest

import gancourse
from gancourse.config import Config, choice, parse_overrides, positive, profile


def test_profile_default_env_and_argument(monkeypatch):
    monkeypatch.delenv("GANCOURSE_PROFILE", raising=False)
    assert profile() == "smoke"
    monkeypatch.setenv("GANCOURSE_PROFILE", "Standard")
    assert profile() == "standard"
    assert profile("full") == "full"
    assert gancourse.describe_profile("smoke") == "smoke"


def test_profile_invalid_lists_valid_values(monkeypatch):
    monkeypatch.setenv("GANCOURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke, standard, full") as err:
        profile()
    assert "GANCOURSE_PROFILE" in str(err.value)
    with pytest.raises(ValueError, match="'tiny'"):
        profile("tiny")


@dataclasses.dataclass(frozen=True)
class Toy(Config):
    mode: str = choice("a", ("a", "b"))
    rate: float = positive(0.1)
    optional: float | None = None

    def check(self):
        if self.mode == "b" and self.rate > 1:
            raise ValueError("mode b needs rate <= 1")

    def scale_overrides(self, profile_name):
        return {"epochs": 1} if profile_name == "smoke" else {}


def test_config_validation_messages():
    with pytest.raises(ValueError, match="Toy.mode='c' is not allowed; choose one of 'a', 'b'"):
        Toy(mode="c")
    with pytest.raises(ValueError, match="Toy.rate=-1 must be > 0"):
        Toy(rate=-1)
    with pytest.raises(ValueError, match="Toy.epochs must be of type int"):
        Toy(epochs=1.5)
    with pytest.raises(ValueError, match="must be of type int"):
        Toy(epochs=True)
    with pytest.raises(ValueError, match="mode b needs rate <= 1"):
        Toy(mode="b", rate=2)
    assert Toy(rate=1).rate == 1  # an int is a valid float
    assert Toy(optional=None).optional is None


def test_config_unknown_keys_and_round_trip():
    cfg = Toy()
    with pytest.raises(ValueError, match=r"unknown Toy key\(s\) 'learning_rat'; valid keys are"):
        cfg.replace(learning_rat=1.0)
    with pytest.raises(ValueError, match="unknown Toy key"):
        Toy.from_dict({"nope": 1})
    again = Toy.from_dict(cfg.replace(rate=0.5).to_dict())
    assert again == cfg.replace(rate=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rate = 3


def test_scaled_applies_overrides_once(monkeypatch):
    cfg = Toy(epochs=100)
    small = cfg.scaled("smoke")
    assert (small.epochs, small.profile) == (1, "smoke")
    assert cfg.scaled("full") == cfg.replace(profile="full")
    monkeypatch.setenv("GANCOURSE_PROFILE", "standard")
    assert cfg.scaled().profile == "standard"
    with pytest.raises(ValueError, match="already scaled"):
        small.scaled("smoke")


def test_parse_overrides_types():
    assert parse_overrides(Toy, ["rate=0.5", "mode=b", "epochs=3", "optional=none"]) == {
        "rate": 0.5, "mode": "b", "epochs": 3, "optional": None}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(Toy, ["rate"])
    with pytest.raises(ValueError, match="cannot convert to int"):
        parse_overrides(Toy, ["epochs=three"])
    with pytest.raises(ValueError, match="unknown Toy key"):
        parse_overrides(Toy, ["speed=1"])


# -- the profile selector of a chapter's first cell ---------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_selector(monkeypatch):
    """Each test starts as a fresh kernel does: the selector has written nothing yet."""
    monkeypatch.setattr(gancourse.config, "_SELECTOR", {"written": None, "user": None})


def _select(capsys, *args, **kwargs):
    selected = gancourse.select_profile(*args, **kwargs)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return selected, lines[0]


def test_select_profile_auto_follows_the_gpu_without_the_environment_variable(monkeypatch, capsys):
    monkeypatch.delenv("GANCOURSE_PROFILE", raising=False)
    selected, line = _select(capsys, "auto", gpu=True)
    assert selected == "standard" and "GPU is available" in line
    assert os.environ["GANCOURSE_PROFILE"] == "standard" and profile() == "standard"
    assert gancourse.describe_profile() == "standard"
    capsys.readouterr()
    monkeypatch.delenv("GANCOURSE_PROFILE")
    selected, line = _select(capsys, "auto", gpu=False)
    assert selected == "smoke" and "no GPU" in line and profile() == "smoke"
    assert line.startswith("selected profile: smoke (") and "first cell" in line and "GANCOURSE_PROFILE" in line


def test_select_profile_auto_keeps_the_environment_variable(monkeypatch, capsys):
    # CI sets GANCOURSE_PROFILE=smoke; "auto" must not switch to standard on a GPU machine.
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    selected, line = _select(capsys, "auto", gpu=True)
    assert selected == "smoke" and "GANCOURSE_PROFILE=smoke" in line
    monkeypatch.setenv("GANCOURSE_PROFILE", " Standard ")
    assert _select(capsys, "AUTO", gpu=False)[0] == "standard"
    assert os.environ["GANCOURSE_PROFILE"] == "standard"
    monkeypatch.setenv("GANCOURSE_PROFILE", "")  # an empty variable counts as unset
    assert _select(capsys, "auto", gpu=False)[0] == "smoke"


def test_select_profile_explicit_choice_wins_and_says_what_it_overrides(monkeypatch, capsys):
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    selected, line = _select(capsys, " Full ", gpu=False)
    assert selected == "full" and os.environ["GANCOURSE_PROFILE"] == "full"
    assert "chosen in the first cell, overriding GANCOURSE_PROFILE=smoke" in line
    monkeypatch.delenv("GANCOURSE_PROFILE")
    selected, line = _select(capsys, "standard")  # no GPU question needed for an explicit choice
    assert selected == "standard" and "overriding" not in line


def test_select_profile_asks_for_a_gpu_only_when_auto_needs_it(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(gancourse.config, "gpu_available", lambda: asked.append(1) or True)
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    gancourse.select_profile("auto")
    gancourse.select_profile("smoke")
    assert asked == []
    monkeypatch.delenv("GANCOURSE_PROFILE")
    assert gancourse.select_profile("auto") == "standard" and asked == [1]


def test_select_profile_rejects_bad_values_in_one_line(monkeypatch):
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    for bad in ("huge", "", None, 3):
        with pytest.raises(ValueError, match="is not a profile; choose one of auto, smoke, standard, full") as err:
            gancourse.select_profile(bad)
        assert "\n" not in str(err.value)
    assert os.environ["GANCOURSE_PROFILE"] == "smoke", "a rejected choice must not change the profile"
    monkeypatch.setenv("GANCOURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="unknown profile 'huge'.*GANCOURSE_PROFILE"):
        gancourse.select_profile("auto", gpu=True)


def test_running_the_first_cell_again_decides_afresh(monkeypatch, capsys):
    # Colab with a GPU: auto -> standard; the reader picks smoke; back to auto -> standard again, because the
    # smoke in GANCOURSE_PROFILE was written by the selector, not set by the reader.
    monkeypatch.delenv("GANCOURSE_PROFILE", raising=False)
    assert [_select(capsys, c, gpu=True)[0] for c in ("auto", "smoke", "auto")] == ["standard", "smoke", "standard"]
    # CI: the environment's smoke stays the answer of "auto" however often the cell runs.
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    assert [_select(capsys, c, gpu=True)[0] for c in ("auto", "auto", "full", "auto")] == [
        "smoke", "smoke", "full", "smoke"]
    # A value the reader sets by hand after a selection is theirs again.
    monkeypatch.setenv("GANCOURSE_PROFILE", "standard")
    selected, line = _select(capsys, "auto", gpu=False)
    assert selected == "standard" and "kept GANCOURSE_PROFILE=standard" in line


def test_gpu_available_is_false_without_tensorflow(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` raise ImportError
    assert gancourse.gpu_available() is False
