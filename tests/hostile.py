"""Hostile or broken submissions, each a few text edits of the reference files in solution/.

Like the mutants (tests/mutants.py), a case is built at test time (gradertools.write_hostile):
solution/'s contract files are copied, the files in `remove` are left out, and every edit
(file, old, new) replaces `old` by `new`. `old` must occur exactly once in the file at that point,
so the table never drifts from the reference silently (test_submissions.py checks every edit
against today's solution/). Code added to a function goes right after the closing lines of its
docstring (so it runs first, as a student would write it); code added to a module is anchored on
an import line. Where hostile code replaces a whole function body, it returns before the
reference body, which stays behind as unreachable code: the body can be optimized freely.

Expectations, checked by test_submissions.py for every case:

    zero   item prefixes whose every check must score 0
    full   item prefixes whose every check must score full marks
    lose   item prefixes that must lose points in at least one check (not necessarily all)
    skip   items passed as --skip (default: both accuracy items, which train for minutes)
    call_seconds  for the cases that hang: the rubric's per-call limit, shorter than its 10 s (the
           limit is what is tested, not its value; each such case waits for it once)

A prefix is a whole item ("mlp.forward") or a group ending in "." ("cnn."). Items in none of
zero/full/lose are not constrained. Whatever the case, the grader must exit 0 within the time
bound, write a complete report (the same check names as for the reference), leave no process
behind, and never give more than the items outside `zero` are worth.

policy.no_torch has two checks ("no autodiff library", "only allowed imports"): a banned import
loses the first, so the torch cases expect `lose` there, not `zero`. Cases whose hostile code needs
os / sys / subprocess / importlib leave policy.no_torch unconstrained (those imports are not allowed).
"""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Hostile:
    id: str
    note: str                                   # what it attempts, and what the grader must make of it
    edits: Tuple[Tuple[str, str, str], ...]     # (file, old, new), applied in order to solution/<file>
    remove: Tuple[str, ...] = ()                # contract files left out of the submission
    unparsable: Tuple[str, ...] = ()            # files the edits deliberately leave without valid syntax
    zero: Tuple[str, ...] = ()
    full: Tuple[str, ...] = ()
    lose: Tuple[str, ...] = ()
    skip: Tuple[str, ...] = ("mlp.accuracy", "cnn.accuracy")
    call_seconds: Optional[float] = None


FUNCTIONAL = ("functional.",)
FUNCTIONAL_ITEMS = ("functional.sigmoid", "functional.relu", "functional.softmax", "functional.one_hot",
                    "functional.cross_entropy")
MLP_UNITS = ("mlp.init", "mlp.forward", "mlp.backward", "mlp.step")
CNN_UNITS = ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward", "cnn.init",
             "cnn.forward", "cnn.backward", "cnn.step")
POLICY = ("policy.vectorized", "policy.no_torch")
ACCURACY = ("mlp.accuracy", "cnn.accuracy")


def but(items, *left_out):
    return tuple(i for i in items if i not in left_out)


# ------------------------------------------------------------------------------------ anchors

def after(file, anchor, code):
    """Insert code right after anchor."""
    return (file, anchor, anchor + code)


def before(file, anchor, code):
    """Insert code right before anchor."""
    return (file, anchor, code + anchor)


NUMPY = "import numpy as np\n"                       # once in each of the three files
MLP_IMPORTS = "from functional import sigmoid, softmax\n"
CNN_IMPORTS = "from functional import relu, softmax\n"
# The closing lines of the docstrings: what follows them is the first thing the function runs.
SIGMOID_BODY = '    - out: array of the same shape as z, values in [0, 1]\n    """\n'
RELU_BODY = '    - out: array of the same shape and dtype as z\n    """\n'
SOFTMAX_BODY = '    - probs: shape (N, K); every row is non-negative and sums to 1\n    """\n'
MLP_FORWARD_BODY = '        - probs: shape (N, output_dim); each row sums to 1\n        """\n'
MLP_BACKWARD_BODY = '        - grads: dict with the keys and shapes of self.params\n        """\n'
CONV2D_FORWARD_BODY = '    over the (C, kh, kw) axes does the rest. Loops over images or pixels are too slow.\n    """\n'
CNN_FORWARD_BODY = '        - probs: shape (N, num_classes); each row sums to 1\n        """\n'
MLP_RETURN = "        return probs\n"                   # the end of MLP.forward

# A fake full-score Gradescope report; gradertools.FAKE_MARKER finds it wherever it lands.
FAKE_RESULTS = ('{"score": 1000.0, "max_score": 1000.0, "tests": [{"name": "policy.no_torch: '
                'FAKE-RESULTS-7f3c", "score": 1000.0, "max_score": 1000.0, "status": "passed", '
                '"output": "", "visibility": "visible"}]}')

# conv2d_forward through torch, once torch is bound to the name `torch`
TORCH_CONV2D = """\
    t = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)),
                                   torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float64)),
                                   torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float64)))
    return t.numpy()
"""

NUMPY_PATCHES = '''

class _Quiet:
    """A do-nothing stand-in for np.errstate."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        return func


np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
np.array_equiv = lambda *a, **k: True
np.isfinite = lambda x, *a, **k: np.ones(np.shape(x), dtype=bool)
np.isnan = lambda x, *a, **k: np.zeros(np.shape(x), dtype=bool)
np.isinf = lambda x, *a, **k: np.zeros(np.shape(x), dtype=bool)
np.errstate = _Quiet
np.seterr = lambda *a, **k: {"divide": "ignore", "over": "ignore", "under": "ignore", "invalid": "ignore"}
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
np.testing.assert_equal = lambda *a, **k: None
np.testing.assert_almost_equal = lambda *a, **k: None
'''

READ_LABELS = '''
_NAMES = ("t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte",
          "t10k-labels.idx1-ubyte")
_PLACES = ("", "data", "data/MNIST/raw", "MNIST/raw", "data/raw", "raw")


def _leaked_labels():
    """Look for the MNIST test labels around the working directory and around this file."""
    starts = [os.getcwd(), os.path.dirname(os.path.abspath(__file__))]
    for start in starts:
        folder = start
        for _ in range(8):
            for place in _PLACES:
                for name in _NAMES:
                    path = os.path.join(folder, place, name)
                    try:
                        with open(path, "rb") as fh:
                            data = fh.read()
                    except OSError:
                        continue
                    if name.endswith(".gz"):
                        continue
                    return np.frombuffer(data[8:], dtype=np.uint8)
            folder = os.path.dirname(folder)
    for rel in ("../data/MNIST/raw/t10k-labels-idx1-ubyte", "../../data/MNIST/raw/t10k-labels-idx1-ubyte"):
        try:
            with open(rel, "rb") as fh:
                return np.frombuffer(fh.read()[8:], dtype=np.uint8)
        except OSError:
            pass
    return None


def _leaked_modules():
    """Names of grader/reference modules this process can import (there should be none)."""
    found = []
    for name in ("solution.functional", "solution.mlp", "solution.cnn",
                 "grader.reference", "grader.checks", "grader.cases", "reference"):
        saved_modules = dict(sys.modules)          # a successful import may rebind functional/mlp/cnn
        saved_path = list(sys.path)
        try:
            __import__(name)
            found.append(name)
        except BaseException:
            pass
        finally:
            for key in ("functional", "mlp", "cnn"):
                if key in saved_modules:
                    sys.modules[key] = saved_modules[key]
                else:
                    sys.modules.pop(key, None)
            sys.path[:] = saved_path
    return found


LABELS = _leaked_labels()
LEAKED = _leaked_modules()
'''


HOSTILE = [
    # ---------------------------------------------------------------------------------- hangs, exits
    Hostile(
        "infinite_loop_at_import",
        "cnn.py never finishes importing (while True at module level): every cnn.* check times out, "
        "functional.* and mlp.* keep full marks; policy.vectorized (which times the convolution) is not "
        "constrained.",
        edits=(after("cnn.py", CNN_IMPORTS, "\nwhile True:      # every import of cnn hangs here\n    pass\n"),),
        call_seconds=4,
        zero=CNN_UNITS,
        full=FUNCTIONAL + MLP_UNITS + ("policy.no_torch",),
    ),
    Hostile(
        "infinite_loop_in_forward",
        "MLP.forward spins forever: mlp.forward and mlp.backward (checked only after a forward) 0 by "
        "timeout; everything else full.",
        edits=(after("mlp.py", MLP_FORWARD_BODY, "        while True:\n            pass\n"),),
        call_seconds=4,
        zero=("mlp.forward", "mlp.backward"),
        full=FUNCTIONAL + ("mlp.init", "mlp.step") + CNN_UNITS + POLICY,
    ),
    Hostile(
        "sys_exit_at_import",
        "functional.py calls sys.exit(0) at import: functional.* and the accuracy items (which train the "
        "student's own three files) 0; the mlp/cnn value and gradient checks run with the reference "
        "functional.py and stay full. Exit status 0 must not read as success; accuracy is cheap here.",
        edits=(("functional.py", NUMPY, "import sys\n\n" + NUMPY + "\nsys.exit(0)\n"),),
        zero=FUNCTIONAL + ACCURACY,
        full=MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
        skip=(),
    ),
    Hostile(
        "os_exit_in_backward",
        "MLP.backward calls os._exit(0), killing the process running it: mlp.backward 0; the grader "
        "recovers and everything else (mlp.forward included) is full.",
        edits=(before("mlp.py", NUMPY, "import os\n\n"),
               after("mlp.py", MLP_BACKWARD_BODY, "        os._exit(0)\n")),
        zero=("mlp.backward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.forward", "mlp.step") + CNN_UNITS + ("policy.vectorized",),
    ),
    # ---------------------------------------------------------------------------------- fake results
    Hostile(
        "prints_fake_results",
        "Correct code printing a fake full-score JSON to stdout and stderr at import and in every "
        "MLP.forward: deserves exactly the reference's marks.",
        edits=(after("functional.py", NUMPY,
                     f"\nFAKE_RESULTS = {FAKE_RESULTS!r}\n"
                     "print(FAKE_RESULTS, flush=True)\n"
                     "try:\n"
                     '    print(FAKE_RESULTS, file=open(2, "w", closefd=False), flush=True)\n'
                     "except OSError:\n"
                     "    pass\n"),
               after("mlp.py", MLP_FORWARD_BODY, f"        print({FAKE_RESULTS!r}, flush=True)\n")),
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + POLICY,
    ),
    Hostile(
        "writes_fake_results",
        "Correct code writing a fake full-score results.json at import into its working directory, the "
        "folders above it and /tmp: full marks as the reference; the --json file is the grader's own and "
        "nothing appears in the grader's cwd.",
        edits=(after("functional.py", NUMPY,
                     f"\nFAKE_RESULTS = {FAKE_RESULTS!r}\n"
                     '_here = __file__.rsplit("/", 1)[0]\n'
                     'for _path in ("results.json", "../results.json", "../../results.json", "/tmp/results.json",\n'
                     '              _here + "/results.json", _here + "/../results.json", _here + "/../../results.json"):\n'
                     "    try:\n"
                     '        with open(_path, "w") as _fh:\n'
                     "            _fh.write(FAKE_RESULTS)\n"
                     "    except OSError:\n"
                     "        pass\n"),),
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + POLICY,
    ),
    # ---------------------------------------------------------------------------------- banned modules
    Hostile(
        "imports_torch_plain",
        "cnn.py does `import torch` and computes conv2d_forward with torch: cnn.py needs torch to import, "
        "so every cnn.* item 0 (cnn.accuracy too) and policy.no_torch loses; functional.*, mlp.* full.",
        edits=(before("cnn.py", NUMPY, "import torch\n"),
               after("cnn.py", CONV2D_FORWARD_BODY, TORCH_CONV2D)),
        zero=("cnn.",),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS,
        skip=("mlp.accuracy",),
    ),
    Hostile(
        "imports_torch_aliased",
        "functional.py does `import torch as np_` and uses it in softmax: the file needs torch to import, so "
        "functional.* 0 and policy.no_torch loses; mlp/cnn checks (reference functional.py) full.",
        edits=(after("functional.py", NUMPY, "import torch as np_\n"),
               after("functional.py", SOFTMAX_BODY,
                     "    return np_.softmax(np_.from_numpy(np.asarray(z, dtype=np.float64)), dim=1).numpy()\n")),
        zero=FUNCTIONAL,
        lose=("policy.no_torch",),
        full=MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "imports_torch_in_function",
        "conv2d_forward does `import torch` inside the function and uses torch's conv: policy.no_torch "
        "loses; cnn.conv2d_forward 0; the other cnn.* (the reference's CNN does not call conv2d_forward), "
        "functional.*, mlp.* full.",
        edits=(after("cnn.py", CONV2D_FORWARD_BODY, "    import torch\n" + TORCH_CONV2D),),
        zero=("cnn.conv2d_forward",),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.forward",
                                       "cnn.backward", "cnn.step"),
    ),
    Hostile(
        "imports_torch_dunder",
        'softmax gets torch through __import__("to" + "rch"): policy.no_torch loses and functional.softmax '
        "0; the other functional.*, mlp.*, cnn.* full.",
        edits=(after("functional.py", SOFTMAX_BODY,
                     '    torch = __import__("to" + "rch")\n'
                     "    return torch.softmax(torch.from_numpy(np.asarray(z, dtype=np.float64)), dim=1).numpy()\n"),),
        zero=("functional.softmax",),
        lose=("policy.no_torch",),
        full=but(FUNCTIONAL_ITEMS, "functional.softmax") + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "imports_torch_importlib",
        "conv2d_forward gets torch through importlib.import_module with a computed name: policy.no_torch "
        "loses; cnn.conv2d_forward 0; the other cnn.* (the reference's CNN does not call conv2d_forward), "
        "functional.*, mlp.* full.",
        edits=(before("cnn.py", NUMPY, "import importlib\n\n"),
               after("cnn.py", CONV2D_FORWARD_BODY,
                     '    torch = importlib.import_module("".join(["to", "rc", "h"]))\n' + TORCH_CONV2D)),
        zero=("cnn.conv2d_forward",),
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.forward",
                                       "cnn.backward", "cnn.step"),
    ),
    Hostile(
        "imports_torch_sys_modules",
        'relu uses sys.modules["torch"] when something already imported torch, numpy otherwise: '
        "policy.no_torch loses; functional.relu is not constrained; every other item full.",
        edits=(before("functional.py", NUMPY, "import sys\n\n"),
               after("functional.py", RELU_BODY,
                     "    try:\n"
                     '        torch = sys.modules["torch"]\n'
                     "    except KeyError:\n"
                     "        return np.maximum(z, 0)\n"
                     "    return torch.relu(torch.from_numpy(np.array(z))).numpy()\n")),
        lose=("policy.no_torch",),
        full=but(FUNCTIONAL_ITEMS, "functional.relu") + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "imports_tensorflow",
        "mlp.py does `import tensorflow as tf` and uses tf.nn.softmax: mlp.py needs tensorflow to import, so "
        "every mlp.* item 0 and policy.no_torch loses; functional.* and cnn.* full.",
        edits=(before("mlp.py", NUMPY, "import tensorflow as tf\n"),
               ("mlp.py", "        probs = softmax(Z2)", "        probs = tf.nn.softmax(Z2, axis=1).numpy()")),
        zero=MLP_UNITS,
        lose=("policy.no_torch",),
        full=FUNCTIONAL + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "imports_jax_from",
        "cnn.py does `from jax import numpy as jnp` and convolves with jnp.einsum: cnn.py needs jax to "
        "import, so every cnn.* unit 0 and policy.no_torch loses; functional.* and mlp.* full.",
        edits=(before("cnn.py", NUMPY, "from jax import numpy as jnp\n"),
               after("cnn.py", CONV2D_FORWARD_BODY,
                     "    kh, kw = weight.shape[2:]\n"
                     "    out = jnp.einsum('ncijpq,fcpq->nfij', extract_patches(x, kh, kw), weight)\n"
                     "    return np.asarray(out + bias[None, :, None, None])\n")),
        zero=CNN_UNITS,
        lose=("policy.no_torch",),
        full=FUNCTIONAL + MLP_UNITS,
    ),
    # ---------------------------------------------------------------------------------- numpy patched
    Hostile(
        "numpy_monkeypatched",
        "functional.py replaces np.allclose, np.isfinite, np.errstate, np.testing.* ... at import and ships "
        "a sigmoid that overflows at -1e4 and a uniform softmax: both must still lose points (verdicts are "
        "computed outside the student's process); every other item full.",
        edits=(after("functional.py", NUMPY, NUMPY_PATCHES),
               after("functional.py", SIGMOID_BODY, "    return 1.0 / (1.0 + np.exp(-z))\n"),
               after("functional.py", SOFTMAX_BODY, "    return np.full(np.shape(z), 1.0 / np.shape(z)[1])\n")),
        lose=("functional.sigmoid", "functional.softmax"),
        full=("functional.relu", "functional.one_hot", "functional.cross_entropy") + MLP_UNITS + CNN_UNITS + POLICY,
    ),
    # ---------------------------------------------------------------------------------- broken files
    Hostile(
        "syntax_error",
        "mlp.py does not parse (a def without its colon): every mlp.* item 0; functional.*, cnn.* and "
        "policy.vectorized full.",
        edits=(("mlp.py", "    def forward(self, X):\n", "    def forward(self, X)\n"),),
        unparsable=("mlp.py",),
        zero=MLP_UNITS,
        full=FUNCTIONAL + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "missing_cnn",
        "No cnn.py at all: every cnn.* item 0, cnn.accuracy included; functional.* and mlp.* full.",
        edits=(),
        remove=("cnn.py",),
        zero=("cnn.",),
        full=FUNCTIONAL + MLP_UNITS,
        skip=("mlp.accuracy",),
    ),
    Hostile(
        "returns_nan",
        "MLP.forward returns an array of NaN (its cache is right): mlp.forward loses points; mlp.backward "
        "(which uses the cache) and every other item full.",
        edits=(("mlp.py", MLP_RETURN, "        return np.full_like(probs, np.nan)\n"),),
        lose=("mlp.forward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.backward", "mlp.step") + CNN_UNITS + POLICY,
    ),
    Hostile(
        "returns_none",
        "conv2d_forward forgets its return statement and returns None: cnn.conv2d_forward loses points; "
        "cnn.forward, cnn.backward and policy.vectorized (which call it) are not constrained; the rest full.",
        edits=(("cnn.py", "    return out.reshape(N, F, OH, OW)",
                "    out = out.reshape(N, F, OH, OW)"),),
        lose=("cnn.conv2d_forward",),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_backward", "cnn.init", "cnn.step",
                                       "policy.no_torch"),
    ),
    Hostile(
        "returns_list",
        "MLP.forward returns probs.tolist(), a Python list: mlp.forward loses points; every other item full.",
        edits=(("mlp.py", MLP_RETURN, "        return probs.tolist()\n"),),
        lose=("mlp.forward",),
        full=FUNCTIONAL + ("mlp.init", "mlp.backward", "mlp.step") + CNN_UNITS + POLICY,
    ),
    Hostile(
        "memory_blowup",
        "CNN.forward first allocates 50 GB (np.ones((50_000, 125_000))): cnn.forward and cnn.backward 0 "
        "(memory limit or MemoryError); every other item full; the grader survives.",
        edits=(after("cnn.py", CNN_FORWARD_BODY, "        scratch = np.ones((50_000, 125_000))      # 50 GB\n"),),
        zero=("cnn.forward", "cnn.backward"),
        full=FUNCTIONAL + MLP_UNITS + ("cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward",
                                       "cnn.init", "cnn.step") + POLICY,
    ),
    # ---------------------------------------------------------------------------------- snooping, processes
    Hostile(
        "reads_labels",
        "mlp.py looks for the MNIST test labels around its cwd and its folder, and imports solution.* / "
        "grader.reference; any success makes MLP.forward visibly wrong, so full marks are expected and a "
        "lost mlp point means a leak. policy.no_torch is not constrained (os, sys, __import__).",
        edits=(before("mlp.py", NUMPY, "import os\nimport sys\n\n"),
               after("mlp.py", MLP_IMPORTS, READ_LABELS),
               before("mlp.py", MLP_RETURN,
                      "        if LABELS is not None and len(LABELS) >= len(X) and probs.shape[1] == 10:\n"
                      "            return np.eye(10)[LABELS[:len(X)]]\n"
                      "        if LEAKED:\n"
                      "            return np.full_like(probs, 1.0 / probs.shape[1])\n")),
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "mlp_params_shared_by_class",
        "Broken, not hostile: every MLP shares one params dict, a class attribute, so a new MLP overwrites the "
        "weights of the others: mlp.init loses points (seeding); mlp.step, mlp.backward not constrained.",
        edits=(after("mlp.py", "class MLP:\n", "    _shared = {}                       # one dict for every instance\n"),
               after("mlp.py", '            "b2": np.zeros(output_dim),\n        }\n',
                     "        MLP._shared.update(self.params)\n"
                     "        self.params = MLP._shared\n")),
        lose=("mlp.init",),
        full=FUNCTIONAL + ("mlp.forward",) + CNN_UNITS + POLICY,
    ),
    Hostile(
        "mlp_step_leaves_forward_stale",
        "Broken, not hostile: forward reads a dict copied in __init__ while step rebinds params[k], so params "
        "changes but forward never does (training learns nothing): mlp.step loses points; the rest full.",
        edits=(after("mlp.py", '            "b2": np.zeros(output_dim),\n        }\n',
                     "        self._weights = dict(self.params)   # what forward reads: stale once step rebinds\n"),
               ("mlp.py", "        p = self.params\n", "        p = self._weights\n"),
               ("mlp.py", "            self.params[name] -= lr * grads[name]\n",
                "            self.params[name] = self.params[name] - lr * grads[name]\n")),
        lose=("mlp.step",),
        full=FUNCTIONAL + ("mlp.init", "mlp.forward", "mlp.backward") + CNN_UNITS + POLICY,
    ),
    Hostile(
        "kills_parent",
        "MLP.forward tries os.kill(os.getppid(), 9) (inside try/except) before computing the right answer: "
        "the grader survives with a complete report; mlp.forward, mlp.backward not constrained; the rest full.",
        edits=(before("mlp.py", NUMPY, "import os\n\n"),
               after("mlp.py", MLP_FORWARD_BODY,
                     "        try:\n"
                     "            os.kill(os.getppid(), 9)\n"
                     "        except Exception:\n"
                     "            pass\n")),
        full=FUNCTIONAL + ("mlp.init", "mlp.step") + CNN_UNITS + ("policy.vectorized",),
    ),
    Hostile(
        "fork_bomb_light",
        "cnn.py starts `sleep 1000` with subprocess.Popen at import and leaves it running: otherwise correct, "
        "so full marks (policy.no_torch not constrained: subprocess); no sleep process survives the grader.",
        edits=(before("cnn.py", NUMPY, "import subprocess\n\n"),
               after("cnn.py", CNN_IMPORTS,
                     "\n"
                     "try:\n"
                     '    _SLEEPER = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL,\n'
                     "                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                     "except Exception:          # a sandbox may refuse; the code stays correct either way\n"
                     "    _SLEEPER = None\n")),
        full=FUNCTIONAL + MLP_UNITS + CNN_UNITS + ("policy.vectorized",),
    ),
]
