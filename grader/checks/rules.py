"""The rules every submission follows: policy.no_torch (no autodiff library, only allowed
imports) and policy.vectorized (the convolution runs at NumPy speed, not Python-loop speed)."""
import numpy as np

from grader import cases
from grader.checks import check
from grader.errors import CheckFailed, NotWritten
from grader import reference
from grader.reference import SOLUTION_DIR
from grader.sandbox.session import Session


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
    for attempt in ctx.shared.get("banned_attempts", []):
        where = attempt["where"][-1] if attempt["where"] else None
        findings.append(f"{where[0]}:{where[1]}: {where[3]} tried to import {attempt['module']}" if where
                        else f"your code tried to import {attempt['module']}")
    if findings:
        raise CheckFailed("torch, tensorflow, jax, keras and other autodiff libraries are not allowed in "
                          "functional.py, mlp.py and cnn.py:\n  " + "\n  ".join(dict.fromkeys(findings)))


@check("policy.no_torch: only allowed imports", group="policy")
def allowed_imports(ctx):
    require_written(ctx)
    scan = ctx.submission.scan
    if scan.not_allowed:
        raise CheckFailed("Only numpy and harmless standard-library modules ("
                          + ", ".join(sorted(ctx.rubric.allowed_imports - {"numpy"})) + ") may be imported:\n  "
                          + "\n  ".join(str(f) for f in scan.not_allowed))


CONV = (128, 1, 28, 28, 8, 3, 3)


def best_times(session, timeout):
    x, weight, bias = cases.conv_inputs(300, *CONV)
    dout = cases.rng(301).normal(size=(128, 8, 26, 26))
    forward = session.time("cnn.conv2d_forward", x, weight, bias, repeat=5, timeout=timeout)
    backward = session.time("cnn.conv2d_backward", dout, x, weight, repeat=5, timeout=timeout)
    return forward, backward


@check("policy.vectorized: convolution speed", budget=120.0)
def vectorized(ctx):
    """Times conv2d_forward and conv2d_backward on a batch of 128 MNIST-sized images, against the
    reference timed the same way, in a child process, in the same grading run."""
    factor = ctx.rubric.vectorized_factor

    def measure_reference():
        with Session(SOLUTION_DIR, ["functional", "cnn"], trusted=True) as reference_session:
            return best_times(reference_session, timeout=60)
    want = reference.timed("conv2d", measure_reference)
    limit = max(2.0, factor * max(want) * 2)
    try:
        got = best_times(ctx.student, timeout=limit)
    except NotWritten:
        raise
    except CheckFailed as failure:
        if "did not finish" not in str(failure):
            raise
        got = (float("inf"), float("inf"))
    for name, mine, theirs in zip(("conv2d_forward", "conv2d_backward"), got, want):
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
    return f"conv2d_forward {got[0] * 1000:.1f} ms, conv2d_backward {got[1] * 1000:.1f} ms (reference {want[0] * 1000:.1f} / {want[1] * 1000:.1f} ms)"


def conv_calls(n, size):
    """Arguments of conv2d_forward and conv2d_backward for n images of size x size."""
    x, weight, bias = cases.conv_inputs(310, n, 1, size, size, 3, 3, 3)
    dout = cases.rng(311).normal(size=(n, 3, size - 2, size - 2))
    return {"cnn.conv2d_forward": (x, weight, bias), "cnn.conv2d_backward": (dout, x, weight)}


@check("policy.vectorized: no loops over samples or pixels")
def no_sample_or_pixel_loops(ctx):
    """Counts the lines of Python the convolution runs: vectorized code runs as many for 40 images
    of 20x20 as for 2 images of 8x8; a loop over samples or pixels runs more. Loops over the kernel
    offsets or the filters are fine (their counts do not change here)."""
    small, more_images, more_pixels = conv_calls(2, 8), conv_calls(40, 8), conv_calls(2, 20)
    slack = 4
    for fn in small:
        name = fn.split(".")[1]
        base = ctx.student.count_lines(fn, *small[fn])
        for label, calls, what in (("images", more_images, "sample"), ("pixels", more_pixels, "pixel")):
            lines = ctx.student.count_lines(fn, *calls[fn])
            if lines > base + slack:
                raise CheckFailed(
                    f"{name} runs {base} lines of Python for 2 images of 8x8 but {lines} for "
                    + ("40 images of 8x8" if label == "images" else "2 images of 20x20")
                    + f": it loops over {label}. Loop at most over the kh*kw kernel offsets or the filters, never "
                    f"over {what}s; let NumPy handle the batch and the pixels (extract_patches and one contraction).")
    return "no Python loop over samples or pixels"
