"""The block library: blocks, spatial layers, conditioning, the image pool, and the chapter models they compose."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from gancourse import nn
from gancourse.nn import translation

RNG = np.random.default_rng(0)


def _names(model):
    return [layer.name for layer in model.layers[1:]]


def _model(shape, build):
    x = keras.Input(shape)
    return keras.Model(x, build(x))


# ---------------------------------------------------------------------------
# conv / transposed / upsample blocks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rank", [2, 3])
def test_conv_block_shapes_names_and_parameter_counts(rank):
    m = _model((8,) * rank + (3,), lambda x: nn.conv_block(x, 16, 3, 2, rank=rank, norm="batch", dropout=0.3,
                                                            name="enc"))
    assert m.output_shape == (None,) + (4,) * rank + (16,)
    assert _names(m) == ["enc_conv", "enc_bn", "enc_act", "enc_drop"]
    assert type(m.get_layer("enc_conv")).__name__ == f"Conv{rank}D"
    assert m.get_layer("enc_act").negative_slope == pytest.approx(0.2)
    assert m.count_params() == 3 ** rank * 3 * 16 + 16 + 4 * 16  # kernel, bias, BN's gamma/beta/mean/variance
    inorm = _model((8,) * rank + (3,), lambda x: nn.conv_block(x, 4, 3, rank=rank, norm="instance", bias=False,
                                                               norm_options={"affine": True}, name="b"))
    assert _names(inorm) == ["b_conv", "b_in", "b_act"] and inorm.count_params() == 3 ** rank * 3 * 4 + 2 * 4


def test_conv_block_norm_kinds_orders_and_paddings():
    spectral = _model((8, 8, 3), lambda x: nn.conv_block(x, 4, norm="spectral", activation="relu", name="s"))
    assert _names(spectral) == ["s_conv", "s_act"]  # no activation-norm layer
    wrapper = spectral.get_layer("s_conv")
    assert isinstance(wrapper, layers.SpectralNormalization) and wrapper.layer.name == "s_conv_raw"
    plain = _model((8, 8, 3), lambda x: nn.conv_block(x, 4, norm="none", activation=None, name="p"))
    assert _names(plain) == ["p_conv"]
    swapped = _model((8, 8, 3), lambda x: nn.conv_block(x, 4, norm="batch", order="act_norm",
                                                        norm_options={"momentum": 0.8}, name="o"))
    assert _names(swapped) == ["o_conv", "o_act", "o_bn"] and swapped.get_layer("o_bn").momentum == 0.8
    reflect = _model((8, 8, 3), lambda x: nn.conv_block(x, 4, 7, padding="reflect", name="r"))
    assert _names(reflect)[:2] == ["r_pad", "r_conv"] and reflect.output_shape == (None, 8, 8, 4)
    assert reflect.get_layer("r_pad").output.shape == (None, 14, 14, 3)
    zero = _model((16, 16, 3), lambda x: nn.conv_block(x, 4, 4, 2, padding=1, name="z"))  # PyTorch's padding=1
    assert zero.get_layer("z_pad").output.shape == (None, 18, 18, 3) and zero.output_shape == (None, 8, 8, 4)
    x = tf.constant(RNG.normal(2.0, 3.0, size=(2, 6, 6, 3)), tf.float32)
    layer_norm = _model((6, 6, 3), lambda x: nn.conv_block(x, 5, norm="layer", activation=None, name="l"))
    z = keras.Model(layer_norm.input, layer_norm.get_layer("l_conv").output)(x).numpy()
    axes = (1, 2, 3)  # per sample over all positions and channels (Keras's epsilon 1e-3)
    want = (z - z.mean(axes, keepdims=True)) / np.sqrt(z.var(axes, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layer_norm(x).numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    (dict(rank=1), "rank must be 2"), (dict(activation="gelu"), "unknown activation 'gelu'"),
    (dict(order="act_first"), "unknown order 'act_first'"), (dict(padding="circular"), "unknown padding 'circular'"),
    (dict(norm="group"), "unknown norm 'group'"), (dict(init="he"), "unknown kernel initializer 'he'")])
def test_block_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.conv_block(keras.Input((8, 8, 3)), 4, name="block", **kwargs)


def test_transposed_block_takes_keras_padding_only():
    with pytest.raises(ValueError, match="padding 'same' or 'valid'"):
        nn.transposed_block(keras.Input((8, 8, 3)), 4, padding="reflect", name="up")


@pytest.mark.parametrize("rank", [2, 3])
def test_transposed_and_upsample_blocks_double_the_grid(rank):
    up = _model((4,) * rank + (8,), lambda x: nn.transposed_block(x, 6, rank=rank, norm="instance", dropout=0.5,
                                                                  bias=False, name="up"))
    assert up.output_shape == (None,) + (8,) * rank + (6,)
    assert _names(up) == ["up_deconv", "up_in", "up_act", "up_drop"]
    assert up.count_params() == 4 ** rank * 8 * 6
    first = _model((1,) * rank + (10,), lambda x: nn.transposed_block(x, 5, 4, 1, rank=rank, padding="valid",
                                                                      name="g1"))
    assert first.output_shape == (None,) + (4,) * rank + (5,)  # 3D-GAN's 1 -> 4 first block
    resize = _model((4,) * rank + (8,), lambda x: nn.upsample_block(x, 6, 3, rank=rank, norm="none", name="r"))
    assert resize.output_shape == (None,) + (8,) * rank + (6,)
    assert _names(resize) == ["r_upsample", "r_conv", "r_act"]
    x = RNG.normal(size=(1,) + (4,) * rank + (8,)).astype(np.float32)
    nearest = keras.Model(resize.input, resize.get_layer("r_upsample").output)(x).numpy()
    want = x
    for axis in range(1, rank + 1):
        want = np.repeat(want, 2, axis=axis)
    np.testing.assert_array_equal(nearest, want)


# ---------------------------------------------------------------------------
# residual block
# ---------------------------------------------------------------------------
def test_residual_block_matches_numpy_with_1x1_kernels():
    m = _model((5, 5, 4), lambda x: nn.residual_block(x, 1, norm="none", activation="relu",
                                                      post_activation="relu", name="res"))
    assert _names(m) == ["res_a_conv", "res_a_act", "res_b_conv", "res_add", "res_act"]
    for w in m.weights:
        w.assign(RNG.normal(size=w.shape))
    x = RNG.normal(size=(2, 5, 5, 4)).astype(np.float32)
    w1, b1 = m.get_layer("res_a_conv").get_weights()
    w2, b2 = m.get_layer("res_b_conv").get_weights()
    inner = np.maximum(x @ w1[0, 0] + b1, 0) @ w2[0, 0] + b2
    np.testing.assert_allclose(m(x).numpy(), np.maximum(x + inner, 0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rank", [2, 3])
def test_residual_block_styles(rank):
    shape = (6,) * rank + (8,)
    cyclegan = _model(shape, lambda x: nn.residual_block(x, rank=rank, norm="instance", padding="reflect",
                                                         dropout=0.5, name="r"))
    assert _names(cyclegan) == ["r_a_pad", "r_a_conv", "r_a_in", "r_a_act", "r_a_drop",
                                "r_b_pad", "r_b_conv", "r_b_in", "r_add"]
    assert isinstance(cyclegan.get_layer("r_a_pad"), nn.ReflectionPadding)
    assert cyclegan.output_shape == (None,) + shape and cyclegan.count_params() == 2 * (3 ** rank * 64 + 8)
    srgan = _model(shape, lambda x: nn.residual_block(x, rank=rank, order="act_norm",
                                                      norm_options={"momentum": 0.8}, name="s"))
    assert _names(srgan) == ["s_a_conv", "s_a_act", "s_a_bn", "s_b_conv", "s_b_bn", "s_add"]
    # the second convolution and norm are zero at this point: the block is the identity
    x = RNG.normal(size=(2,) + shape).astype(np.float32)
    srgan.get_layer("s_b_conv").kernel.assign(tf.zeros_like(srgan.get_layer("s_b_conv").kernel))
    np.testing.assert_allclose(srgan(x, training=False).numpy(), x, atol=1e-6)


# ---------------------------------------------------------------------------
# reflection padding, pixel shuffle
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape,padding,np_pad", [
    ((2, 5, 6, 3), 2, ((2, 2), (2, 2))),
    ((2, 5, 6, 3), (1, 3), ((1, 1), (3, 3))),
    ((2, 5, 6, 3), ((0, 2), (3, 1)), ((0, 2), (3, 1))),
    ((1, 4, 5, 6, 2), 1, ((1, 1),) * 3),
    ((1, 4, 5, 6, 2), ((1, 0), (2, 2), (0, 3)), ((1, 0), (2, 2), (0, 3)))])
def test_reflection_padding_matches_numpy(shape, padding, np_pad):
    x = RNG.normal(size=shape).astype(np.float32)
    layer = nn.ReflectionPadding(padding)
    want = np.pad(x, ((0, 0), *np_pad, (0, 0)), mode="reflect")
    np.testing.assert_array_equal(layer(x).numpy(), want)
    assert layer.compute_output_shape(shape) == want.shape
    clone = nn.ReflectionPadding.from_config(layer.get_config())
    np.testing.assert_array_equal(clone(x).numpy(), want)
    symbolic = keras.Input(shape[1:])
    assert nn.ReflectionPadding(padding)(symbolic).shape == (None, *want.shape[1:])


def test_reflection_padding_errors():
    with pytest.raises(ValueError, match="needs an axis longer than that"):
        nn.ReflectionPadding(3)(tf.zeros((1, 3, 8, 1)))
    with pytest.raises(ValueError, match="gives 3 axes for a rank-2"):
        nn.ReflectionPadding((1, 1, 1))(tf.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="ints >= 0"):
        nn.ReflectionPadding(-1)
    with pytest.raises(ValueError, match=r"\(B, H, W, C\) or \(B, D, H, W, C\)"):
        nn.ReflectionPadding(1)(tf.zeros((1, 8, 1)))


def _shuffle_oracle(x, r):
    """out[b, s*r + i, c] = x[b, s, (((i_1 * r) + i_2) * r + ...) * C + c], written as loops."""
    rank = x.ndim - 2
    c_out = x.shape[-1] // r ** rank
    out = np.zeros((x.shape[0], *(s * r for s in x.shape[1:-1]), c_out), x.dtype)
    for pos in np.ndindex(*x.shape[1:-1]):
        for offset in np.ndindex(*(r,) * rank):
            block = 0
            for i in offset:
                block = block * r + i
            target = tuple(p * r + i for p, i in zip(pos, offset))
            out[(slice(None), *target)] = x[(slice(None), *pos)][:, block * c_out:(block + 1) * c_out]
    return out


@pytest.mark.parametrize("shape,scale", [((2, 3, 4, 12), 2), ((1, 2, 2, 18), 3), ((2, 2, 3, 2, 16), 2)])
def test_pixel_shuffle_matches_the_index_formula(shape, scale):
    x = RNG.normal(size=shape).astype(np.float32)
    layer = nn.PixelShuffle(scale)
    out = layer(x).numpy()
    np.testing.assert_array_equal(out, _shuffle_oracle(x, scale))
    assert layer.compute_output_shape(shape) == out.shape
    assert nn.PixelShuffle.from_config(layer.get_config()).scale == scale
    with pytest.raises(ValueError, match="divisible by"):
        nn.PixelShuffle(scale)(tf.zeros(shape[:-1] + (shape[-1] + 1,)))
    with pytest.raises(ValueError, match="integer >= 2"):
        nn.PixelShuffle(1)


@pytest.mark.parametrize("rank", [2, 3])
def test_subpixel_block_is_srgans_upsampler(rank):
    m = _model((4,) * rank + (8,), lambda x: nn.subpixel_block(x, 6, rank=rank, name="up"))
    assert _names(m) == ["up_conv", "up_shuffle", "up_act"]
    assert m.get_layer("up_conv").output.shape[-1] == 6 * 2 ** rank
    assert m.output_shape == (None,) + (8,) * rank + (6,)
    assert isinstance(m.get_layer("up_act"), layers.PReLU)
    assert m.count_params() == 3 ** rank * 8 * 6 * 2 ** rank + 6 * 2 ** rank + 6  # conv + one PReLU slope per channel


# ---------------------------------------------------------------------------
# self-attention
# ---------------------------------------------------------------------------
def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


@pytest.mark.parametrize("shape,value_ratio", [((2, 3, 4, 16), 1), ((2, 3, 4, 16), 2), ((1, 2, 3, 2, 8), 1)])
def test_self_attention_is_identity_at_init_and_matches_numpy(shape, value_ratio):
    x = RNG.normal(size=shape).astype(np.float32)
    layer = nn.SelfAttention(value_ratio=value_ratio)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # gamma starts at 0
    c = shape[-1]
    projections = 2 * (c * (c // 8) + c // 8) + c * (c // value_ratio) + c // value_ratio
    if value_ratio > 1:
        projections += (c // value_ratio) * c + c
    assert layer.count_params() == projections + 1
    layer.gamma.assign(0.7)
    flat = x.reshape(shape[0], -1, c)

    def project(dense, v):
        kernel, bias = dense.get_weights()
        return v @ kernel + bias

    beta = _softmax(project(layer.query, flat) @ project(layer.key, flat).transpose(0, 2, 1))
    np.testing.assert_allclose(layer.attention_map(x).numpy(), beta, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(beta.sum(-1), 1.0, atol=1e-5)
    o = beta @ project(layer.value, flat)
    if value_ratio > 1:
        o = project(layer.out, o)
    np.testing.assert_allclose(layer(x).numpy(), x + 0.7 * o.reshape(shape), rtol=1e-4, atol=1e-5)


def test_self_attention_spectral_config_and_errors():
    layer = nn.SelfAttention(spectral=True, name="attn")
    x = RNG.normal(size=(2, 4, 4, 16)).astype(np.float32)
    assert layer(x, training=True).shape == x.shape
    assert all(isinstance(p, layers.SpectralNormalization) for p in (layer.query, layer.key, layer.value))
    clone = nn.SelfAttention.from_config(layer.get_config())
    assert (clone.key_ratio, clone.value_ratio, clone.spectral) == (8, 1, True)
    inside = _model((4, 4, 16), nn.SelfAttention())
    assert inside.output_shape == (None, 4, 4, 16)
    with pytest.raises(ValueError, match="at least key_ratio=8"):
        nn.SelfAttention()(tf.zeros((1, 4, 4, 4)))
    with pytest.raises(ValueError, match=">= 1"):
        nn.SelfAttention(key_ratio=0)


# ---------------------------------------------------------------------------
# conditioning
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("spatial", [(3, 4), (2, 3, 4)])
def test_condition_tiling_matches_numpy(spatial):
    features = RNG.normal(size=(2, *spatial, 5)).astype(np.float32)
    condition = RNG.normal(size=(2, 3)).astype(np.float32)
    tiled = np.broadcast_to(condition.reshape(2, *(1,) * len(spatial), 3), (2, *spatial, 3))
    out = nn.ConditionTiling()([features, condition]).numpy()
    np.testing.assert_array_equal(out, np.concatenate([features, tiled], -1))
    first = nn.ConditionTiling(condition_first=True)
    np.testing.assert_array_equal(first([features, condition]).numpy(), np.concatenate([tiled, features], -1))
    assert nn.ConditionTiling.from_config(first.get_config()).condition_first is True
    f_in, c_in = keras.Input((*spatial, 5)), keras.Input((3,))
    assert nn.ConditionTiling()([f_in, c_in]).shape == (None, *spatial, 8)
    with pytest.raises(ValueError, match="flatten it first"):
        nn.ConditionTiling()([features, condition[:, :, None]])


def test_conditioning_augmentation_samples_per_sample_and_matches_numpy():
    ca = nn.ConditioningAugmentation(4, seed=7)
    embedding = np.repeat(RNG.normal(size=(1, 6)).astype(np.float32), 3, axis=0)  # three identical rows
    c, mu, logvar = (t.numpy() for t in ca(embedding))
    kernel, bias = ca.dense.get_weights()
    h = embedding @ kernel + bias
    h = np.where(h > 0, h, 0.2 * h)
    np.testing.assert_allclose(mu, h[:, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar, h[:, 4:], rtol=1e-5, atol=1e-6)
    eps = (c - mu) / np.exp(logvar / 2)
    assert not np.allclose(eps[0], eps[1]) and not np.allclose(eps[1], eps[2])  # per-sample noise
    assert ca.count_params() == 6 * 8 + 8
    again = nn.ConditioningAugmentation(4, seed=7)
    again.build((None, 6))
    again.dense.set_weights([kernel, bias])
    np.testing.assert_allclose(again(embedding)[0].numpy(), c)  # the seed fixes the noise
    det = nn.ConditioningAugmentation(4, deterministic_inference=True, seed=1)
    c_eval, mu_eval, _ = det(embedding, training=False)
    np.testing.assert_array_equal(c_eval.numpy(), mu_eval.numpy())
    assert not np.allclose(det(embedding, training=True)[0].numpy(), mu_eval.numpy())
    e_in = keras.Input((6,))
    outs = nn.ConditioningAugmentation(4, activation="relu")(e_in)
    assert [tuple(t.shape) for t in outs] == [(None, 4)] * 3
    assert nn.ConditioningAugmentation.from_config(ca.get_config()).c_dim == 4
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        nn.ConditioningAugmentation(4, activation="tanh")
    with pytest.raises(ValueError, match=r"\(batch, embedding\)"):
        nn.ConditioningAugmentation(4)(tf.zeros((2, 3, 6)))


def test_kl_to_standard_normal_matches_the_closed_form():
    mu = RNG.normal(size=(5, 3)).astype(np.float32)
    logvar = RNG.normal(size=(5, 3)).astype(np.float32)
    want = np.mean(0.5 * (np.exp(logvar) + mu ** 2 - 1 - logvar))
    assert float(nn.kl_to_standard_normal(mu, logvar)) == pytest.approx(want, rel=1e-5)
    assert float(nn.kl_to_standard_normal(np.zeros((2, 3)), np.zeros((2, 3)))) == 0.0
    assert float(nn.kl_to_standard_normal([[1.0]], [[0.0]])) == pytest.approx(0.5)
    # the book's "log sigma" form: KL = mean(-log s + 0.5 (s^2 + mu^2 - 1)) with log s = logvar / 2
    book = np.mean(-logvar / 2 + 0.5 * (np.exp(logvar) + mu ** 2 - 1))
    assert float(nn.kl_to_standard_normal(mu, logvar)) == pytest.approx(book, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        nn.kl_to_standard_normal(np.zeros((2, 3)), np.zeros((2, 4)))


# ---------------------------------------------------------------------------
# image pool
# ---------------------------------------------------------------------------
def _reference_pool(batches, pool_size, seed, jit_compile=None):
    """junyanz/pytorch-CycleGAN-and-pix2pix util/image_pool.py, image by image, fed the pool's own draws.

    ``jit_compile``: draw as a ``tf.function`` with that setting (XLA draws
    other numbers from the same seed); ``None`` draws eagerly.
    """
    generator = keras.random.SeedGenerator(seed)

    def draw(n):
        return (keras.random.uniform((n,), seed=generator), keras.random.randint((n,), 0, pool_size, seed=generator))

    if jit_compile is not None:
        draw = tf.function(draw, jit_compile=jit_compile)
    stored, outputs = [], []
    for images in batches:
        u, slots = (t.numpy() for t in draw(len(images)))
        returned = []
        for image, p, slot in zip(images, u, slots):
            if len(stored) < pool_size:
                stored.append(image)
                returned.append(image)
            elif p > 0.5:
                returned.append(stored[slot])
                stored[slot] = image
            else:
                returned.append(image)
        outputs.append(np.stack(returned))
    return outputs, np.stack(stored)


def _batches(count, size, shape=(2, 2, 1)):
    """Image ``k`` is filled with the value ``k``, so an output says which input it was."""
    return [np.stack([np.full(shape, b * size + i, np.float32) for i in range(size)]) for b in range(count)]


def test_image_pool_follows_the_reference_algorithm():
    batches = _batches(12, 3)
    want, want_buffer = _reference_pool(batches, 5, seed=4)
    pool = nn.ImagePool(5, (2, 2, 1), seed=4)
    got = [pool(b).numpy() for b in batches]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(pool.buffer.numpy(), want_buffer)
    assert int(pool.count) == 5
    np.testing.assert_array_equal(got[0], batches[0])  # filling: images pass through
    ids = np.concatenate([g[:, 0, 0, 0] for g in got[2:]])
    inputs = np.concatenate([b[:, 0, 0, 0] for b in batches[2:]])
    assert 0 < np.mean(ids != inputs) < 1  # once full, some come from the history and some do not


def test_image_pool_swaps_about_half_once_full():
    pool = nn.ImagePool(4, (1,), seed=0)
    pool(np.arange(4, dtype=np.float32)[:, None])
    images = np.arange(100, 2100, dtype=np.float32)[:, None]  # all different from each other and the pool
    assert 0.45 < np.mean(tf.function(pool.query)(images).numpy() != images) < 0.55


@pytest.mark.parametrize("jit_compile", [False, True])
def test_image_pool_runs_in_compiled_functions(jit_compile):
    batches = _batches(6, 4)
    want, want_buffer = _reference_pool(batches, 3, seed=2, jit_compile=jit_compile)
    pool = nn.ImagePool(3, (2, 2, 1), seed=2)
    query = tf.function(pool.query, jit_compile=jit_compile)
    for b, w in zip(batches, want):
        np.testing.assert_array_equal(query(tf.constant(b)).numpy(), w)
    np.testing.assert_array_equal(pool.buffer.numpy(), want_buffer)


def test_image_pool_in_tf_function_matches_eager_and_checkpoints(tmp_path):
    batches = _batches(6, 4)
    eager = nn.ImagePool(3, (2, 2, 1), seed=11)
    want = [eager(b).numpy() for b in batches]
    graph = nn.ImagePool(3, (2, 2, 1), seed=11)
    query = tf.function(graph.query, jit_compile=False)
    got = [query(tf.constant(b)).numpy() for b in batches[:3]]
    checkpoint = tf.train.Checkpoint(pool=graph)
    path = checkpoint.save(str(tmp_path / "pool"))
    got += [query(tf.constant(b)).numpy() for b in batches[3:]]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    restored = nn.ImagePool(3, (2, 2, 1), seed=99)  # another seed: the checkpoint brings the random state back
    tf.train.Checkpoint(pool=restored).restore(path).assert_consumed()
    assert int(restored.count) == 3
    again = [restored(b).numpy() for b in batches[3:]]
    for g, w in zip(again, want[3:]):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(restored.buffer.numpy(), eager.buffer.numpy())


def test_image_pool_pass_through_and_errors():
    pool = nn.ImagePool(0, (2, 2, 1))
    x = RNG.normal(size=(3, 2, 2, 1)).astype(np.float32)
    np.testing.assert_array_equal(pool(x).numpy(), x)
    with pytest.raises(ValueError, match=r"holds images of shape \(2, 2, 1\)"):
        nn.ImagePool(4, (2, 2, 1))(np.zeros((3, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="integer >= 0"):
        nn.ImagePool(-1, (2, 2, 1))
    with pytest.raises(ValueError, match="positive sizes"):
        nn.ImagePool(4, (0, 2))


# ---------------------------------------------------------------------------
# the chapter models, composed from the blocks, at the spec's parameter counts
# ---------------------------------------------------------------------------
def test_blocks_compose_3dgan_with_the_spec_counts():
    def generator(z):
        x = nn.transposed_block(z, 512, 4, 1, rank=3, padding="valid", init="glorot", name="g1")  # (B, 4, 4, 4, 512)
        for i, filters in enumerate((256, 128, 64)):
            x = nn.transposed_block(x, filters, rank=3, init="glorot", name=f"g{i + 2}")  # doubles D, H, W
        return nn.transposed_block(x, 1, rank=3, norm="none", activation="sigmoid", init="glorot", name="g5")

    def discriminator(v):
        x = nn.conv_block(v, 64, 4, 2, rank=3, norm="none", init="glorot", name="d1")  # (B, 32, 32, 32, 64)
        for i, filters in enumerate((128, 256, 512)):
            x = nn.conv_block(x, filters, 4, 2, rank=3, init="glorot", name=f"d{i + 2}")  # halves D, H, W
        return nn.conv_block(x, 1, 4, 1, rank=3, padding="valid", norm="none", activation="sigmoid", name="d5")

    g, d = _model((1, 1, 1, 200), generator), _model((64, 64, 64, 1), discriminator)
    assert g.output_shape == (None, 64, 64, 64, 1) and g.count_params() == 17_572_545
    assert d.output_shape == (None, 1, 1, 1, 1) and d.count_params() == 11_051_457
    assert translation.receptive_field(d) == 94  # voxels on a side: more than the 64^3 grid


def test_blocks_compose_the_book_srgan_generator():
    def generator(lr):
        gen1 = nn.conv_block(lr, 64, 9, norm="none", activation="relu", init="glorot", name="gen1")  # (B, 64, 64, 64)
        x = gen1
        for i in range(16):
            x = nn.residual_block(x, order="act_norm", norm_options={"momentum": 0.8}, init="glorot", name=f"res{i}")
        x = nn.conv_block(x, 64, 3, norm_options={"momentum": 0.8}, activation=None, init="glorot", name="gen2")
        x = layers.Add(name="long_skip")([x, gen1])  # (B, 64, 64, 64)
        for i in range(2):
            x = nn.upsample_block(x, 256, 3, norm="none", init="glorot", name=f"up{i + 1}")  # doubles H, W
        return nn.conv_layer(3, 9, activation="tanh", init="glorot", name="output")(x)  # (B, 256, 256, 3)

    g = _model((64, 64, 3), generator)
    assert g.output_shape == (None, 256, 256, 3) and g.count_params() == 2_042_691


def test_blocks_compose_the_book_cyclegan_networks():
    affine = {"affine": True}

    def generator(image):
        x = nn.conv_block(image, 32, 7, norm="instance", norm_options=affine, activation="relu", name="c1")
        x = nn.conv_block(x, 64, 3, 2, norm="instance", norm_options=affine, activation="relu", name="c2")
        x = nn.conv_block(x, 128, 3, 2, norm="instance", norm_options=affine, activation="relu", name="c3")
        for i in range(6):  # (B, 32, 32, 128)
            x = nn.residual_block(x, norm_options={"momentum": 0.9, "epsilon": 1e-5}, name=f"res{i + 1}")
        x = nn.transposed_block(x, 64, 3, bias=False, norm="instance", norm_options=affine, name="u1")
        x = nn.transposed_block(x, 32, 3, bias=False, norm="instance", norm_options=affine, name="u2")
        return nn.conv_layer(3, 7, activation="tanh", name="output")(x)  # (B, 128, 128, 3)

    def discriminator(image):
        x = nn.conv_block(image, 64, 4, 2, padding=1, norm="none", name="d1")  # (B, 64, 64, 64)
        for i, filters in enumerate((128, 256, 512)):
            x = nn.conv_block(x, filters, 4, 2, padding=1, norm="instance", norm_options=affine, name=f"d{i + 2}")
        return nn.conv_block(x, 1, 4, 1, padding=1, norm="none", activation="sigmoid", name="d5")  # (B, 7, 7, 1)

    g, d = _model((128, 128, 3), generator), _model((128, 128, 3), discriminator)
    assert g.output_shape == (None, 128, 128, 3) and g.count_params() == 1_971_747
    assert d.output_shape == (None, 7, 7, 1) and d.count_params() == 2_766_529
    assert translation.receptive_field(d) == 94


def test_blocks_compose_the_stackgan_stage1_generator():
    embedding, z = keras.Input((1024,)), keras.Input((100,))
    c, mu, logvar = nn.ConditioningAugmentation(128, seed=0, name="ca")(embedding)  # (B, 128) each
    x = layers.Concatenate()([c, z])  # (B, 228)
    x = layers.Dense(4 * 4 * 1024, use_bias=False, activation="relu")(x)  # (B, 16384)
    x = layers.Reshape((4, 4, 1024))(x)  # (B, 4, 4, 1024)
    for i, filters in enumerate((512, 256, 128, 64)):
        x = nn.upsample_block(x, filters, 3, bias=False, init="glorot", name=f"up{i + 1}")  # doubles H, W
    image = nn.conv_layer(3, 3, bias=False, activation="tanh", init="glorot", name="output")(x)  # (B, 64, 64, 3)
    g = keras.Model([embedding, z], [image, mu, logvar])
    assert g.output_shape[0] == (None, 64, 64, 3) and g.count_params() == 10_270_400
    assert sum(int(np.prod(w.shape)) for w in g.trainable_weights) == 10_268_480
    img, m, lv = g([RNG.normal(size=(2, 1024)), RNG.normal(size=(2, 100))], training=True)
    assert img.shape == (2, 64, 64, 3) and float(nn.kl_to_standard_normal(m, lv)) > 0


def test_blocks_compose_a_sagan_style_discriminator_with_spectral_norm():
    def critic(image):
        x = nn.conv_block(image, 16, 4, 2, norm="spectral", name="d1")  # (B, 16, 16, 16)
        x = nn.SelfAttention(spectral=True, name="attention")(x)  # (B, 16, 16, 16)
        x = nn.conv_block(x, 32, 4, 2, norm="spectral", name="d2")  # (B, 8, 8, 32)
        return nn.conv_layer(1, 8, padding="valid", norm="spectral", name="logit")(x)  # (B, 1, 1, 1)

    d = _model((32, 32, 3), critic)
    assert d.output_shape == (None, 1, 1, 1)
    assert not any(isinstance(layer, (layers.BatchNormalization, layers.GroupNormalization)) for layer in d.layers)
    x = RNG.normal(size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(d(x, training=False).numpy().shape, (2, 1, 1, 1))
    assert np.isfinite(d(x, training=True).numpy()).all()
    assert translation.receptive_field(d) == 38  # (4, 2), (4, 2), (8, 1): spectral wrappers are looked through


def test_library_layers_survive_a_keras_save_and_load(tmp_path):
    image, condition = keras.Input((8, 8, 3)), keras.Input((5,))
    c, mu, _ = nn.ConditioningAugmentation(4, deterministic_inference=True, seed=3, name="ca")(condition)
    x = nn.conv_block(image, 16, 3, padding="reflect", norm="instance", name="c1")  # (B, 8, 8, 16)
    x = nn.SelfAttention(value_ratio=2, name="attention")(x)  # (B, 8, 8, 16)
    x = nn.ConditionTiling(name="tile")([x, c])  # (B, 8, 8, 20)
    x = nn.subpixel_block(x, 3, name="up")  # (B, 16, 16, 3)
    model = keras.Model([image, condition], [x, mu])
    model.get_layer("attention").gamma.assign(0.5)
    inputs = [RNG.normal(size=(2, 8, 8, 3)).astype(np.float32), RNG.normal(size=(2, 5)).astype(np.float32)]
    path = tmp_path / "blocks.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for want, got in zip(model(inputs, training=False), loaded(inputs, training=False)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_receptive_field_needs_the_same_kernel_on_every_axis():
    v = keras.Input((8, 8, 8, 1))
    m = keras.Model(v, layers.Conv3D(1, (3, 3, 1))(v))
    with pytest.raises(ValueError, match=r"kernel \(3, 3, 1\).*same size along every axis"):
        translation.receptive_field(m)
    pooled = keras.Model(v, layers.MaxPooling3D(2)(layers.Conv3D(1, 3)(v)))
    assert translation.receptive_field(pooled) == 4  # (1 - 1) * 2 + 2 = 2, then (2 - 1) * 1 + 3
