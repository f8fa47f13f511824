"""3D-GAN: the voxel networks, their parameter counts in every batch-norm placement, the gated D update,
the voxel metrics and renders."""

import numpy as np
import pytest
import tensorflow as tf

from gancourse import legacy, metrics, viz
from gancourse.models import gan3d
from gancourse.nn import voxels as vnn
from gancourse.training import steps

# Published counts (the source's tables), built here.
G_COUNTS = {"canonical": 17_572_545, "text": 17_572_549}
D_COUNTS = {"canonical": 11_051_457, "description": 11_051_713, "text": 11_051_717, "repo": 11_051_461}


@pytest.mark.parametrize("placement", sorted(G_COUNTS))
def test_generator_counts_for_every_batch_norm_placement(placement):
    g = vnn.voxel_generator(64, 200, 512, placement)
    assert g.count_params() == G_COUNTS[placement]
    assert g.output_shape == (None, 64, 64, 64, 1)
    bn = [layer.name for layer in g.layers if layer.name.endswith("_bn")]
    assert bn == [f"g{i}_bn" for i in (range(1, 6) if placement == "text" else range(1, 5))]


@pytest.mark.parametrize("placement", sorted(D_COUNTS))
def test_discriminator_counts_for_every_batch_norm_placement(placement):
    d = vnn.voxel_discriminator(64, 512, placement)
    assert d.count_params() == D_COUNTS[placement]
    assert d.output_shape == (None, 1)
    expected = {"canonical": (2, 3, 4), "description": (1, 2, 3, 4), "text": (1, 2, 3, 4, 5), "repo": (2, 3, 4, 5)}
    assert [layer.name for layer in d.layers if layer.name.endswith("_bn")] == [f"d{i}_bn" for i in
                                                                                  expected[placement]]


def test_the_layer_tables_of_the_source():
    g = vnn.voxel_generator(64)
    shapes = [g.get_layer(f"g{i}_act").output.shape[1:] for i in range(1, 6)]
    assert shapes == [(4, 4, 4, 512), (8, 8, 8, 256), (16, 16, 16, 128), (32, 32, 32, 64), (64, 64, 64, 1)]
    d = vnn.voxel_discriminator(64)
    shapes = [d.get_layer(f"d{i}_act").output.shape[1:] for i in range(1, 5)]
    assert shapes == [(32, 32, 32, 64), (16, 16, 16, 128), (8, 8, 8, 256), (4, 4, 4, 512)]
    assert d.get_layer("d5_conv").output.shape[1:] == (1, 1, 1, 1)
    assert all(g.get_layer(f"g{i}_deconv").kernel_size == (4, 4, 4) for i in range(1, 6))
    assert g.get_layer("g1_deconv").strides == (1, 1, 1) and g.get_layer("g2_deconv").strides == (2, 2, 2)


@pytest.mark.parametrize("cube,blocks,g_widths,d_widths", [
    (64, 5, [512, 256, 128, 64, 1], [64, 128, 256, 512, 1]),
    (32, 4, [512, 256, 128, 1], [128, 256, 512, 1]),
    (16, 3, [512, 256, 1], [256, 512, 1]),
])
def test_smaller_cubes_drop_the_high_resolution_blocks(cube, blocks, g_widths, d_widths):
    assert vnn.blocks_for(cube) == blocks
    assert vnn.generator_widths(cube) == g_widths and vnn.discriminator_widths(cube) == d_widths
    g, d = vnn.voxel_generator(cube, 8, 64), vnn.voxel_discriminator(cube, 64)
    assert g.output_shape == (None, cube, cube, cube, 1) and d.output_shape == (None, 1)
    assert len([layer for layer in g.layers if layer.name.endswith("_deconv")]) == blocks


def test_bad_cube_and_placement_are_refused():
    with pytest.raises(ValueError, match="cube_len=48 is not supported; choose one of 16, 32, 64"):
        vnn.voxel_generator(48)
    with pytest.raises(ValueError, match="d_batch_norm='all' is not allowed; choose one of canonical"):
        vnn.voxel_discriminator(16, 32, "all")
    with pytest.raises(ValueError, match="g_batch_norm='none' is not allowed"):
        vnn.voxel_generator(16, 8, 32, "none")
    with pytest.raises(ValueError, match=r"cube_len=.*choose one of 16, 32, 64"):
        gan3d.config("book", cube_len=24)
    with pytest.raises(ValueError, match="d_threshold"):
        gan3d.config("paper", d_threshold=1.5)


def test_paper_features_are_the_max_pooled_last_three_strided_layers():
    d = vnn.voxel_discriminator(64)
    assert vnn.feature_layers(d) == ["d2_act", "d3_act", "d4_act"]
    assert vnn.feature_model(d).output_shape == (None, 8 * (128 + 256 + 512))  # 7,168 (Wu et al.)
    small = vnn.voxel_discriminator(16, 64)
    assert vnn.feature_layers(small) == ["d1_act", "d2_act"]
    x = np.zeros((2, 16, 16, 16, 1), np.float32)
    x[0, 4:8, 4:8, 4:8] = 1
    model = gan3d.GAN3D(gan3d.config("book").scaled("smoke"))
    feats = model.discriminator_features(x[..., 0])
    assert feats.shape == (2, 8 * (32 + 64)) and not np.allclose(feats[0], feats[1])
    # max pooling of the activations, checked against the layer output directly
    act = tf.keras.Model(model.discriminator.input, model.discriminator.get_layer("d2_act").output)(x)
    np.testing.assert_allclose(feats[:, -8 * 64:].reshape(2, 2, 2, 2, 64),
                               tf.nn.max_pool3d(act, 2, 2, "VALID").numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"volumes must be \(n, 16, 16, 16, 1\)"):
        model.discriminator_features(np.zeros((2, 8, 8, 8)))


def test_presets_and_the_smoke_profile():
    book, paper = gan3d.config("book"), gan3d.config("paper")
    assert (book.cube_len, book.latent_dim, book.z_std, book.batch_size) == (64, 200, 0.33, 32)
    assert (book.learning_rate_for("generator"), book.learning_rate_for("discriminator")) == (0.0025, 1e-5)
    assert book.beta_1 == 0.5 and book.d_threshold is None and book.dataset == "shapenet"
    assert (paper.batch_size, paper.d_threshold) == (100, 0.8)
    smoke = paper.scaled("smoke")
    assert (smoke.dataset, smoke.cube_len, smoke.d_threshold) == ("offline_shapes", 16, 0.8)
    model = gan3d.GAN3D(smoke)
    z = model.fixed_noise(4000, seed=3)
    assert z.shape == (4000, 200) and abs(z.std() - 0.33) < 0.01
    np.testing.assert_array_equal(z, model.fixed_noise(4000, seed=3))
    shapes = model.sample_voxels(3)
    assert shapes.shape == (3, 16, 16, 16) and shapes.dtype == bool
    pictures = model.preview(model.fixed_noise(2))
    assert pictures.shape[0] == 2 and pictures.shape[-1] == 1 and pictures.min() >= -1 and pictures.max() <= 1


def _model(threshold):
    cfg = gan3d.config("book").scaled("smoke").replace(d_threshold=threshold, g_filters=16, d_filters=16,
                                                       steps_per_execution=1)
    model = gan3d.GAN3D(cfg)
    model.compile()
    return model


def _shapes(n=16):
    x = np.zeros((n, 16, 16, 16, 1), np.float32)
    x[:, 4:12, 6:10, 2:8] = 1
    return x


@pytest.mark.parametrize("threshold,second_taken", [(None, 1.0), (1.0, 1.0), (1e-6, 0.0)])
def test_the_accuracy_rule_reads_the_last_batch(threshold, second_taken):
    """With d_threshold the D step is skipped when D's accuracy on the *previous* batch was above it: its
    weights and its optimizer's step counter stay, while G still trains. The first step always updates."""
    model = _model(threshold)
    first = model.train_step(tf.constant(_shapes()))
    assert float(first["d_updates"]) == 1.0 and int(model.d_optimizer.iterations.numpy()) == 1
    if threshold is not None:  # the first batch's accuracy, measured before D's update, is kept for the next step
        assert float(model.last_d_acc.numpy()) == pytest.approx(float(first["d_acc"]))
        assert float(model.last_d_acc.numpy()) > 0.0
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    for tracker in model.metrics:
        tracker.reset_state()
    second = model.train_step(tf.constant(_shapes()))
    assert float(second["d_updates"]) == second_taken
    d_moved = any(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, model.discriminator.trainable_weights))
    assert d_moved == bool(second_taken)
    assert int(model.d_optimizer.iterations.numpy()) == 1 + int(second_taken)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, model.generator.trainable_weights))


def test_the_last_accuracy_is_checkpointed():
    model = _model(0.8)
    assert "last_d_acc" in model.checkpoint_objects()
    assert float(_model(None).last_d_acc.numpy()) == 0.0


def test_d_updates_is_the_share_of_taken_steps_inside_fit():
    model = _model(0.5)
    history = model.fit(tf.data.Dataset.from_tensor_slices(_shapes(64)).batch(16), epochs=2, verbose=0).history
    assert all(0.0 <= share <= 1.0 for share in history["d_updates"])
    taken = sum(round(share * 4) for share in history["d_updates"])  # 4 steps per epoch
    assert int(model.d_optimizer.iterations.numpy()) == taken >= 1


def test_a_conditional_update_needs_a_built_optimizer():
    import keras

    w = keras.Variable(1.0)
    with pytest.raises(ValueError, match="needs a built optimizer"):
        steps.apply_if(keras.optimizers.Adam(), [w], lambda: w * w, lambda out: True)


def test_data_of_the_wrong_cube_is_refused():
    model = _model(None)
    with pytest.raises(ValueError, match=r"voxel grids of shape \(32, 32, 32, 1\).*set cube_len"):
        model.fit(np.zeros((4, 32, 32, 32, 1), np.float32), epochs=1, verbose=0)


def test_voxel_iou_and_the_nearest_shape():
    a = np.zeros((3, 8, 8, 8), np.uint8)
    a[0, :4] = 1  # 256 voxels
    a[1, :2] = 1  # 128 voxels, inside a[0]
    b = a.copy()
    np.testing.assert_allclose(metrics.voxel_iou(a, b), [1.0, 1.0, 1.0])  # two empty grids: 1
    assert metrics.voxel_iou(a[0], a[1])[0] == pytest.approx(0.5)
    assert metrics.voxel_iou(a[0], a[2])[0] == 0.0
    np.testing.assert_allclose(metrics.voxel_iou(a[0], a), [1.0, 0.5, 0.0])  # one grid against many
    probabilities = a.astype(np.float32) * 0.6
    assert metrics.voxel_iou(probabilities, a, threshold=0.5)[0] == 1.0
    assert metrics.voxel_iou(probabilities, a, threshold=0.7)[0] == 0.0
    best, index = metrics.nearest_iou(a[:2, ..., None], a[[2, 1, 0]])
    np.testing.assert_allclose(best, [1.0, 1.0])
    np.testing.assert_array_equal(index, [2, 1])
    with pytest.raises(ValueError, match="same size"):
        metrics.voxel_iou(a, np.zeros((3, 4, 4, 4)))
    with pytest.raises(ValueError, match="cubes"):
        metrics.nearest_iou(np.zeros((2, 4, 4)), a)
    with pytest.raises(ValueError, match="NaN"):
        metrics.voxel_iou(np.full((1, 4, 4, 4), np.nan), np.zeros((1, 4, 4, 4)))


def test_voxel_pictures_put_nearer_and_higher_voxels_where_the_projection_says():
    v = np.zeros((1, 16, 16, 16), bool)
    v[0, 3, 0, 2] = True  # front, low
    pictures = viz.voxel_images(v, min_size=1)
    assert pictures.shape == (1, 24, 24, 1)
    dark = np.argwhere(pictures[0, ..., 0] < 1.0)
    np.testing.assert_array_equal(dark, [[23 - 2, 3]])  # row counted from the bottom: z + y // 2 = 2
    v[0, 3, 8, 2] = True  # 8 voxels further back: shifted up and right by 4
    dark = {tuple(p) for p in np.argwhere(viz.voxel_images(v, min_size=1)[0, ..., 0] < 1.0)}
    assert dark == {(21, 3), (17, 7)}
    front = np.zeros((1, 16, 16, 16), bool)
    front[0, 3, 0, 2] = front[0, 3, 1, 2] = True
    # y = 0 and y = 1 land on the same pixel; the nearer one wins and is lighter than a far one
    near, far = viz.voxel_images(front, min_size=1)[0, 21, 3, 0], viz.voxel_images(v, min_size=1)[0, 17, 7, 0]
    assert near > far
    assert viz.voxel_images(np.zeros((2, 16, 16, 16)), min_size=64).shape == (2, 72, 72, 1)
    with pytest.raises(ValueError, match="cubes"):
        viz.voxel_images(np.zeros((2, 4, 5, 6)))


def test_surface_renders(tmp_path):
    import matplotlib.pyplot as plt

    v = np.zeros((2, 16, 16, 16), np.float32)
    v[0, 4:12, 4:12, 2:6] = 1
    fig = viz.show_voxels(v, titles=["box", "empty"], ncols=2)
    axes = fig.axes
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == ["box", "empty"]
    assert len(axes[0].collections) == 1  # the surface
    assert any(t.get_text() == "empty" for t in axes[1].texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="got 1 titles for 2 grids"):
        viz.show_voxels(v, titles=["one"])


def test_legacy_loop_without_reset_moves_d_in_the_generator_step():
    """The 3D-GAN book sets D.trainable = True for D's update and never back: the stacked model then trains D
    too, towards calling fakes real. With the reset, the generator step leaves D alone."""
    import keras

    real = _shapes(8)
    moved = {}
    for reset in (True, False):
        keras.utils.set_random_seed(0)
        g, d = vnn.voxel_generator(16, 8, 16), vnn.voxel_discriminator(16, 16)
        loop = legacy.LegacyGAN3DLoop(g, d, 8, keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                                      reset=reset)
        loop.step(real)  # the first step builds the stacked model's training function
        before = [w.copy() for w in d.get_weights()]
        loop.stacked.train_on_batch(loop.noise(8), np.ones((8, 1), np.float32))  # a generator step alone
        moved[reset] = any(not np.array_equal(a, b) for a, b in zip(before, d.get_weights()))
    assert moved == {True: False, False: True}
    assert loop.noise(20000).std() == pytest.approx(0.33, abs=0.01)
