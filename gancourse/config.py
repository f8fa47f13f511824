"""Profiles and the validated configuration base class.

A *profile* says how big a run is:

``smoke``
    CI and laptops: offline data, about a minute per chapter on two CPU cores.
    The same configuration runs on a GPU.
``standard``
    One Colab GPU: real data, 10-30 minutes per chapter, visibly good results.
``full``
    The preset's full training length, as its source describes it.

Every model configuration is a frozen dataclass that derives from :class:`Config`.
Fields declare their constraints with :func:`choice`, :func:`positive`,
:func:`non_negative` and :func:`unit_interval`; construction, :meth:`Config.replace`
and :meth:`Config.from_dict` check types and values and raise :class:`ValueError`
naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any, ClassVar, Mapping

PROFILES = ("smoke", "standard", "full")
#: Adversarial objectives (implemented in :mod:`gancourse.losses`; named here so configs import no TensorFlow).
OBJECTIVE_NAMES = ("bce", "lsgan", "hinge", "wgan", "wgan-gp")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "inverse_time", "linear")
JIT = {"auto": "auto", "on": True, "off": False}
PROFILE_ENV = "GANCOURSE_PROFILE"
DEFAULT_PROFILE = "smoke"


def profile(name: str | None = None) -> str:
    """Return the selected profile name, validated.

    Args:
        name: an explicit profile; when ``None`` the ``GANCOURSE_PROFILE``
            environment variable is read, defaulting to ``"smoke"``.

    Raises:
        ValueError: the name is not one of ``smoke``, ``standard``, ``full``.
    """
    if name is None:
        return _validated(os.environ.get(PROFILE_ENV, DEFAULT_PROFILE), f"environment variable {PROFILE_ENV}")
    return _validated(name, "argument")


def _validated(name: str, source: str) -> str:
    value = name.strip().lower()
    if value not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from the {source}); valid profiles are "
            f"{', '.join(PROFILES)}"
        )
    return value


#: What the first cell of a chapter may ask for: ``auto`` or a profile.
PROFILE_CHOICES = ("auto",) + PROFILES
_CHANGE = "change it with PROFILE in the first cell (or GANCOURSE_PROFILE), then run all cells again"


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU (imports TensorFlow; ``False`` when it is not installed)."""
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return bool(tf.config.list_physical_devices("GPU"))


#: What :func:`select_profile` last wrote to ``GANCOURSE_PROFILE`` and the value the user's environment gave it.
_SELECTOR: dict[str, str | None] = {"written": None, "user": None}


def _environment_profile() -> str:
    """``GANCOURSE_PROFILE`` as the user set it ("" when unset): a value :func:`select_profile` wrote itself is
    not the user's, so running the first cell again with ``"auto"`` decides as it did the first time."""
    current = os.environ.get(PROFILE_ENV, "").strip()
    if current != _SELECTOR["written"]:
        _SELECTOR["user"] = current or None
    return _SELECTOR["user"] or ""


def select_profile(choice: str = "auto", *, gpu: bool | None = None) -> str:
    """Choose the profile for the rest of the session, as a chapter's first cell does.

    ``"auto"`` keeps the ``GANCOURSE_PROFILE`` environment variable when it is
    set (so CI's ``GANCOURSE_PROFILE=smoke`` wins), and otherwise picks
    ``standard`` when a GPU is available and ``smoke`` without one; a value
    this function wrote itself does not count as set, so running the cell again
    after picking another profile decides afresh. A profile name is used as
    given. The result is written to ``GANCOURSE_PROFILE``, so
    :func:`profile` and :func:`gancourse.describe_profile` in later cells see
    it, and one line says which profile was chosen, why, and how to change it.

    Args:
        choice: ``"auto"``, ``"smoke"``, ``"standard"`` or ``"full"`` (case and
            surrounding spaces are ignored).
        gpu: whether a GPU is available; ``None`` asks TensorFlow
            (:func:`gpu_available`), only when ``"auto"`` needs to know.

    Returns:
        The selected profile name.

    Raises:
        ValueError: ``choice`` is not one of the four, or ``"auto"`` found an
            invalid ``GANCOURSE_PROFILE``.
    """
    value = choice.strip().lower() if isinstance(choice, str) else None
    if value not in PROFILE_CHOICES:
        raise ValueError(f"PROFILE={choice!r} is not a profile; choose one of {', '.join(PROFILE_CHOICES)}")
    env = _environment_profile()
    if value != "auto":
        selected, why = value, "chosen in the first cell"
        if env and env.lower() != value:
            why += f", overriding {PROFILE_ENV}={env}"
    elif env:
        selected = _validated(env, f"environment variable {PROFILE_ENV}")
        why = f"auto: kept {PROFILE_ENV}={env} from the environment"
    else:
        has_gpu = gpu_available() if gpu is None else bool(gpu)
        selected = "standard" if has_gpu else "smoke"
        why = "auto: a GPU is available" if has_gpu else "auto: no GPU found"
    os.environ[PROFILE_ENV] = _SELECTOR["written"] = selected
    print(f"selected profile: {selected} ({why}); {_CHANGE}")
    return selected


def choice(default: Any, options: tuple, doc: str = "") -> Any:
    """A dataclass field whose value must be one of ``options``."""
    return dataclasses.field(default=default, metadata={"choices": tuple(options), "doc": doc})


def positive(default: Any, doc: str = "") -> Any:
    """A numeric dataclass field that must be > 0."""
    return dataclasses.field(default=default, metadata={"min": 0, "min_exclusive": True, "doc": doc})


def non_negative(default: Any, doc: str = "") -> Any:
    """A numeric dataclass field that must be >= 0."""
    return dataclasses.field(default=default, metadata={"min": 0, "doc": doc})


def unit_interval(default: Any, doc: str = "") -> Any:
    """A float field in the closed interval [0, 1]."""
    return dataclasses.field(default=default, metadata={"min": 0, "max": 1, "doc": doc})


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "types.UnionType":
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        return isinstance(value, (tuple, list))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of every model configuration.

    Subclasses are frozen dataclasses. They set ``PRESET_NAME`` style data in
    their module and override :meth:`scale_overrides` to say how a profile
    shrinks or grows a run; they never change the architecture family.
    """

    preset: str = "custom"
    profile: str = choice("full", PROFILES, "the profile this config was scaled to")
    epochs: int = positive(1)
    batch_size: int = positive(64)
    seed: int = non_negative(0)

    KIND: ClassVar[str] = "config"
    #: ``{preset name: field values}``; the first is the default preset.
    PRESETS: ClassVar[dict] = {}
    #: ``{preset name: {profile: field values}}`` applied by :meth:`scaled` after :meth:`scale_overrides`.
    PROFILE_OVERRIDES: ClassVar[dict] = {}

    def __post_init__(self) -> None:
        self.validate()

    # -- validation -----------------------------------------------------
    def validate(self) -> None:
        """Check every field's type and declared constraint, then :meth:`check`."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            hint = hints.get(f.name, Any)
            if not _type_ok(value, hint):
                raise ValueError(
                    f"{type(self).__name__}.{f.name} must be of type {_type_name(hint)}, "
                    f"got {value!r} ({type(value).__name__})"
                )
            meta = f.metadata
            if "choices" in meta and value not in meta["choices"]:
                raise ValueError(
                    f"{type(self).__name__}.{f.name}={value!r} is not allowed; "
                    f"choose one of {', '.join(map(repr, meta['choices']))}"
                )
            if "min" in meta and value is not None:
                low = meta["min"]
                bad = value <= low if meta.get("min_exclusive") else value < low
                if bad:
                    relation = ">" if meta.get("min_exclusive") else ">="
                    raise ValueError(f"{type(self).__name__}.{f.name}={value!r} must be {relation} {low}")
            if "max" in meta and value is not None and value > meta["max"]:
                raise ValueError(f"{type(self).__name__}.{f.name}={value!r} must be <= {meta['max']}")
        self.check()

    def check(self) -> None:
        """Cross-field checks; subclasses override and raise ``ValueError``."""

    @property
    def total_epochs(self) -> int:
        """The epochs a whole training run lasts (``epochs``; a model with later phases adds theirs)."""
        return self.epochs

    # -- construction -----------------------------------------------------
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all configurable fields."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def _reject_unknown(cls, keys) -> None:
        unknown = sorted(set(keys) - set(cls.field_names()))
        if unknown:
            raise ValueError(
                f"unknown {cls.__name__} key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are {', '.join(cls.field_names())}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Config":
        """Build a config from a mapping, rejecting unknown keys."""
        cls._reject_unknown(values)
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (JSON-serialisable for the built-in types)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "Config":
        """A validated copy with ``changes`` applied; unknown keys raise ``ValueError``."""
        self._reject_unknown(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        """The names of this config's presets, the default first."""
        return tuple(cls.PRESETS)

    @classmethod
    def _from_preset(cls, name: str | None = None, **overrides: Any) -> "Config":
        """The named preset (default: the first) as a full-size, validated config; ``overrides`` replace
        fields (unknown names raise ``ValueError``)."""
        name = cls.preset_names()[0] if name is None else name
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.KIND} preset {name!r}; choose one of {', '.join(cls.PRESETS)}")
        return cls(preset=name, **cls.PRESETS[name]).replace(**overrides)

    # -- profiles -----------------------------------------------------------
    def scale_overrides(self, profile_name: str) -> dict[str, Any]:
        """Field changes that take this (full-size) config to ``profile_name`` (rules shared by all presets;
        per-preset values go in ``PROFILE_OVERRIDES``)."""
        return {}

    def scaled(self, profile_name: str | None = None) -> "Config":
        """This preset sized for a profile (``None`` reads ``GANCOURSE_PROFILE``).

        Scaling shrinks data, width and training length for ``smoke``, sets the
        Colab-sized length for ``standard`` and leaves ``full`` as it is. It
        never changes the sequence of layers.
        """
        name = profile(profile_name)
        if self.profile != "full":
            raise ValueError(
                f"this config is already scaled to {self.profile!r}; scale the full preset instead"
            )
        changes = {**self.scale_overrides(name), **self.PROFILE_OVERRIDES.get(self.preset, {}).get(name, {})}
        return self.replace(profile=name, **changes)


# ``Config.preset(name, **overrides)`` builds a preset, while ``cfg.preset`` on an instance is the
# preset's name: a dataclass stores its fields in the instance ``__dict__``, which shadows this
# class-level (non-data) descriptor, so the two uses never meet.
Config.preset = Config.__dict__["_from_preset"]


@dataclasses.dataclass(frozen=True)
class TrainingConfig(Config):
    """A config that trains: optimizer, learning rate and schedule, XLA, steps per call, objective.

    :meth:`make_optimizer` builds a group's optimizer and :meth:`compile_options`
    the ``keras.Model.compile`` switches, so no model module builds optimizers
    itself. :meth:`learning_rate_for` lets a model give a group its own rate.
    """

    objective: str = choice("bce", OBJECTIVE_NAMES, "the adversarial objective (gancourse.losses)")
    optimizer: str = choice("adam", OPTIMIZERS)
    learning_rate: float = positive(2e-4)
    beta_1: float = unit_interval(0.5)
    beta_2: float = unit_interval(0.999)
    momentum: float = unit_interval(0.0, "SGD only")
    nesterov: bool = False
    schedule: str = choice("constant", SCHEDULES, "constant | inverse_time (lr_decay) | linear (decay_start, "
                           "decay_steps)")
    lr_decay: float = non_negative(0.0, "inverse-time decay per step: lr / (1 + decay * step)")
    decay_start: int = non_negative(0, "linear schedule: steps at the full rate")
    decay_steps: int = positive(1, "linear schedule: steps from the full rate down to 0")
    jit_compile: str = choice("auto", tuple(JIT), "XLA: 'auto' is on for GPUs only")
    steps_per_execution: int = positive(1, "train steps per tf.function call (measured by the bench)")

    #: ``{field: value}``: options that exist only for the ``bce`` objective (label smoothing, say); any
    #: other objective needs the field at that value.
    BCE_ONLY: ClassVar[dict] = {}

    def validate(self) -> None:
        super().validate()
        for field, plain in self.BCE_ONLY.items():
            value = getattr(self, field)
            if value != plain and self.objective != "bce":
                raise ValueError(f"{type(self).__name__}.{field}={value!r} needs objective 'bce' (got "
                                 f"{self.objective!r}); set {field}={plain!r}")

    def learning_rate_for(self, group: str) -> float:
        """The learning rate of update group ``group`` (the same for all groups here)."""
        return self.learning_rate

    def decay_schedule(self, group: str, steps_per_epoch: int | None = None):
        """A model's own learning-rate schedule measured in epochs (CycleGAN's linear decay, StackGAN's
        halving), or ``None``: here, none."""
        return None

    def make_optimizer(self, group: str, schedule=None):
        """A new optimizer for update group ``group`` as this config describes it; its rate follows
        ``schedule`` (default :meth:`decay_schedule`) when there is one."""
        from gancourse.training.optim import make_optimizer

        schedule = schedule or self.decay_schedule(group)
        if schedule is not None:
            return make_optimizer(self.optimizer, schedule, beta_1=self.beta_1, beta_2=self.beta_2,
                                  momentum=self.momentum, nesterov=self.nesterov)
        schedule = "inverse_time" if (self.schedule == "constant" and self.lr_decay) else self.schedule
        return make_optimizer(self.optimizer, self.learning_rate_for(group), beta_1=self.beta_1,
                              beta_2=self.beta_2, momentum=self.momentum, nesterov=self.nesterov,
                              decay=self.lr_decay, schedule=schedule, decay_start=self.decay_start,
                              decay_steps=self.decay_steps)

    def compile_options(self) -> dict[str, Any]:
        """``keras.Model.compile`` switches: ``jit_compile`` and ``steps_per_execution``."""
        return {"jit_compile": JIT[self.jit_compile], "steps_per_execution": self.steps_per_execution}


def parse_overrides(cls: type[Config], items: list[str]) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into typed field values for ``cls``.

    Values are converted by the field's type: ``int``, ``float``, ``bool``
    (``true``/``false``), ``str``, and ``none`` for optional fields.

    Raises:
        ValueError: an item is not ``key=value``, the key is unknown, or the
            value does not convert.
    """
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value")
        key, raw = (part.strip() for part in item.split("=", 1))
        cls._reject_unknown([key])
        hint = hints[key]
        options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        if raw.lower() == "none" and len(options) < len(typing.get_args(hint) or [hint]):
            out[key] = None
            continue
        target = options[0]
        try:
            if target is bool:
                if raw.lower() not in ("true", "false"):
                    raise ValueError("expected true or false")
                out[key] = raw.lower() == "true"
            elif target in (int, float):
                out[key] = target(raw)
            else:
                out[key] = raw
        except ValueError as exc:
            raise ValueError(f"override {key}={raw!r}: cannot convert to {_type_name(target)} ({exc})") from exc
    return out


def as_config(value: Any, config_cls: type[Config], owner: str) -> Config:
    """``value`` as a ``config_cls``: a preset name goes through ``config_cls.preset(name)``.

    Raises:
        ValueError: ``value`` is neither a ``config_cls`` nor a preset name.
    """
    if isinstance(value, str):
        value = config_cls.preset(value)
    if not isinstance(value, config_cls):
        raise ValueError(f"{owner} needs a {config_cls.__name__} or a preset name, got {type(value).__name__}")
    return value
