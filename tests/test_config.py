import dataclasses

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
