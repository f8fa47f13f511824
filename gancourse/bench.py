"""``python -m gancourse bench``: training throughput, peak memory and how close training runs to the machine.

Every measurement runs in its own Python process, so the peak resident memory
(``ru_maxrss``) belongs to that variant alone and no variant inherits another's
compiled functions. Each variant trains the same networks on the same offline
data: first a warm-up (tracing and compilation are not timed), then
``repeats`` blocks of ``steps`` timed steps; the report gives the median block
and the spread (min-max) of images/s. Ratios are taken against the baseline
measured in the same run: the source book's Keras 2 loop style
(:class:`gancourse.legacy.LegacyLoop`,
:class:`gancourse.legacy.LegacyPairedLoop` for pix2pix,
:class:`gancourse.legacy.LegacyCycleLoop` for CycleGAN and
:class:`gancourse.legacy.LegacySRLoop` for SRGAN).

Utilisation is ``achieved FLOP/s / measured dense matmul peak``, both from the
same run, each from its own process:

* FLOPs per step are *counted* (:func:`train_step_flops`): one ``train_step`` of
  the ``fit()`` model is traced at the measured batch size and the cost that
  TensorFlow registers for each op of the graph is summed: forward, backward
  and optimizer update. The legacy loop trains the same networks on the same
  batch and is credited with the same count. (For DCGAN it runs the same
  convolutions and matmuls; only element-wise work differs, such as a second
  Adam update of D per step. The pix2pix legacy loop also runs ``G.predict`` for its fakes, where
  ``fit()`` reuses the generator update's output: one extra generator forward
  pass, 14-15% of the counted step, which it is not credited for.)
* The peak (:func:`matmul_peak`) is the best of several timed chains of large
  float32 ``tf.matmul`` in one ``tf.function``.

Every model of :data:`gancourse.models.REGISTRY` can be measured, on its
default preset and its own training data (``training_data``). Sizes: ``smoke``
is the smoke profile's network; ``standard`` the preset's full-size network at
its own batch size (DCGAN ``modern`` on digits; pix2pix ``paper``: the
54M-parameter U-Net at 256 px, batch 1) on the smoke profile's offline data.
The baseline is the Keras 2 loop for a noise-driven GAN or for paired
translation (:func:`legacy_loop`).

The baseline is the Keras 2 *idiom*, not the Keras 2 *algorithm*, wherever the
discriminator has batch normalisation: in Keras 3 a ``BatchNormalization``
layer with ``trainable = False`` runs in inference mode, so the legacy loop's
generator step normalises the frozen discriminator's activations with their
moving averages, while ``fit()`` (like Keras 2, where a frozen layer still used
the batch's statistics) uses the batch's own. Both do the same work per step,
but the generator's gradients differ. :func:`frozen_batchnorm_layers` counts
the layers concerned and :func:`report` states it under the table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from gancourse.models import REGISTRY

MODELS = tuple(REGISTRY)
SIZES = ("smoke", "standard")
BASELINE = "legacy loop (baseline)"
VARIANTS = {
    BASELINE: {},
    "fit, 1 step per call": {"jit_compile": False, "steps_per_execution": 1},
    "fit, 8 steps per call": {"jit_compile": False, "steps_per_execution": 8},
    "fit + XLA, 1 step per call": {"jit_compile": True, "steps_per_execution": 1},
    "fit + XLA, 8 steps per call": {"jit_compile": True, "steps_per_execution": 8},
}
#: ``fit()`` compiled as the config's own ``compile_options`` say (how the chapters train); used by :func:`catalogue`.
OWN_SETTINGS = "fit, the config's settings"
#: Variants per model where not all of them are worth measuring (default: every variant).
MODEL_VARIANTS = {
    "pix2pix": (BASELINE, "fit, 1 step per call", "fit, 8 steps per call", "fit + XLA, 1 step per call"),
    "srgan": (BASELINE, "fit, 1 step per call", "fit, 8 steps per call", "fit + XLA, 1 step per call"),
    # XLA's CPU compilation of the 3-D convolutions' gradients did not finish a 40-step block in 9 minutes
    "gan3d": (BASELINE, "fit, 1 step per call", "fit, 8 steps per call"),
    # XLA's CPU compilation of 8 unrolled Stage-I steps (four networks, three D calls each) ran over 10 minutes
    "stackgan": (BASELINE, "fit, 1 step per call", "fit, 8 steps per call", "fit + XLA, 1 step per call"),
}


def model_variants(model: str) -> tuple:
    """The variants measured for ``model``."""
    return MODEL_VARIANTS.get(model, tuple(VARIANTS))


def _config(model: str, size: str, preset: str | None = None):
    """The measured config of the model's ``preset`` (default: its default preset): the smoke network, or the
    full-size one (``standard``) on the smoke profile's offline data."""
    from gancourse import models

    full = models.get(model).config(preset) if preset else models.get(model).config()
    smoke = full.scaled("smoke")
    if size == "smoke":
        return smoke
    # offline data, and (SRGAN) the VGG19 layout with random weights: the same compute without the download
    cfg = full.replace(**{key: getattr(smoke, key) for key in ("dataset", "data", "feature_weights")
                          if hasattr(full, key)})
    if getattr(cfg, "dataset", None) == "offline_sr":  # the offline photos hold HR crops up to 224 px, not 256
        from gancourse.data.superres import offline_largest

        cfg = cfg.replace(image_size=min(cfg.image_size, offline_largest() - offline_largest() % 16))
    return cfg


def _fit_model(model: str, cfg):
    """The ``fit()``-trained model of ``model`` built from ``cfg`` (not compiled)."""
    from gancourse import models

    return models.get(model).model_class(cfg)


def legacy_loop(model: str, cfg):
    """The Keras 2 style loop on freshly built networks of ``model``: :class:`~gancourse.legacy.LegacyLoop`
    for a noise-driven GAN, :class:`~gancourse.legacy.LegacyPairedLoop` for paired translation,
    :class:`~gancourse.legacy.LegacyCycleLoop` for CycleGAN, :class:`~gancourse.legacy.LegacySRLoop` for SRGAN,
    :class:`~gancourse.legacy.LegacyGAN3DLoop` for 3D-GAN, :class:`~gancourse.legacy.LegacyConditionalLoop` for
    Age-cGAN, :class:`~gancourse.legacy.LegacyStackLoop` for StackGAN (Stage-I, which ``fit`` trains first: a
    measured block of one epoch never reaches Stage-II), :class:`~gancourse.legacy.LegacyACGANLoop` for AC-GAN."""
    from gancourse.legacy import (LegacyACGANLoop, LegacyConditionalLoop, LegacyCycleLoop, LegacyGAN3DLoop,
                                  LegacyLoop, LegacyPairedLoop, LegacySRLoop, LegacyStackLoop)
    from gancourse.training import GAN

    net = _fit_model(model, cfg)
    if hasattr(cfg, "adv_weight"):
        if cfg.objective != "book":
            raise ValueError("the Keras 2 SRGAN loop is the book's (sigmoid D, objective 'book'); measure the "
                             f"{cfg.preset} preset's fit() variants only")
        return LegacySRLoop(net.generator, net.discriminator, net.features, cfg.make_optimizer("discriminator"),
                            cfg.make_optimizer("generator"), adv_weight=cfg.adv_weight,
                            content_weight=cfg.content_weight)
    if hasattr(cfg, "lambda_cycle"):
        return LegacyCycleLoop(net.g_ab, net.g_ba, net.d_a, net.d_b, lambda: cfg.make_optimizer("generators"),
                               lambda_cycle=cfg.lambda_cycle, identity_weight=cfg.identity_weight)
    d_opt, g_opt = cfg.make_optimizer("discriminator"), cfg.make_optimizer("generator")
    if hasattr(cfg, "stage2_epochs"):
        real = 1.0 - cfg.smoothing if cfg.label_smoothing != "none" else 1.0
        return LegacyStackLoop(net.generator, net.discriminator, net.latent_dim, d_opt, g_opt,
                               kl_weight=cfg.kl_weight, real_label=real)
    if hasattr(cfg, "e_dense"):
        real = 1.0 - cfg.smoothing if cfg.label_smoothing != "none" else 1.0
        return LegacyConditionalLoop(net.generator, net.discriminator, net.latent_dim,
                                     net.generator.inputs[1].shape[-1], d_opt, g_opt, real_label=real)
    if hasattr(cfg, "class_weight"):
        return LegacyACGANLoop(net.generator, net.discriminator, net.latent_dim, cfg.num_classes, d_opt, g_opt,
                               class_weight=cfg.class_weight)
    if hasattr(cfg, "cube_len"):
        return LegacyGAN3DLoop(net.generator, net.discriminator, net.latent_dim, d_opt, g_opt, noise_std=cfg.z_std)
    if isinstance(net, GAN):
        return LegacyLoop(net.generator, net.discriminator, net.latent_dim, d_opt, g_opt)
    if hasattr(cfg, "l1_weight"):
        return LegacyPairedLoop(net.generator, net.discriminator, d_opt, g_opt, l1_weight=cfg.l1_weight)
    raise ValueError(f"{model} has no Keras 2 baseline loop; measure its fit() variants only")


def frozen_batchnorm_layers(model: str, cfg) -> int:
    """How many ``BatchNormalization`` layers the legacy loop runs frozen (in inference mode under Keras 3)
    during its generator step: those of the discriminator."""
    import keras

    net = _fit_model(model, cfg)
    d = getattr(net, "discriminator", None)
    if d is None:
        return 0
    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in d._flatten_layers())


def _runner(model: str, cfg, variant: str):
    """A function ``run(n)`` that trains ``n`` steps of ``variant`` (or, for :data:`OWN_SETTINGS`, ``fit()`` as
    the config compiles it) on the model's own training data."""
    from gancourse import models

    data, _ = models.get(model).training_data(cfg)
    data = data.repeat()
    if variant == BASELINE:
        loop = legacy_loop(model, cfg)
        batches = data.as_numpy_iterator()

        def run(n):
            for _ in range(n):
                batch = next(batches)
                loop.step(*batch) if isinstance(batch, tuple) else loop.step(batch)
        return run
    net = _fit_model(model, cfg)
    net.compile(**({} if variant == OWN_SETTINGS else VARIANTS[variant]))

    def run(n):
        net.fit(data, epochs=1, steps_per_epoch=n, verbose=0)
    return run




# ---------------------------------------------------------------------------
# Counting FLOPs
# ---------------------------------------------------------------------------
# Ops that move, reshape, select or store values without arithmetic.
_NO_ARITHMETIC = frozenset({
    "AssignVariableOp", "BroadcastArgs", "BroadcastGradientArgs", "BroadcastTo", "Cast", "ConcatOffset", "ConcatV2",
    "Const", "ExpandDims", "Fill", "GatherV2", "Identity", "IdentityN", "MirrorPad", "NoOp", "OnesLike", "Pack",
    "Pad", "PadV2", "Placeholder", "Range", "Rank", "ReadVariableOp", "Reshape", "ReverseV2", "Select", "SelectV2",
    "Shape", "ShapeN", "Size", "Slice", "Split", "SplitV", "Squeeze", "StopGradient", "StridedSlice", "Tile",
    "Transpose", "Unpack", "VarHandleOp", "ZerosLike",
})
# Calls of another traced function (a nested tf.function and its gradient): counted by counting that function.
_FUNCTION_CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
# Conditionals: counted as their costlier branch (the step with a conditional update taken).
_CONDITIONALS = frozenset({"If", "StatelessIf"})
# Loops: how often a body runs is not in the graph, so it cannot be counted op by op.
_CALLS = frozenset({"While", "StatelessWhile", "Case", "StatelessCase"})


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """The FLOPs of one traced function, by op type.

    Attributes:
        counted: op type -> FLOPs of the ops that run, from TensorFlow's
            registered op costs (as ``tf.profiler``'s ``float_operation`` view
            sums them; see :func:`graph_flops` for the differences): ``Conv2D``,
            ``Conv2DBackpropInput``/``Filter``, ``MatMul``, ``BatchMatMul``,
            ``BiasAdd`` and the plain element-wise arithmetic (``Mul``, ``AddV2``,
            ``Sub``, ``RealDiv``, ``Square``, ``Mean``, ``Sum``, ...).
        uncounted: op type -> elements written by arithmetic ops that have no
            registered cost (activations and their gradients, ``Sqrt``, ``Exp``,
            ``DivNoNan``, random draws, variable ``AssignAdd``/``AssignSub``, ...);
            at about one FLOP per element, ``uncounted_share`` estimates what
            :attr:`total` leaves out.
    """

    counted: dict
    uncounted: dict

    @property
    def total(self) -> int:
        """All counted FLOPs."""
        return int(sum(self.counted.values()))

    @property
    def uncounted_share(self) -> float:
        """Elements of uncounted arithmetic per counted FLOP (0.01: the count would be ~1% higher)."""
        return sum(self.uncounted.values()) / self.total if self.total else 0.0


def _conv_backprop_flops(op) -> int:
    """``2 * out_backprop elements * kh * kw * in_channels``: the forward convolution's multiply-adds
    (TensorFlow's registered formula gives 6.25x that for a 5x5 -> 2x2 ``valid`` PatchGAN head)."""
    kernel = op.inputs[1].shape if op.type == "Conv2DBackpropInput" else op.outputs[0].shape
    out_backprop = op.inputs[2].shape
    if not (kernel.is_fully_defined() and out_backprop.is_fully_defined()):
        raise ValueError(f"{op.type} {op.name!r} has a shape unknown at trace time; trace with a static batch shape")
    return 2 * out_backprop.num_elements() * kernel[0] * kernel[1] * kernel[2]


def _elements(op) -> int:
    """Elements an op without a registered cost writes: its float outputs, or the update of a variable."""
    if op.type in ("AssignAddVariableOp", "AssignSubVariableOp"):
        tensors = op.inputs[1:]
    else:
        tensors = [t for t in op.outputs if t.dtype.is_floating]
    return sum(t.shape.num_elements() for t in tensors if t.shape.is_fully_defined())


def _live_ops(graph) -> list:
    """The ops of a function graph that run: those its outputs or a stateful op (a variable update) depend on.

    TensorFlow prunes the rest before running a function: gradients that a
    gradient function always builds but nothing uses, such as a first layer's
    input gradient, or the discriminator's weight gradients in the generator's
    update.
    """
    roots = [t.op for t in graph.outputs] + list(graph.control_outputs)
    roots += [op for op in graph.get_operations() if op._is_stateful]
    live, stack = set(), roots
    while stack:
        op = stack.pop()
        if op not in live:
            live.add(op)
            stack.extend([t.op for t in op.inputs] + list(op.control_inputs))
    return [op for op in graph.get_operations() if op in live]


def graph_flops(graph) -> FlopCount:
    """Count the FLOPs of the ops that run in ``graph``, a traced function's graph (``concrete_function.graph``).

    Ops that feed neither an output nor a stateful op are pruned by TensorFlow
    before the function runs and are not counted (:func:`_live_ops`).
    Registered costs are TensorFlow's (as ``tf.profiler`` sums them), except
    ``Conv2DBackpropInput``/``Filter``, counted exactly as the forward
    convolution they differentiate: TensorFlow's formula for them divides the
    convolution's *input* by the stride, which overcounts ``valid``-padded
    convolutions (it is exact for ``same`` padding). ``tf.profiler`` counts
    every op of the graph with those formulas: 1.02 GFLOP for the pix2pix
    smoke step, of which 0.61 run.

    A call of a nested ``tf.function`` (``PartitionedCall``, and the call of
    its gradient function) is counted by counting the called function's graph
    the same way, once per call. A conditional (``If``: 3D-GAN's update of D
    only while its accuracy is low) is counted as its costlier branch, so the
    count is that of a step that takes the update.

    Raises:
        ValueError: a registered op's shapes are unknown (trace with static
            shapes), or the graph has a loop (``While``), whose cost it cannot see.
    """
    from tensorflow.python.framework import ops
    from tensorflow.python.profiler.internal import flops_registry  # noqa: F401 (registers the element-wise costs)

    if not hasattr(graph, "outputs"):
        raise ValueError(f"graph_flops needs a traced function's graph (tf.function(f).get_concrete_function("
                         f"...).graph), not a {type(graph).__name__}")
    counted, uncounted = {}, {}
    for op in _live_ops(graph):
        if op.type in _FUNCTION_CALLS or op.type in _CONDITIONALS:
            if op.type in _CONDITIONALS:
                branches = [graph_flops(_called_graph(graph, op, attr)) for attr in ("then_branch", "else_branch")]
                inner = max(branches, key=lambda c: c.total)
            else:
                inner = graph_flops(_called_graph(graph, op))
            for totals, part in ((counted, inner.counted), (uncounted, inner.uncounted)):
                for kind, n in part.items():
                    totals[kind] = totals.get(kind, 0) + n
            continue
        if op.type in _CALLS:
            raise ValueError(f"the traced graph runs {op.type} {op.name!r}, whose FLOPs cannot be counted op by op; "
                             "count a step without a loop")
        if op.type in ("Conv2DBackpropInput", "Conv2DBackpropFilter"):
            flops = _conv_backprop_flops(op)
        else:
            try:
                flops = ops.get_stats_for_node_def(graph, op.node_def, "flops").value
            except ValueError as err:
                raise ValueError(f"cannot count {op.type} {op.name!r}: {err}; "
                                 "trace with a static batch shape") from None
        if flops is not None:
            counted[op.type] = counted.get(op.type, 0) + int(flops)
        elif op.type not in _NO_ARITHMETIC:
            uncounted[op.type] = uncounted.get(op.type, 0) + _elements(op)
    uncounted = {kind: n for kind, n in uncounted.items() if n}
    return FlopCount(counted, uncounted)


def _called_graph(graph, op, attr: str = "f"):
    """The graph of the function that a ``PartitionedCall`` op calls, or an ``If`` op's branch ``attr``
    (looked up in ``graph`` and the graphs around it)."""
    name = op.get_attr(attr).name
    scope = graph
    while scope is not None:
        function = getattr(scope, "_functions", {}).get(name)
        if function is not None:
            return function.graph
        scope = getattr(scope, "outer_graph", None)
    raise ValueError(f"{op.name!r} calls {name!r}, which is not among the traced functions; cannot count it")


def _spec(value):
    """A ``tf.TensorSpec`` with the static shape of ``value`` (an array, a tensor or a spec)."""
    import numpy as np
    import tensorflow as tf

    if isinstance(value, tf.TensorSpec):
        spec = value
    else:
        value = value if isinstance(value, tf.Tensor) else np.asarray(value)
        spec = tf.TensorSpec(value.shape, tf.as_dtype(value.dtype))
    if not spec.shape.is_fully_defined():
        raise ValueError(f"a batch element has shape {spec.shape}; FLOPs are counted at a static shape, "
                         "give every dimension (the batch size too)")
    return spec


def count_flops(fn, *args) -> FlopCount:
    """Trace ``fn(*args)`` in a ``tf.function`` at the static shapes of ``args`` and count its FLOPs.

    Args:
        fn: a function of tensors (e.g. ``model.train_step``, or
            ``lambda x: generator(x, training=False)``).
        *args: sample arguments: arrays, tensors or ``tf.TensorSpec`` with every
            dimension given, nested in tuples/lists/dicts as ``fn`` expects.
            Only shapes and dtypes are used; ``fn`` is traced, never run (its
            variables, e.g. an optimizer's, may be created).

    Returns:
        A :class:`FlopCount` (see :func:`graph_flops`).
    """
    import tensorflow as tf

    specs = tf.nest.map_structure(_spec, args)
    return graph_flops(tf.function(fn).get_concrete_function(*specs).graph)


def train_step_flops(model, batch) -> int:
    """FLOPs of one ``model.train_step(batch)``: forward, backward and optimizer update.

    Args:
        model: a compiled ``keras.Model`` (any model with a ``train_step``, e.g. a
            :class:`gancourse.training.GAN` or a plain ``compile(optimizer, loss)`` model).
        batch: one training batch as ``fit()`` passes it to ``train_step`` (for
            example ``images`` ``(B, H, W, C)`` or ``(x, y)``), as arrays, tensors
            or ``tf.TensorSpec``; its batch size is the one counted.

    Returns:
        The counted FLOPs (:attr:`FlopCount.total` of :func:`count_flops`). For
        a Dense layer ``(B, n) -> (B, m)`` the forward ``MatMul`` costs
        ``2 B n m``; the backward pass adds the same for the weight gradient and,
        unless it is the first layer, for the input gradient. Batch norm is
        built of counted ops (``Mean``, ``SquaredDifference``, ``Rsqrt``,
        ``Mul``); activations, Adam's square roots and variable updates have no
        registered cost: 0.1-0.9% more for the bench's models
        (:attr:`FlopCount.uncounted_share`).
    """
    if not callable(getattr(model, "train_step", None)):
        raise ValueError(f"{type(model).__name__} has no train_step; pass a keras.Model (compiled)")
    return count_flops(model.train_step, batch).total


def _positive(name: str, value, least: int = 1) -> None:
    if not isinstance(value, int) or value < least:
        raise ValueError(f"{name}={value!r} must be an integer >= {least}")


# ---------------------------------------------------------------------------
# The machine's dense matmul peak
# ---------------------------------------------------------------------------
def matmul_peak(size: int | None = None, chain: int = 8, repeats: int = 5) -> dict:
    """The measured float32 dense matmul rate of this machine's first device (GPU if any, else CPU).

    One ``tf.function`` multiplies a ``(size, size)`` matrix ``chain`` times by
    another (``2 size^3`` FLOPs each; each product feeds the next, so none is
    skipped); it is traced and run once, then timed ``repeats`` times. It runs
    as a TensorFlow graph, not through XLA (on a CPU the graph's oneDNN matmul
    measured 1.4x XLA's). On a GPU TensorFlow runs float32 matmuls in TF32 by
    default, as it does the training convolutions.

    Args:
        size: the matrix size (default 8192 on a GPU, 2048 on a CPU).
        chain: products per timed call.
        repeats: timed calls.

    Returns:
        ``gflop_s`` (the best call: the peak), ``gflop_s_median``,
        ``gflop_s_min``, ``size``, ``chain``, ``repeats`` and ``device``.
    """
    import tensorflow as tf

    _positive("chain", chain)
    _positive("repeats", repeats)
    if size is not None:
        _positive("size", size)
    size = size or (8192 if tf.config.list_physical_devices("GPU") else 2048)
    a = tf.random.stateless_normal((size, size), seed=(0, 0))
    b = tf.random.stateless_normal((size, size), seed=(0, 1)) / size ** 0.5  # keeps the chain's values finite

    @tf.function
    def products(x, w):
        for _ in range(chain):
            x = tf.matmul(x, w)
        return tf.reduce_sum(x)

    products(a, b).numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        products(a, b).numpy()  # the scalar result waits for the last product
        rates.append(2 * size ** 3 * chain / (time.perf_counter() - start) / 1e9)
    return {"gflop_s": max(rates), "gflop_s_median": statistics.median(rates), "gflop_s_min": min(rates),
            "size": size, "chain": chain, "repeats": repeats, "device": device_name()}


# ---------------------------------------------------------------------------
# Workers (one process each) and the run
# ---------------------------------------------------------------------------
def _worker(model: str, size: str, variant: str, steps: int, warmup: int, repeats: int,
            preset: str | None = None) -> dict:
    """Time one variant in this process: ``warmup`` steps, then ``repeats`` blocks of ``steps`` steps."""
    from gancourse import set_seed

    set_seed(0)
    cfg = _config(model, size, preset)
    run = _runner(model, cfg, variant)
    if warmup:
        run(warmup)
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        blocks.append(time.perf_counter() - start)
    batch, seconds = cfg.batch_size, statistics.median(blocks)
    return {"model": model, "size": size, "variant": variant, "steps": steps, "repeats": repeats, "batch": batch,
            "block_seconds": blocks, "seconds": seconds, "steps_per_s": steps / seconds,
            "images_per_s": steps * batch / seconds, "images_per_s_min": steps * batch / max(blocks),
            "images_per_s_max": steps * batch / min(blocks),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "frozen_batchnorm": frozen_batchnorm_layers(model, cfg) if variant == BASELINE else 0}


def _flops_worker(model: str, size: str, preset: str | None = None) -> dict:
    """Count one training step of the ``fit()`` model of ``model`` at ``size`` (:func:`count_flops`), and its
    networks' parameters."""
    import tensorflow as tf

    cfg = _config(model, size, preset)
    notes = []
    if getattr(cfg, "pool_size", 0):
        # the image pool swaps images in a loop of copies and selects, with no arithmetic on them: counted without
        cfg = cfg.replace(pool_size=0)
        notes.append("without the image pool's copies")
    net = _fit_model(model, cfg)
    net.compile()
    if hasattr(net, "nested_calls"):  # the same arithmetic, traced inline: every shape is static
        net.nested_calls = False
    if hasattr(net, "stage"):
        notes.append(f"Stage-{'I' * int(net.stage)}'s step")
    elif hasattr(net, "phase"):
        notes.append(f"the {net.phase} phase's step")
    specs = tuple(tf.TensorSpec((cfg.batch_size,) + shape, tf.float32) for shape in net.expected_data_shapes())
    count = count_flops(net.train_step, specs[0] if len(specs) == 1 else specs)
    return {"flops": count.total, "uncounted_share": count.uncounted_share, "batch": cfg.batch_size,
            "parameters": sum(n.count_params() for n in net.networks.values()), "notes": notes}


def _steady_step_seconds(model: str, cfg, warmup: int, steps: int) -> list[float]:
    """Seconds per step of each call of the training function after ``warmup`` steps, in one ``fit()`` of
    ``warmup + steps`` steps (rounded up to whole calls, and at least three timed calls) of ``fit()`` as ``cfg``
    compiles it: the steady state,
    without the per-``fit`` set-up (iterator, callbacks) that a short timed ``fit`` would mostly measure."""
    import keras

    from gancourse import models

    data, _ = models.get(model).training_data(cfg)
    net = _fit_model(model, cfg)
    net.compile()
    marks = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks.append((int(batch) + 1, time.perf_counter()))

    per_call = int(getattr(cfg, "steps_per_execution", 1) or 1)
    total = max(-(-(warmup + steps) // per_call), -(-warmup // per_call) + 3) * per_call  # >= 3 timed calls
    net.fit(data.repeat(), epochs=1, steps_per_epoch=total, verbose=0, callbacks=[Clock()])
    steady = [(s, t) for s, t in marks if s >= warmup]
    if len(steady) < 2:
        raise ValueError(f"{model}: {total} steps gave fewer than two timed calls after the warm-up; raise steps")
    return [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(steady, steady[1:])]


def _catalogue_worker(pairs: list, steps: int, warmup: int, repeats: int) -> list[dict]:
    """:func:`catalogue`'s rows for ``pairs`` (``[model, preset]``), measured one after the other in this process."""
    import gc

    import keras

    rows = []
    for model, preset in pairs:
        print(f"catalogue: {model} {preset}", file=sys.stderr, flush=True)
        full = _flops_worker(model, "standard", preset)
        keras.backend.clear_session()
        smoke = _config(model, "smoke", preset)
        times = _steady_step_seconds(model, smoke, warmup, steps * repeats)
        keras.backend.clear_session()
        gc.collect()
        rows.append({"model": model, "preset": preset, "parameters": full["parameters"],
                     "gflop_per_step": full["flops"] / 1e9, "batch": full["batch"], "counted": full["notes"],
                     "smoke_ms_per_step": 1000 * statistics.median(times), "smoke_ms_min": 1000 * min(times),
                     "smoke_ms_max": 1000 * max(times), "smoke_calls": len(times), "smoke_batch": smoke.batch_size})
    return rows


JOBS = {"train": _worker, "flops": _flops_worker, "peak": matmul_peak, "catalogue": _catalogue_worker}


def _spawn(job: str, **kwargs) -> dict:
    """Run ``JOBS[job](**kwargs)`` in a fresh Python process and return its result."""
    proc = subprocess.run([sys.executable, "-m", "gancourse.bench", json.dumps({"job": job, **kwargs})],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise RuntimeError(f"bench {job} worker {kwargs} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(model: str = "dcgan", sizes=SIZES, steps: int = 40, warmup: int = 8, variants=None, *,
            repeats: int = 3, peak_size: int | None = None) -> list[dict]:
    """Measure every variant for every size, each in a fresh process, with the FLOPs and the matmul peak.

    Args:
        model: one of ``MODELS``.
        sizes: names from ``SIZES`` (a single name is allowed).
        steps: timed steps per block; warmup: untimed steps before the blocks.
        variants: names from ``model_variants(model)`` (default: all of them).
        repeats: timed blocks per variant (their spread is reported).
        peak_size: matrix size of :func:`matmul_peak` (default: by device).

    Returns:
        One dict per size and variant: the timing (``images_per_s`` is the
        median block; ``images_per_s_min``/``max`` the spread;
        ``block_seconds``), ``peak_rss_mb``, ``gflop_per_step`` (counted for the
        ``fit()`` model and used for the baseline too), ``flops_uncounted_share``,
        ``achieved_gflop_s`` (``gflop_per_step * steps_per_s``), ``utilisation``
        (``achieved_gflop_s / matmul_peak["gflop_s"]``) and ``matmul_peak``
        (:func:`matmul_peak`'s dict, measured once per call).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} for bench; choose one of {', '.join(MODELS)}")
    sizes = (sizes,) if isinstance(sizes, str) else tuple(sizes)
    for size in sizes:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose from {', '.join(SIZES)}")
    variants = tuple(variants or model_variants(model))
    for variant in variants:
        if variant not in model_variants(model):
            raise ValueError(f"unknown variant {variant!r} for {model}; choose from "
                             f"{', '.join(model_variants(model))}")
    _positive("steps", steps)
    _positive("warmup", warmup, 0)
    _positive("repeats", repeats)
    if peak_size is not None:
        _positive("peak_size", peak_size)
    peak = _spawn("peak", size=peak_size)
    results = []
    for size in sizes:
        flops = _spawn("flops", model=model, size=size)
        for variant in variants:
            r = _spawn("train", model=model, size=size, variant=variant, steps=steps, warmup=warmup, repeats=repeats)
            achieved = flops["flops"] / 1e9 * r["steps_per_s"]
            results.append({**r, "gflop_per_step": flops["flops"] / 1e9,
                            "flops_uncounted_share": flops["uncounted_share"], "achieved_gflop_s": achieved,
                            "utilisation": achieved / peak["gflop_s"], "matmul_peak": peak})
    return results


def report(results: list[dict]) -> str:
    """A plain-text table: speed and its spread, each variant's speed-up over the baseline of its size, and
    its achieved GFLOP/s as a share of the measured matmul peak (stated in the header)."""
    if not results:
        raise ValueError("report() needs the results of measure(); got none")
    lines = []
    for peak in {json.dumps(r["matmul_peak"], sort_keys=True): r["matmul_peak"] for r in results}.values():
        lines.append(f"dense float32 matmul peak on {peak['device']}: {peak['gflop_s']:.1f} GFLOP/s (best of "
                     f"{peak['repeats']} timed chains of {peak['chain']} {peak['size']}x{peak['size']} products; "
                     f"median {peak['gflop_s_median']:.1f}, min {peak['gflop_s_min']:.1f})")
    lines.append(f"{'size':9} {'variant':28} {'steps/s':>8} {'images/s':>9} {'min-max':>13} {'peak MB':>8} "
                 f"{'x baseline':>10} {'GFLOP/step':>10} {'GFLOP/s':>8} {'% matmul':>8}")
    for size in dict.fromkeys(r["size"] for r in results):
        rows = [r for r in results if r["size"] == size]
        base = next((r for r in rows if r["variant"] == BASELINE), None)
        for r in rows:
            ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}" if base else "-"
            spread = f"{r['images_per_s_min']:.1f}-{r['images_per_s_max']:.1f}"
            lines.append(f"{size:9} {r['variant']:28} {r['steps_per_s']:8.2f} {r['images_per_s']:9.1f} "
                         f"{spread:>13} {r['peak_rss_mb']:8.0f} {ratio:>10} {r['gflop_per_step']:10.3f} "
                         f"{r['achieved_gflop_s']:8.1f} {100 * r['utilisation']:8.1f}")
    first = results[0]
    lines.append(f"images/s: median of {first['repeats']} blocks of {first['steps']} steps (min-max: the spread). "
                 "GFLOP/step: counted in the traced fit() train_step (forward, backward, update) at the measured "
                 "batch, and credited to the baseline too. % matmul: GFLOP/s over the matmul peak.")
    for r in results:
        if r.get("frozen_batchnorm"):
            lines.append(f"{r['size']}: the baseline's generator step runs the frozen discriminator's "
                         f"{r['frozen_batchnorm']} BatchNormalization layer(s) in inference mode (Keras 3 semantics "
                         "of trainable=False), while fit() and Keras 2 use batch statistics: equal work, but not "
                         "the same algorithm.")
    for size in dict.fromkeys(r["size"] for r in results):
        r = next(r for r in results if r["size"] == size)
        lines.append(f"{size}: {r['gflop_per_step']:.3f} GFLOP per step of {r['batch']} images; ops without a "
                     f"registered cost (activations, square roots, variable updates) would add "
                     f"~{100 * r['flops_uncounted_share']:.1f}%.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The course's catalogue: every model's book and paper presets side by side
# ---------------------------------------------------------------------------
CATALOGUE_PRESETS = ("book", "paper")
#: Bumped when :func:`catalogue` measures differently (part of its cache key).
CATALOGUE_VERSION = 2


def catalogue_pairs(models=None, presets=CATALOGUE_PRESETS) -> list[tuple[str, str]]:
    """``(model, preset)`` for every model (default: the registry's, in order) and each of ``presets`` it has; a
    model with none of them contributes its default preset."""
    from gancourse import models as registry

    names = MODELS if models is None else tuple(models)
    pairs = []
    for name in names:
        entry = registry.get(name)
        have = [p for p in presets if p in entry.config_class.preset_names()]
        pairs += [(name, p) for p in have] or [(name, entry.config().preset)]
    return pairs


def catalogue(models=None, presets=CATALOGUE_PRESETS, *, steps: int = 16, warmup: int = 8, repeats: int = 3,
              cache: bool = True) -> list[dict]:
    """Each model's ``book`` and ``paper`` presets measured the same way, in one fresh process.

    A row gives the full-size networks' ``parameters`` (all networks of the model, as built), the
    ``gflop_per_step`` of one full-size training step at the preset's own ``batch`` (counted as in
    :func:`train_step_flops`, on the offline data's shapes), and ``smoke_ms_per_step``: the smoke profile's
    model trained with ``fit()`` as its config compiles it, in one ``fit`` of about ``warmup + steps * repeats``
    steps; the median over the calls of its training function after the warm-up (each call runs the config's
    ``steps_per_execution`` steps) of the time per step (``smoke_ms_min``/``max``: the fastest and slowest
    call; ``smoke_calls``; ``smoke_batch``).
    ``counted`` says what the FLOP count covers where that is not the whole training step: the first phase's
    step of a two-phase model (StackGAN's Stage-I, Age-cGAN's GAN phase), and CycleGAN without its image pool
    (a loop of copies that :func:`graph_flops` cannot count).

    With ``cache`` the rows are kept in the package cache (``bench/``), keyed by the pairs, the settings, the
    package version and this machine's device, and read from there on the next call.
    """
    import hashlib
    import platform

    from gancourse import __version__
    from gancourse.data.cache import cache_dir

    _positive("steps", steps)
    _positive("warmup", warmup, 0)
    _positive("repeats", repeats)
    pairs = catalogue_pairs(models, presets)
    key = json.dumps([pairs, steps, warmup, repeats, __version__, platform.processor() or platform.machine(),
                      os.cpu_count(), CATALOGUE_VERSION])
    path = cache_dir("bench") / f"catalogue_{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if cache and path.exists():
        return json.loads(path.read_text())
    rows = _spawn("catalogue", pairs=pairs, steps=steps, warmup=warmup, repeats=repeats)
    if cache:
        path.write_text(json.dumps(rows))
    return rows


def catalogue_rows(rows: list[dict]) -> list[dict]:
    """:func:`catalogue`'s rows formatted for :func:`gancourse.viz.markdown_table`."""
    return [{"model": r["model"], "preset": r["preset"], "parameters": f"{r['parameters']:,}",
             "GFLOP per step": f"{r['gflop_per_step']:,.1f}" + (f" ({'; '.join(r['counted'])})" if r["counted"] else ""),
             "batch": r["batch"],
             "smoke ms per step [min-max]": f"{r['smoke_ms_per_step']:.1f} [{r['smoke_ms_min']:.1f}-"
                                            f"{r['smoke_ms_max']:.1f}]", "smoke batch": r["smoke_batch"]}
            for r in rows]


def device_name() -> str:
    """'GPU: <name>' or 'CPU (<n> cores)' for the report header."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU ({os.cpu_count()} cores)"


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    print(json.dumps(JOBS[request.pop("job")](**request)))
