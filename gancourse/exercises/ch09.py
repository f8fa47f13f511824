"""Chapter 09 (the modern GAN toolbox) exercises: references and graders.

Each exercise is one piece of the lab's techniques written in NumPy: the hinge
losses of SNGAN and SAGAN, the R1 penalty from a discriminator's input gradients,
the exponential moving average of a generator's weights, and ADA's update of its
augmentation probability.
"""

from __future__ import annotations

import numpy as np


def _relu(x):
    return np.maximum(x, 0.0)


def hinge_losses(real_out: np.ndarray, fake_out: np.ndarray) -> tuple[float, float]:
    """Reference: the hinge losses on raw discriminator scores (Lim & Ye 2017; Miyato et al. 2018).

    ``d_loss = mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))`` and ``g_loss = -mean(D(G(z)))``.
    """
    real_out, fake_out = np.asarray(real_out, np.float64), np.asarray(fake_out, np.float64)
    return float(np.mean(_relu(1.0 - real_out)) + np.mean(_relu(1.0 + fake_out))), float(-np.mean(fake_out))


def _hinge_cases():
    rng = np.random.default_rng(9)
    yield "scores far beyond the margins (D is sure and right)", np.array([3.0, 2.5, 4.0]), np.array([-2.0, -5.0])
    yield "scores inside the margins", np.array([0.2, 0.7, -0.1]), np.array([0.5, -0.3, 0.9])
    yield "random scores of two batch sizes", rng.normal(size=7), rng.normal(size=5)


def grade_hinge_losses(answer) -> None:
    """Grade a reader's ``hinge_losses``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, real, fake in _hinge_cases():
        want = hinge_losses(real, fake)
        got = answer(real.copy(), fake.copy())
        assert isinstance(got, (tuple, list)) and len(got) == 2, f"{name}: return (d_loss, g_loss), got {got!r}"
        d, g = float(got[0]), float(got[1])
        if np.isclose(d, want[0]) and np.isclose(g, want[1]):
            continue
        hint = ""
        if np.isclose(d, float(np.mean(fake) - np.mean(real))):
            hint = (" That is the Wasserstein critic's loss: the hinge clips each score's contribution at the "
                    "margin (relu(1 - D(x)), relu(1 + D(G(z)))), so a sample D already judges right beyond the "
                    "margin adds nothing.")
        elif np.isclose(g, float(np.mean(_relu(1.0 - fake)))):
            hint = " The generator's hinge loss is not clipped: it is -mean(D(G(z)))."
        elif np.isclose(d, float(np.mean(_relu(1.0 + real)) + np.mean(_relu(1.0 - fake)))):
            hint = " The signs are swapped: real scores should be pushed above +1 and fake ones below -1."
        raise AssertionError(f"{name}: expected (d_loss, g_loss) = ({want[0]:.4f}, {want[1]:.4f}), got "
                             f"({d:.4f}, {g:.4f}).{hint}")


def r1_penalty(gradients: np.ndarray, gamma: float) -> float:
    """Reference: R1 (Mescheder et al. 2018) from the gradients of D's output with respect to each real image,
    ``(N, ...)``: ``gamma / 2`` times the batch mean of each image's squared gradient norm."""
    g = np.asarray(gradients, np.float64)
    return float(gamma / 2.0 * np.mean(np.sum(g.reshape(len(g), -1) ** 2, axis=1)))


def _r1_cases():
    rng = np.random.default_rng(11)
    yield "two 2x2 greyscale images, gamma 10", rng.normal(size=(2, 2, 2, 1)), 10.0
    yield "four 3x3 colour images, gamma 1", rng.normal(size=(4, 3, 3, 3)), 1.0
    yield "gradients of norm 1, gamma 2", np.stack([np.eye(3)[0], np.eye(3)[1]]).reshape(2, 3, 1, 1), 2.0


def grade_r1_penalty(answer) -> None:
    """Grade a reader's ``r1_penalty``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, grads, gamma in _r1_cases():
        want = r1_penalty(grads, gamma)
        got = float(answer(grads.copy(), gamma))
        if np.isclose(got, want):
            continue
        flat = grads.reshape(len(grads), -1)
        norms = np.sqrt(np.sum(flat ** 2, axis=1))
        hint = ""
        if np.isclose(got, gamma / 2 * np.mean(flat ** 2)):
            hint = " Sum the squares over each image's pixels (its squared norm), then average over the batch."
        elif np.isclose(got, gamma * np.mean(norms ** 2)):
            hint = " The penalty is gamma / 2 times the mean squared norm."
        elif np.isclose(got, gamma / 2 * np.mean(norms)):
            hint = " R1 penalises the SQUARED norm of the gradient, not the norm."
        elif np.isclose(got, gamma / 2 * np.mean((norms - 1) ** 2)) or np.isclose(got, gamma * np.mean((norms - 1) ** 2)):
            hint = (" That is WGAN-GP's two-sided penalty towards norm 1; R1 pushes the gradient on real data "
                    "towards 0.")
        raise AssertionError(f"{name}: expected {want:.5f}, got {got:.5f}.{hint}")


def ema_update(average: list, weights: list, decay: float) -> list:
    """Reference: one step of the exponential moving average of a generator's weights,
    ``average <- decay * average + (1 - decay) * weights``, array by array."""
    return [decay * np.asarray(a, np.float64) + (1.0 - decay) * np.asarray(w, np.float64)
            for a, w in zip(average, weights)]


def _ema_cases():
    rng = np.random.default_rng(13)
    yield "one kernel and one bias, decay 0.9", [rng.normal(size=(3, 2)), np.zeros(2)], \
        [rng.normal(size=(3, 2)), np.ones(2)], 0.9
    yield "decay 0.999 (the usual value)", [np.ones((2, 2))], [np.zeros((2, 2))], 0.999


def grade_ema_update(answer) -> None:
    """Grade a reader's ``ema_update``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, average, weights, decay in _ema_cases():
        want = ema_update(average, weights, decay)
        got = answer([a.copy() for a in average], [w.copy() for w in weights], decay)
        assert len(got) == len(want), f"{name}: expected {len(want)} arrays (one per weight), got {len(got)}"
        if all(np.allclose(g, w) for g, w in zip(got, want)):
            continue
        swapped = ema_update(weights, average, decay)
        hint = ""
        if all(np.allclose(g, s) for g, s in zip(got, swapped)):
            hint = (" The roles are swapped: the average keeps `decay` of itself and takes only 1 - decay of the "
                    "current weights, so it moves slowly.")
        raise AssertionError(f"{name}: the new average differs from decay * average + (1 - decay) * weights.{hint}")


def ada_probability(p: float, real_scores: np.ndarray, target: float, batch: int, interval: int,
                    speed_kimg: float) -> float:
    """Reference: ADA's update of the augmentation probability (Karras et al. 2020), made every ``interval``
    batches: ``r_t = mean(sign(D(x_real)))`` over those batches' real scores; ``p`` moves by
    ``sign(r_t - target) * batch * interval / (speed_kimg * 1000)`` (so that it could go from 0 to 1 in
    ``speed_kimg`` thousand images) and is clamped to [0, 1]."""
    r_t = float(np.mean(np.sign(np.asarray(real_scores, np.float64))))
    step = np.sign(r_t - target) * batch * interval / (speed_kimg * 1000.0)
    return float(np.clip(p + step, 0.0, 1.0))


def _ada_cases():
    yield "D overfits (r_t = 1): p rises", 0.2, np.array([2.0, 1.0, 3.0, 0.5]), 0.6, 64, 4, 500.0
    yield "D unsure (r_t = 0): p falls", 0.2, np.array([1.0, -1.0, 2.0, -2.0]), 0.6, 64, 4, 500.0
    yield "p = 0 cannot fall below 0", 0.0, np.array([-1.0, -2.0]), 0.6, 32, 4, 100.0
    yield "r_t 0.75 against target 0.6 with a short ramp", 0.5, np.array([1.0, 1.0, 1.0, -1.0] * 2), 0.6, 32, 4, 10.0
    yield "one very confident real, three unsure ones (r_t = -0.5)", 0.5, np.array([5.0, -0.1, -0.1, -0.1]), 0.6, \
        64, 4, 500.0


def grade_ada_probability(answer) -> None:
    """Grade a reader's ``ada_probability``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, p, scores, target, batch, interval, kimg in _ada_cases():
        want = ada_probability(p, scores, target, batch, interval, kimg)
        got = float(answer(p, scores.copy(), target, batch, interval, kimg))
        if np.isclose(got, want):
            continue
        r_t = float(np.mean(np.sign(scores)))
        size = batch * interval / (kimg * 1000)
        hint = ""
        if got < 0 or got > 1:
            hint = " Clamp p to [0, 1]."
        elif np.isclose(got, p + (r_t - target) * size):
            hint = " p moves by a fixed step in the direction sign(r_t - target), not in proportion to the gap."
        elif np.isclose(got, np.clip(p + np.sign(float(np.mean(scores)) - target) * size, 0, 1)):
            hint = " r_t is the mean of the SIGNS of D's real scores, not the mean of the scores."
        elif np.isclose(got, p - np.sign(r_t - target) * size):
            hint = " The direction is reversed: a D that is too sure of the reals (r_t above target) needs MORE augmentation."
        raise AssertionError(f"{name}: expected p = {want:.5f}, got {got:.5f}.{hint}")


EXERCISES = {
    "09.hinge_losses": ("the hinge losses of SNGAN and SAGAN on raw discriminator scores", hinge_losses,
                        grade_hinge_losses),
    "09.r1_penalty": ("the R1 penalty from the gradients of D on real images", r1_penalty, grade_r1_penalty),
    "09.ema_update": ("one step of the exponential moving average of a generator's weights", ema_update,
                      grade_ema_update),
    "09.ada_probability": ("ADA's update of the augmentation probability from the sign of D's real scores",
                           ada_probability, grade_ada_probability),
}
