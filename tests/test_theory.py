import numpy as np
import pytest

from gancourse import theory

X = np.linspace(-12, 12, 4801)
DX = X[1] - X[0]


def test_kl_matches_closed_form_and_is_asymmetric():
    p, q = theory.gaussian_pdf(X, 0, 1), theory.gaussian_pdf(X, 1, 2)
    assert theory.kl_divergence(p, q, DX) == pytest.approx(theory.kl_gaussians(0, 1, 1, 2), rel=1e-4)
    assert theory.kl_divergence(q, p, DX) == pytest.approx(theory.kl_gaussians(1, 2, 0, 1), rel=1e-3)
    assert theory.kl_gaussians(0, 1, 1, 2) != pytest.approx(theory.kl_gaussians(1, 2, 0, 1))
    assert theory.kl_divergence([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert theory.kl_divergence([0.5, 0.5], [1.0, 0.0]) == float("inf")
    assert theory.kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_js_is_symmetric_bounded_and_log2_for_disjoint_supports():
    p, q = theory.gaussian_pdf(X, -1, 1), theory.gaussian_pdf(X, 2, 0.5)
    assert theory.js_divergence(p, q, DX) == pytest.approx(theory.js_divergence(q, p, DX))
    assert 0 < theory.js_divergence(p, q, DX) < np.log(2)
    assert theory.js_divergence([1, 0], [0, 1]) == pytest.approx(np.log(2))
    far = theory.js_divergence(theory.gaussian_pdf(X, -8, 0.5), theory.gaussian_pdf(X, 8, 0.5), DX)
    assert far == pytest.approx(np.log(2), abs=1e-9)  # saturates: no signal about how far apart


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="integrates to"):
        theory.kl_divergence([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="same shape"):
        theory.js_divergence([1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        theory.js_divergence([1.5, -0.5], [0.5, 0.5])


@pytest.mark.parametrize("mu,sigma", [(0.0, 1.0), (0.5, 1.0), (2.0, 0.5), (4.0, 1.5)])
def test_virtual_criterion_is_minus_log4_plus_2jsd(mu, sigma):
    p_data, p_g = theory.gaussian_pdf(X, 0, 1), theory.gaussian_pdf(X, mu, sigma)
    c = theory.virtual_criterion(p_data, p_g, DX)
    assert c == pytest.approx(-theory.LOG4 + 2 * theory.js_divergence(p_data, p_g, DX), abs=1e-6)
    assert c >= -theory.LOG4 - 1e-9
    # D* is the best discriminator: any other D gives a lower value of the game
    assert theory.game_value(p_data, p_g, np.full_like(X, 0.5), DX) <= c + 1e-12
    assert theory.game_value(p_data, p_g, np.clip(theory.optimal_discriminator(p_data, p_g) + 0.05, 0, 1), DX) < c


def test_optimal_discriminator_values():
    np.testing.assert_allclose(theory.optimal_discriminator([1.0, 3.0, 0.0], [1.0, 1.0, 0.0]), [0.5, 0.75, 0.5])


def test_trained_discriminator_approaches_d_star():
    grid = np.linspace(-2.5, 3.5, 61)
    d = theory.fit_discriminator_1d(lambda n, rng: rng.normal(0, 1, n), lambda n, rng: rng.normal(1, 1, n),
                                    grid, steps=400, batch=512)
    d_star = theory.optimal_discriminator(theory.gaussian_pdf(grid, 0, 1), theory.gaussian_pdf(grid, 1, 1))
    assert d.shape == grid.shape
    assert np.max(np.abs(d - d_star)) < 0.12
    assert d[0] > 0.75 and d[-1] < 0.25  # D* = 1 / (1 + exp(x - 0.5)) runs from 0.95 to 0.05


def test_generator_gradients_saturate_only_for_minimax():
    d = np.array([1e-4, 0.01, 0.5, 0.99])
    g = theory.generator_loss_gradients(d)
    np.testing.assert_allclose(g["minimax"], -d, rtol=1e-3)
    np.testing.assert_allclose(g["non_saturating"], -(1 - d), rtol=1e-3, atol=1e-6)
    assert abs(g["minimax"][0]) < 1e-3 < abs(g["non_saturating"][0])


def test_bilinear_game_spirals_out_or_orbits():
    lr, steps = 0.1, 200
    sim = theory.bilinear_game(1.0, 0.0, lr, steps, "simultaneous")
    radius = np.linalg.norm(sim, axis=1)
    np.testing.assert_allclose(radius, np.sqrt(1 + lr ** 2) ** np.arange(steps + 1), rtol=1e-9)
    alt = np.linalg.norm(theory.bilinear_game(1.0, 0.0, lr, 5000, "alternating"), axis=1)
    assert alt.max() < 1.1 and alt.min() > 0.9  # bounded, never reaches (0, 0)
    with pytest.raises(ValueError, match="unknown method 'adam'"):
        theory.bilinear_game(method="adam")


def test_pure_nash_equilibria():
    # prisoner's dilemma in years of prison (negated: higher is better); moves: 0 confess, 1 silent
    years_a = np.array([[2, 0], [3, 1]])
    assert theory.pure_nash_equilibria(-years_a, -years_a.T) == [(0, 0)]
    pennies = np.array([[1, -1], [-1, 1]])
    assert theory.pure_nash_equilibria(pennies, -pennies) == []  # no pure equilibrium
    with pytest.raises(ValueError, match="same shape"):
        theory.pure_nash_equilibria(np.eye(2), np.eye(3))
