import keras
import numpy as np
import tensorflow as tf
import pytest

from gancourse import exercises
from gancourse.exercises import ch04


def test_every_reference_passes_its_checker():
    assert exercises.list_exercises("01") == ["01.fid_from_features", "01.js_divergence",
                                              "01.non_saturating_loss", "01.optimal_discriminator",
                                              "01.value_at_optimum"]
    assert exercises.list_exercises("04") == ["04.conv2d_params", "04.discriminator_targets",
                                              "04.optimal_discriminator", "04.to_uint8",
                                              "04.transposed_output_size"]
    assert exercises.list_exercises("07") == ["07.cycle_loss", "07.norm_statistics", "07.pool_query"]
    assert exercises.list_exercises("08") == ["08.conditional_discriminator", "08.generator_loss", "08.psnr",
                                              "08.receptive_field"]
    assert exercises.list_exercises("09") == ["09.ada_probability", "09.ema_update", "09.hinge_losses",
                                              "09.r1_penalty"]
    for exercise_id in exercises.list_exercises():
        result = exercises.check(exercise_id, exercises.get(exercise_id).reference)
        assert result.passed, str(result)


def _fid_with_product_of_roots(a, b):
    """A plausible mistake: Tr(S1 + S2 - 2 sqrtm(S1) sqrtm(S2)), right only when the covariances commute."""
    from scipy import linalg

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(s1) @ linalg.sqrtm(s2))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * root))


def _pool_rule(pool, images, draws, slots, size, swap=lambda d: d > 0.5, store=True):
    """The image pool's query rule with a plausible mistake: the wrong swap test, or the new image not stored."""
    pool, out = list(pool), []
    for image, draw, slot in zip(images, draws, slots):
        if size and len(pool) < size:
            pool.append(image)
            out.append(image)
        elif size and swap(draw):
            out.append(pool[slot])
            if store:
                pool[slot] = image
        else:
            out.append(image)
    return np.stack(out), pool


def _statistics(x, kind, rows=(2, 3), ddof=0):
    axes = {"instance": (1, 2), "batch": (0, 1, 2), "rows": rows}[kind]
    return x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)


@pytest.mark.parametrize("exercise_id,wrong,hint", [
    ("04.transposed_output_size", lambda s, k, st, p: s * st, "padding='valid'"),
    ("04.discriminator_targets", lambda n, m, s: (np.full((n, 1), 1 - s), np.full((n, 1), s)), "mode='none'"),
    ("04.to_uint8", lambda x: ((x + 1) * 127.5).astype(np.float32), "dtype uint8"),
    ("04.to_uint8", lambda x: np.round((x + 1) * 127.5).astype(np.uint8), "clip"),
    ("04.conv2d_params", lambda c, f, k, b: k * k * c * f, "use_bias=True"),
    ("01.js_divergence", lambda p, q: float(np.sum(p * np.log(p / ((p + q) / 2)))), "got nan"),
    ("01.js_divergence", lambda p, q: 0.5 * float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)
                                                                                  / ((p + q) / 2)), 0))),
     "expected"),
    ("01.non_saturating_loss", lambda x: float(np.mean(-np.log(1 / (1 + np.exp(-x))))), "stable form"),
    ("01.non_saturating_loss", lambda x: float(np.mean(np.log(1 + np.exp(-x)))) * 2, "expected"),
    ("01.optimal_discriminator", lambda p, q: p / (p + q), "use 1/2"),
    ("01.optimal_discriminator", lambda p, q: q / (p + q + 1e-300), "expected D*"),
    ("01.fid_from_features", lambda a, b: float(np.sum((a.mean(0) - b.mean(0)) ** 2)), "shifted and rescaled"),
    ("01.fid_from_features", lambda a, b: _fid_with_product_of_roots(a, b), "expected"),
    ("04.to_uint8", lambda x: ((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8), "astype alone truncates"),
    ("04.discriminator_targets", lambda n, m, s: (np.full((n, 1), 1.0 if m in ("none", "noisy") else 1 - s),
                                                  np.full((n, 1), s if m == "two_sided" else 0.0)), "mode='noisy'"),
    ("08.receptive_field", lambda stack: sum(k for k, _ in stack) - len(stack) + 1, "(r - 1) * stride + kernel"),
    ("08.generator_loss", lambda lg, f, t, w: float(np.mean(-np.log(1 / (1 + np.exp(-lg)))) + w * np.mean(np.abs(t - f))),
     "stable form"),
    ("08.generator_loss", lambda lg, f, t, w: float(np.mean(np.logaddexp(0, -lg)) + np.mean(np.abs(t - f))),
     "times l1_weight"),
    ("08.psnr", lambda p, t: float(np.mean(10 * np.log10(1 / np.mean((p - t) ** 2, axis=(1, 2, 3))))), "peak signal is 2"),
    ("08.psnr", lambda p, t: float(10 * np.log10(4 / np.mean((p - t) ** 2))), "per image"),
    ("07.cycle_loss", lambda a, b, ra, rb, w: w * float(np.mean(np.abs(ra - a))), "Both cycles count"),
    ("07.cycle_loss", lambda a, b, ra, rb, w: w * float(np.mean((ra - a) ** 2) + np.mean((rb - b) ** 2)),
     "squared error"),
    ("07.cycle_loss", lambda a, b, ra, rb, w: float(np.mean(np.abs(ra - a)) + np.mean(np.abs(rb - b))),
     "Multiply by weight"),
    ("07.cycle_loss", lambda a, b, ra, rb, w: w * float(np.sum(np.abs(ra - a)) + np.sum(np.abs(rb - b))),
     "mean over pixels"),
    ("07.pool_query", lambda pool, im, d, s, n: _pool_rule(pool, im, d, s, n, swap=lambda d: True), "1/2 or below"),
    ("07.pool_query", lambda pool, im, d, s, n: _pool_rule(pool, im, d, s, n, store=False), "take its slot"),
    ("07.pool_query", lambda pool, im, d, s, n: _pool_rule(pool, im, d, s, n, swap=lambda d: d < 0.5),
     "not what the rule returns"),
    ("07.norm_statistics", lambda x, k: (x.mean(axis=(1, 2, 3), keepdims=True), x.var(axis=(1, 2, 3), keepdims=True)),
     "keepdims=True"),
    ("07.norm_statistics", lambda x, k: _statistics(x, k, rows=(1, 2)), "rows: expected statistics of shape"),
    ("07.norm_statistics", lambda x, k: _statistics(x, k, ddof=1), "population variance"),
    ("03.identity_loss", lambda z, x, y, g, e: tf.reduce_sum(tf.square(e(x) - e(g([z, y])))), "SQUARED distances"),
    ("03.identity_loss", lambda z, x, y, g, e: tf.reduce_mean(tf.norm(e(x) - e(g([z, y])), axis=-1)),
     "mean over faces"),
    ("03.identity_loss", lambda z, x, y, g, e: tf.constant(float(np.sum(np.linalg.norm(
        np.asarray(e(x)) - np.asarray(e(g([z, y]))), axis=-1)))), "does not depend on z"),
    ("09.hinge_losses", lambda r, f: (float(np.mean(f) - np.mean(r)), float(-np.mean(f))), "Wasserstein critic"),
    ("09.hinge_losses", lambda r, f: (float(np.mean(np.maximum(1 - r, 0)) + np.mean(np.maximum(1 + f, 0))),
                                      float(np.mean(np.maximum(1 - f, 0)))), "not clipped"),
    ("09.hinge_losses", lambda r, f: (float(np.mean(np.maximum(1 + r, 0)) + np.mean(np.maximum(1 - f, 0))),
                                      float(-np.mean(f))), "signs are swapped"),
    ("09.r1_penalty", lambda g, gamma: gamma / 2 * float(np.mean(g ** 2)), "Sum the squares"),
    ("09.r1_penalty", lambda g, gamma: gamma * float(np.mean(np.sum(g.reshape(len(g), -1) ** 2, axis=1))),
     "gamma / 2"),
    ("09.r1_penalty", lambda g, gamma: gamma / 2 * float(np.mean(np.linalg.norm(g.reshape(len(g), -1), axis=1))),
     "SQUARED norm"),
    ("09.r1_penalty", lambda g, gamma: gamma * float(np.mean((np.linalg.norm(g.reshape(len(g), -1), axis=1) - 1) ** 2)),
     "WGAN-GP"),
    ("09.ema_update", lambda a, w, d: [d * wi + (1 - d) * ai for ai, wi in zip(a, w)], "roles are swapped"),
    ("09.ada_probability", lambda p, s, t, b, i, k: p + (float(np.mean(np.sign(s))) - t) * b * i / (k * 1000),
     "fixed step"),
    ("09.ada_probability", lambda p, s, t, b, i, k: p - float(np.sign(np.mean(np.sign(s)) - t)) * b * i / (k * 1000),
     "direction is reversed"),
    ("09.ada_probability", lambda p, s, t, b, i, k: float(np.clip(p + np.sign(np.mean(s) - t) * b * i / (k * 1000), 0, 1)),
     "mean of the SIGNS"),
    ("09.ada_probability", lambda p, s, t, b, i, k: p + float(np.sign(np.mean(np.sign(s)) - t)) * b * i / (k * 1000),
     "Clamp p"),
])
def test_wrong_answers_fail_with_a_hint(exercise_id, wrong, hint):
    result = exercises.check(exercise_id, wrong)
    assert not result and hint in result.message
    assert str(result).startswith("[NOT YET]")


def test_checker_reports_exceptions_and_unknown_ids():
    def broken(*args):
        raise KeyError("oops")

    assert "your function raised KeyError" in exercises.check("04.conv2d_params", broken).message
    assert not exercises.check("04.conv2d_params", 3)
    with pytest.raises(ValueError, match="unknown exercise '99.x'"):
        exercises.check("99.x", print)


def test_references_agree_with_keras():
    for size, kernel, stride, padding in [(7, 4, 2, "same"), (7, 5, 2, "valid"), (4, 3, 1, "valid"), (8, 1, 3, "valid")]:
        layer = keras.layers.Conv2DTranspose(1, kernel, stride, padding=padding)
        out = layer(np.zeros((1, size, size, 1), np.float32))
        assert out.shape[1] == ch04.transposed_output_size(size, kernel, stride, padding)
    for c, f, k, b in [(3, 8, 5, True), (64, 128, 3, False)]:
        layer = keras.layers.Conv2D(f, k, use_bias=b)
        layer.build((None, 16, 16, c))
        assert layer.count_params() == ch04.conv2d_params(c, f, k, b)


def test_fid_checker_separates_sqrtm_of_product_from_product_of_roots():
    """On the anisotropic, rotated case the shortcut is off by far more than the checker's tolerance."""
    rng = np.random.default_rng(2)
    rng.normal(size=(400, 6)), rng.normal(size=(400, 6)), rng.normal(size=(6, 6))  # the cases drawn before it
    axes, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    stretched = np.diag([6.0, 3.0, 1.0, 1.0, 0.3, 0.1])
    c = rng.normal(size=(2000, 6)) @ stretched
    d = rng.normal(size=(2000, 6)) @ stretched @ axes
    right = exercises.get("01.fid_from_features").reference(c, d)
    assert abs(_fid_with_product_of_roots(c, d) - right) > 0.05 * right
