"""Chapter 08 (pix2pix) exercises: references and graders."""

from __future__ import annotations

import numpy as np

from gancourse.nn import translation


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Reference: receptive field (pixels on a side) of one output of a stack of ``(kernel, stride)`` convs."""
    return translation.receptive_field(layers)


_STACKS = {
    "one 4x4 conv": [(4, 1)],
    "the paper's 70x70 PatchGAN": translation.patchgan_stack(3),
    "the paper's 1x1 PixelGAN (1x1 convs)": translation.patchgan_stack(0),
    "the paper's 16x16 PatchGAN": translation.patchgan_stack(1),
    "a 34x34 PatchGAN": translation.patchgan_stack(2),
    "Mastering PyTorch's discriminator": [(4, 2), (4, 2), (4, 2), (4, 2), (4, 1)],
    "the paper's 286x286 ImageGAN (five stride-2 convs)": translation.patchgan_stack(5),
    "3x3 convs with pooling": [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)],
}


def grade_receptive_field(answer) -> None:
    """Grade a reader's ``receptive_field``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, stack in _STACKS.items():
        want = receptive_field(stack)
        got = int(answer(list(stack)))
        assert got == want, (f"{name} {stack}: expected {want} px, got {got}. Walk backwards from one output "
                             "pixel: each layer turns a field of r pixels into (r - 1) * stride + kernel")


def generator_loss(fake_logits: np.ndarray, fake: np.ndarray, target: np.ndarray, l1_weight: float = 100.0) -> float:
    """Reference: pix2pix generator loss ``BCE(D(x, G(x)), 1) + l1_weight * mean|y - G(x)|`` from D's logits."""
    logits = np.asarray(fake_logits, np.float64)
    adversarial = np.mean(np.logaddexp(0.0, -logits))  # -log sigmoid(logit), stable for large logits
    l1 = np.mean(np.abs(np.asarray(target, np.float64) - np.asarray(fake, np.float64)))
    return float(adversarial + l1_weight * l1)


def _loss_cases():
    rng = np.random.default_rng(8)
    images = rng.uniform(-1, 1, (2, 8, 8, 3))
    yield "zero logits, perfect output", np.zeros((2, 3, 3, 1)), images, images, 100.0
    yield "a 30x30 patch map", rng.normal(0, 2, (2, 30, 30, 1)), images, rng.uniform(-1, 1, images.shape), 100.0
    yield "lambda = 10", rng.normal(0, 2, (2, 3, 3, 1)), images, images[::-1], 10.0
    yield "a confident D: logits of -800", np.full((1, 2, 2, 1), -800.0), images[:1], images[:1], 100.0


def grade_generator_loss(answer) -> None:
    """Grade a reader's ``generator_loss``: raise ``AssertionError`` naming the first case it gets wrong."""
    for name, logits, fake, target, weight in _loss_cases():
        want = generator_loss(logits, fake, target, weight)
        got = float(answer(logits.copy(), fake.copy(), target.copy(), weight))
        assert np.isfinite(got), (f"{name}: got {got}; compute -log sigmoid(logit) as log(1 + exp(-logit)) in a "
                                  "stable form (np.logaddexp(0, -logit))")
        assert abs(got - want) < 1e-6 * max(1.0, abs(want)), (
            f"{name}: expected {want:.6f}, got {got:.6f}. The adversarial term is the mean over every patch "
            "logit of -log D; the L1 term is the mean absolute difference, times l1_weight")


def psnr(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Reference: mean over images of ``10 log10(peak^2 / MSE)`` for images in ``[-1, 1]`` (peak-to-peak 2)."""
    p, t = np.asarray(predictions, np.float64), np.asarray(targets, np.float64)
    mse = np.mean((p - t) ** 2, axis=tuple(range(1, p.ndim)))
    with np.errstate(divide="ignore"):
        return float(np.mean(10.0 * np.log10(4.0 / mse)))


def grade_psnr(answer) -> None:
    """Grade a reader's ``psnr``: raise ``AssertionError`` naming the first case it gets wrong."""
    rng = np.random.default_rng(9)
    targets = rng.uniform(-1, 1, (3, 16, 16, 3))
    cases = {"noise of std 0.1": targets + rng.normal(0, 0.1, targets.shape),
             "one image much worse than the others": np.concatenate([targets[:2] + 0.01, -targets[2:]]),
             "a constant offset of 0.5": targets + 0.5}
    for name, predictions in cases.items():
        want = psnr(predictions, targets)
        got = float(answer(predictions.copy(), targets.copy()))
        hint = ""
        if abs(got - (want - 20 * np.log10(2))) < 1e-3:
            hint = " Your peak looks like 1: images in [-1, 1] span 2, so the peak signal is 2 (peak^2 = 4)."
        elif abs(got - 10 * np.log10(4 / np.mean((predictions - targets) ** 2))) < 1e-6:
            hint = " You pooled the MSE over all images: compute PSNR per image, then average."
        assert abs(got - want) < 1e-6, f"{name}: expected {want:.4f} dB, got {got:.4f} dB.{hint}"
    same = float(answer(targets.copy(), targets.copy()))
    assert same == np.inf, f"identical images: expected inf (MSE = 0), got {same}"


def conditional_discriminator(p_data: np.ndarray, p_model: np.ndarray, conditional: bool = True) -> np.ndarray:
    """Reference: the optimal discriminator's value for every (input, output) pair.

    ``p_data`` and ``p_model`` are joint probabilities ``p(x, y)``, rows =
    inputs ``x``, columns = outputs ``y``. A conditional D sees the pair:
    ``D*(x, y) = p_data(x, y) / (p_data(x, y) + p_model(x, y))``. An
    unconditional D sees only ``y``: the same formula on the column sums
    (the marginals over ``x``), the same value in every row. Where both
    probabilities are 0 the value is 0.5 (D has no evidence either way).
    """
    p, q = np.asarray(p_data, np.float64), np.asarray(p_model, np.float64)
    if not conditional:
        p, q = np.broadcast_to(p.sum(axis=0), p.shape), np.broadcast_to(q.sum(axis=0), q.shape)
    total = p + q
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.5)


def _discriminator_cases():
    rng = np.random.default_rng(80)
    data = np.array([[0.5, 0.0], [0.0, 0.5]])  # each label map has its own photo
    ignores_input = np.array([[0.25, 0.25], [0.25, 0.25]])  # the dataset's photos, whichever label map it was given
    joint = rng.dirichlet(np.ones(12)).reshape(3, 4)
    other = rng.dirichlet(np.ones(12)).reshape(3, 4)
    blurred = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.5]])  # always the average of the two photos
    sharp = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])
    yield "a generator that ignores its input, conditional D", data, ignores_input, True
    yield "a generator that ignores its input, unconditional D", data, ignores_input, False
    yield "random joints, conditional D", joint, other, True
    yield "random joints, unconditional D", joint, other, False
    yield "a blurred generator (outputs no real photo), conditional D", sharp, blurred, True


def grade_conditional_discriminator(answer) -> None:
    """Grade a reader's ``conditional_discriminator``: raise ``AssertionError`` naming the first case it gets
    wrong."""
    for name, p, q, conditional in _discriminator_cases():
        want = conditional_discriminator(p, q, conditional)
        got = np.asarray(answer(p.copy(), q.copy(), conditional), np.float64)
        assert got.shape == want.shape, f"{name}: expected an array of shape {want.shape}, got {got.shape}"
        assert np.all(np.isfinite(got)), (f"{name}: got NaN or inf; where neither distribution puts mass the "
                                          "optimal D is undefined, and the convention is 0.5")
        hint = ""
        if not conditional and np.allclose(got, conditional_discriminator(p, q, True)):
            hint = " An unconditional D never sees x: compare the marginals of y (the column sums)."
        elif np.allclose(got, 1 - want):
            hint = " D* is the share of the DATA in the total: p_data / (p_data + p_model)."
        assert np.allclose(got, want, atol=1e-9), f"{name}: expected\n{np.round(want, 4)}\ngot\n{np.round(got, 4)}.{hint}"


EXERCISES = {
    "08.receptive_field": ("receptive field of a (kernel, stride) conv stack", receptive_field,
                           grade_receptive_field),
    "08.generator_loss": ("the pix2pix generator loss: cGAN term + lambda * L1", generator_loss, grade_generator_loss),
    "08.psnr": ("PSNR of [-1, 1] images, averaged per image", psnr, grade_psnr),
    "08.conditional_discriminator": ("the optimal D of paired data, with and without the input",
                                     conditional_discriminator, grade_conditional_discriminator),
}
