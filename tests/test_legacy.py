import numpy as np

from gancourse.legacy import trainable_trap
from gancourse.models import dcgan


def test_keras2_idiom_silently_freezes_d_unless_toggled():
    cfg = dcgan.config("gans_in_action").scaled("smoke")
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    result = trainable_trap(dcgan.build_generator(cfg), dcgan.build_discriminator(cfg), cfg.latent_dim, real, steps=2)
    assert result == {"untoggled: D changed": False, "untoggled: G changed": True,
                      "toggled: D changed": True, "toggled: G changed": True}
