"""Checks of functional.py: sigmoid, relu, softmax, one_hot, cross_entropy.

Each check is a module-level function of a Context; the four that sigmoid and relu share (shape and
dtype, values, float32, input unchanged) are written once as check(ctx, op) and registered for each
by @for_elementwise, as checks/models.py does for the two models.
"""
from dataclasses import dataclass

import numpy as np

from grader import cases, reference
from grader.checks import ForEach, check
from grader.compare import (EXP_LOG_HINT, FLOAT32, expect_close, expect_dtype, expect_finite, expect_no_warnings,
                            expect_scalar, expect_shape, expect_unchanged)
from grader.errors import CheckFailed

GROUP = "functional"           # every check here talks to the child holding functional.py alone
ref = reference.functional
SHAPES = [(1, 10), (7, 3), (64, 10)]      # N = 1, N > K, N != K


@dataclass(frozen=True)
class Elementwise:
    """A function of functional.py applied entry by entry (sigmoid, relu), and the inputs its checks use."""
    name: str                  # "sigmoid" or "relu"
    inputs: object             # () -> iterable of arrays; the first is also the one used alone

    @property
    def fn(self):
        return f"functional.{self.name}"


for_elementwise = ForEach("op", lambda op: {"name": op.name})    # @for_elementwise("functional.{name}: ...")
ELEMENTWISE_CHECKS = for_elementwise.marked


# shape and dtype, values, float32, input unchanged: the same four for sigmoid and relu.
@for_elementwise("functional.{name}: shape and dtype")
def elementwise_shape(ctx, op):
    for z in op.inputs():
        got = ctx.student.call(op.fn, z).value
        expect_shape(got, z.shape, f"{op.name}(z) with z {z.shape}", "The output has the shape of z.")
        expect_dtype(got, np.float64, f"{op.name}(z) with z {z.shape} float64")


@for_elementwise("functional.{name}: values match the reference")
def elementwise_values(ctx, op):
    for z in op.inputs():
        expect_close(ctx.student.call(op.fn, z).value, getattr(ref, op.name)(z), f"{op.name}(z) with z {z.shape}")


@for_elementwise("functional.{name}: float32 input")
def elementwise_float32(ctx, op):
    z = next(iter(op.inputs())).astype(np.float32)
    got = expect_finite(ctx.student.call(op.fn, z).value, f"{op.name}(z) with z float32",
                        EXP_LOG_HINT if op.name in ("sigmoid", "softmax") else "")
    expect_close(got, getattr(ref, op.name)(z.astype(np.float64)), f"{op.name}(z) with z float32", FLOAT32)


@for_elementwise("functional.{name}: input unchanged")
def elementwise_unchanged(ctx, op):
    z = next(iter(op.inputs()))
    expect_unchanged(ctx.student.call(op.fn, z, echo=True), {"z": z}, f"{op.name}(z)")


def sigmoid_inputs():
    yield cases.logits(1, 7, 3, scale=4.0)
    yield cases.logits(2, 1, 10)
    yield cases.rng(3).normal(scale=3.0, size=(2, 3, 4))       # any shape
    yield np.array([-30.0, -1.0, 0.0, 1.0, 30.0])


def relu_inputs():
    z = cases.logits(4, 7, 3)
    z[0, :] = 0.0                                                # exact zeros
    yield z
    yield cases.rng(5).normal(size=(2, 3, 4, 5))
    yield np.array([-2.0, -0.0, 0.0, 3.0])


SIGMOID = Elementwise("sigmoid", sigmoid_inputs)
RELU = Elementwise("relu", relu_inputs)
ELEMENTWISE = (SIGMOID, RELU)


for_elementwise.register(ELEMENTWISE)


# The stability checks compare values at extremes drawn from the salted generator (cases.extreme_*),
# so no input can be known in advance. One thing only the child sees: a floating-point warning (a naive
# 1 / (1 + exp(-z)) has the right values at -1e4 and only warns); that part trusts the child's report.
@check("functional.sigmoid: stable at logits +-1e4")
def sigmoid_stable(ctx):
    z = cases.extreme_sigmoid_inputs(6)
    what = "sigmoid(z) with z of magnitude 700 to 1e4 (both signs)"
    reply = ctx.student.call("functional.sigmoid", z)
    expect_no_warnings(reply, what)
    expect_close(expect_finite(reply.value, what, EXP_LOG_HINT), ref.sigmoid(z), what)


# ---- softmax ---------------------------------------------------------------------------------------
def softmax_signatures(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return [("softmax normalizes over columns (axis=0); normalize each row (axis=1)", e / e.sum(axis=0, keepdims=True))]


@check("functional.softmax: shape and dtype")
def softmax_shape(ctx):
    for n, k in SHAPES:
        z = cases.logits(10 + n, n, k)
        got = ctx.student.call("functional.softmax", z).value
        expect_shape(got, (n, k), f"softmax(z) with z {(n, k)}", "The output has the shape of z: (N, K).")
        expect_dtype(got, np.float64, f"softmax(z) with z {(n, k)} float64")


@check("functional.softmax: values match the reference")
def softmax_values(ctx):
    for n, k in SHAPES:
        z = cases.logits(20 + n, n, k)
        got = ctx.student.call("functional.softmax", z).value
        expect_close(got, ref.softmax(z), f"softmax(z) with z {(n, k)}", signatures=softmax_signatures(z))
        z_shifted = z + 1000.0
        got = ctx.student.call("functional.softmax", z_shifted).value
        expect_close(got, ref.softmax(z), f"softmax(z + 1000) with z {(n, k)} (softmax ignores a constant shift)")


@check("functional.softmax: stable at logits +-1e4")
def softmax_stable(ctx):
    z = cases.extreme_logit_rows(7)
    what = f"softmax(z) with z {z.shape} of logits up to +-1e4"
    reply = ctx.student.call("functional.softmax", z)
    expect_no_warnings(reply, what)
    got = expect_finite(reply.value, what, EXP_LOG_HINT)
    expect_close(got, ref.softmax(z), what)


@check("functional.softmax: float32 input")
def softmax_float32(ctx):
    z = cases.logits(30, 6, 10).astype(np.float32)
    got = expect_finite(ctx.student.call("functional.softmax", z).value, "softmax(z) with z float32", EXP_LOG_HINT)
    expect_close(got, ref.softmax(z.astype(np.float64)), "softmax(z) with z float32", FLOAT32)


@check("functional.softmax: input unchanged")
def softmax_unchanged(ctx):
    z = cases.logits(31, 6, 10)
    expect_unchanged(ctx.student.call("functional.softmax", z, echo=True), {"z": z}, "softmax(z)")


# ---- one_hot -----------------------------------------------------------------------------------------
@check("functional.one_hot: shape and dtype")
def one_hot_shape(ctx):
    for n, k in [(1, 10), (7, 10), (4, 6)]:
        labels = cases.labels(40 + n, n, k)
        got = ctx.student.call("functional.one_hot", labels, k).value
        expect_shape(got, (n, k), f"one_hot(labels, num_classes={k}) with labels ({n},)",
                     "The output is (N, num_classes).")
        if got.dtype.kind != "f":
            raise CheckFailed(f"one_hot(labels) returned dtype {got.dtype}; expected a floating dtype (float64): "
                              "np.zeros((N, num_classes)) is float64 by default.")


@check("functional.one_hot: values match the reference")
def one_hot_values(ctx):
    labels = np.array([3, 0, 9, 3, 1, 7, 2])
    expect_close(ctx.student.call("functional.one_hot", labels).value, ref.one_hot(labels),
                 "one_hot(labels) with the default num_classes=10")
    labels = np.array([5, 0, 2, 5])
    got = ctx.student.call("functional.one_hot", labels, num_classes=6).value
    expect_close(got, ref.one_hot(labels, 6), "one_hot(labels, num_classes=6)",
                 signatures=[("the rows and columns are swapped", ref.one_hot(labels, 6).T)])


@check("functional.one_hot: input unchanged")
def one_hot_unchanged(ctx):
    labels = cases.labels(45, 8)
    expect_unchanged(ctx.student.call("functional.one_hot", labels, echo=True), {"labels": labels}, "one_hot(labels)")


# ---- cross_entropy -----------------------------------------------------------------------------------
def ce_signatures(probs, targets):
    clipped = np.clip(probs, 1e-12, 1 - 1e-12)
    n = probs.shape[0]
    terms = -(targets * np.log(clipped))
    return [(f"the loss is summed over the batch instead of averaged (divide by N = {n})", terms.sum()),
            ("the loss is averaged over all N*K entries instead of over the N rows", terms.mean()),
            ("the minus sign is missing", -terms.sum() / n)]


@check("functional.cross_entropy: returns a scalar")
def ce_scalar(ctx):
    probs, targets = cases.probs_and_targets(50, 6, 10)
    expect_scalar(ctx.student.call("functional.cross_entropy", probs, targets).value, "cross_entropy(probs, targets)")


@check("functional.cross_entropy: values match the reference")
def ce_values(ctx):
    for n, k in [(1, 10), (6, 10), (9, 4)]:
        probs, targets = cases.probs_and_targets(51 + n, n, k)
        got = expect_scalar(ctx.student.call("functional.cross_entropy", probs, targets).value,
                            f"cross_entropy(probs, targets) with probs {(n, k)}")
        expect_close(np.float64(got), ref.cross_entropy(probs, targets),
                     f"cross_entropy(probs, targets) with probs {(n, k)}", signatures=ce_signatures(probs, targets))
    uniform = np.full((4, 10), 0.1)
    got = expect_scalar(ctx.student.call("functional.cross_entropy", uniform, np.eye(10)[:4]).value,
                        "cross_entropy of uniform probabilities")
    expect_close(np.float64(got), np.log(10), "cross_entropy of uniform probabilities 0.1 (zero logits)")


@check("functional.cross_entropy: clipped at probs 0 and 1")
def ce_clipped(ctx):
    for seed, exact, label in [(8, 0.0, "probs exactly 0 at the true class"), (9, 1.0, "probs exactly 1 at the true class")]:
        probs, targets, rows = cases.saturated_probs(seed, exact)
        what = f"cross_entropy(probs, targets) with probs {probs.shape}, {label} in rows {rows}"
        reply = ctx.student.call("functional.cross_entropy", probs, targets)
        expect_no_warnings(reply, what)
        got = expect_scalar(reply.value, what)
        if not np.isfinite(got):
            raise CheckFailed(f"{what} returned {got}; clip probs to [eps, 1 - eps] before the log.")
        expect_close(np.float64(got), ref.cross_entropy(probs, targets),
                     f"{what} (each row with p = 0 adds -ln(1e-12) = 27.63 when clipped)", tol=dict(rtol=1e-6, atol=1e-9))


@check("functional.cross_entropy: float32 input")
def ce_float32(ctx):
    probs, targets = cases.probs_and_targets(60, 6, 10)
    got = expect_scalar(ctx.student.call("functional.cross_entropy", probs.astype(np.float32),
                                         targets.astype(np.float32)).value, "cross_entropy with float32 probs")
    expect_close(np.float64(got), ref.cross_entropy(probs, targets), "cross_entropy with float32 probs", FLOAT32)


@check("functional.cross_entropy: inputs unchanged")
def ce_unchanged(ctx):
    probs, targets = cases.probs_and_targets(61, 5, 10)
    probs[0, 0] = 0.0
    reply = ctx.student.call("functional.cross_entropy", probs, targets, echo=True)
    expect_unchanged(reply, {"probs": probs, "targets": targets}, "cross_entropy(probs, targets)")
