import keras
import numpy as np
import pytest
import tensorflow as tf

from gancourse import bench

B, N, M, K = 4, 5, 6, 3  # batch, input, hidden and output widths of the hand-counted Dense model


def dense_model(activation=None):
    model = keras.Sequential([keras.Input((N,)), keras.layers.Dense(M, use_bias=False, activation=activation),
                              keras.layers.Dense(K, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def batch(rows=B):
    return np.zeros((rows, N), np.float32), np.zeros((rows, K), np.float32)


def step_graph(model, *specs):
    return tf.function(model.train_step).get_concrete_function(specs).graph


def profiler_flops(graph):
    """FLOPs by op type as tf.profiler's float_operation view counts them (every op, run or not)."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    options = option_builder.ProfileOptionBuilder(
        option_builder.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    node, flops = model_analyzer.profile(graph, cmd="op", options=options), {}
    while node.children:  # the op view nests each op type under the previous one
        node = node.children[0]
        flops[node.name] = node.float_ops
    return flops


def test_dense_train_step_flops_by_hand_and_against_tf_profiler():
    model = dense_model()
    count = bench.count_flops(model.train_step, batch())
    # forward 2BNM + 2BMK; backward: the second layer's weight and input gradients (2 x 2BMK),
    # the first layer's weight gradient only (2BNM): its input needs none
    assert count.counted["MatMul"] == 4 * B * N * M + 6 * B * M * K
    assert bench.train_step_flops(model, batch()) == count.total
    # the rest is the loss and the SGD update: element-wise, a few FLOPs per weight or output
    assert 0 < count.total - count.counted["MatMul"] < 10 * (N * M + M * K + B * K)
    assert bench.train_step_flops(model, batch(2 * B)) > count.total
    graph = step_graph(model, tf.TensorSpec((B, N)), tf.TensorSpec((B, K)))
    assert bench.graph_flops(graph) == count
    # tf.profiler sums the same registered costs, but also of ops that never run (pruned before the step)
    profiled = profiler_flops(graph)
    assert profiled["MatMul"] == count.counted["MatMul"]
    assert all(profiled[op] >= flops for op, flops in count.counted.items())


def test_conv_backprop_is_counted_as_the_forward_convolution():
    c, f1, f2 = 2, 3, 4
    model = keras.Sequential([keras.Input((6, 6, c)), keras.layers.Conv2D(f1, 3, padding="same", use_bias=False),
                              keras.layers.Conv2D(f2, 4, padding="valid", use_bias=False), keras.layers.Flatten()])
    model.compile(optimizer="sgd", loss="mse")
    graph = step_graph(model, tf.TensorSpec((B, 6, 6, c)), tf.TensorSpec((B, 3 * 3 * f2)))
    count = bench.graph_flops(graph)
    first, second = 2 * B * 6 * 6 * f1 * 3 * 3 * c, 2 * B * 3 * 3 * f2 * 4 * 4 * f1  # (6x6 same, 3x3 valid outputs)
    assert count.counted["Conv2D"] == first + second
    assert count.counted["Conv2DBackpropFilter"] == first + second
    assert count.counted["Conv2DBackpropInput"] == second  # the first layer's input gradient is never run
    # tf.profiler: the unused input gradient, and the valid convolution's at (6 / 3)^2 times its cost
    assert profiler_flops(graph)["Conv2DBackpropInput"] == first + 4 * second
    with pytest.raises(ValueError, match="traced function's graph"):
        bench.graph_flops(tf.Graph())


def test_uncounted_arithmetic_is_listed_by_op_type():
    count = bench.count_flops(dense_model("relu").train_step, batch())
    assert count.uncounted["Relu"] == count.uncounted["ReluGrad"] == B * M
    assert "Reshape" not in count.uncounted and "ReadVariableOp" not in count.uncounted
    assert count.uncounted_share == pytest.approx(sum(count.uncounted.values()) / count.total)
    assert 0 < count.uncounted_share < 1


def test_flop_counting_rejects_what_it_cannot_count():
    with pytest.raises(ValueError, match="has no train_step"):
        bench.train_step_flops(object(), batch())
    with pytest.raises(ValueError, match="static shape"):
        bench.train_step_flops(dense_model(), (tf.TensorSpec((None, N)), tf.TensorSpec((None, K))))

    def looped(x):
        return tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.matmul(y, y)), (0, x))[1]

    with pytest.raises(ValueError, match="While"):
        bench.count_flops(looped, np.zeros((3, 3), np.float32))


def test_flops_of_nested_functions_are_counted_per_call():
    @tf.function
    def inner(x):
        return tf.matmul(x, x)

    x = np.zeros((3, 3), np.float32)
    once = bench.count_flops(lambda y: tf.matmul(y, y), x).counted["MatMul"]
    assert once == 2 * 3 * 3 * 3
    nested = bench.count_flops(lambda y: inner(inner(y)) + 1.0, x)
    assert nested.counted["MatMul"] == 2 * once and nested.counted["AddV2"] == 9

    def with_gradient(y):
        with tf.GradientTape() as tape:
            tape.watch(y)
            out = tf.reduce_sum(inner(y))
        return tape.gradient(out, y)

    # the forward call and its gradient function (two more products) are both counted
    assert bench.count_flops(with_gradient, x).counted["MatMul"] == 3 * once


def test_matmul_peak_reports_best_median_and_min():
    peak = bench.matmul_peak(size=64, chain=2, repeats=3)
    assert peak["gflop_s"] >= peak["gflop_s_median"] >= peak["gflop_s_min"] > 0
    assert (peak["size"], peak["chain"], peak["repeats"]) == (64, 2, 3)
    assert peak["device"] == bench.device_name()
    with pytest.raises(ValueError, match="size=0"):
        bench.matmul_peak(size=0)
    with pytest.raises(ValueError, match="repeats=0"):
        bench.matmul_peak(repeats=0)


def test_measure_and_report_ratio_spread_and_utilisation():
    results = bench.measure("dcgan", ["smoke"], steps=2, warmup=1,
                            variants=[bench.BASELINE, "fit, 8 steps per call"], repeats=2, peak_size=128)
    assert [r["variant"] for r in results] == [bench.BASELINE, "fit, 8 steps per call"]
    from gancourse.models import dcgan

    cfg = bench._config("dcgan", "smoke")
    net = dcgan.DCGAN(cfg)
    net.compile()
    B = cfg.batch_size
    flops = bench.train_step_flops(net, np.zeros((B,) + net.expected_image_shape(), np.float32))
    peak = results[0]["matmul_peak"]
    for r in results:
        assert r["steps"] == 2 and r["batch"] == B and r["repeats"] == 2 and len(r["block_seconds"]) == 2
        assert r["images_per_s"] == pytest.approx(r["steps_per_s"] * B)
        assert r["images_per_s_min"] <= r["images_per_s"] <= r["images_per_s_max"]
        assert r["peak_rss_mb"] > 50
        assert r["gflop_per_step"] == pytest.approx(flops / 1e9)  # the baseline is credited with fit's count
        assert r["achieved_gflop_s"] == pytest.approx(r["gflop_per_step"] * r["steps_per_s"])
        assert r["utilisation"] == pytest.approx(r["achieved_gflop_s"] / peak["gflop_s"])
        assert r["matmul_peak"] == peak and peak["size"] == 128
    text = bench.report(results)
    ratio = results[1]["images_per_s"] / results[0]["images_per_s"]
    assert f"{ratio:.2f}" in text and "1.00" in text
    header = text.splitlines()[1]
    assert all(column in header for column in ("min-max", "GFLOP/step", "GFLOP/s", "% matmul"))
    assert f"{peak['gflop_s']:.1f} GFLOP/s" in text.splitlines()[0]
    row = text.splitlines()[3]
    r = results[1]
    assert row.split()[-3:] == [f"{r['gflop_per_step']:.3f}", f"{r['achieved_gflop_s']:.1f}",
                                f"{100 * r['utilisation']:.1f}"]
    assert f"{r['images_per_s_min']:.1f}-{r['images_per_s_max']:.1f}" in row
    # modern's discriminator has batch norm: the report says the baseline runs it frozen, in inference mode
    assert results[0]["frozen_batchnorm"] == bench.frozen_batchnorm_layers("dcgan", cfg) > 0
    assert results[1]["frozen_batchnorm"] == 0
    assert "inference mode" in text and "not the same algorithm" in text
    no_bn = cfg.replace(batch_norm="none")
    assert bench.frozen_batchnorm_layers("dcgan", no_bn) == 0


def test_bench_rejects_unknown_names_and_bad_counts():
    with pytest.raises(ValueError, match="unknown model 'vae'"):
        bench.measure("vae")
    with pytest.raises(ValueError, match="got none"):
        bench.report([])
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        bench.measure("dcgan", ["huge"])
    with pytest.raises(ValueError, match="unknown variant 'turbo'"):
        bench.measure("dcgan", ["smoke"], variants=["turbo"])
    for kwargs, name in (({"steps": 0}, "steps=0"), ({"warmup": -1}, "warmup=-1"), ({"repeats": 0}, "repeats=0"),
                         ({"peak_size": 0}, "peak_size=0"), ({"steps": 2.5}, "steps=2.5")):
        with pytest.raises(ValueError, match=name):
            bench.measure("dcgan", ["smoke"], **kwargs)


def test_pix2pix_bench_runs_the_paired_baseline_and_fit():
    results = bench.measure("pix2pix", "smoke", steps=1, warmup=1,
                            variants=[bench.BASELINE, "fit, 1 step per call"], repeats=1, peak_size=64)
    assert [(r["model"], r["batch"]) for r in results] == [("pix2pix", 8)] * 2
    assert all(r["seconds"] > 0 and r["gflop_per_step"] > 0 for r in results)
    assert results[0]["gflop_per_step"] == results[1]["gflop_per_step"]
    with pytest.raises(ValueError, match="unknown variant 'fit \\+ XLA, 8 steps per call' for pix2pix"):
        bench.measure("pix2pix", ["smoke"], variants=["fit + XLA, 8 steps per call"])


def test_every_registered_model_has_a_config_and_a_baseline_loop():
    from gancourse import legacy, models

    assert bench.MODELS == tuple(models.REGISTRY)
    kinds = {"gan": legacy.LegacyLoop, "dcgan": legacy.LegacyLoop, "pix2pix": legacy.LegacyPairedLoop,
             "cyclegan": legacy.LegacyCycleLoop, "srgan": legacy.LegacySRLoop, "gan3d": legacy.LegacyGAN3DLoop,
             "agecgan": legacy.LegacyConditionalLoop, "stackgan": legacy.LegacyStackLoop,
             "acgan": legacy.LegacyACGANLoop}
    for name in bench.MODELS:
        smoke, standard = bench._config(name, "smoke"), bench._config(name, "standard")
        assert smoke.profile == "smoke" and standard.profile == "full"
        assert isinstance(bench.legacy_loop(name, smoke), kinds[name])
    assert bench._config("pix2pix", "standard").dataset == "offline"
    assert bench._config("pix2pix", "standard").image_size == 256
    assert bench._config("srgan", "standard").image_size == 224  # the largest offline HR crop
    run = bench._runner("gan", bench._config("gan", "smoke"), bench.BASELINE)
    run(2)  # two legacy steps on the model's own training batches
    assert bench.model_variants("gan") == tuple(bench.VARIANTS)


def test_a_conditional_is_counted_as_its_costlier_branch():
    """3D-GAN updates D only while D's accuracy is low: the step is counted with the update taken."""
    import tensorflow as tf

    w = tf.Variable(tf.ones((4, 3)))

    def step(x):
        y = tf.matmul(x, w)
        return tf.cond(tf.reduce_sum(y) > 0, lambda: tf.matmul(y, tf.ones((3, 5))), lambda: tf.zeros((2, 5)))

    count = bench.count_flops(step, tf.TensorSpec((2, 4)))
    assert count.counted["MatMul"] == 2 * 2 * 4 * 3 + 2 * 2 * 3 * 5

    def loop(x):
        return tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.matmul(v, tf.ones((4, 4)))), (0, x))[1]

    with pytest.raises(ValueError, match="without a loop"):
        bench.count_flops(loop, tf.TensorSpec((2, 4)))


def test_catalogue_pairs_take_book_and_paper_where_a_model_has_them():
    pairs = bench.catalogue_pairs()
    assert pairs[:3] == [("gan", "book"), ("gan3d", "book"), ("gan3d", "paper")]
    assert ("acgan", "paper") in pairs and ("acgan", "book") not in pairs
    assert [m for m, _ in pairs] == sorted((m for m, _ in pairs), key=list(bench.MODELS).index)
    assert bench.catalogue_pairs(["dcgan"], ("modern",)) == [("dcgan", "modern")]
    assert bench.catalogue_pairs(["gan"], ("paper",)) == [("gan", "ring")]  # no paper preset: its default


def test_catalogue_measures_once_and_then_reads_its_cache(monkeypatch):
    rows = bench.catalogue(["gan"], ("book",), steps=2, warmup=1, repeats=2)
    (row,) = rows
    assert row["model"] == "gan" and row["preset"] == "book" and row["counted"] == []
    from gancourse import models
    model = models.get("gan").model_class(models.get("gan").config("book"))
    assert row["parameters"] == sum(n.count_params() for n in model.networks.values())
    assert row["gflop_per_step"] > 0 and row["smoke_ms_min"] <= row["smoke_ms_per_step"] <= row["smoke_ms_max"]

    def refuse(*args, **kwargs):
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(bench, "_spawn", refuse)
    assert bench.catalogue(["gan"], ("book",), steps=2, warmup=1, repeats=2) == rows
    (shown,) = bench.catalogue_rows(rows)
    assert shown["parameters"] == f"{row['parameters']:,}" and "[" in shown["smoke ms per step [min-max]"]
    with pytest.raises(ValueError, match="steps=0 must be an integer >= 1"):
        bench.catalogue(["gan"], steps=0)
