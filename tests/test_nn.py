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


def test_norm_switch():
    assert type(nn.norm_layer("batch")).__name__ == "BatchNormalization"
    assert type(nn.norm_layer("none")).__name__ == "Identity"
    v = nn.norm_layer("layer")(tf.constant([[1.0, 2.0, 3.0]])).numpy()
    np.testing.assert_allclose(v.mean(), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        nn.norm_layer("group")


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
