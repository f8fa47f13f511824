"""The chapter models and their registry.

Every model module follows one contract:

* ``CONFIG``: its config class (a :class:`gancourse.config.TrainingConfig`
  with ``PRESETS``; ``CONFIG.preset(name)``, also ``module.config(name)``);
* ``MODEL``: its model class, built from a config or a preset name
  (an :class:`gancourse.training.AdversarialModel`);
* ``training_data(cfg, data_dir=None) -> (dataset, preview inputs or None)``:
  the training batches and the sample grid's fixed inputs (``None``: the
  model draws its own, e.g. noise); a model never loads data itself;
* ``batches(cfg, data)``: the training pipeline over data a caller supplies.

:data:`REGISTRY` maps a model name to its module; the CLI, the bench and the
contract test iterate it, so adding a model is one module plus one line here.
Modules are imported on first use (``import gancourse`` stays cheap).
"""

from __future__ import annotations

import dataclasses
import importlib

#: ``{model name: module}``, in chapter order (AC-GAN, chapter 09's class-conditional model, last).
REGISTRY = {
    "gan": "gancourse.models.gan",
    "gan3d": "gancourse.models.gan3d",
    "agecgan": "gancourse.models.agecgan",
    "dcgan": "gancourse.models.dcgan",
    "srgan": "gancourse.models.srgan",
    "stackgan": "gancourse.models.stackgan",
    "cyclegan": "gancourse.models.cyclegan",
    "pix2pix": "gancourse.models.pix2pix",
    "acgan": "gancourse.models.acgan",
}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model: its module and what the contract asks of it."""

    name: str
    module: object

    @property
    def config_class(self):
        return self.module.CONFIG

    @property
    def model_class(self):
        return self.module.MODEL

    @property
    def presets(self) -> tuple[str, ...]:
        return self.config_class.preset_names()

    @property
    def default_preset(self) -> str:
        return self.presets[0]

    def config(self, preset: str | None = None, **overrides):
        return self.config_class.preset(preset, **overrides)

    def training_data(self, cfg, data_dir=None):
        return self.module.training_data(cfg, data_dir=data_dir)

    def batches(self, cfg, data):
        return self.module.batches(cfg, data)


def get(name: str) -> ModelEntry:
    """The registered model ``name``; an unknown name raises ``ValueError`` listing the models."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}")
    return ModelEntry(name, importlib.import_module(REGISTRY[name]))


def for_config(cfg) -> ModelEntry:
    """The registered model whose config class ``cfg`` is an instance of (by its ``KIND``)."""
    name = getattr(cfg, "KIND", None)
    if name not in REGISTRY:
        raise ValueError(f"{type(cfg).__name__} belongs to no registered model; models: {', '.join(REGISTRY)}")
    return get(name)
