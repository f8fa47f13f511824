import io
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gancourse.data import paired
from gancourse import losses, training
from gancourse.data.cache import DatasetError
from gancourse.experiments import ch08
from gancourse.models import pix2pix
from gancourse.nn import translation


@pytest.mark.parametrize("variant,channels,norm,want", [
    ("paper", 3, False, 54_423_811), ("paper", 3, True, 54_425_859),  # True: the TF tutorial's count
    ("book", 1, True, 129_153_729), ("book", 1, False, 129_151_681),  # False: bottleneck BN bug fixed
    ("mastering_pytorch", 3, False, 54_409_603)])
def test_unet_parameter_counts(variant, channels, norm, want):
    g = translation.unet_generator(variant, 256, channels, channels, bottleneck_norm=norm)
    assert g.count_params() == want
    assert g.output_shape == (None, 256, 256, channels)


@pytest.mark.parametrize("variant,params,grid,field", [("paper", 2_770_433, 30, 70),
                                                       ("mastering_pytorch", 2_767_809, 16, 94)])
def test_patchgan_counts_output_and_receptive_field(variant, params, grid, field):
    d = translation.patchgan_discriminator(variant)
    assert d.count_params() == params and d.output_shape == (None, grid, grid, 1)
    assert translation.receptive_field(d) == field
    assert [tuple(i.shape) for i in d.inputs] == [(None, 256, 256, 3)] * 2  # conditional: sees the pair


def test_receptive_field_formula_and_errors():
    assert translation.receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 70
    assert translation.receptive_field([(3, 1), (3, 1)]) == 5
    with pytest.raises(ValueError, match="no convolution"):
        translation.receptive_field([])
    with pytest.raises(ValueError, match="transposed conv"):
        translation.receptive_field(translation.unet_generator("paper", 32, base_filters=4))
    with pytest.raises(ValueError, match="power of two"):
        translation.unet_generator("paper", 48)
    with pytest.raises(ValueError, match="unknown U-Net variant 'resnet'"):
        translation.unet_generator("resnet")


def test_paper_unet_structure():
    g = translation.unet_generator("paper", 256)
    names = [layer.name for layer in g.layers]
    assert "down1_bn" not in names and "down8_bn" not in names and "down7_bn" in names
    assert [n for n in names if n.endswith("_drop")] == ["up1_drop", "up2_drop", "up3_drop"]
    assert sum(n.endswith("_skip") for n in names) == 7
    assert g.get_layer("down8_act").output.shape[1:3] == (1, 1)


def test_presets_and_smoke_scaling():
    assert pix2pix.config("book").channels == 1 and pix2pix.config("book").learning_rate == 1e-4
    smoke = pix2pix.config("paper").scaled("smoke")
    assert (smoke.dataset, smoke.image_size, smoke.base_filters) == ("offline", 32, 16)
    g, d = pix2pix.build_generator(smoke), pix2pix.build_discriminator(smoke)
    assert g.output_shape == (None, 32, 32, 3) and d.output_shape == (None, 2, 2, 1)
    with pytest.raises(ValueError, match="unknown pix2pix preset 'cyclegan'"):
        pix2pix.config("cyclegan")
    with pytest.raises(ValueError, match="both 0"):
        pix2pix.config("paper", l1_weight=0, gan_weight=0)


def _tiny_model(**changes):
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=8, **changes)
    model = pix2pix.Pix2Pix(cfg)
    model.compile()
    return model


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _trainable(net):
    return [np.asarray(v).copy() for v in net.trainable_variables]


def test_each_update_touches_only_its_network():
    # Batch-norm moving statistics of the network that runs forward may change; trainable weights may not.
    model = _tiny_model()
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
    g0, d0 = _trainable(model.generator), _trainable(model.discriminator)
    model.discriminator_step(x, y)
    g1, d1 = _trainable(model.generator), _trainable(model.discriminator)
    assert all(np.array_equal(a, b) for a, b in zip(g0, g1))
    assert any(not np.array_equal(a, b) for a, b in zip(d0, d1))
    model.generator_step(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(d1, _trainable(model.discriminator)))
    assert any(not np.array_equal(a, b) for a, b in zip(g1, _trainable(model.generator)))


def test_objective_weights_and_l1_only_mode():
    model = _tiny_model(gan_weight=0.0)
    rng = np.random.default_rng(1)
    x, y = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
    d_before = _snapshot(model.discriminator)
    total, gan_term, l1, fake = model.generator_step(x, y)
    assert float(gan_term) == 0.0 and float(total) == pytest.approx(100 * float(l1), rel=1e-5)
    logs = model.train_step((x, y))
    assert float(logs["d_loss"]) == 0.0  # no adversary in the L1-only ablation
    assert all(np.array_equal(a, b) for a, b in zip(d_before, model.discriminator.get_weights()))


def test_short_training_learns_something_and_translate_checks_shapes():
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=8, epochs=1)
    x, y = paired.offline_pairs("train", 32, n=64)
    model, history, _ = training.train(cfg, data=(x, y))
    assert np.isfinite(history.history["g_loss"]).all() and len(history.history["g_l1"]) == 1
    out = model.translate(x[:5])
    assert out.shape == (5, 32, 32, 3) and out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match=r"inputs must have shape \(n, 32, 32, 3\)"):
        model.translate(np.zeros((2, 64, 64, 3)))


# -- data ------------------------------------------------------------------
def _pair_jpeg(seed, size=16):
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    labels = np.zeros((size, size, 3), np.uint8)
    labels[..., 2] = 200  # a flat blue label map
    buf = io.BytesIO()
    Image.fromarray(np.concatenate([photo, labels], axis=1)).save(buf, format="PNG")  # lossless for the test
    return buf.getvalue()


def _fixture_archive(tmp_path, sizes):
    archive = tmp_path / "facades.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split, n in sizes.items():
            for i in range(n):
                payload = _pair_jpeg(i)
                info = tarfile.TarInfo(f"facades/{split}/{i + 1}.png")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return archive


def test_pix2pix_folder_layout_split_halves_and_sizes(tmp_path):
    from gancourse.data.cache import safe_extract

    safe_extract(_fixture_archive(tmp_path, {"train": 3, "val": 2, "test": 1}), tmp_path / "data")
    root = paired.pix2pix_root("facades", tmp_path / "data")
    x, y = paired.read_pairs(root, "train", image_size=16, input_side="right", expected=3)
    assert x.shape == y.shape == (3, 16, 16, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 2], 200 / 127.5 - 1)  # input = right half = label map
    assert y.std() > 0.3  # target = left half = the (random) photo
    big, _ = paired.read_pairs(root, "val", image_size=32, expected=2)
    assert big.shape == (2, 32, 32, 3)
    with pytest.raises(DatasetError, match="holds 1 images, the dataset has 106"):
        paired.read_pairs(root, "test", image_size=16, expected=106)
    with pytest.raises(DatasetError, match="no facades dataset"):
        paired.pix2pix_root("facades", tmp_path / "nowhere")
    (root / "val" / "1.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="cannot read"):
        paired.read_pairs(root, "val", image_size=16)
    assert paired.SPLIT_SIZES["facades"] == {"train": 400, "val": 100, "test": 106}


def test_split_pair_and_jitter():
    img = np.concatenate([np.zeros((4, 4, 3)), np.ones((4, 4, 3))], axis=1)
    a, b = paired.split_pair(img, "right")
    assert a.mean() == 1 and b.mean() == 0
    a, b = paired.split_pair(img, "left")
    assert a.mean() == 0 and b.mean() == 1
    with pytest.raises(ValueError, match="even width"):
        paired.split_pair(np.zeros((4, 5, 3)))
    x = np.random.default_rng(0).uniform(-1, 1, (32, 32, 3)).astype(np.float32)
    ja, jb = paired.random_jitter(x, x, 32, seed=np.array([1, 2]))
    assert ja.shape == (32, 32, 3)
    np.testing.assert_array_equal(np.asarray(ja), np.asarray(jb))  # identical crop and flip for the pair


def test_offline_pairs_are_aligned_and_held_out():
    x, y = paired.offline_pairs("train", 32, n=40)
    tx, ty = paired.offline_pairs("test", 32, n=10)
    assert x.shape == y.shape == (40, 32, 32, 3) and tx.shape == (10, 32, 32, 3)
    assert -1 <= x.min() and x.max() <= 1
    palette = paired.PALETTE / 127.5 - 1
    flat = x.reshape(-1, 3)
    assert np.all(np.min(np.abs(flat[:, None, :] - palette[None]).sum(-1), axis=1) < 1e-5)  # only label colours
    again, _ = paired.offline_pairs("train", 32, n=40)
    np.testing.assert_array_equal(x, again)
    with pytest.raises(ValueError, match="'train' and 'test'"):
        paired.offline_pairs("val")


def test_paired_scores_on_known_cases():
    from scipy import ndimage

    from gancourse import metrics

    _, y = paired.offline_pairs("test", 32, n=8)
    same = metrics.paired_scores(y, y)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1.0) and same["sharpness"] == pytest.approx(1.0)
    blurred = np.stack([ndimage.gaussian_filter(img, sigma=(1.5, 1.5, 0)) for img in y])
    scores = metrics.paired_scores(blurred, y)
    assert scores["sharpness"] < 0.5 and scores["ssim"] < 0.95 and 10 < scores["psnr"] < 60
    noisy = np.clip(y + np.random.default_rng(0).normal(0, 0.3, y.shape), -1, 1).astype(np.float32)
    assert metrics.paired_scores(noisy, y)["psnr"] < scores["psnr"] + 20
    assert metrics.paired_scores(noisy, y)["sharpness"] > 1.0
    with pytest.raises(ValueError, match="one shape"):
        metrics.paired_scores(y[:2], y[:3])


# -- the book's discriminator, kept as an exhibit ------------------------------
def test_book_image_discriminator_counts_and_shape():
    import keras

    d = translation.book_image_discriminator()
    assert d.count_params() == 19_802_768 and d.output_shape == (None, 2)
    per_patch = keras.Model(d.input, d.get_layer("patch_softmax").output)
    assert per_patch.count_params() == 19_546_562  # the book's per-patch network
    assert len(d.inputs) == 1  # unconditional: it never sees the label map


def test_batch_one_exhibit_shows_both_defects():
    found = ch08.batch_one_exhibit(n=3)
    assert found["bottleneck_spread_bug"] == 0.0 and found["bottleneck_grad_bug"] < 1e-6
    assert found["bottleneck_spread_fixed"] > 1e-3 and found["bottleneck_grad_fixed"] > 1e-3
    assert found["book_d_spread_batch1"] == 0.0 and found["book_d_spread_batchn"] > 1e-4
    assert found["mbd_min_batch1"] == found["mbd_max_batch1"] == 1.0


# -- previews, data checks and the command line -----------------------------
def test_preview_is_input_output_target_rows_of_fixed_validation_pairs():
    model = _tiny_model()
    pairs = pix2pix.preview_pairs(model.cfg, 5, seed=3)
    again = pix2pix.preview_pairs(model.cfg, 5, seed=3)
    np.testing.assert_array_equal(pairs[0], again[0])
    assert not hasattr(model, "preview_inputs")  # the model reads no data; training_data supplies previews
    _, preview = pix2pix.training_data(model.cfg, n_preview=5)
    assert preview[0].shape == (5, 32, 32, 3)
    test_x, test_y = paired.offline_pairs("test", 32)
    assert any(np.array_equal(pairs[1][0], t) for t in test_y)  # drawn from the held-out split
    rows = model.preview(pairs)
    assert rows.shape == (3, 5, 32, 32, 3)
    np.testing.assert_array_equal(rows[0], pairs[0])
    np.testing.assert_array_equal(rows[2], pairs[1])
    np.testing.assert_allclose(rows[1], model.translate(pairs[0]), atol=1e-6)
    with pytest.raises(ValueError, match="the validation split has 160"):
        pix2pix.preview_pairs(model.cfg, 500)


def test_sample_grid_callback_keeps_triptychs():
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=8, epochs=2)
    x, y = paired.offline_pairs("train", 32, n=32)
    grid = training.SampleGrid(n=4, at_start=True, inputs=pix2pix.preview_pairs(cfg, 4))
    training.train(cfg, callbacks=[grid], data=(x, y))
    assert sorted(grid.images) == [0, 1, 2] and grid.images[2].shape == (3, 4, 32, 32, 3)
    np.testing.assert_array_equal(grid.images[0][0], grid.images[2][0])  # the same inputs every epoch
    assert not np.array_equal(grid.images[0][1], grid.images[2][1])  # the outputs moved


def test_fit_rejects_data_of_the_wrong_size():
    model = _tiny_model()
    x, y = paired.offline_pairs("train", 64, n=8)
    with pytest.raises(ValueError, match=r"\(64, 64, 3\).*takes \(\(32, 32, 3\), \(32, 32, 3\)\)"):
        model.fit(paired.paired_dataset(x, y, 4), epochs=1)


def test_cli_trains_resumes_and_samples_pix2pix(tmp_path, capsys):
    import json

    from gancourse.cli import main

    out = tmp_path / "run"
    args = ["train", "pix2pix", "--profile", "smoke", "--out", str(out), "--set", "base_filters=8"]
    assert main(args + ["--epochs", "1"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["preset"] == "paper" and saved["dataset"] == "offline"
    assert (out / "samples" / "epoch_0001.png").exists() and (out / "checkpoints").exists()
    from PIL import Image

    assert Image.open(out / "samples" / "epoch_0001.png").size == (8 * 33 + 1, 3 * 33 + 1)  # 3 rows of 8 pairs
    assert main(args + ["--epochs", "2"]) == 0
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    assert len(json.loads((out / "history.json").read_text())["g_l1"]) == 2
    assert main(["sample", "pix2pix", "--out", str(out), "--n", "3", "--file", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size == (3 * 33 + 1, 3 * 33 + 1)
    assert main(["train", "pix2pix", "--preset", "cyclegan", "--out", str(tmp_path / "x")]) == 2
    assert "unknown pix2pix preset 'cyclegan'" in capsys.readouterr().err


def test_ablation_rows_reuse_and_identity_floor():
    cfg = pix2pix.config("paper").scaled("smoke").replace(base_filters=8, epochs=1)
    train_data = paired.offline_pairs("train", 32, n=16)
    test_data = paired.offline_pairs("test", 32, n=12)
    done = _tiny_model()
    rows, models = ch08.ablation(cfg, train_data=train_data, test_data=test_data, trained={"L1 + cGAN": done})
    assert [r["objective"] for r in rows] == ["identity (input as output)", "L1 only", "cGAN only", "L1 + cGAN"]
    assert models["L1 + cGAN"] is done  # reused, not trained again
    assert models["L1 only"].cfg.gan_weight == 0 and models["cGAN only"].cfg.l1_weight == 0
    identity = rows[0]
    from gancourse import metrics
    assert identity["l1"] == pytest.approx(metrics.paired_scores(*test_data)["l1"])
    assert rows[3]["l1"] == pytest.approx(ch08.evaluate(done, *test_data)["l1"])
    assert all(set(r) == {"objective", "l1", "psnr", "ssim", "sharpness"} for r in rows)


def test_label_classes_mean_the_same_colour_in_every_photo():
    x, y = paired.offline_pairs("train", 32, n=200)
    tx, ty = paired.offline_pairs("test", 32, n=100)

    def class_colours(inputs, targets):
        colours = {}
        for k, colour in enumerate(paired.PALETTE / 127.5 - 1):
            mask = np.all(np.abs(inputs - colour) < 1e-5, axis=-1)
            if mask.sum() > 200:
                colours[k] = targets[mask].mean(axis=0)
        return colours

    train_colours, test_colours = class_colours(x, y), class_colours(tx, ty)
    shared = sorted(set(train_colours) & set(test_colours))
    assert len(shared) >= 2
    brightness = [test_colours[k].sum() for k in shared]
    assert brightness == sorted(brightness)  # classes are ordered darkest first, in held-out photos too
    for k in shared:  # a class's mean photo colour in the held-out scene is close to its training colour
        assert np.abs(train_colours[k] - test_colours[k]).mean() < 0.3


def test_describe_presets_rows():
    rows = ch08.describe_presets(image_size=64)
    assert [r["preset"] for r in rows] == list(pix2pix.PRESETS)
    by = {r["preset"]: r for r in rows}
    assert by["paper"]["receptive field"] == 70 and by["mastering_pytorch"]["receptive field"] == 94
    assert by["paper"]["D output"] == "6x6" and by["book"]["channels"] == 1
    assert by["paper"]["G params"] == pix2pix.build_generator(pix2pix.config("paper", image_size=64)).count_params()


def test_jittered_dataset_is_reproducible_and_new_each_epoch():
    x, y = paired.offline_pairs("train", 32, n=16)

    def epochs(ds, n=2):
        return [np.concatenate([np.asarray(b[1]) for b in ds]) for _ in range(n)]

    first, second = epochs(paired.paired_dataset(x, y, 4, jitter=True, shuffle=False, seed=3))
    again, _ = epochs(paired.paired_dataset(x, y, 4, jitter=True, shuffle=False, seed=3))
    np.testing.assert_array_equal(first, again)  # same seed, same jitter
    assert not np.array_equal(first, second)  # a new crop and flip every epoch


def test_fid_monitor_scores_translations_of_held_out_inputs():
    class MeanFeatures:
        def features(self, images):
            return np.stack([images.mean(axis=(1, 2, 3)), images.std(axis=(1, 2, 3))], axis=1)

    model = _tiny_model(epochs=1)
    x, y = paired.offline_pairs("train", 32, n=16)
    held_x, held_y = paired.offline_pairs("test", 32, n=12)
    monitor = training.FIDMonitor(MeanFeatures(), MeanFeatures().features(held_y), n=12, inputs=(held_x, held_y))
    history = model.fit(pix2pix.batches(model.cfg, (x, y)), epochs=1, verbose=0, callbacks=[monitor])
    assert history.history["fid"][0] == pytest.approx(monitor.values[1]) and monitor.values[1] > 0
    np.testing.assert_allclose(model.metric_samples(12, inputs=held_x), model.translate(held_x), atol=1e-6)
    with pytest.raises(ValueError, match="pass held-out input images"):
        model.metric_samples(4)


@pytest.mark.parametrize("objective", ["lsgan", "hinge"])
def test_other_objectives_train_and_track_raw_scores(objective):
    model = _tiny_model(objective=objective)
    x, y = paired.offline_pairs("train", 32, n=8)
    logs = model.train_step((tf.constant(x), tf.constant(y)))
    assert all(np.isfinite(float(v)) for v in logs.values())
    scores = tf.constant([[-3.0], [5.0]])
    assert float(training.steps.mean_score(scores, losses.objective(objective))) == pytest.approx(1.0)  # raw
    assert float(training.steps.mean_score(scores, losses.objective("bce"))) == pytest.approx(
        float(np.mean(1 / (1 + np.exp([3.0, -5.0])))))  # a probability only where D has logits
