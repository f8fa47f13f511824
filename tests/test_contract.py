"""The model-module contract, checked for every registered model and every preset.

A new model is one module plus one line in ``gancourse.models.REGISTRY``;
these tests then cover it without being edited, except for its row of
full-size parameter counts below (the numbers a reader can check against the
model's source).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from gancourse import models, training
from gancourse.cli import build_parser

# Full-size parameter counts per network (Keras count_params: BatchNorm moving statistics included).
PARAMETERS = {
    ("gan", "ring"): {"generator": 17_154, "discriminator": 17_025},
    ("gan", "line"): {"generator": 1_153, "discriminator": 1_153},
    ("gan", "book"): {"generator": 693_784, "discriminator": 643_501},
    ("gan3d", "book"): {"generator": 17_572_545, "discriminator": 11_051_457},  # 64^3
    ("gan3d", "paper"): {"generator": 17_572_545, "discriminator": 11_051_457},
    ("agecgan", "book"): {"generator": 34_885_251, "discriminator": 1_569_665, "encoder": 18_287_268},
    ("agecgan", "paper"): {"generator": 34_885_251, "discriminator": 1_569_665, "encoder": 18_287_268},
    # StackGAN: each D includes its trained text compressor (131,200); without it, the book's 3,097,601 / 48,486,401
    ("stackgan", "book"): {"generator": 10_270_400, "discriminator": 3_228_801, "stage2_generator": 28_649_536,
                           "stage2_discriminator": 48_617_601},
    ("stackgan", "paper"): {"generator": 10_335_936, "discriminator": 3_228_801, "stage2_generator": 28_649_536,
                            "stage2_discriminator": 48_617_601},
    ("dcgan", "modern"): {"generator": 784_641, "discriminator": 138_945},
    ("dcgan", "paper"): {"generator": 18_920_323, "discriminator": 4_317_441},
    ("dcgan", "book"): {"generator": 34_872_195, "discriminator": 20_361_473},
    ("dcgan", "pyimagesearch"): {"generator": 1_727_233, "discriminator": 1_658_753},
    ("dcgan", "gans_in_action"): {"generator": 1_637_121, "discriminator": 95_489},
    ("dcgan", "mastering_pytorch"): {"generator": 2_353_153, "discriminator": 100_097},
    ("cyclegan", "book"): {"g_ab": 1_971_747, "g_ba": 1_971_747, "d_a": 2_766_529, "d_b": 2_766_529},
    ("cyclegan", "paper"): {"g_ab": 11_378_179, "g_ba": 11_378_179, "d_a": 2_764_737, "d_b": 2_764_737},
    ("cyclegan", "unet"): {"g_ab": 54_413_955, "g_ba": 54_413_955, "d_a": 2_764_737, "d_b": 2_764_737},
    ("srgan", "book"): {"generator": 2_042_691, "discriminator": 5_219_137},
    ("srgan", "paper"): {"generator": 1_554_883, "discriminator": 23_569_217},  # at 96 px crops
    ("pix2pix", "paper"): {"generator": 54_423_811, "discriminator": 2_770_433},
    ("pix2pix", "book"): {"generator": 129_151_681, "discriminator": 2_766_337},  # 1 channel in and out
    ("pix2pix", "mastering_pytorch"): {"generator": 54_409_603, "discriminator": 2_767_809},
    ("acgan", "modern"): {"generator": 847_361, "discriminator": 201_675},
    ("acgan", "paper"): {"generator": 2_994_339, "discriminator": 1_665_867},  # the CIFAR-10 networks
}
CASES = [(name, preset) for name in models.REGISTRY for preset in models.get(name).presets]


def _smoke(name, preset, **changes):
    entry = models.get(name)
    cfg = entry.config(preset).scaled("smoke")
    if hasattr(cfg, "batch_size"):
        changes.setdefault("batch_size", min(cfg.batch_size, 8))
    return entry, cfg.replace(**changes)


def _batch(entry, cfg):
    data, _ = entry.training_data(cfg)
    return next(iter(data))


def test_registry_modules_follow_the_contract():
    assert set(models.REGISTRY) >= {"gan", "dcgan", "srgan", "cyclegan", "pix2pix"}
    assert sorted(CASES) == sorted(PARAMETERS), "every preset needs its row of parameter counts"
    for name in models.REGISTRY:
        entry = models.get(name)
        for attr in ("CONFIG", "MODEL", "training_data", "batches"):
            assert hasattr(entry.module, attr), f"{name} lacks {attr}"
        assert entry.config_class.KIND == name
        assert issubclass(entry.model_class, training.AdversarialModel)
        assert entry.module.config(entry.default_preset) == entry.config()
    with pytest.raises(ValueError, match="unknown model 'vae'; choose one of gan, gan3d, agecgan, dcgan, srgan, stackgan, cyclegan, pix2pix, acgan"):
        models.get("vae")
    # the CLI lists the registry's models
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    model_arg = next(a for a in train._actions if a.dest == "model")
    assert list(model_arg.choices) == list(models.REGISTRY)


@pytest.mark.parametrize("name,preset", CASES)
def test_full_size_parameter_counts(name, preset):
    entry = models.get(name)
    model = entry.model_class(entry.config(preset))
    assert {k: net.count_params() for k, net in model.networks.items()} == PARAMETERS[(name, preset)]


@pytest.mark.parametrize("name,preset", CASES)
def test_smoke_profile_keeps_the_structure(name, preset):
    """The smoke profile shrinks widths, data and length; at the full image size it has the same layers."""
    entry = models.get(name)
    full = entry.config(preset)
    smoke = full.scaled("smoke")
    same_size = {k: getattr(full, k) for k in ("image_size", "channels", "cube_len") if hasattr(full, k)}
    small = entry.model_class(smoke.replace(**same_size))
    big = entry.model_class(full)
    for key, net in big.networks.items():
        other = small.networks[key]
        assert [type(layer).__name__ for layer in other.layers] == [type(layer).__name__ for layer in net.layers]
        assert len(other.weights) == len(net.weights)
        assert other.count_params() <= net.count_params()


@pytest.mark.parametrize("name,preset", CASES)
def test_each_update_changes_only_its_groups_variables(name, preset):
    """``model.update(group, ...)`` changes the group's trainable variables and no other network's; a real
    ``train_step`` hands each optimizer exactly its group's variables.

    BatchNorm moving statistics are excluded on purpose: they are not trainable
    and every forward pass in training mode updates them, whichever group is
    being optimised (D's update runs G to make fakes, for example).
    """
    entry, cfg = _smoke(name, preset)
    model = entry.model_class(cfg)
    model.compile(run_eagerly=True)
    rng = np.random.default_rng(0)

    def probe_loss():
        total = 0.0
        for net in model.networks.values():
            # a fully convolutional network (SR generators) has free spatial sizes: probe it at 16
            inputs = [tf.constant(rng.normal(size=(4,) + tuple(d or 16 for d in t.shape[1:])), tf.float32)
                      for t in net.inputs]
            outputs = net(inputs if len(inputs) > 1 else inputs[0], training=True)
            total += sum(tf.reduce_mean(o) for o in tf.nest.flatten(outputs))  # StackGAN's G: image, mu, logvar
        return total

    for group in model.GROUPS:
        before = {k: [v.numpy().copy() for v in net.trainable_variables] for k, net in model.networks.items()}
        model.update(group, probe_loss)
        for key, net in model.networks.items():
            changed = [not np.array_equal(a, v.numpy()) for a, v in zip(before[key], net.trainable_variables)]
            if key in model.GROUPS[group]:
                assert any(changed), f"{group} update left {key} unchanged"
            else:
                assert not any(changed), f"{group} update changed {key}"

    seen = {}
    for group, opt in model.optimizers.items():
        original = opt.apply_gradients

        def spy(pairs, group=group, original=original):
            pairs = list(pairs)
            seen.setdefault(group, set()).update(id(v) for _, v in pairs)
            return original(pairs)

        opt.apply_gradients = spy
    for group in model.GROUPS:
        model.gradient_norms.variable(group).assign(0.0)
    model.train_step(_batch(entry, cfg))
    for group in model.GROUPS:
        own = {id(v) for v in model.group_variables(group)}
        if group in seen:
            assert seen[group] <= own, f"the {group} optimizer was given another group's variables"
            # the training-health monitor reads each stepped group's gradient norm
            assert model.gradient_norms.values()[group] > 0, f"the {group} update recorded no gradient norm"
    assert {"generator", "generators"} & set(seen), "no generator update reached an optimizer"


@pytest.mark.parametrize("name,preset", CASES)
def test_checkpoint_round_trip(name, preset, tmp_path):
    entry, cfg = _smoke(name, preset)
    model = entry.model_class(cfg)
    model.compile(run_eagerly=True)
    model.train_step(_batch(entry, cfg))
    state = training.checkpoint_state(model)
    state.epoch.assign(1)
    state.save(str(tmp_path / "ckpt"))
    fresh = entry.model_class(cfg.replace(seed=cfg.seed + 1))
    fresh.compile()
    assert training.restore(fresh, tmp_path) == 1
    saved, restored = model.checkpoint_objects(), fresh.checkpoint_objects()
    assert sorted(saved) == sorted(restored)
    assert {f"optimizer_{g}" for g in model.GROUPS} <= set(saved) and set(model.NETWORKS) <= set(saved)
    for key in saved:
        a, b = tf.nest.flatten(_values(saved[key])), tf.nest.flatten(_values(restored[key]))
        assert len(a) == len(b) > 0
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def _values(obj):
    if isinstance(obj, (list, tuple)):
        return [np.asarray(v) for v in obj]
    if hasattr(obj, "variables"):
        return [np.asarray(v) for v in obj.variables]
    return [np.asarray(obj)]


@pytest.mark.parametrize("name,preset", CASES)
def test_unknown_config_keys_are_rejected(name, preset, tmp_path):
    entry = models.get(name)
    with pytest.raises(ValueError, match=r"unknown \w+ key\(s\) 'colour'; valid keys are"):
        entry.config(preset, colour="red")
    cfg = entry.config(preset)
    assert entry.config_class.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match=f"unknown {name} preset 'nope'"):
        entry.config("nope")
