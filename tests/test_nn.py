import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import nn


def test_minibatch_discrimination_shapes_params_and_values():
    layer = nn.MinibatchDiscrimination(num_kernels=4, kernel_dim=3)
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 6)), tf.float32)
    out = layer(x)
    assert out.shape == (5, 6 + 4)
    assert layer.count_params() == 6 * 4 * 3  # T is A x (B*C): M_i is B x C
    np.testing.assert_allclose(out[:, :6], x)
    # numpy oracle
    m = (x.numpy() @ layer.T.numpy()).reshape(5, 4, 3)
    o = np.exp(-np.abs(m[:, None] - m[None]).sum(-1)).sum(1)
    np.testing.assert_allclose(out[:, 6:], o, rtol=1e-5)
    # identical samples: every c_b = 1, so o = batch size
    same = layer(tf.ones((7, 6)))
    np.testing.assert_allclose(same[:, 6:], 7.0)
    with pytest.raises(ValueError, match="flatten first"):
        nn.MinibatchDiscrimination()(tf.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="must be >= 1"):
        nn.MinibatchDiscrimination(0)
    only = nn.MinibatchDiscrimination(num_kernels=4, kernel_dim=3, concat_input=False)
    alone = only(x)
    assert alone.shape == (5, 4) and only.compute_output_shape((None, 6)) == (None, 4)
    assert nn.MinibatchDiscrimination.from_config(only.get_config()).concat_input is False
    np.testing.assert_allclose(only(x[:1]), 1.0)  # one sample: exp(0) per kernel, whatever x is


def test_instance_norm_normalises_each_sample_and_channel():
    x = tf.constant(np.random.default_rng(1).normal(3.0, 2.0, size=(2, 8, 8, 3)), tf.float32)
    y = nn.instance_norm()(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


@pytest.mark.parametrize("shape", [(2, 5, 6, 3), (2, 4, 5, 6, 3)])
def test_instance_norm_matches_numpy_for_images_and_voxel_grids(shape):
    x = np.random.default_rng(2).normal(1.0, 3.0, size=shape).astype(np.float32)
    axes = tuple(range(1, len(shape) - 1))  # every position of one sample and channel
    want = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(nn.instance_norm()(x).numpy(), want, atol=1e-4)
    layer = nn.instance_norm(affine=True)
    layer(x)
    assert layer.count_params() == 2 * shape[-1]  # a scale and an offset per channel


def test_norm_switch():
    assert nn.NORMS == ("batch", "instance", "layer", "spectral", "none")
    assert type(nn.norm_layer("batch")).__name__ == "BatchNormalization"
    assert type(nn.norm_layer("instance")).__name__ == "GroupNormalization"
    assert type(nn.norm_layer("none")).__name__ == "Identity"
    assert type(nn.norm_layer("spectral")).__name__ == "Identity"  # spectral norm acts on weights, not activations
    v = nn.norm_layer("layer")(tf.constant([[1.0, 2.0, 3.0]])).numpy()
    np.testing.assert_allclose(v.mean(), 0.0, atol=1e-6)
    centred = nn.norm_layer("layer", center=True)
    centred(tf.ones((2, 3)))
    assert centred.count_params() == 3  # options pass through: a learned offset, still no scale
    dense = keras.layers.Dense(3)
    assert nn.weight_layer(dense, "batch") is dense and nn.weight_layer(dense, "none") is dense
    wrapped = nn.weight_layer(dense, "spectral", name="d_sn")
    assert isinstance(wrapped, keras.layers.SpectralNormalization) and wrapped.layer is dense
    assert wrapped.name == "d_sn"
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        nn.norm_layer("group")
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        nn.weight_layer(dense, "group")


@pytest.mark.parametrize("layer,shape", [(lambda: keras.layers.Dense(5), (4, 7)),
                                         (lambda: keras.layers.Conv3D(4, 3), (2, 5, 5, 5, 3))])
def test_spectral_norm_scales_the_kernel_to_unit_spectral_norm(layer, shape):
    wrapped = nn.weight_layer(layer(), "spectral", power_iterations=30)
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    wrapped(x)
    kernel = wrapped.layer.kernel
    kernel.assign(kernel * 7.0)
    assert np.linalg.svd(kernel.numpy().reshape(-1, kernel.shape[-1]), compute_uv=False)[0] > 1.5
    before = kernel.numpy().copy()
    wrapped(x, training=True)  # a training call refines the estimate of the largest singular value
    used = np.asarray(wrapped.normalized_kernel()).reshape(-1, kernel.shape[-1])  # what the layer computes with
    assert np.linalg.svd(used, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)
    # the trainable kernel is left alone: only an optimizer step of the layer's own group may change it
    np.testing.assert_array_equal(wrapped.layer.kernel.numpy(), before)


def test_kernel_initializers_are_fresh_and_have_the_stated_scale():
    a, b = nn.kernel_initializer("dcgan"), nn.kernel_initializer("dcgan")
    assert a is not b
    wa, wb = a((200, 200)).numpy(), b((200, 200)).numpy()
    assert not np.array_equal(wa, wb)  # two layers of one shape start from different kernels
    assert abs(wa.mean()) < 1e-3 and wa.std() == pytest.approx(0.02, rel=0.02)
    np.testing.assert_array_equal(a((200, 200)).numpy(), wa)  # one instance repeats itself: never share one
    assert type(nn.dcgan_normal()).__name__ == "RandomNormal"
    g = nn.kernel_initializer("glorot")((300, 100)).numpy()
    limit = np.sqrt(6 / 400)
    assert g.max() <= limit and g.min() >= -limit and g.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    with pytest.raises(ValueError, match="unknown kernel initializer 'he'; choose one of dcgan, glorot"):
        nn.kernel_initializer("he")


def test_historical_average_penalty_and_running_mean():
    w = tf.Variable([0.0, 0.0])
    avg = nn.HistoricalAverage([w])
    assert float(avg.penalty()) == 0.0
    w.assign([2.0, 4.0])
    assert float(avg.penalty()) == pytest.approx(20.0)  # mean still [0, 0]
    avg.update()  # mean of [0,0] and [2,4]
    np.testing.assert_allclose(avg.means[0].numpy(), [1.0, 2.0])
    assert float(avg.penalty()) == pytest.approx(5.0)
    with tf.GradientTape() as tape:
        p = avg.penalty()
    np.testing.assert_allclose(tape.gradient(p, w).numpy(), [2.0, 4.0])
    with pytest.raises(ValueError, match="at least one variable"):
        nn.HistoricalAverage([])
