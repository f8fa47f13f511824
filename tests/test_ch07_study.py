"""Chapter 07's exhibits of the book's defects (axis=1 norm, loader, shared optimizer), studies and helpers."""

import numpy as np
import pytest

from gancourse import metrics, stats
from gancourse.experiments import ch07
from gancourse.models import cyclegan


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
    assert (book["A images trained on"], book["B images trained on"], book["images never trained on"]) == (3, 3, 54)
    assert book["share of the dataset"] == pytest.approx(6 / 60)
    assert book["test images also trained on"] == "3 of A, 3 of B"
    assert book["chance a shown B was trained on"] == pytest.approx(3 / 7)
    assert (unaligned["A images trained on"], unaligned["B images trained on"]) == (10, 40)
    assert unaligned["images never trained on"] == 10 and unaligned["share of the dataset"] == pytest.approx(50 / 60)
    assert unaligned["chance a shown B was trained on"] == 0
    assert unaligned["test images also trained on"] == "0 of A, 0 of B"
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
    assert abs(rows[-6.0]["book gradient"]) < 0.01 < abs(rows[-6.0]["non-saturating -log D gradient"])
    assert rows[-6.0]["minimax log(1 - D) gradient"] == pytest.approx(-sig, rel=1e-4)  # it saturates too
    assert rows[3.0]["paper gradient"] == pytest.approx(4.0)  # a fake scored above 1 is pulled back


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


# -- the study (StudyCycleGAN, scores, tables) ---------------------------------------------------


def _cfg(**changes):
    return cyclegan.config("paper").scaled("smoke").replace(res_blocks=1, batch_size=4, **changes)


def _batch(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1, 1, (n, 32, 32, 3)).astype(np.float32) for _ in range(2))


def _weights(model):
    return [v.numpy().copy() for net in model.networks.values() for v in net.trainable_variables]


@pytest.mark.parametrize("changes", [{}, {"lambda_cycle": 0.0}, {"identity_weight": 0.0}])
def test_study_model_takes_the_models_own_step(changes):
    cfg = _cfg()
    study = ch07.StudyCycleGAN(cfg)
    reference = cyclegan.CycleGAN(cfg.replace(**changes))
    reference.compile()
    for net, other in zip(study.networks.values(), reference.networks.values()):
        other.set_weights(net.get_weights())
    study.set_arm(**changes)
    batch = _batch()
    study.train_step(batch)
    reference.train_step(batch)
    for mine, theirs in zip(_weights(study), _weights(reference)):
        np.testing.assert_allclose(mine, theirs, atol=2e-5)


def test_study_model_switches_restart_and_second_translation():
    cfg = _cfg()
    with pytest.raises(ValueError, match="pool_size >= 1"):
        ch07.StudyCycleGAN(cfg.replace(pool_size=0))
    model = ch07.StudyCycleGAN(cfg)
    assert {k: float(v.numpy()) for k, v in model.switches.items()} == {
        "lambda_cycle": 10.0, "identity_weight": 5.0, "pool": 1.0, "second_translation": 0.0}
    start = [net.get_weights() for net in model.networks.values()]
    a, b = _batch()
    model.train_step((a, b))
    assert int(model.optimizers["generators"].iterations) == 1 and int(model.pools["pool_a"].count) == 4
    model.restart(start, seed=3)
    assert int(model.optimizers["generators"].iterations) == 0 and int(model.pools["pool_a"].count) == 0
    assert all(np.array_equal(x, y) for net, w in zip(model.networks.values(), start)
               for x, y in zip(net.get_weights(), w))
    # the second translation's wiring: D_A never sees a fake, D_B sees the fake A images
    model.set_arm(second_translation=True, pool=False)
    after = {}
    for name, fake_a in (("zeros", np.zeros_like(a)), ("noise", _batch(5)[0])):
        model.restart(start, seed=3)
        model.discriminator_step(a, b, fake_a, np.zeros_like(b))
        after[name] = (model.d_a.get_weights(), model.d_b.get_weights())
    assert all(np.array_equal(x, y) for x, y in zip(after["zeros"][0], after["noise"][0]))
    assert not all(np.array_equal(x, y) for x, y in zip(after["zeros"][1], after["noise"][1]))
    model.set_arm(pool=False)  # the right wiring: D_A does see its fakes
    for name, fake_a in (("zeros", np.zeros_like(a)), ("noise", _batch(5)[0])):
        model.restart(start, seed=3)
        model.discriminator_step(a, b, fake_a, np.zeros_like(b))
        after[name] = (model.d_a.get_weights(), model.d_b.get_weights())
    assert not all(np.array_equal(x, y) for x, y in zip(after["zeros"][0], after["noise"][0]))
    assert all(np.array_equal(x, y) for x, y in zip(after["zeros"][1], after["noise"][1]))


def test_per_image_scores_average_to_paired_scores():
    pred, target = _batch(1, n=5)
    scores = ch07.per_image_scores(pred, target)
    assert all(v.shape == (5,) for v in scores.values())
    reference = metrics.paired_scores(pred, target)
    for key in ("l1", "psnr", "ssim"):
        assert np.mean(scores[key]) == pytest.approx(reference[key], rel=1e-5)
    tinted = target + np.array([0.2, 0.0, -0.1], np.float32)
    assert np.allclose(ch07.per_image_scores(tinted, target)["colour"], 0.1, atol=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        ch07.per_image_scores(pred[:2], target)


def test_spread_detects_a_collapsed_direction():
    truths, _ = _batch(2, n=6)
    same = np.repeat(truths[:1], 6, axis=0)
    assert ch07.spread(truths, truths) == {"ratio": pytest.approx(1.0), "collapsed": False, "duplicates": 0.0}
    collapsed = ch07.spread(same, truths)
    assert collapsed["ratio"] == pytest.approx(0.0, abs=1e-6) and collapsed["collapsed"]
    assert collapsed["duplicates"] == 1.0
    half = ch07.spread(0.1 * truths, truths)
    assert half["ratio"] == pytest.approx(0.1) and half["collapsed"]


def test_evaluate_scores_both_directions_and_the_cycle():
    a, b = _batch(3, n=4)
    truth_b, truth_a = np.clip(a + 0.1, -1, 1), np.clip(b - 0.1, -1, 1)
    found = ch07.evaluate(lambda x: x, lambda x: x, (a, truth_b, b, truth_a))
    assert np.allclose(found["a2b"]["l1"], np.abs(a - truth_b).mean(axis=(1, 2, 3)))
    assert np.allclose(found["a2b"]["cycle"], 0) and np.allclose(found["b2a"]["cycle"], 0)
    shifted = ch07.evaluate(lambda x: x + 0.5, lambda x: x - 0.5, (a, truth_b, b, truth_a))
    assert np.allclose(shifted["a2b"]["cycle"], 0, atol=1e-6)  # the two shifts undo each other
    assert np.array_equal(found["b2a"]["outputs"], b)


def test_still_falling():
    assert ch07.still_falling(np.linspace(1.0, 0.5, 12))
    assert not ch07.still_falling(np.r_[np.linspace(1.0, 0.5, 6), np.full(6, 0.5)])
    noisy_flat = 0.5 + 0.01 * np.random.default_rng(0).normal(size=40)
    assert not ch07.still_falling(noisy_flat, tolerance=0.05)
    assert not ch07.still_falling(np.linspace(0.5, 1.0, 12))
    with pytest.raises(ValueError, match="at least 8"):
        ch07.still_falling([1.0, 0.9])


def _fake_results(n=20):
    rng = np.random.default_rng(4)

    def run(l1_mean, outputs_same=False):
        out = {}
        for d in ("a2b", "b2a"):
            out[d] = {k: rng.normal(l1_mean, 0.01, n) for k in ("l1", "colour", "cycle")}
            out[d].update(psnr=rng.normal(12 - l1_mean, 0.1, n), ssim=rng.normal(0.5 - l1_mean, 0.01, n))
            out[d]["spread"] = {"ratio": 0.05 if outputs_same else 0.8, "collapsed": outputs_same, "duplicates": 0.0}
        return out

    return {"full CycleGAN": [run(0.3)], "no cycle loss": [run(0.5)], "no image pool": [run(0.3)],
            "one output": [run(0.1, True)], ch07.COPY: [run(0.2)]}


def test_study_table_verdicts_and_collapse_counts():
    results = _fake_results()
    table, comparisons = ch07.study_table(results)
    # three ranked arms besides the baseline (the copy reference is tested too); the collapsed arm is out
    assert len(table) == 5 * 2 and len(comparisons) == 3 * 2 * len(ch07.STUDY_METRICS)
    rows = {(r["arm"], r["direction"]): r for r in table}
    worse = rows["no cycle loss", ch07.DIRECTIONS["a2b"]]
    assert worse["l1"].endswith("(higher)") and worse["ssim"].endswith("(lower)") and worse["collapsed"] == "0 of 1"
    flagged = rows["one output", ch07.DIRECTIONS["b2a"]]
    assert flagged["l1"].endswith(f"({ch07.NOT_RANKED})") and flagged["collapsed"] == "1 of 1"
    assert rows["no image pool", ch07.DIRECTIONS["b2a"]]["l1"].endswith("(no difference detected)")
    assert rows[ch07.COPY, ch07.DIRECTIONS["a2b"]]["l1"].endswith("(lower)")  # the copy reference is tested
    shown, _ = ch07.study_table(results, references=(ch07.COPY,))
    assert "(" not in [r for r in shown if r["arm"] == ch07.COPY][0]["l1"].split("]")[-1]  # shown, not tested
    assert all(r["family"] == len(comparisons) for r in comparisons)
    assert ch07.verdict(comparisons, results, "no cycle loss", "l1", "a2b") == "higher"
    assert ch07.verdict(comparisons, results, "one output", "ssim", "a2b") == ch07.NOT_RANKED
    with pytest.raises(ValueError, match="no arm named"):
        ch07.verdict(comparisons, results, "missing", "l1", "a2b")
    base_collapsed = {**results, "full CycleGAN": results["one output"]}
    _, none = ch07.study_table(base_collapsed)
    assert none == [] and ch07.verdict(none, base_collapsed, "no cycle loss", "l1", "a2b") == "not tested"
    by_seed = {arm: runs * 3 for arm, runs in results.items()}
    table, comparisons = ch07.study_table(by_seed, unit="seeds")  # the copy reference is the same for every seed
    assert all(r["n"] == 3 for r in comparisons)
    rows = {(r["arm"], r["direction"]): r for r in table}
    assert "[" not in rows[ch07.COPY, ch07.DIRECTIONS["a2b"]]["l1"]  # no interval for a constant
    assert rows["one output", ch07.DIRECTIONS["a2b"]]["collapsed"] == "3 of 3"
    seeds = {arm: runs * 3 for arm, runs in results.items()}
    assert ch07.study_samples(seeds, "l1", "a2b", "seeds")["full CycleGAN"] == [pytest.approx(0.3, abs=0.01)] * 3
    with pytest.raises(ValueError, match="unit"):
        ch07.study_samples(seeds, "l1", "a2b", "runs")
    with pytest.raises(ValueError, match="no arm named"):
        ch07.study_table(results, baseline="missing")
    with pytest.raises(ValueError, match="unit"):
        ch07.study_table(results, unit="runs")


def test_study_table_pairs_the_images_when_every_arm_is_scored_on_them():
    rng = np.random.default_rng(1)
    hardness = rng.normal(0.3, 0.2, 30)  # some images are harder for every arm

    def run(shift):
        out = {}
        for d in ("a2b", "b2a"):
            out[d] = {k: hardness + shift + rng.normal(0, 0.005, 30) for k in ("l1", "colour", "cycle", "psnr", "ssim")}
            out[d]["spread"] = {"ratio": 0.8, "collapsed": False, "duplicates": 0.0}
        return out

    results = {"full CycleGAN": [run(0.0)], "slightly worse": [run(0.02)]}
    _, paired = ch07.study_table(results, unit="images")
    welch = stats.compare({k: v[0]["a2b"]["l1"] for k, v in results.items()}, higher_is_better=False)[0]
    row = next(r for r in paired if r["metric"] == "l1" and r["direction"] == "a2b")
    assert row["verdict"] == "higher" and row["p"] < 1e-6  # paired: the images' own spread cancels
    assert welch["verdict"] == stats.NO_DIFFERENCE  # Welch counts it against the difference


def test_verdict_text_summary_and_copy_sentence():
    results = _fake_results()
    _, comparisons = ch07.study_table(results)
    text = ch07.verdict_text(comparisons, results, "one output", "l1", "a2b")
    assert text.startswith("collapsed (spread 0.05 of the truth's") and "against the full CycleGAN's 0.30" in text
    assert ch07.verdict_text(comparisons, results, "no cycle loss", "l1", "a2b") == "higher"
    summary = ch07.verdict_summary(comparisons, results, {"no cycle loss": ("l1", "cycle"), "absent": ("l1",)})
    assert summary.count("- no cycle loss: L1 higher; cycle error higher.") == 2 and "absent" not in summary
    base_collapsed = {**results, "full CycleGAN": results["one output"]}
    _, none = ch07.study_table(base_collapsed)
    summary = ch07.verdict_summary(none, base_collapsed, {"no cycle loss": ("l1",)})
    assert summary.count("no arm is compared") == 2 and "no cycle loss" not in summary
    sentence = ch07.copy_sentence(comparisons, results, {"full CycleGAN": [True]})
    assert sentence.startswith("Copying the input is detectably closer") and "1 of its 1 run(s)" in sentence
    better = {**results, ch07.COPY: results["no cycle loss"]}
    _, comparisons = ch07.study_table(better)
    assert "detectably closer to the truth than copying" in ch07.copy_sentence(comparisons, better, {})


def test_separation_and_equilibrium_losses():
    scores = {"d_a_real_images": np.full(10, 0.9) + np.linspace(0, 0.01, 10),
              "d_a_fake_images": np.full(10, 0.1) + np.linspace(0, 0.01, 10)}
    assert ch07.separation(scores)["verdict"] == "lower"
    blind = {"d_a_real_images": scores["d_a_real_images"], "d_a_fake_images": scores["d_a_real_images"][::-1]}
    assert ch07.separation(blind)["verdict"] == stats.NO_DIFFERENCE
    with pytest.raises(ValueError, match="per-image scores"):
        ch07.separation(scores, "d_b")
    balance = ch07.equilibrium_losses(cyclegan.config("paper"))
    assert balance == pytest.approx({"g_adv": 0.5, "d_loss": 0.5})  # two D losses of 0.5 (0.25 + 0.25) each
    assert ch07.equilibrium_losses(cyclegan.config("book"))["d_loss"] == pytest.approx(1.0)


def test_study_runs_every_arm_and_the_paired_bound():
    from gancourse.data import unpaired
    from gancourse.models import pix2pix

    train = unpaired.offline_unpaired("train", 32, n=16)
    test = unpaired.offline_unpaired("test", 32, n=12)
    arms = {"full CycleGAN": {}, "no cycle loss": {"lambda_cycle": 0.0}}
    p2p = pix2pix.config("paper").scaled("smoke").replace(base_filters=8)
    found = ch07.study(_cfg(), (0,), epochs=2, train=train, test=test, arms=arms, log_every=2, preview_n=2,
                       pix2pix_cfg=p2p)
    assert found["steps_per_epoch"] == 4 and found["steps"] == 8
    assert set(found["results"]) == {"full CycleGAN", "no cycle loss", "second translation's wiring", ch07.COPY,
                                     ch07.PAIRED}
    assert sorted(found["grids"]) == [0, 1, 2] and found["grids"][2].shape == (6, 2, 32, 32, 3)
    history = found["histories"]["no cycle loss"][0]
    assert len(history["cycle"]) == 4 and set(history) == set(cyclegan.CycleGAN.METRICS)
    assert found["results"][ch07.PAIRED][0]["a2b"]["l1"].shape == (12,)
    assert set(found["paired_histories"][ch07.PAIRED][0]) == {"a2b", "b2a"}
    curve = found["paired_histories"][ch07.PAIRED][0]["a2b"]  # every pair of the offline data (n_train None)
    assert len(curve) >= 4 and np.all(np.isfinite(curve)) and 0 < curve[0] < 2
    assert found["discriminators"]["full CycleGAN"][0]["d_a_real_images"].shape == (12,)
    assert {"d_a_real", "d_a_fake", "d_b_real", "d_b_fake"} <= set(found["discriminators"]["full CycleGAN"][0])
    assert found["cfg"].decay_epochs == 1 and found["cfg"].steps_per_epoch == 4
    with pytest.raises(ValueError, match="at least 8"):  # 4 steps before the decay, logged every 2: too short
        ch07.still_learning(found)
    falling, flat = list(np.linspace(1, 0.5, 8)) + [0.5] * 8, [0.5] * 16
    adv = list(np.linspace(0.2, 2.0, 16))  # the adversarial part does not count
    fake = {"cfg": found["cfg"], "steps_per_epoch": 16, "log_every": 2,
            "histories": {"falling": [{"g_loss": np.add(falling, adv), "g_adv": adv}],
                          "flat": [{"g_loss": flat, "g_adv": [0.0] * 16}, {"g_loss": falling, "g_adv": [0.0] * 16}]},
            "paired_histories": {"paired": [{"a2b": [0.5] * 8, "b2a": list(np.linspace(1, 0.5, 8))}]}}
    assert ch07.still_learning(fake) == {"falling": [True], "flat": [False, True], "paired": [True]}
    with pytest.raises(ValueError, match="multiple of log_every"):
        ch07.study(_cfg(), (0,), epochs=1, train=train, test=test, arms=arms, log_every=3)


def test_study_settings_and_presets():
    smoke = ch07.study_settings("smoke")
    assert smoke["seeds"] == (0,) and smoke["unit"] == "images"
    assert len(ch07.study_settings("standard")["seeds"]) == 3 and ch07.study_settings("standard")["unit"] == "seeds"
    with pytest.raises(ValueError, match="unknown profile"):
        ch07.study_settings("huge")
    rows = {r["preset"]: r for r in ch07.describe_presets()}
    assert (rows["book"]["G params"], rows["book"]["D params"]) == (1971747, 2766529)
    assert (rows["paper"]["G params"], rows["paper"]["D params"]) == (11378179, 2764737)
    assert rows["book"]["receptive field"] == 94 and rows["paper"]["receptive field"] == 70
    assert rows["unet"]["res blocks"] == "-" and rows["paper"]["res blocks"] == 9


def test_cycle_grid_and_drawings():
    preview = np.stack([np.full((3, 8, 8, 3), v, np.float32) for v in range(6)])
    grid = ch07.cycle_grid(preview, 1)
    assert grid.shape == (2, 3, 8, 8, 3) and grid[0, 2].max() == 2 and grid[1, 0].min() == 3
    with pytest.raises(ValueError, match="6, n, H, W, C"):
        ch07.cycle_grid(preview[:3])
    fig = ch07.draw_grids({0: preview / 6, 1: preview / 6}, index=0, title="t")
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    ch07.draw_curves({"arm": [{"cycle": [1.0, 0.5]}]}, ("cycle",), 5, ax, ylabel="L1")
    assert list(ax.lines[0].get_xdata()) == [5, 10] and ax.get_ylabel() == "L1"
    plt.close("all")


def test_initial_weights_and_run_batches_are_fixed_by_the_seed():
    cfg = _cfg()
    first, again, other = ch07.initial_weights(cfg, 1), ch07.initial_weights(cfg, 1), ch07.initial_weights(cfg, 2)
    assert len(first) == 4 and all(np.array_equal(x, y) for a, b in zip(first, again) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for a, b in zip(first, other) for x, y in zip(a, b))
    a, b = _batch(6, n=12)
    runs = ch07.run_batches(cfg, (a, b[:8]), seed=3, epochs=2)
    assert len(runs) == 2 * (12 // cfg.batch_size) and runs[0][0].shape == (4, 32, 32, 3)
    same = ch07.run_batches(cfg, (a, b[:8]), seed=3, epochs=2)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(runs, same))
    assert not np.array_equal(runs[0][0], runs[len(runs) // 2][0])  # the second epoch is reshuffled


def test_adam_step_ratio_and_oscillation():
    ratio = ch07.adam_step_ratio(5000)
    factor = lambda t: np.sqrt(1 - 0.999**t) / (1 - 0.5**t)  # noqa: E731
    assert ratio["generators"][0] == pytest.approx(factor(5) / factor(1))  # 5th update of step 1, own count 1
    assert 2.1 < ratio["generators"].max() < 2.3 and 1.5 < ratio["discriminators"].max() < 1.7
    assert abs(ratio["generators"][-1] - 1) < 0.01  # the bias correction has faded
    with pytest.raises(ValueError, match="steps"):
        ch07.adam_step_ratio(0)
    histories = {"full CycleGAN": [{"d_loss": [1, 1, 0.5, 0.5], "g_adv": [0, 0, 1, 1]}],
                 "no image pool": [{"d_loss": [1, 1, 0.0, 1.0], "g_adv": [0, 0, 1, 1]}]}
    rows = {(r["arm"], r["loss"]): r["std of the second half"] for r in ch07.oscillation(histories)}
    assert rows["full CycleGAN", "d_loss"] == 0 and rows["no image pool", "d_loss"] == pytest.approx(0.5)


def test_preset_config_keeps_the_study_scale_and_the_presets_recipe():
    study_cfg = _cfg().replace(epochs=4, decay_epochs=2, steps_per_epoch=4, batch_size=4)
    unet, book = ch07.preset_config(study_cfg, "unet"), ch07.preset_config(study_cfg, "book")
    for cfg in (unet, book):
        assert (cfg.image_size, cfg.base_filters, cfg.d_filters, cfg.res_blocks, cfg.batch_size, cfg.epochs,
                cfg.steps_per_epoch) == (32, study_cfg.base_filters, study_cfg.d_filters, 1, 4, 4, 4)
    assert unet.generator == "unet" and unet.decay_epochs == 2 and unet.pool_size == study_cfg.pool_size
    assert unet.identity_weight == study_cfg.identity_weight and unet.discriminator == "paper"
    assert (book.discriminator, book.res_norm, book.padding, book.pool_size, book.decay_epochs) == (
        "book", "batch", "zero", 0, 0)
    assert book.identity_weight == 1.0 and not book.halve_d_loss
    with pytest.raises(ValueError, match="unknown preset 'cut'"):
        ch07.preset_config(study_cfg, "cut")


def test_preset_study_trains_the_presets_on_the_study_batches():
    from gancourse.data import unpaired

    train = unpaired.offline_unpaired("train", 32, n=16)
    test = unpaired.offline_unpaired("test", 32, n=6)
    study_cfg = _cfg().replace(epochs=4, decay_epochs=2, steps_per_epoch=4)
    baseline = ch07.evaluate(lambda x: x, lambda x: x, test)
    history = {k: list(np.linspace(1.0, 0.2, 16)) for k in cyclegan.CycleGAN.METRICS}
    history["g_adv"] = [0.0] * 16
    copy = ch07.evaluate(lambda x: x, lambda x: x, test)
    fake_study = {"cfg": study_cfg, "seeds": (0,), "log_every": 1, "steps": 16, "n_train": None,
                  "results": {ch07.BASELINE: [baseline], ch07.COPY: [copy]},
                  "histories": {ch07.BASELINE: [history]}}
    found = ch07.preset_study(fake_study, train=train, test=test)
    rows = ch07.PRESET_ROWS
    assert set(found["results"]) == set(rows.values()) | {ch07.COPY}
    assert found["results"][rows["paper"]][0] is baseline and found["results"][ch07.COPY][0] is copy
    for key in ("unet", "book"):
        run = found["results"][rows[key]][0]
        assert run["a2b"]["l1"].shape == (6,) and run["b2a"]["outputs"].shape == (6, 32, 32, 3)
        assert len(found["histories"][rows[key]][0]["cycle"]) == 16  # 4 epochs of 4 steps, logged every step
        assert np.all(np.isfinite(found["histories"][rows[key]][0]["g_loss"]))
        assert isinstance(found["learning"][rows[key]][0], bool)
    assert found["learning"][rows["paper"]] == [True]  # the fake baseline's L1 terms fall all along
    g_paper, d_paper = found["params"][rows["paper"]]
    assert g_paper == cyclegan.build_generator(study_cfg).count_params()
    assert found["params"][rows["unet"]][0] > 3 * g_paper and found["params"][rows["unet"]][1] == d_paper
    assert found["params"][rows["book"]][1] != d_paper  # the book's discriminator
    assert set(found["seconds"]) == {rows["unet"], rows["book"]}
    table, comparisons = ch07.study_table(found["results"], baseline=rows["paper"])
    assert [r["arm"] for r in table][::2] == [rows["paper"], rows["unet"], rows["book"], ch07.COPY]
    assert {c["variant"] for c in comparisons} <= {rows["unet"], rows["book"], ch07.COPY}
    with pytest.raises(ValueError, match="give 8 steps, the study ran 16"):  # other training data than the study's
        ch07.preset_study(fake_study, presets=("unet",), train=(train[0][:8], train[1][:8]), test=test)


def test_against_copy_sorts_the_runs_by_their_verdict_against_copying():
    from gancourse.data import unpaired

    test = unpaired.offline_unpaired("test", 32, n=12)
    a, a_true_b, b, b_true_a = test
    rng = np.random.default_rng(0)

    def near(truth):  # a translator that returns the truth, slightly off: closer than copying
        return lambda x: (truth + rng.normal(0, 0.01, truth.shape)).astype(np.float32)

    results = {ch07.COPY: [ch07.evaluate(lambda x: x, lambda x: x, test)],
               "near": [ch07.evaluate(near(a_true_b), near(b_true_a), test)],
               "noisy": [ch07.evaluate(lambda x: np.clip(x + rng.normal(0, 0.6, x.shape), -1, 1).astype(np.float32),
                                       lambda x: np.clip(x + rng.normal(0, 0.6, x.shape), -1, 1).astype(np.float32),
                                       test)],
               "constant": [ch07.evaluate(np.zeros_like, np.zeros_like, test)]}
    text = ch07.against_copy(results)
    for label in ch07.DIRECTIONS.values():
        line = next(x for x in text.splitlines() if x.startswith(f"- {label}"))
        assert "closer than copying: near" in line and "further from the truth than copying: noisy" in line
        assert "collapsed, not ranked: constant" in line
    ssim = ch07.against_copy(results, metric="ssim")  # higher is better: the words must not flip
    assert ssim.startswith("**SSIM to the truth")
    for label in ch07.DIRECTIONS.values():
        line = next(x for x in ssim.splitlines() if x.startswith(f"- {label}"))
        assert "closer than copying: near" in line and "further from the truth than copying: noisy" in line
    with pytest.raises(ValueError, match="no 'copy the input' reference"):
        ch07.against_copy({"near": results["near"]})
