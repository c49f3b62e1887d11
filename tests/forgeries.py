"""Submissions that try to earn points from what the grader measures inside the student's process,
each a few text edits of solution/ (built like tests/hostile.py's cases, with its anchors).

Code in the child can rewrite anything in its own process, so no verdict may rest on a measurement
taken there. Each case below got the points it names from an earlier grader that timed, counted
lines and tested views in the child, or checked stability on fixed inputs; each must now lose them:

    zero   check ids that must score 0
    full   item prefixes (as in hostile.py) whose every check must keep full marks
    modes  sandboxes to grade it in (MNIST_GRADER_SANDBOX): "bwrap" masks torch, "none" does not
"""
from dataclasses import dataclass
from typing import Tuple

from hostile import (CNN_IMPORTS, CONV2D_FORWARD_BODY, FUNCTIONAL, MLP_BACKWARD_BODY, NUMPY, RELU_BODY,
                     SIGMOID_BODY, SOFTMAX_BODY, after, before)


@dataclass(frozen=True)
class Forgery:
    id: str
    note: str
    edits: Tuple[Tuple[str, str, str], ...]
    zero: Tuple[str, ...]
    full: Tuple[str, ...] = ()
    modes: Tuple[str, ...] = ("bwrap",)


CONV2D_BACKWARD_BODY = '    For dx, a loop over the kh * kw kernel offsets (p, q) is fine.\n    """\n'
EXTRACT_PATCHES_BODY = '    - patches: read-only view of x, shape (N, C, H - kh + 1, W - kw + 1, kh, kw)\n    """\n'
CROSS_ENTROPY_BODY = '    - loss: a scalar (Python float, NumPy float or 0-d array)\n    """\n'
CNN_ALL = ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward", "cnn.init", "cnn.forward",
           "cnn.backward", "cnn.step")
MLP_ALL = ("mlp.init", "mlp.forward", "mlp.backward", "mlp.step")

# conv2d_forward by a Python loop over output pixels (vectorized over the batch), into `out`
PIXEL_LOOP = """\
F, _, kh, kw = weight.shape
N, _, H, W = x.shape
out = np.zeros((N, F, H - kh + 1, W - kw + 1), dtype=np.result_type(x, weight, bias))
for i in range(H - kh + 1):
    for j in range(W - kw + 1):
        out[:, :, i, j] = np.tensordot(x[:, :, i:i + kh, j:j + kw], weight, axes=([1, 2, 3], [1, 2, 3])) + bias
"""


def indent(code, spaces):
    return "".join(" " * spaces + line if line.strip() else line for line in code.splitlines(True))


FORGERIES = [
    Forgery(
        "conv_loops_unless_traced",
        "conv2d_forward loops over pixels, but runs the reference's NumPy code while sys.gettrace() is set (a "
        "line counter) and answers repeated inputs from memory (a timer's repeats): the loop must cost the "
        "no-loops check.",
        edits=(before("cnn.py", NUMPY, "import sys\n\n"),
               after("cnn.py", CNN_IMPORTS, "\n_ANSWERS = {}          # the inputs' bytes -> the answer given then\n"),
               after("cnn.py", CONV2D_FORWARD_BODY,
                     "    if sys.gettrace() is None:          # not line-counted: loop, and remember every answer\n"
                     "        key = (x.shape, x.tobytes(), weight.tobytes(), bias.tobytes())\n"
                     "        if key not in _ANSWERS:\n"
                     + indent(PIXEL_LOOP, 12) +
                     "            _ANSWERS[key] = out\n"
                     "        return _ANSWERS[key].copy()\n")),
        zero=("policy.vectorized: no loops over samples or pixels",),
        full=FUNCTIONAL + MLP_ALL + CNN_ALL,
    ),
    Forgery(
        "conv_backward_answers_the_timer",
        "conv2d_backward computes dx pixel by pixel, except on the line counter's probe shapes (NumPy there), "
        "and answers a call with the same shapes as the one before (a timer's repeats) with the old answer: "
        "the pixel loop must cost the no-loops check.",
        edits=(after("cnn.py", CNN_IMPORTS,
                     "\n_LAST = {}                                            # the previous call: shapes, answer\n"
                     "_PROBES = {(2, 3, 6, 6), (40, 3, 6, 6), (2, 3, 18, 18)}   # dout of the line counter's calls\n"),
               after("cnn.py", CONV2D_BACKWARD_BODY,
                     "    shapes = (dout.shape, x.shape, weight.shape)\n"
                     "    if _LAST.get(\"shapes\") == shapes:          # the timer again: answer at once\n"
                     "        return _LAST[\"answer\"]\n"
                     "    if dout.shape not in _PROBES:                # anything but the probes: dx pixel by pixel\n"
                     "        F, C, kh, kw = weight.shape\n"
                     "        N, _, OH, OW = dout.shape\n"
                     "        dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))\n"
                     "        for i in range(OH):\n"
                     "            for j in range(OW):\n"
                     "                dx[:, :, i:i + kh, j:j + kw] += np.tensordot(dout[:, :, i, j], weight, axes=([1], [0]))\n"
                     "        dweight = np.einsum(\"nfij,ncijpq->fcpq\", dout, extract_patches(x, kh, kw))\n"
                     "        answer = (dx, dweight, dout.sum(axis=(0, 2, 3)))\n"
                     "        _LAST.update(shapes=shapes, answer=answer)\n"
                     "        return answer\n")),
        zero=("policy.vectorized: no loops over samples or pixels",),
        full=FUNCTIONAL + MLP_ALL + ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.init", "cnn.forward",
                                     "cnn.backward", "cnn.step"),
    ),
    Forgery(
        "patches_copy_with_forged_shares_memory",
        "extract_patches returns a copy of the windows and rebinds the grader's own reference to "
        "np.shares_memory in this process (__main__._shares_memory) and numpy's to say True: both view "
        "checks must score 0.",
        edits=(before("cnn.py", NUMPY, "import __main__\n\n"),
               after("cnn.py", EXTRACT_PATCHES_BODY,
                     "    __main__._shares_memory = lambda a, b, *args, **kwargs: True\n"
                     "    np.shares_memory = np.may_share_memory = __main__._shares_memory\n"
                     "    N, C, H, W = x.shape\n"
                     "    sN, sC, sH, sW = x.strides\n"
                     "    return np.array(as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),\n"
                     "                               strides=(sN, sC, sH, sW, sH, sW)))\n")),
        zero=("cnn.extract_patches: a view of x", "cnn.extract_patches: non-contiguous and float32 inputs"),
        full=FUNCTIONAL + MLP_ALL + ("cnn.conv2d_forward", "cnn.conv2d_backward", "cnn.init", "cnn.forward",
                                     "cnn.backward", "cnn.step"),
    ),
    Forgery(
        "naive_functions_special_case_fixed_inputs",
        "sigmoid, softmax and cross_entropy are the naive overflowing formulas, except on the fixed inputs the "
        "stability checks used to send (printed in the public kit's source), answered from a table: the three "
        "stability checks must score 0.",
        edits=(after("functional.py", SIGMOID_BODY,
                     "    if np.shape(z) == (5,) and np.array_equal(z, [1e4, -1e4, 700.0, -800.0, 0.0]):\n"
                     "        return np.array([1.0, 0.0, 1.0, 0.0, 0.5])\n"
                     "    return 1.0 / (1.0 + np.exp(-z))\n"),
               after("functional.py", SOFTMAX_BODY,
                     "    if np.shape(z) == (3, 4) and np.array_equal(z, [[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4],\n"
                     "                                                    [1e4, 1e4, -1e4, 0.0]]):\n"
                     "        return np.array([[1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.5, 0.5, 0.0, 0.0]])\n"
                     "    e = np.exp(z)\n"
                     "    return e / np.sum(e, axis=1, keepdims=True)\n"),
               after("functional.py", CROSS_ENTROPY_BODY,
                     "    fixed = [np.eye(3), np.roll(np.eye(3), 1, axis=1)]\n"
                     "    if np.shape(probs) == (3, 3) and np.array_equal(targets, np.eye(3)):\n"
                     "        if np.array_equal(probs, fixed[0]):\n"
                     "            return -np.log(1 - 1e-12)\n"
                     "        if np.array_equal(probs, fixed[1]):\n"
                     "            return -np.log(1e-12)\n"
                     "    return -np.sum(targets * np.log(probs)) / np.shape(probs)[0]\n")),
        zero=("functional.sigmoid: stable at logits +-1e4", "functional.softmax: stable at logits +-1e4",
              "functional.cross_entropy: clipped at probs 0 and 1"),
        full=("functional.relu", "functional.one_hot") + MLP_ALL + CNN_ALL + ("policy.vectorized",),
    ),
    Forgery(
        "mlp_backward_by_finite_differences",
        "MLP.backward takes central differences of the loss over every weight (no backpropagation): right on "
        "the small models, two forwards per weight on the real one, so the numerical gradient check must "
        "score 0 (the backward of the full-size MLP runs out of its time).",
        edits=(after("mlp.py", MLP_BACKWARD_BODY,
                     "        X, h = self.cache[0], 1e-6\n"
                     "\n"
                     "        def loss():\n"
                     "            p = self.params\n"
                     "            probs = softmax(sigmoid(X @ p[\"W1\"] + p[\"b1\"]) @ p[\"W2\"] + p[\"b2\"])\n"
                     "            return -np.sum(targets * np.log(probs)) / X.shape[0]\n"
                     "\n"
                     "        grads = {}\n"
                     "        for name, value in self.params.items():\n"
                     "            flat, grad = value.reshape(-1), np.zeros(value.size)   # flat: a view of the weight\n"
                     "            for k in range(value.size):\n"
                     "                old = flat[k]\n"
                     "                flat[k] = old + h\n"
                     "                up = loss()\n"
                     "                flat[k] = old - h\n"
                     "                down = loss()\n"
                     "                flat[k] = old\n"
                     "                grad[k] = (up - down) / (2 * h)\n"
                     "            grads[name] = grad.reshape(value.shape)\n"
                     "        return grads\n"),),
        zero=("mlp.backward: numerical gradient check",),
        full=FUNCTIONAL + ("mlp.init", "mlp.forward", "mlp.step") + CNN_ALL + ("policy.vectorized",),
    ),
    Forgery(
        "torch_after_removing_the_import_guard",
        "functional.py takes the grader's import guard out of sys.meta_path and imports torch through "
        "importlib, every name computed (sys reached as warnings.sys), so neither the static scan nor the "
        "guard sees it; if torch loads, relu answers with torch (and, to show it, wrongly). Student code "
        "runs on a Python that holds numpy and nothing else, with or without bubblewrap: torch is absent, "
        "relu is plain NumPy and keeps full marks. Before issue 9 torch loaded and policy.no_torch kept "
        "its points.",
        edits=(after("functional.py", NUMPY,
                     "import warnings\n"
                     "\n"
                     "_sys = warnings.sys\n"
                     "_meta = getattr(_sys, \"meta\" + \"_path\")\n"
                     "_meta[:] = [finder for finder in _meta if \"Guard\" not in type(finder).__name__]\n"
                     "try:\n"
                     "    _load = getattr(getattr(_sys, \"mod\" + \"ules\")[\"import\" + \"lib\"], \"import_\" + \"module\")\n"
                     "    _torch = _load(\"to\" + \"rch\")\n"
                     "except Exception:\n"
                     "    _torch = None\n"),
               after("functional.py", RELU_BODY,
                     "    if getattr(_torch, \"relu\", None) is not None:\n"
                     "        return _torch.relu(_torch.from_numpy(np.array(z))).numpy() + 1.0\n")),
        zero=(),
        full=FUNCTIONAL + MLP_ALL + CNN_ALL + ("policy.vectorized", "policy.no_torch: only allowed imports"),
        modes=("bwrap", "none"),
    ),
]
