"""The rules every submission follows: policy.no_torch (no autodiff library, only allowed
imports) and policy.vectorized (the convolution runs at NumPy speed, not Python-loop speed).
policy.no_torch has no child (group "policy"): it reads the sources and what the other groups' children
reported. policy.vectorized times the student's cnn.py, in the "models" group's child.

Every time here is the grader's own wall time of one request's round trip to the child (Reply.seconds),
best of several calls, each on fresh inputs drawn from the salted generator, and every timed answer is
checked (conv_mistake): a time only counts for right values, so memoizing, or answering fast and wrong
when the inputs look like a timing, gains nothing. The reference is timed the same way, in a trusted
child, in the same grading run, on the first of those inputs every time (first_draw).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader import cases
from grader.checks import check
from grader.compare import GRADIENTS
from grader.errors import CheckFailed, NotWritten, StudentTimeout
from grader import reference
from grader.reference import SOLUTION_DIR
from grader.sandbox.session import Session, describe
from grader.training import BATCH_SIZE


def require_written(ctx):
    if not ctx.submission.scan.written:
        raise NotWritten("Nothing is written yet; the rules are checked once your code is.")


@check("policy.no_torch: no autodiff library", group="policy")
def no_autodiff(ctx):
    require_written(ctx)
    scan = ctx.submission.scan
    if scan.parse_errors:
        raise CheckFailed("Could not read " + ", ".join(f"{f} ({m})" for f, m in scan.parse_errors.items())
                          + "; the imports of a file that does not parse cannot be checked.")
    findings = [f"{f} imports a banned library" for f in scan.banned]
    findings += [f"{f} uses import machinery (only plain `import numpy as np` style imports are allowed)"
                 for f in scan.dynamic]
    findings += [f"{f} reaches into frames or interpreter hooks (tracebacks' tb_frame, f_back, f_globals, "
                 "__subclasses__, ...), the way to the grader's own code; your model never needs them"
                 for f in scan.introspection]
    findings += [attempt_finding(ctx.submission, attempt) for attempt in ctx.run.banned_attempts]
    if findings:
        raise CheckFailed("torch, tensorflow, jax, keras and other autodiff libraries are not allowed in "
                          "functional.py, mlp.py and cnn.py:\n  " + "\n  ".join(dict.fromkeys(findings)))


ATTEMPTS = {     # what the child's tripwire reports (sandbox/child.py), as the end of a sentence
    "frame": "reached for {what} (frames and code objects lead to the grader's own code; your model never "
             "needs them)",
    "gc": "called {what} (the garbage collector's object lists lead to the grader's own code)",
    "trace": "called {what} (tracing and audit hooks watch the grader's own code)",
    "ctypes": "used ctypes ({what}): raw memory access is not allowed",
    "process": "tried to start a process ({what})",
    "interpreter": "tried to start a subinterpreter ({what})",
}


def attempt_finding(submission, attempt):
    """One attempt the child reported, as a line for the student: where (with the line of code, read
    from the submission here) and what."""
    what = (f"tried to import {attempt['what']}" if attempt["kind"] == "import"
            else ATTEMPTS[attempt["kind"]].format(what=attempt["what"]))
    if not attempt["where"]:
        return f"your code {what}"
    file, line = attempt["where"][-1]
    lines = (submission.sources.get(file) or "").splitlines()
    code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"{file}:{line}: {code} {what}" if code else f"{file}:{line}: {what}"


@check("policy.no_torch: only allowed imports", group="policy")
def allowed_imports(ctx):
    require_written(ctx)
    scan = ctx.submission.scan
    if scan.not_allowed:
        raise CheckFailed("Only numpy and harmless standard-library modules ("
                          + ", ".join(sorted(ctx.rubric.allowed_imports - {"numpy"})) + ") may be imported:\n  "
                          + "\n  ".join(str(f) for f in scan.not_allowed))


# ---- checking a timed answer -------------------------------------------------------------------------
PICKS = 200           # positions of each timed answer compared with the contract's formula


def conv_args(name, seed, n, c, h, w, f, kh, kw):
    """Fresh arguments of cnn.<name> for n images (C, H, W) and F filters of kh x kw."""
    x, weight, bias = cases.conv_inputs(seed, n, c, h, w, f, kh, kw)
    if name == "conv2d_forward":
        return x, weight, bias
    return cases.rng(seed + 1).normal(size=(n, f, h - kh + 1, w - kw + 1)), x, weight


def conv_mistake(name, args, value):
    """None if value is what cnn.<name>(*args) must return, else a sentence saying where it is not.
    Checked here, by the contract's formulas, at PICKS positions of each output array (all of dweight
    and dbias): cheap at any size. The positions are drawn from the operating system's entropy after
    the answer is in, so code that computes only some of them cannot know which."""
    rng = np.random.default_rng()
    if name == "conv2d_forward":
        x, weight, bias = args
        (n, c, h, w), (f, _, kh, kw) = x.shape, weight.shape
        outputs = [("the output", value, (n, f, h - kh + 1, w - kw + 1))]
    else:
        dout, x, weight = args
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            return f"it returned {describe(value)}, not a tuple (dx, dweight, dbias)"
        outputs = [("dx", value[0], x.shape), ("dweight", value[1], weight.shape), ("dbias", value[2], weight.shape[:1])]
    for label, got, shape in outputs:
        if not isinstance(got, np.ndarray) or got.shape != tuple(shape) or got.dtype.kind not in "fiu":
            return f"{label} is {describe(got)}, not an array of shape {tuple(shape)}"
    kh, kw = weight.shape[2:]
    if name == "conv2d_forward":
        index = tuple(rng.integers(0, d, size=PICKS) for d in outputs[0][2])
        n, f, i, j = index
        windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[n, :, i, j]            # (M, C, kh, kw)
        wants = [("the output", value[index], np.einsum("mcpq,mcpq->m", windows, weight[f]) + bias[f], index)]
    else:
        dx, dweight, dbias = value
        index = tuple(rng.integers(0, d, size=PICKS) for d in x.shape)
        n, c, i, j = index
        padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[n, :, i, j]       # (M, F, kh, kw)
        flipped = np.moveaxis(weight[:, c, ::-1, ::-1], 1, 0)                           # (M, F, kh, kw)
        want_dweight = np.einsum("nfij,ncijpq->fcpq", dout, sliding_window_view(x, (kh, kw), axis=(2, 3)),
                                 optimize=True)
        wants = [("dx", dx[index], np.einsum("mfpq,mfpq->m", windows, flipped), index),
                 ("dweight", dweight.ravel(), want_dweight.ravel(), None),
                 ("dbias", dbias, dout.sum(axis=(0, 2, 3)), None)]
    for label, got, want, index in wants:
        bad = ~np.isclose(got, want, **GRADIENTS)
        if bad.any():
            k = int(np.argmax(bad))
            where = tuple(int(a[k]) for a in index) if index is not None else np.unravel_index(
                k, dict(dweight=weight.shape, dbias=weight.shape[:1])[label])
            return f"{label} at index {tuple(int(i) for i in where)} is {got[k]:.6g}, expected {want[k]:.6g}"
    return None


def drawn_once(make_args):
    """make_args(r), drawn once for each r and then handed out again (read-only): the reference and the
    student are timed on the same inputs, which cost more to draw than to send."""
    drawn = {}

    def make(r):
        if r not in drawn:
            args = make_args(r)
            for array in args:
                array.flags.writeable = False
            drawn[r] = args
        return drawn[r]
    return make


def timed(session, name, make_args, repeat, timeout, enough=None, check=True):
    """The best round-trip time of up to `repeat` calls of cnn.<name>, each on fresh arguments
    make_args(r), stopping early once one took at most `enough` seconds. Returns (best time of the
    calls whose answers were right, best time of all, the first mistake as (arguments, sentence))."""
    best_right = best_all = float("inf")
    mistake = None
    for r in range(repeat):
        args = make_args(r)
        reply = session.call("cnn." + name, *args, timeout=timeout)
        problem = conv_mistake(name, args, reply.value) if check else None
        best_all = min(best_all, reply.seconds)
        if problem is None:
            best_right = min(best_right, reply.seconds)
        elif mistake is None:
            mistake = (args, problem)
        if enough is not None and best_right <= enough:
            break
    return best_right, best_all, mistake


def trusted_time(ctx, name, timeout, mistake):
    """The time to judge when some timed answers were wrong. Wrong everywhere is a plain bug, graded by
    the cnn.conv2d_* checks: its speed is judged as measured. Right on ordinary inputs but wrong on
    timed ones means the time says nothing: that fails."""
    args, problem = mistake
    ordinary = conv_args(name, 330, 2, 3, 8, 6, 4, 3, 3)
    reply = ctx.student.call("cnn." + name, *ordinary, timeout=timeout)
    if conv_mistake(name, ordinary, reply.value) is None:
        shapes = ", ".join(f"{label} {a.shape}" for label, a in zip(ARG_NAMES[name], args))
        raise CheckFailed(f"{name} with {shapes} returned wrong values ({problem}), though it is right on small "
                          "inputs, so its time there says nothing. It must compute every input by the same "
                          "formula, whatever its size (a 1x1 kernel or image included).")


ARG_NAMES = {"conv2d_forward": ("x", "weight", "bias"), "conv2d_backward": ("dout", "x", "weight")}


# ---- policy.vectorized: convolution speed ------------------------------------------------------------
CONV = (BATCH_SIZE, 1, 28, 28, 8, 3, 3)      # N, C, H, W, F, kh, kw: a training batch of MNIST
SPEED_REPEAT = 5


def speed_args(name):
    return lambda r: conv_args(name, 300 + 10 * r, *CONV)


def first_draw(make_args):
    """make_args(0) for every call: the reference is trusted code, which fresh inputs test for nothing,
    and each fresh draw (dout of a training batch is 700,000 normal numbers) cost more than the call."""
    return lambda r: make_args(0)


def reference_session(ctx):
    """The reference solution in a trusted child of its own, timed as the student's child is: one for
    the group's checks that time it, started by the first (Context.close stops it with the group's)."""
    if ctx.reference is None:
        ctx.reference = Session(SOLUTION_DIR, ["functional", "cnn"], trusted=True)
    return ctx.reference


def reference_speed(ctx, make_args):
    """The reference's best times, measured now (or replayed in the public kit), on make_args[name]."""
    def measure():
        return {name: timed(reference_session(ctx), name, first_draw(make_args[name]), SPEED_REPEAT, 60, check=False)[0]
                for name in ("conv2d_forward", "conv2d_backward")}
    return reference.timed("conv2d", measure)


@check("policy.vectorized: convolution speed", group="models", budget=120.0)     # times the student's cnn.py
def vectorized(ctx):
    """Times conv2d_forward and conv2d_backward on a batch of 128 MNIST-sized images, against the
    reference timed the same way, in a child process, in the same grading run."""
    factor = ctx.rubric.vectorized_factor
    make_args = {name: drawn_once(speed_args(name)) for name in ("conv2d_forward", "conv2d_backward")}
    want = reference_speed(ctx, make_args)
    limit = max(2.0, factor * max(want.values()) * 2)
    got = {}
    for name in ("conv2d_forward", "conv2d_backward"):
        try:
            right, every, mistake = timed(ctx.student, name, make_args[name], SPEED_REPEAT, limit,
                                          enough=factor * want[name])
        except StudentTimeout:
            right = every = float("inf")
            mistake = None
        if mistake is not None and right == float("inf"):
            trusted_time(ctx, name, limit, mistake)
            right = every
        got[name] = right
    for name, mine in got.items():
        theirs = want[name]
        if mine > factor * theirs:
            loops = ctx.submission.scan.loops.get(f"cnn.{name}", 0)
            raise CheckFailed(
                f"{name} on a batch of {CONV[0]} images of 28x28 with 8 filters took "
                + (f"{mine * 1000:.0f} ms" if np.isfinite(mine) else f"more than {limit:.0f} s")
                + f", more than {factor}x the reference's {theirs * 1000:.1f} ms."
                + (f" It has {loops} nested Python loops: loop at most over the kh*kw kernel offsets or the filters,"
                   " never over samples or pixels." if loops >= 2 else
                   " If it does not loop over samples or pixels (map() and np.vectorize loop too), the cause is"
                   " probably a huge temporary: a broadcast product such as patches[:, None] * weight[None, ...]"
                   " summed over the window axes builds an (N, F, C, OH, OW, kh, kw) array. Contract with"
                   " np.tensordot, np.matmul or np.einsum(..., optimize=True) instead."))
    forward, backward = got["conv2d_forward"], got["conv2d_backward"]
    return (f"conv2d_forward {forward * 1000:.1f} ms, conv2d_backward {backward * 1000:.1f} ms (reference "
            f"{want['conv2d_forward'] * 1000:.1f} / {want['conv2d_backward'] * 1000:.1f} ms)")


# ---- policy.vectorized: no loops over samples or pixels --------------------------------------------
# The same number of output pixels laid out three ways: many images of one output pixel, one wide image,
# one tall image. NumPy code takes about as long as the reference on each (the time is mostly sending
# the arrays), while a Python loop over samples, pixels, rows or columns turns LAYOUT_PIXELS times on at
# least one of them, at a microsecond or more per turn. Loops over kernel offsets or filters turn at most
# six times. Kernels are small (1 or 2 rows and columns, drawn from the salted generator, so code cannot
# keep NumPy for one exact shape; conv2d_backward gets 1x1), because slow but loop-free styles (broadcast
# products summed over the window, plain einsum) pay a little per window: a fraction of a microsecond
# here, but more than a tight Python loop with larger kernels.
LAYOUT_PIXELS = 30_000
LAYOUTS = {"images": "samples", "wide": "pixels (or columns)", "tall": "pixels (or rows)"}
LOOP_REPEAT = 5
LOOP_FLOOR = 0.020         # seconds a loop-free submission may take beyond the reference, at least
LOOP_FACTOR = 2.0          # ... or this many times the reference's own time, if more


def layout_args(name, layout):
    """make_args(r) for the timed calls of cnn.<name> on one layout (see LAYOUTS)."""
    def make_args(r):
        seed = 400 + 100 * list(LAYOUTS).index(layout) + 10 * r + (5 if name == "conv2d_backward" else 0)
        draw = cases.rng(seed)
        f = int(draw.integers(2, 4))
        kh, kw = (1, 1) if name == "conv2d_backward" else (int(draw.integers(1, 3)), int(draw.integers(1, 3)))
        n, h, w = {"images": (LAYOUT_PIXELS, kh, kw), "wide": (1, kh, LAYOUT_PIXELS + kw - 1),
                   "tall": (1, LAYOUT_PIXELS + kh - 1, kw)}[layout]
        return conv_args(name, seed + 1, n, 1, h, w, f, kh, kw)
    return make_args


def layout_label(name, args):
    x, weight = (args[0], args[1]) if name == "conv2d_forward" else (args[1], args[2])
    (n, _, h, w), (f, _, kh, kw) = x.shape, weight.shape
    return f"{n} image{'s' if n > 1 else ''} of {h}x{w} ({f} filters of {kh}x{kw})"


def reference_layouts(ctx, make_args):
    """The reference's best times on each layout, measured now (or replayed in the public kit), on
    make_args["<name> <layout>"]."""
    def measure():
        return {key: timed(reference_session(ctx), key.split()[0], first_draw(make), LOOP_REPEAT, 60, check=False)[0]
                for key, make in make_args.items()}
    return reference.timed("conv2d.layouts", measure)


@check("policy.vectorized: no loops over samples or pixels", group="models", budget=60.0)
def no_sample_or_pixel_loops(ctx):
    """Times the convolution on the three layouts of LAYOUTS against the reference (see there)."""
    drawn = {f"{name} {layout}": drawn_once(layout_args(name, layout))
             for name in ("conv2d_forward", "conv2d_backward") for layout in LAYOUTS}
    want = reference_layouts(ctx, drawn)
    for name in ("conv2d_forward", "conv2d_backward"):
        for layout, loop in LAYOUTS.items():
            theirs = want[f"{name} {layout}"]
            allowed = theirs + max(LOOP_FLOOR, LOOP_FACTOR * theirs)
            make_args = drawn[f"{name} {layout}"]
            right, every, mistake = timed(ctx.student, name, make_args, LOOP_REPEAT, ctx.rubric.call_seconds,
                                          enough=allowed)
            if mistake is not None and right == float("inf"):
                trusted_time(ctx, name, ctx.rubric.call_seconds, mistake)
                right = every
            if right > allowed:
                raise CheckFailed(
                    f"{name} took {right * 1000:.0f} ms for {layout_label(name, make_args(0))}, "
                    f"{(right - theirs) * 1000:.0f} ms more than the reference's {theirs * 1000:.1f} ms: it loops in "
                    f"Python over {loop}, which costs a microsecond or more per turn, while NumPy code takes about "
                    "as long as the reference here. Loop at most over the kh*kw kernel offsets or the filters, never "
                    "over samples or pixels; let NumPy handle the batch and the pixels (extract_patches and one "
                    "contraction).")
    return "no Python loop over samples or pixels"
