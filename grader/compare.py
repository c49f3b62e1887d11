"""Expectations, judged in the parent: each helper returns quietly or raises CheckFailed with a
message that says what was called, what came back, what was expected and, where a classic bug
fits the numbers, which bug it probably is."""
import numpy as np

from grader.errors import CheckFailed
from grader.sandbox.session import describe

# float64 answers must match tightly; a correct float32 (or tanh-based) computation must still pass.
VALUES = dict(rtol=1e-5, atol=1e-7)
GRADIENTS = dict(rtol=1e-4, atol=1e-7)
FLOAT32 = dict(rtol=2e-3, atol=1e-4)


def expect_array(value, what):
    """The value is a NumPy array of numbers (not a list, None, NaN-free is checked elsewhere)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return value
    if isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} returned an array of dtype {value.dtype}; expected numbers (float64).")
    if isinstance(value, list):
        raise CheckFailed(f"{what} returned a Python list; return a NumPy array (np.array(...)).")
    raise CheckFailed(f"{what} returned {describe(value)}; expected a NumPy array."
                      + (" Did you forget a `return`?" if value is None else ""))


def expect_shape(value, shape, what, hint=""):
    value = expect_array(value, what)
    if value.shape != tuple(shape):
        message = f"{what} returned shape {value.shape}; expected {tuple(shape)}."
        if value.shape == tuple(shape)[::-1] and len(shape) > 1:
            message += " It looks transposed."
        elif tuple(d for d in value.shape if d != 1) == tuple(d for d in shape if d != 1):
            message += (" Only axes of length 1 differ: drop keepdims=True or a [:, None], or add a "
                        "missing axis (a reshape, or np.squeeze where one is too many).")
        elif value.size == int(np.prod(shape)):
            message += " Same number of entries: check the order of your reshape or transpose."
        raise CheckFailed(message + (f" {hint}" if hint else ""))
    return value


def expect_dtype(value, dtype, what):
    value = expect_array(value, what)
    if value.dtype != np.dtype(dtype):
        raise CheckFailed(f"{what} returned dtype {value.dtype}; expected {np.dtype(dtype)} "
                          f"(for {np.dtype(dtype)} inputs). Avoid hard-coded .astype(...) or dtype=... arguments.")
    return value


EXP_LOG_HINT = "Subtract the maximum before exp(), clip before log()."


def expect_finite(value, what, hint=""):
    """No NaN or infinity in value; hint: what usually causes one here (EXP_LOG_HINT where exp or log
    is computed), else the message says only where the first one is."""
    value = expect_array(value, what)
    bad = ~np.isfinite(value)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(f"{what} returned {value[index]} at index {index} ({int(bad.sum())} of {value.size} "
                          "entries are NaN or infinite)." + (f" {hint}" if hint else ""))
    return value


def expect_no_warnings(reply, what):
    counted = [w for w in reply.warnings if w["category"] == "RuntimeWarning"
               and any(word in w["message"] for word in ("overflow", "invalid value", "divide by zero"))]
    if counted:
        w = counted[0]
        where = f" at {w['where'][0]}:{w['where'][1]}" if w.get("where") else ""
        raise CheckFailed(f"{what} warned \"{w['message']}\"{where}. Rewrite it so no exp() sees a large "
                          "positive number and no log() sees 0 (underflow to 0 is fine).")


def expect_unchanged(reply, sent, what):
    """sent: {name: array} for the call's array inputs, in argument order (dict arguments flattened)."""
    for (name, before), after in zip(sent.items(), reply.echo):
        if not np.array_equal(after, before, equal_nan=True):
            raise CheckFailed(f"{what} changed its input {name} in place. Work on new arrays "
                              "(x = x - m, not x -= m) so the caller's data stays as it was.")


def close(got, want, tol):
    return got.shape == want.shape and np.allclose(got, want, **tol)


def expect_close(got, want, what, tol=VALUES, signatures=(), n=None):
    """got matches want within rtol/atol. On a mismatch the message names the worst entry and any
    bug signature that fits: off by a factor N, sign flipped, transposed, or one of `signatures`,
    a list of (description, value the buggy code would return)."""
    want = np.asarray(want)
    if isinstance(got, (float, np.floating)):          # scalars (a loss) compare like 0-d arrays
        got = np.asarray(got)
    got = expect_shape(got, want.shape, what)
    if np.allclose(got, want, **tol):
        return got
    bad = ~np.isclose(got, want, **tol)
    excess = np.where(bad, np.abs(got - want) - tol["atol"] - tol["rtol"] * np.abs(want), -np.inf)
    excess = np.nan_to_num(excess, nan=np.inf)
    index = tuple(int(i) for i in np.unravel_index(np.argmax(excess), want.shape)) if want.ndim else ()
    message = (f"{what} differs from the expected values: {int(bad.sum())} of {want.size} entries are off; "
               f"at index {index} got {got[index]:.6g}, expected {want[index]:.6g} "
               f"(rtol {tol['rtol']:g}, atol {tol['atol']:g}).")
    guesses = list(signatures)
    if n:
        guesses += [(f"{n} times too large: divide by the batch size N = {n} exactly once", want * n),
                    (f"{n} times too small: you divide by the batch size N = {n} twice", want / n)]
    guesses += [("the sign is flipped", -want)]
    for description, buggy in guesses:
        buggy = np.asarray(buggy)
        if buggy.shape == want.shape and np.allclose(got, buggy, **tol) and not np.allclose(buggy, want, **tol):
            message += f" It looks like {description}."
            break
    raise CheckFailed(message)


def expect_scalar(value, what):
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        return float(value)
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        raise CheckFailed(f"{what} returned an array of shape {value.shape}; return a scalar "
                          "(e.g. np.mean(...) or float(...)).")
    raise CheckFailed(f"{what} returned {describe(value)}; expected a scalar (a float).")


def expect_dict(value, keys, what):
    if not isinstance(value, dict):
        raise CheckFailed(f"{what} returned {describe(value)}; expected a dict with keys {sorted(keys)}.")
    if set(value) != set(keys):
        missing, extra = sorted(set(keys) - set(value)), sorted(set(value) - set(keys))
        raise CheckFailed(f"{what} returned a dict with keys {sorted(value)}; expected exactly {sorted(keys)}"
                          + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else "") + ".")
    return value
