"""Checks shared by the two models (mlp.py's MLP and cnn.py's CNN): init, forward, backward, step.

Each check is a module-level function check(ctx, kind), written once and registered for both models
with their own ids by @for_models("{item}.forward: shape") (mlp.forward: shape, cnn.forward: shape),
as pytest's parametrization runs one test for each case. So a traceback names the check, and a
check can be imported and called alone: init_seeding(ctx, MLP), with any ctx.student that answers
new, set_params, get_params and method (tests/test_model_checks_unit.py gives one that runs the
model in-process). The student's model is built in the child and given the grader's parameters,
so forward/backward are graded even when __init__ is not written yet.
"""
from dataclasses import dataclass

import numpy as np

from grader import cases, reference
from grader.checks import ForEach
from grader.compare import (FLOAT32, GRADIENTS, VALUES, expect_close, expect_dict, expect_dtype, expect_finite,
                            expect_shape, expect_unchanged)
from grader.errors import CheckFailed, StudentTimeout
from grader.sandbox.session import Obj

GROUP = "models"               # every check here talks to the child holding mlp.py and cnn.py

@dataclass(frozen=True)
class Kind:
    item: str                  # "mlp" or "cnn"
    cls: str                   # where the class lives in the submission
    reference: type
    small: dict                # a small model whose dimensions all differ
    num_classes_key: str
    std_configs: tuple         # (constructor kwargs, {weight: expected std}) for the init statistics

    @property
    def label(self):
        """The class name, as messages write it: "MLP" or "CNN"."""
        return self.cls.split(".")[1]


MLP = Kind("mlp", "mlp.MLP", reference.mlp.MLP, cases.MLP_SMALL, "output_dim", (
    ({}, {"W1": 0.1, "W2": 0.1}),
    ({"input_dim": 60, "hidden_dim": 50, "output_dim": 40, "weight_std": 0.3}, {"W1": 0.3, "W2": 0.3}),
))
CNN = Kind("cnn", "cnn.CNN", reference.cnn.CNN, cases.CNN_SMALL, "num_classes", (
    ({"in_channels": 3, "num_filters": 32, "kernel_size": 5, "image_size": 12},
     {"conv_W": np.sqrt(2 / 75), "fc_W": np.sqrt(1 / (32 * 8 * 8))}),
    ({}, {"fc_W": np.sqrt(1 / (8 * 26 * 26))}),
))
MODELS = (MLP, CNN)
for_models = ForEach("kind", lambda kind: {"item": kind.item})    # @for_models("{item}.forward: shape")
MODEL_CHECKS = for_models.marked


def reference_model(kind, params, **kwargs):
    model = kind.reference(**(kwargs or kind.small))
    model.params = {k: v.copy() for k, v in params.items()}
    return model


def student_model(ctx, kind, seed=5, store="model", params=None):
    """The student's small model holding the grader's parameters; returns (handle, params)."""
    ctx.student.new(kind.cls, store, bare_ok=True, **kind.small)
    params = params if params is not None else cases.model_params(kind.item, seed)
    ctx.student.set_params(Obj(store), params)
    return Obj(store), params


# Backpropagation costs about one to four forwards; differencing the loss over every weight costs two
# forwards per weight (thousands). At the contract's sizes one backward may take BACKWARD_FORWARDS
# forwards (a forward counted at most FORWARD_CAP seconds, so a slow forward buys no time), or
# BACKWARD_FLOOR seconds if that is more: generous for correct code, hopeless for finite differences.
REAL_BATCH = 64
REAL_REPEAT = 3
BACKWARD_FORWARDS = 25
FORWARD_CAP = 0.2
BACKWARD_FLOOR = 2.0
REAL_SIZES = {"mlp": "784-128-10", "cnn": "28x28 images, 8 filters of 3x3"}

BIAS_HINTS = {"conv_b": "The bias gradient sums dZ over the batch and both pixel axes: axis=(0, 2, 3)."}


def expect_grads(got, want, what, n, after="", relu_at_zero=None):
    """got[name] against want[name] for every gradient; messages name f"{what}[name]{after}".
    relu_at_zero: the gradients a ReLU mask Z >= 0 would give (relu_at_zero_grads), for its hint."""
    expect_dict(got, want.keys(), what + after)
    for name in want:
        if want[name].ndim == 1:
            expect_shape(got[name], want[name].shape, f"{what}[{name!r}]{after}", BIAS_HINTS.get(
                name, "A bias gradient sums over the batch axis: np.sum(delta, axis=0)."))
        signatures = [("your gradient is transposed", want[name].T)] if want[name].ndim == 2 else []
        if relu_at_zero is not None:
            signatures.append((RELU_AT_ZERO_HINT, relu_at_zero[name]))
        expect_close(got[name], want[name], f"{what}[{name!r}]{after}", GRADIENTS, n=n, signatures=signatures)


RELU_AT_ZERO_HINT = ("your ReLU derivative is 1 at Z == 0 (a mask Z >= 0); relu'(0) is 0 here, so the mask "
                     "is Z > 0 (an all-zero window of an image with conv_b = 0 gives Z == 0 exactly)")


def relu_at_zero_grads(ref, targets):
    """The reference CNN's gradients for its last forward as a mask Z >= 0 gives them (its cached Z with
    every exact zero nudged above 0), or None where the reference cannot answer (a public kit
    recorded without them)."""
    def mask_at_zero(model):
        cols, Z, flat, probs = model.cache
        model.cache = (cols, np.where(Z == 0, np.finfo(Z.dtype).tiny, Z), flat, probs)
        return model.backward(targets)
    try:
        return ref.after_forward("backward_relu_at_zero", mask_at_zero, targets)
    except reference.NotRecorded:
        return None


# ---- init -------------------------------------------------------------------------------------
def constructor(kind, kwargs):
    """The model's construction as messages write it: MLP(seed=3)."""
    return f"{kind.label}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


def init_params(ctx, kind, store="init", **kwargs):
    params = ctx.student.new(kind.cls, store, **kwargs).value
    want = kind.reference(**kwargs).params
    return expect_dict(params, want.keys(), f"{constructor(kind, kwargs)}.params"), want


@for_models("{item}.init: shapes and dtype")
def init_shapes(ctx, kind):
    for kwargs in ({}, kind.small):
        params, want = init_params(ctx, kind, **kwargs)
        for name in want:
            what = f"{constructor(kind, kwargs)}.params[{name!r}]"
            expect_shape(params[name], want[name].shape, what)
            expect_dtype(params[name], np.float64, what)


@for_models("{item}.init: zero biases")
def init_biases(ctx, kind):
    params, want = init_params(ctx, kind)
    for name in want:
        if want[name].ndim == 1 and np.any(expect_shape(params[name], want[name].shape, name) != 0):
            raise CheckFailed(f"{kind.label}().params[{name!r}] is not all zeros; biases start at zero (np.zeros).")


@for_models("{item}.init: weight statistics")
def init_statistics(ctx, kind):
    for kwargs, stds in kind.std_configs:
        params, want = init_params(ctx, kind, seed=11, **kwargs)
        for name, std in stds.items():
            value = expect_shape(params[name], want[name].shape, f"params[{name!r}]")
            n = value.size
            what = f"{constructor(kind, kwargs)}.params[{name!r}]"
            if abs(value.mean()) > 5 * std / np.sqrt(n):
                raise CheckFailed(f"{what} has mean {value.mean():.4g}; expected about 0 (normal with mean 0).")
            if abs(value.std() / std - 1) > 5 / np.sqrt(2 * n) + 0.01:
                raise CheckFailed(f"{what} has standard deviation {value.std():.4g}; expected {std:.4g}. "
                                  + ("(rng.normal takes the standard deviation, not the variance.)"
                                     if abs(value.std() - std ** 2) < 0.2 * std ** 2 else ""))


@for_models("{item}.init: seeding")
def init_seeding(ctx, kind):
    """Same seed, same weights; another seed, other weights; and the very values the contract's
    draws give (one default_rng(seed), the weights drawn in order with rng.normal(0, std, shape)),
    which instructors' own tests may rely on."""
    first, want = init_params(ctx, kind, "a", seed=3)
    second, _ = init_params(ctx, kind, "b", seed=3)
    other, _ = init_params(ctx, kind, "c", seed=4)
    weights = [name for name in want if want[name].ndim > 1]
    for name in weights:
        if not np.array_equal(first[name], second[name]):
            raise CheckFailed(f"{kind.label}(seed=3) twice gave different params[{name!r}]; draw them from "
                              "rng = np.random.default_rng(seed), not np.random.* or an unseeded generator.")
        if np.array_equal(first[name], other[name]):
            raise CheckFailed(f"{kind.label}(seed=3) and {kind.label}(seed=4) gave the same params[{name!r}]; "
                              "use the seed argument.")
    again = expect_dict(ctx.student.get_params(Obj("a")), want.keys(), f"{kind.label}(seed=3).params")
    for name in weights:
        if not np.array_equal(again[name], first[name]):
            raise CheckFailed(f"{kind.label}(seed=3).params[{name!r}] changed when another {kind.label} was "
                              "created: each model needs its own dict, made in __init__ (self.params = {...}), "
                              "not one shared by the class.")
    # Guesses at how the draws went wrong, drawn with unit std and scaled like the real ones.
    unit = np.random.default_rng(3)
    ordered = {w: unit.normal(0.0, 1.0, want[w].shape) for w in weights}
    unit = np.random.default_rng(3)
    reordered = {w: unit.normal(0.0, 1.0, want[w].shape) for w in reversed(weights)}
    for name in weights:
        z = ordered[name]
        std = float(np.sum(want[name] * z) / np.sum(z * z))      # the contract's std for this weight
        guesses = [(f"{' and '.join(weights)} were drawn in the other order: draw {weights[0]} first",
                    reordered[name] * std)]
        if name == weights[0]:
            guesses.append((f"{name} was drawn as its transpose: draw shape {want[name].shape} directly",
                            np.random.default_rng(3).normal(0.0, 1.0, want[name].shape[::-1]).T * std))
        try:
            expect_close(first[name], want[name], f"{kind.label}(seed=3).params[{name!r}]",
                         dict(rtol=1e-6, atol=0.0), signatures=guesses)
        except CheckFailed as failure:
            raise CheckFailed(f"{failure} Use one rng = np.random.default_rng(seed) and draw "
                              + " then ".join(weights) + ", each with rng.normal(0, std, shape).")


# ---- forward ----------------------------------------------------------------------------------
@for_models("{item}.forward: shape")
def forward_shape(ctx, kind):
    model, params = student_model(ctx, kind)
    k = kind.small[kind.num_classes_key]
    for n in (1, 6):
        X, _ = cases.model_inputs(kind.item, 70 + n, n)
        got = ctx.student.method(model, "forward", X, label=kind.label).value
        expect_shape(got, (n, k), f"{kind.label}.forward(X) with X {X.shape}", "The output is (N, num_classes).")
        expect_dtype(got, np.float64, f"{kind.label}.forward(X) with X float64")


@for_models("{item}.forward: values match the reference")
def forward_values(ctx, kind):
    model, params = student_model(ctx, kind)
    for n, seed in ((6, 80), (1, 79)):
        X, _ = cases.model_inputs(kind.item, seed, n)
        got = ctx.student.method(model, "forward", X, label=kind.label).value
        expect_close(got, reference_model(kind, params).forward(X), f"{kind.label}.forward(X) with X {X.shape}")


@for_models("{item}.forward: float32 input")
def forward_float32(ctx, kind):
    model, params = student_model(ctx, kind)
    X, _ = cases.model_inputs(kind.item, 81, 6)
    got = expect_finite(ctx.student.method(model, "forward", X.astype(np.float32), label=kind.label).value,
                        f"{kind.label}.forward(X) with X float32")
    expect_close(got, reference_model(kind, params).forward(X), f"{kind.label}.forward(X) with X float32", FLOAT32)


@for_models("{item}.forward: input unchanged")
def forward_unchanged(ctx, kind):
    model, _ = student_model(ctx, kind)
    X, _ = cases.model_inputs(kind.item, 82, 6)
    expect_unchanged(ctx.student.method(model, "forward", X, label=kind.label, echo=True), {"X": X},
                     f"{kind.label}.forward(X)")


# ---- backward ---------------------------------------------------------------------------------
def forward_backward(ctx, kind, n=6, seed=90):
    model, params = student_model(ctx, kind)
    X, targets = cases.model_inputs(kind.item, seed, n)
    ctx.student.method(model, "forward", X, label=kind.label)
    got = ctx.student.method(model, "backward", targets, label=kind.label).value
    ref = reference_model(kind, params)
    ref.forward(X)
    return got, ref.backward(targets), model, X, targets, ref


@for_models("{item}.backward: keys and shapes")
def backward_shapes(ctx, kind):
    got, want, *_ = forward_backward(ctx, kind)
    expect_dict(got, want.keys(), f"{kind.label}.backward(targets)")
    for name in want:
        expect_shape(got[name], want[name].shape, f"{kind.label}.backward(targets)[{name!r}]",
                     f"Each gradient has the shape of params[{name!r}].")
        expect_dtype(got[name], np.float64, f"{kind.label}.backward(targets)[{name!r}]")


@for_models("{item}.backward: gradients match the reference")
def backward_values(ctx, kind):
    for n in (1, 6):
        got, want, _, _, targets, ref = forward_backward(ctx, kind, n=n, seed=91 + n)
        expect_grads(got, want, f"{kind.label}.backward(targets)", n, after=f" after forward(X) with N = {n}",
                     relu_at_zero=relu_at_zero_grads(ref, targets) if kind.item == "cnn" else None)


@for_models("{item}.backward: numerical gradient check")
def backward_numerical(ctx, kind):
    """The student's gradients against directional central differences of the mean cross-entropy,
    taken here through the contract's forward pass (so a forward bug does not cost twice)."""
    params = cases.model_params(kind.item, 5, fixed=True)        # fixed: vetted clear of ReLU's kink
    if kind.item == "cnn":
        params["conv_b"][0] = 0.25             # keep clear of ReLU's kink at exactly 0
    model, _ = student_model(ctx, kind, params=params)
    X, targets = cases.model_inputs(kind.item, 95, 6, fixed=True)   # N = 6: unlike any dimension of the small models
    ctx.student.method(model, "forward", X, label=kind.label)
    got = expect_dict(ctx.student.method(model, "backward", targets, label=kind.label).value, params.keys(),
                      f"{kind.label}.backward(targets)")
    ref = reference_model(kind, params)
    rng, h = cases.rng(96, fixed=True), 1e-5
    for name, value in params.items():
        direction = rng.normal(size=value.shape)
        losses = []
        for sign in (1, -1):
            ref.params = dict(params, **{name: value + sign * h * direction})
            losses.append(reference.functional.cross_entropy(ref.forward(X), targets))
        numeric = (losses[0] - losses[1]) / (2 * h)
        analytic = float(np.sum(expect_shape(got[name], value.shape, f"grads[{name!r}]") * direction))
        if not abs(numeric - analytic) <= 1e-4 * max(abs(numeric), abs(analytic)) + 1e-7:
            raise CheckFailed(
                f"{kind.label}.backward(targets)[{name!r}] disagrees with central differences of the loss: along a "
                f"random direction the loss changes at rate {numeric:.6g}, your gradient says {analytic:.6g}. "
                "Re-derive this gradient from the chain rule.")
    backward_at_real_size(ctx, kind)


def backward_at_real_size(ctx, kind):
    """On the contract's default model and a batch of 64: one backward costs at most what the
    allowance above says (times are the grader's round trips, best of REAL_REPEAT fresh batches), and
    its gradient follows central differences of the loss along a random direction (so answering
    fast and wrong at this size gains nothing)."""
    model, params = Obj("real"), cases.real_params(kind.item, 126)
    ctx.student.new(kind.cls, model.name, bare_ok=True)
    ctx.student.set_params(model, params)
    forward_best = backward_best = float("inf")
    for repeat in range(REAL_REPEAT):
        X, targets = cases.real_batch(kind.item, 127 + 2 * repeat, REAL_BATCH)
        forward_best = min(forward_best, ctx.student.method(model, "forward", X, label=kind.label).seconds)
        allowance = max(BACKWARD_FLOOR, BACKWARD_FORWARDS * min(forward_best, FORWARD_CAP))
        try:
            reply = ctx.student.method(model, "backward", targets, label=kind.label, timeout=allowance + 1.0)
        except StudentTimeout:
            ctx.student.forget_hang(f"{kind.cls}.backward")      # the small models' checks may still call it
            raise CheckFailed(backward_cost_message(kind, f"more than {allowance + 1.0:.0f} s", forward_best,
                                                    allowance))
        if reply.seconds < backward_best:
            backward_best, best = reply.seconds, (X, targets, reply.value)
        if backward_best <= allowance:
            break
    if backward_best > allowance:
        raise CheckFailed(backward_cost_message(kind, f"{backward_best * 1000:.0f} ms", forward_best, allowance))
    X, targets, got = best
    what = (f"{kind.label}.backward(targets) on the full-size {kind.label} ({REAL_SIZES[kind.item]}, "
            f"a batch of {REAL_BATCH})")
    got = expect_dict(got, params.keys(), what)
    rng, h = cases.rng(133), 1e-6
    direction = {name: rng.normal(size=value.shape) for name, value in params.items()}
    ref = kind.reference()
    losses = []
    for sign in (1, -1):
        ref.params = {name: value + sign * h * direction[name] for name, value in params.items()}
        losses.append(reference.functional.cross_entropy(ref.forward(X), targets))
    numeric = (losses[0] - losses[1]) / (2 * h)
    analytic = sum(float(np.sum(expect_shape(got[name], value.shape, f"{what}[{name!r}]") * direction[name]))
                   for name, value in params.items())
    if not abs(numeric - analytic) <= 1e-3 * max(abs(numeric), abs(analytic)) + 1e-6:
        raise CheckFailed(f"{what} disagrees with central differences of the loss: along a random direction the "
                          f"loss changes at rate {numeric:.6g}, your gradients say {analytic:.6g}, though they are "
                          "right on the small model. backward must follow the same chain rule at every size.")


def backward_cost_message(kind, took, forward, allowance):
    return (f"{kind.label}.backward(targets) on the full-size {kind.label} ({REAL_SIZES[kind.item]}, "
            f"a batch of {REAL_BATCH}) took {took}, while its forward took {forward * 1000:.1f} ms (allowed for "
            f"backward: {allowance:.1f} s). "
            "backward must be backpropagation: the chain rule through what forward cached costs about one to "
            "four forwards, while differencing the loss over every weight costs two forwards per weight.")


def single_backward_works(ctx, kind, X, targets, ref):
    """Whether forward(X) then backward(targets) on a fresh model gives the reference's gradients
    (ref has just run forward(X)), so a later failure can be blamed on what differs."""
    model, _ = student_model(ctx, kind, store="single")
    try:
        ctx.student.method(model, "forward", X, label=kind.label)
        got = ctx.student.method(model, "backward", targets, label=kind.label).value
        expect_grads(got, ref.backward(targets), "", len(X))
    except CheckFailed:
        return False
    return True


@for_models("{item}.backward: no stale cache")
def backward_stale(ctx, kind):
    model, params = student_model(ctx, kind)
    A, _ = cases.model_inputs(kind.item, 100, 3)
    B, targets = cases.model_inputs(kind.item, 101, 7)
    ctx.student.method(model, "forward", A, label=kind.label)
    ctx.student.method(model, "forward", B, label=kind.label)
    got = ctx.student.method(model, "backward", targets, label=kind.label).value
    ref = reference_model(kind, params)
    ref.forward(B)
    try:
        expect_grads(got, ref.backward(targets), f"{kind.label}.backward(targets)", 7,
                     after=" after forward(A) then forward(B)")
    except CheckFailed as failure:
        if single_backward_works(ctx, kind, B, targets, ref):
            raise CheckFailed(f"{failure} backward must use what the LAST forward stored; overwrite the cache "
                              "in every forward call.")
        # A bug costs points once: what this check is about cannot be judged while backward is wrong
        # anyway, and "gradients match the reference" already takes the points for that.
        return (f"not judged: backward is wrong after a single forward too, which \"{kind.item}.backward: gradients "
                "match the reference\" counts; this check is judged once that one passes.")


@for_models("{item}.backward: no accumulation")
def backward_twice(ctx, kind):
    model, params = student_model(ctx, kind)
    X, targets = cases.model_inputs(kind.item, 102, 5)
    ctx.student.method(model, "forward", X, label=kind.label)
    first = ctx.student.method(model, "backward", targets, label=kind.label).value
    expect_dict(first, params.keys(), f"{kind.label}.backward(targets)")
    try:
        second = ctx.student.method(model, "backward", targets, label=kind.label).value
    except CheckFailed as failure:
        raise CheckFailed(f"The first {kind.label}.backward(targets) after a forward worked, a second one failed: "
                          f"{failure}\nbackward must leave what forward stored in place (calling it again "
                          "gives the same gradients).")
    try:
        expect_grads(second, first, f"a second {kind.label}.backward(targets)", 5, after=" after one forward")
    except CheckFailed as failure:
        doubled = all(np.allclose(np.asarray(second[k], dtype=float), 2 * np.asarray(first[k], dtype=float),
                                  **GRADIENTS) for k in params if k in second and k in first
                      and np.shape(second[k]) == np.shape(first[k]))
        if doubled:
            raise CheckFailed(f"{failure} The second call returned twice the first: backward must return fresh "
                              "gradients each call, not add to old ones.")
        raise CheckFailed(f"{failure} Calling backward again must give the same gradients: backward must not "
                          "change what forward stored (no in-place update such as probs -= targets on the "
                          "cached arrays; compute into new arrays) nor add to earlier gradients.")


@for_models("{item}.backward: inputs unchanged")
def backward_unchanged(ctx, kind):
    model, _ = student_model(ctx, kind)
    X, targets = cases.model_inputs(kind.item, 103, 5)
    ctx.student.method(model, "forward", X, label=kind.label)
    expect_unchanged(ctx.student.method(model, "backward", targets, label=kind.label, echo=True),
                     {"targets": targets}, f"{kind.label}.backward(targets)")


# ---- step ---------------------------------------------------------------------------------------
@for_models("{item}.step: parameters updated by SGD")
def step_values(ctx, kind):
    model, params = student_model(ctx, kind)
    want = params
    for lr, seed in ((0.1, 110), (0.03, 111)):
        grads = cases.random_grads(params, seed)
        reply = ctx.student.method(model, "step", grads, lr, label=kind.label)
        if reply.value is not None:
            raise CheckFailed(f"{kind.label}.step(grads, lr) returned {type(reply.value).__name__}; it returns None "
                              "and updates self.params.")
        got = expect_dict(ctx.student.get_params(model), params.keys(), f"{kind.label}.params after step")
        want = {k: want[k] - lr * grads[k] for k in want}
        for name in want:
            expect_close(got[name], want[name], f"{kind.label}.params[{name!r}] after step(grads, lr={lr})",
                         signatures=[("you add the gradient (params + lr * grads); subtract it",
                                      want[name] + 2 * lr * grads[name])])
    # The updated params must be the ones forward uses, not a stale copy kept in attributes. Judged
    # with the student's own forward (a forward bug is graded once, in the forward checks): after the
    # steps it must agree with the same forward on a fresh model given the updated params.
    X, _ = cases.model_inputs(kind.item, 113, 4)
    try:
        fresh_model, _ = student_model(ctx, kind, store="fresh", params=want)
        fresh = np.asarray(ctx.student.method(fresh_model, "forward", X, label=kind.label).value, dtype=float)
        before_model, _ = student_model(ctx, kind, store="before", params=params)
        before = np.asarray(ctx.student.method(before_model, "forward", X, label=kind.label).value, dtype=float)
    except (CheckFailed, TypeError, ValueError):
        return                                   # forward itself does not work: its own checks say so
    if fresh.shape != before.shape or not (np.all(np.isfinite(fresh)) and np.all(np.isfinite(before))):
        return
    try:
        got = np.asarray(ctx.student.method(model, "forward", X, label=kind.label).value, dtype=float)
    except (TypeError, ValueError):
        return
    if got.shape == fresh.shape and np.allclose(got, fresh, **VALUES):
        return
    if got.shape == before.shape and np.allclose(got, before, **VALUES) and not np.allclose(fresh, before, **VALUES):
        raise CheckFailed(f"{kind.label}.params holds the updated values after step, but forward still computes "
                          "with the old ones, so training would never change the model. Update the arrays "
                          "forward reads: change params[k] in place (-=), or let forward read self.params.")
    raise CheckFailed(f"{kind.label}.forward(X) after two steps differs from forward(X) on a fresh {kind.label} "
                      "given the updated params: forward after a step must use exactly the updated params.")


@for_models("{item}.step: grads unchanged")
def step_unchanged(ctx, kind):
    model, params = student_model(ctx, kind)
    grads = cases.random_grads(params, 112)
    reply = ctx.student.method(model, "step", grads, 0.1, label=kind.label, echo=True)
    expect_unchanged(reply, grads, f"{kind.label}.step(grads, lr)")


# ---- registration ----------------------------------------------------------------------------------
for_models.register(MODELS)
