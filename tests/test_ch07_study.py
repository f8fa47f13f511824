"""Chapter 07's exhibits of the book's defects (axis=1 norm, loader, shared optimizer), studies and helpers."""

import numpy as np
import pytest

from gancourse.experiments import ch07


def _images(n=2, h=8, w=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.linspace(-1, 1, h)[None, :, None, None]  # brighter towards the bottom
    tint = np.array([0.5, 0.0, -0.5])[None, None, None, :]  # a colour cast
    return (0.5 * rows + tint + rng.normal(0, 0.2, (n, h, w, 3))).astype(np.float32)


@pytest.mark.parametrize("kind,shape,axes", [("instance", (2, 1, 1, 3), (1, 2)), ("batch", (1, 1, 1, 3), (0, 1, 2)),
                                             ("rows", (2, 8, 1, 1), (2, 3))])
def test_norm_statistics_shapes_and_values(kind, shape, axes):
    x = _images()
    mean, var = ch07.norm_statistics(x, kind)
    assert mean.shape == shape and var.shape == shape
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=axes, keepdims=True))
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=axes, keepdims=True))


def test_norm_statistics_errors():
    with pytest.raises(ValueError, match="unknown norm kind 'layer'"):
        ch07.norm_statistics(_images(), "layer")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        ch07.norm_statistics(np.zeros((3, 4)), "batch")


def test_book_instance_norm_normalises_rows_and_learns_one_scale_per_row():
    x = _images(n=3, h=8, w=6)
    layer = ch07.book_instance_norm()
    out = np.asarray(layer(x))
    assert tuple(layer.gamma.shape) == (8,) and tuple(layer.beta.shape) == (8,)
    np.testing.assert_allclose(out.mean(axis=(2, 3)), 0, atol=1e-5)  # every row of every image centred
    mean, var = ch07.norm_statistics(x, "rows")
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + ch07.CONTRIB_EPSILON), atol=1e-5)


def test_axis_exhibit_shows_what_each_norm_removes():
    found = ch07.axis_exhibit(_images(n=2, h=8, w=6))
    assert found["book_oracle_error"] < 1e-5 and found["fixed_oracle_error"] < 1e-5
    assert found["row_mean_spread_input"] > 0.2  # the rows differ in brightness ...
    assert found["row_mean_spread_book"] < 1e-5  # ... and the book's norm removes that
    assert found["row_mean_spread_fixed"] > 0.5 * found["row_mean_spread_input"]  # per-channel IN keeps it (scaled)
    assert found["channel_mean_spread_input"] > 0.3  # the colour cast ...
    assert found["channel_mean_spread_fixed"] < 1e-5  # ... is removed by per-channel IN
    assert found["channel_mean_spread_book"] > 0.3  # ... and kept by the book's norm
    assert found["book_scale_shape"] == (8,) and found["fixed_scale_shape"] == (3,)
    assert found["book_other_size"].startswith("ValueError") and "8" in found["book_other_size"]
    assert found["fixed_other_size"] == ""
    assert found["book"].shape == found["fixed"].shape == (2, 8, 6, 3)
    with pytest.raises(ValueError, match="images must be"):
        ch07.axis_exhibit(np.zeros((8, 6, 3)))


def test_book_pairing_reads_only_the_first_a_images_of_b_and_fails_when_a_is_larger():
    assert ch07.book_pairing(121, 751) == {"b_loaded": 121, "b_share": 121 / 751, "pairs": 121, "error": ""}
    swapped = ch07.book_pairing(751, 121)
    assert swapped["b_loaded"] == 121 and swapped["error"].startswith("IndexError") and "122 of 751" in swapped["error"]
    assert ch07.book_pairing(5, 5)["b_share"] == 1.0
    with pytest.raises(ValueError, match="at least one image"):
        ch07.book_pairing(0, 3)


def test_split_usage_counts_what_each_loader_trains_on():
    rows = ch07.split_usage({"trainA": 10, "trainB": 40, "testA": 3, "testB": 7})
    book, unaligned = rows
    assert (book["A images trained on"], book["B images trained on"], book["held-out images left"]) == (3, 3, 0)
    assert book["share of the dataset"] == pytest.approx(6 / 60)
    assert (unaligned["A images trained on"], unaligned["B images trained on"]) == (10, 40)
    assert unaligned["held-out images left"] == 10 and unaligned["share of the dataset"] == pytest.approx(50 / 60)
    with pytest.raises(ValueError, match="lacks testB"):
        ch07.split_usage({"trainA": 1, "trainB": 1, "testA": 1})


def test_marker_images_survive_a_round_trip_through_flips_and_shuffles():
    images = ch07.marker_images(10, size=4)
    assert images.shape == (10, 4, 4, 3) and images.dtype == np.float32
    order = np.array([3, 0, 9, 9, 5])
    moved = images[order].copy()
    moved[1:3] = moved[1:3, :, ::-1]
    index, flipped = ch07.read_markers(moved, 10)
    assert index.tolist() == order.tolist() and flipped.tolist() == [False, True, True, False, False]
    with pytest.raises(ValueError, match="size >= 2"):
        ch07.marker_images(3, size=1)


def test_loader_exhibit_measures_the_book_loader_and_the_unaligned_one():
    found = ch07.loader_exhibit(6, 20, epochs=4, seed=1, batch_size=2)
    assert found["book"] == {"draws": 6, "b_seen": 6, "pairs": 6, "both_orientations": 0.0, "agreement": 1.0}
    unaligned = found["unaligned"]
    assert unaligned["draws"] == 20 and unaligned["b_seen"] == 20  # an epoch is max(|A|, |B|), all of B
    assert unaligned["pairs"] > 20  # pairs change from epoch to epoch
    assert unaligned["both_orientations"] > 0.5 and 0.2 < unaligned["agreement"] < 0.8
    swapped = ch07.loader_exhibit(5, 3, epochs=1, batch_size=1)
    assert swapped["book"].startswith("ValueError") and "at least |A| = 5" in swapped["book"]


def test_shared_optimizer_exhibit_measures_the_error_and_the_fast_counter():
    found = ch07.shared_optimizer_exhibit(steps=12, decay_start=6, decay_steps=5)
    assert found["compile_error"].startswith("ValueError") and "originally built with" in found["compile_error"]
    assert found["iterations"] == 12 * len(ch07.BOOK_UPDATES)
    assert found["updates_per_step"] == len(ch07.BOOK_UPDATES) == 5
    assert len(found["planned_lr"]) == len(found["shared_lr"]) == 12
    assert found["planned_lr"][:7] == [pytest.approx(2e-4)] * 7
    assert found["planned_zero"] == 11
    # the generator update is the 5th of each step: at step s the shared counter reads 5 s + 4
    assert found["shared_zero"] == next(s for s in range(12) if 5 * s + 4 >= 11)
    assert found["shared_lr"][1] == pytest.approx(2e-4 * (1 - (9 - 6) / 5))


def test_lsgan_gradients_vanish_through_the_books_sigmoid():
    rows = {r["pre-activation z"]: r for r in ch07.lsgan_gradients((-6.0, 0.0, 3.0))}
    sig = 1 / (1 + np.exp(6.0))
    assert rows[-6.0]["book gradient"] == pytest.approx(2 * (sig - 1) * sig * (1 - sig), rel=1e-4)
    assert rows[-6.0]["paper gradient"] == pytest.approx(2 * (-6.0 - 1))
    assert rows[0.0]["book loss"] == pytest.approx(0.25) and rows[3.0]["paper loss"] == pytest.approx(4.0)
    assert abs(rows[-6.0]["book gradient"]) < 0.01 < abs(rows[-6.0]["BCE gradient"])


def test_pool_ages_follow_the_query_rule():
    found = ch07.pool_ages(pool_size=10, steps=300, batch_size=1, seed=0)
    assert found["foreign"] == 0 and found["fill_steps"] == 10
    assert len(found["ages"]) == 290
    assert 0.4 < found["newest"] < 0.6  # the new image with probability 1/2 once full
    assert found["mean_age"] > 5 and found["max_age"] > 10  # the others come from further back
    batch = ch07.pool_ages(pool_size=8, steps=20, batch_size=4, seed=1)
    assert batch["fill_steps"] == 2 and len(batch["ages"]) == 18 * 4
    with pytest.raises(ValueError, match="pool_size"):
        ch07.pool_ages(pool_size=0)
