"""Checks of cnn.py's functions: extract_patches, conv2d_forward, conv2d_backward.
(The CNN class is checked with the MLP in models.py.)"""
import numpy as np

from grader import cases, reference
from grader.checks import check
from grader.compare import (FLOAT32, GRADIENTS, expect_close, expect_dtype, expect_finite, expect_shape,
                            expect_unchanged)
from grader.errors import CheckFailed, NotWritten, StudentDied, StudentError, StudentRaised

GROUP = "models"               # every check here talks to the child holding mlp.py and cnn.py
ref = reference.cnn
CONFIGS = [  # N, C, H, W, F, kh, kw
    (2, 3, 8, 6, 4, 3, 3),
    (1, 1, 6, 6, 2, 3, 3),
    (3, 2, 7, 9, 5, 2, 4),
]


def patches_shape(x, kh, kw):
    n, c, h, w = x.shape
    return (n, c, h - kh + 1, w - kw + 1, kh, kw)


# ---- extract_patches --------------------------------------------------------------------------------
@check("cnn.extract_patches: shape")
def patches_shape_check(ctx):
    for n, c, h, w, _, kh, kw in CONFIGS:
        x = cases.rng(200).normal(size=(n, c, h, w))
        got = ctx.student.call("cnn.extract_patches", x, kh, kw).value
        expect_shape(got, patches_shape(x, kh, kw), f"extract_patches(x, {kh}, {kw}) with x {x.shape}",
                     "The output is (N, C, H - kh + 1, W - kw + 1, kh, kw).")


@check("cnn.extract_patches: values")
def patches_values(ctx):
    for n, c, h, w, _, kh, kw in CONFIGS:
        x = cases.rng(201).normal(size=(n, c, h, w))
        got = ctx.student.call("cnn.extract_patches", x, kh, kw).value
        want = ref.extract_patches(x, kh, kw)
        expect_close(got, want, f"extract_patches(x, {kh}, {kw}) with x {x.shape}",
                     signatures=[("the last two axes (p, q) are swapped", np.swapaxes(want, -1, -2))]
                     if kh == kw else ())


# Whether extract_patches returns a view of x is decided by what the child cannot fake: a copy of the
# windows of a large kernel would not fit in the memory the child may use (the operating system refuses it), and
# the child hands back only the values at positions picked here, before and after it copies new values
# into x, which a view follows and a copy (of the windows, or of x) does not.
VIEW_PICKS = 64


def view_kernel(memory_bytes):
    """The kernel size k for which a copy of the windows of an x of 2k x 2k pixels needs at least
    eight times the memory the child may use, while the view needs none."""
    k = max(8, int(memory_bytes ** 0.25))
    while 8 * (k + 1) ** 2 * k ** 2 < 8 * memory_bytes:
        k += 1
    return k


def patches_picked(ctx, x, kh, kw, seed, full=False):
    """extract_patches(x, kh, kw) in the child; returns (Picked, positions, x's new values)."""
    r = cases.rng(seed)
    after = (r.normal(size=x.shape) if x.dtype.kind == "f" else r.integers(0, 255, size=x.shape)).astype(x.dtype)
    pick = np.stack([r.integers(0, d, size=VIEW_PICKS) for d in patches_shape(x, kh, kw)], axis=1)
    got = ctx.student.call_and_pick("cnn.extract_patches", x, kh, kw, pick=pick, overwrite=(0, after), full=full)
    return got, pick, after


def windows_at(x, pick):
    n, c, i, j, p, q = pick.T
    return x[n, c, i + p, j + q]


def returned(got, dtype):
    """What came back, for expect_shape's messages: the value itself if it was no array, else a stand-in
    of its shape that takes no memory."""
    return got.value if got.shape is None else np.broadcast_to(np.zeros((), dtype), got.shape)


def expect_view(got, x, kh, kw, pick, after, what):
    """The picked values are x's windows before the grader changed x, and the new ones after."""
    expect_shape(returned(got, x.dtype), patches_shape(x, kh, kw), what,
                 "The output is (N, C, H - kh + 1, W - kw + 1, kh, kw).")
    before = windows_at(x, pick)
    if not np.array_equal(got.before, before):       # the shape is right, so every picked position was read
        k = int(np.argmax(got.before != before))
        raise CheckFailed(f"{what} returned wrong values: at index {tuple(int(v) for v in pick[k])} it holds "
                          f"{got.before[k]}, expected x[n, c, i + p, j + q] = {before[k]}.")
    if got.after is None:
        raise CheckFailed(f"{what} left x read-only, so the grader could not check that the result is a view of x. "
                          "Leave x as it is (writeable=False belongs on the view, not on x).")
    if np.array_equal(got.after, windows_at(after, pick)):
        return
    k = int(np.argmax(got.after != windows_at(after, pick)))
    if np.array_equal(got.after, got.before):
        raise CheckFailed(f"{what} returned a copy: after the call the grader wrote new values into x, and the windows "
                          f"it returned did not change (at index {tuple(int(v) for v in pick[k])} still {got.after[k]}, "
                          f"while x now holds {windows_at(after, pick)[k]} there). np.array, .copy(), "
                          "np.ascontiguousarray(x) or a reshape make a new array: build the as_strided view on x "
                          "itself, with x.strides.")
    raise CheckFailed(f"{what} returned an array that follows x only in part: after the grader wrote new values into x, "
                      f"index {tuple(int(v) for v in pick[k])} holds {got.after[k]}, expected "
                      f"{windows_at(after, pick)[k]}. Return the as_strided view of x itself.")


@check("cnn.extract_patches: a view of x")
def patches_view(ctx):
    k = view_kernel(ctx.rubric.memory_bytes)
    x = cases.rng(202).normal(size=(1, 1, 2 * k, 2 * k))
    what = f"extract_patches(x, {k}, {k}) with x {x.shape}"
    copy_bytes = 8 * (k + 1) ** 2 * k ** 2
    try:
        got, pick, after = patches_picked(ctx, x, k, k, 240)
    except NotWritten:
        raise
    except StudentError as failure:
        if isinstance(failure, StudentDied) or (isinstance(failure, StudentRaised) and failure.exception_type == "MemoryError"):
            raise CheckFailed(f"{what} returned a copy: a copy of its windows needs {copy_bytes / 2**30:.0f} GiB, "
                              f"more than the {ctx.rubric.memory_bytes / 2**30:.0f} GiB the process running your code "
                              "may use, and it failed:\n" + str(failure) + "\nReturn the as_strided view of x itself "
                              "(no np.array, .copy(), ascontiguousarray or reshape after it): it needs no memory.")
        raise CheckFailed(f"{what} failed (a view of x works for any kernel size; a copy of these windows would need "
                          f"{copy_bytes / 2**30:.0f} GiB):\n{failure}")
    expect_view(got, x, k, k, pick, after, what)


@check("cnn.extract_patches: non-contiguous and float32 inputs")
def patches_layouts(ctx):
    x = cases.rng(203).normal(size=(2, 3, 8, 6))
    inputs = list(cases.layouts(x)) + [("a float32 x", x.astype(np.float32)),
                                       ("an integer x", cases.rng(204).integers(0, 255, size=(2, 1, 6, 5)))]
    for seed, (label, variant) in enumerate(inputs, start=241):
        want = ref.extract_patches(variant, 3, 2)
        got, pick, after = patches_picked(ctx, variant, 3, 2, seed, full=True)
        what = f"extract_patches(x, 3, 2) with {label}"
        full = expect_shape(returned(got, variant.dtype) if got.full is None else got.full, want.shape, what)
        if not np.array_equal(full, want):
            index = tuple(int(i) for i in np.argwhere(full != want)[0])
            raise CheckFailed(f"{what} is wrong at index {index}: got {full[index]}, expected {want[index]}. Build "
                              "the strides from x.strides, not from the itemsize and the shape: x may not be "
                              "C-contiguous, or not float64.")
        expect_view(got, variant, 3, 2, pick, after, what)


@check("cnn.extract_patches: input unchanged")
def patches_unchanged(ctx):
    x = cases.rng(205).normal(size=(2, 1, 6, 6))
    expect_unchanged(ctx.student.call("cnn.extract_patches", x, 3, 3, echo=True), {"x": x}, "extract_patches(x, 3, 3)")


# ---- conv2d_forward ---------------------------------------------------------------------------------
def forward_signatures(x, weight, bias):
    return [("the kernel is flipped (that is convolution; use cross-correlation: no flip)",
             ref.conv2d_forward(x, weight[:, :, ::-1, ::-1], bias)),
            ("the bias is missing", ref.conv2d_forward(x, weight, np.zeros_like(bias)))]


@check("cnn.conv2d_forward: shape and dtype")
def conv_forward_shape(ctx):
    for n, c, h, w, f, kh, kw in CONFIGS:
        x, weight, bias = cases.conv_inputs(210, n, c, h, w, f, kh, kw)
        got = ctx.student.call("cnn.conv2d_forward", x, weight, bias).value
        what = f"conv2d_forward(x, weight, bias) with x {x.shape}, weight {weight.shape}"
        expect_shape(got, (n, f, h - kh + 1, w - kw + 1), what, "The output is (N, F, H - kh + 1, W - kw + 1).")
        expect_dtype(got, np.float64, what + " float64")


@check("cnn.conv2d_forward: values match the reference")
def conv_forward_values(ctx):
    for n, c, h, w, f, kh, kw in CONFIGS:
        x, weight, bias = cases.conv_inputs(211, n, c, h, w, f, kh, kw)
        got = ctx.student.call("cnn.conv2d_forward", x, weight, bias).value
        expect_close(got, ref.conv2d_forward(x, weight, bias), f"conv2d_forward(x, weight, bias) with x {x.shape}, "
                     f"weight {weight.shape}", signatures=forward_signatures(x, weight, bias))


@check("cnn.conv2d_forward: non-contiguous input")
def conv_forward_layouts(ctx):
    x, weight, bias = cases.conv_inputs(212, 2, 3, 8, 6, 4, 3, 3)
    want = ref.conv2d_forward(x, weight, bias)
    for label, variant in cases.layouts(x):
        got = ctx.student.call("cnn.conv2d_forward", variant, weight, bias).value
        expect_close(got, want, f"conv2d_forward(x, weight, bias) with {label}")


@check("cnn.conv2d_forward: float32 input")
def conv_forward_float32(ctx):
    x, weight, bias = cases.conv_inputs(213, 2, 3, 8, 6, 4, 3, 3)
    got = ctx.student.call("cnn.conv2d_forward", x.astype(np.float32), weight.astype(np.float32),
                           bias.astype(np.float32)).value
    expect_close(expect_finite(got, "conv2d_forward with float32 inputs"), ref.conv2d_forward(x, weight, bias),
                 "conv2d_forward(x, weight, bias) with float32 inputs", FLOAT32)


@check("cnn.conv2d_forward: inputs unchanged")
def conv_forward_unchanged(ctx):
    x, weight, bias = cases.conv_inputs(214, 2, 2, 6, 6, 3, 3, 3)
    reply = ctx.student.call("cnn.conv2d_forward", x, weight, bias, echo=True)
    expect_unchanged(reply, {"x": x, "weight": weight, "bias": bias}, "conv2d_forward(x, weight, bias)")


# ---- conv2d_backward -------------------------------------------------------------------------------
def backward_reply(ctx, seed, n, c, h, w, f, kh, kw, echo=False, fixed=False):
    x, weight, _ = cases.conv_inputs(seed, n, c, h, w, f, kh, kw, fixed=fixed)
    dout = cases.rng(seed + 1, fixed).normal(size=(n, f, h - kh + 1, w - kw + 1))
    reply = ctx.student.call("cnn.conv2d_backward", dout, x, weight, echo=echo)
    what = f"conv2d_backward(dout, x, weight) with x {x.shape}, weight {weight.shape}"
    return reply, expect_triple(reply.value, what), (dout, x, weight), what


def expect_triple(got, what):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed(f"{what} returned {type(got).__name__}; expected a tuple (dx, dweight, dbias).")
    return got


@check("cnn.conv2d_backward: shapes and dtypes")
def conv_backward_shapes(ctx):
    for config in CONFIGS:
        _, got, (dout, x, weight), what = backward_reply(ctx, 220, *config)
        for name, value, shape in zip(("dx", "dweight", "dbias"), got, (x.shape, weight.shape, (weight.shape[0],))):
            expect_shape(value, shape, f"{name} from {what}",
                         "dbias sums dout over axes (0, 2, 3)." if name == "dbias" else "")
            expect_dtype(value, np.float64, f"{name} from {what} with float64 inputs")


@check("cnn.conv2d_backward: gradients match the reference")
def conv_backward_values(ctx):
    for config in CONFIGS:
        _, got, (dout, x, weight), what = backward_reply(ctx, 221, *config)
        dx, dweight, dbias = ref.conv2d_backward(dout, x, weight)
        expect_close(got[0], dx, f"dx from {what}", GRADIENTS,
                     signatures=[("dx is computed with an unflipped kernel (dx is a full convolution with the "
                                  "kernel flipped; or loop over (p, q) and add dout * weight[:, :, p, q])",
                                  ref.conv2d_backward(dout, x, weight[:, :, ::-1, ::-1])[0])])
        expect_close(got[1], dweight, f"dweight from {what}", GRADIENTS,
                     signatures=[("dweight is flipped in (p, q)", dweight[:, :, ::-1, ::-1])])
        expect_close(got[2], dbias, f"dbias from {what}", GRADIENTS)


@check("cnn.conv2d_backward: numerical gradient check")
def conv_backward_numerical(ctx):
    """Directional central differences of sum(conv2d_forward(x, weight, bias) * dout), taken here with
    the contract's forward pass, against the student's dx, dweight, dbias."""
    _, got, (dout, x, weight), what = backward_reply(ctx, 222, 2, 2, 6, 5, 3, 3, 2, fixed=True)
    bias = cases.rng(223, fixed=True).normal(size=weight.shape[0])
    rng, h = cases.rng(224, fixed=True), 1e-5
    for index, (name, value) in enumerate((("x", x), ("weight", weight), ("bias", bias))):
        direction = rng.normal(size=value.shape)
        totals = []
        for sign in (1, -1):
            args = [x, weight, bias]
            args[index] = value + sign * h * direction
            totals.append(float(np.sum(ref.conv2d_forward(*args) * dout)))
        numeric = (totals[0] - totals[1]) / (2 * h)
        analytic = float(np.sum(expect_shape(got[index], value.shape, f"d{name}") * direction))
        if not abs(numeric - analytic) <= 1e-5 * max(abs(numeric), abs(analytic)) + 1e-7:
            raise CheckFailed(f"d{name} from {what} disagrees with central differences of the convolution: along a "
                              f"random direction the output changes at rate {numeric:.6g}, your d{name} says {analytic:.6g}.")


@check("cnn.conv2d_backward: non-contiguous and float32 inputs")
def conv_backward_layouts(ctx):
    x, weight, _ = cases.conv_inputs(226, 2, 3, 8, 6, 4, 3, 3)
    dout = cases.rng(227).normal(size=(2, 4, 6, 4))
    want = ref.conv2d_backward(dout, x, weight)
    layout_hint = (" The same values in another memory layout must give the same gradients: take strides from "
                   "the array itself (x.strides), never from its shape and itemsize.")
    calls = [(f"{label} and dout as given", (dout, variant, weight), GRADIENTS, layout_hint)
             for label, variant in cases.layouts(x)]
    calls += [(f"{label.replace(' x', ' dout')} and x as given", (variant, x, weight), GRADIENTS, layout_hint)
              for label, variant in cases.layouts(dout)]
    calls.append(("float32 dout, x and weight", tuple(a.astype(np.float32) for a in (dout, x, weight)), FLOAT32, ""))
    for label, args, tol, hint in calls:
        what = f"conv2d_backward(dout, x, weight) with {label}"
        got = expect_triple(ctx.student.call("cnn.conv2d_backward", *args).value, what)
        try:
            for name, value, expected in zip(("dx", "dweight", "dbias"), got, want):
                expect_close(expect_finite(value, f"{name} from {what}"), expected, f"{name} from {what}", tol)
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}{hint}")


@check("cnn.conv2d_backward: inputs unchanged")
def conv_backward_unchanged(ctx):
    reply, _, (dout, x, weight), what = backward_reply(ctx, 225, 2, 2, 6, 6, 3, 3, 3, echo=True)
    expect_unchanged(reply, {"dout": dout, "x": x, "weight": weight}, "conv2d_backward(dout, x, weight)")


