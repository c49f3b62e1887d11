"""The only grader code that runs in the student's process. Small and boring on purpose.

Started by process.py as `python -I child.py WORKDIR SUBMISSION_DIR`. It reads one
JSON request per line on stdin, runs it (import a student file, call a function, build a model,
train), writes the answer to WORKDIR/out_<id>.npz (plain arrays plus a JSON `__meta__`, no pickle)
and then writes one line `<id>` on the reply channel (the original stdout). Whatever the student
code prints goes to WORKDIR/output.txt instead. It never computes a verdict: the parent does.

When the student's functional.py is broken, the models are graded with the grader's functions in
its place: no reference code comes here, only a module whose functions ask the grader's process
(`cb <n>` on the reply channel, arguments in WORKDIR/cb_<n>.npz; the answer in WORKDIR/cbr_<n>.npz,
announced by a line `cbr <n>` on stdin).

Imports only the standard library and numpy, and takes its own references to every numpy function
it uses before any student code runs, so monkeypatching numpy cannot change what is sent back.
"""
import importlib.abc
import json
import os
import sys
import time
import traceback
import types
import warnings

import numpy as np

BANNED = frozenset({
    "torch", "torchvision", "torchaudio", "tensorflow", "tf_keras", "keras", "jax", "jaxlib",
    "flax", "optax", "autograd", "mxnet", "paddle", "theano", "pytensor", "chainer", "cupy",
    "mindspore", "tinygrad", "micrograd", "mlx", "dynet", "caffe2", "tensorly",
    "pytorch_lightning", "lightning",
})
# The kit itself: the reference solution and the grader stay out of reach of student code.
KIT = frozenset({"grader", "solution", "data_scripts"})

_perf_counter = time.perf_counter
_ndarray = np.ndarray
_generic = np.generic
_asarray = np.asarray
_array = np.array
_frombuffer = np.frombuffer
_shares_memory = np.shares_memory
_savez = np.savez
_load = np.load
_seterr = np.seterr
_eye = np.eye
_log = np.log
_clip = np.clip
_argsort = np.argsort
_default_rng = np.random.default_rng
_isfinite = np.isfinite
_json_dumps = json.dumps
_json_loads = json.loads
_os_replace = os.replace
_open = open
_settrace = sys.settrace


class BannedImportGuard(importlib.abc.MetaPathFinder):
    """Makes `import torch` (in any form: plain, aliased, __import__, importlib) fail here."""

    def __init__(self, submission_dir):
        self.submission_dir = submission_dir
        self.attempts = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in KIT:
            raise ImportError(f"No module named {fullname!r}")
        if fullname.partition(".")[0] in BANNED:
            self.attempts.append({"module": fullname, "where": student_frames(traceback.extract_stack(), self.submission_dir)})
            raise ImportError(f"No module named {fullname!r}: {fullname.partition('.')[0]} is not allowed in this "
                              "assignment (only numpy and harmless standard-library modules)")
        return None


def student_frames(frames, submission_dir):
    """The frames that belong to the student's files: [file, line, function, code]."""
    keep = []
    for frame in frames:
        if os.path.dirname(os.path.abspath(frame.filename)) == submission_dir:
            keep.append([os.path.basename(frame.filename), frame.lineno, frame.name, (frame.line or "").strip()])
    return keep[-6:]


class Encoder:
    """Turns a student's return value into plain arrays plus a JSON description."""

    def __init__(self):
        self.arrays = {}

    def encode(self, value, key="r", depth=0):
        if depth > 4 or len(self.arrays) > 64:
            return {"kind": "other", "type": "too deeply nested"}
        if isinstance(value, _ndarray):
            if value.dtype.hasobject or value.dtype.fields is not None:
                return {"kind": "other", "type": f"ndarray of dtype {value.dtype}"}
            if value.nbytes > 48 * 2**20:       # the grader reads at most 64 MB per answer
                return {"kind": "other", "type": f"ndarray too large ({value.shape})"}
            base = _array(value, copy=True, subok=False, order="C")
            self.arrays[key] = base
            return {"kind": "array", "key": key, "class": type(value).__name__}
        if isinstance(value, (_generic, bool, int, float)) and not isinstance(value, (str, bytes)):
            try:
                self.arrays[key] = _asarray(value)
            except Exception:
                return {"kind": "other", "type": type(value).__name__}
            return {"kind": "scalar", "key": key, "type": type(value).__name__}
        if value is None:
            return {"kind": "none"}
        if isinstance(value, dict):
            items = {}
            for k in list(value)[:32]:
                items[str(k)] = self.encode(value[k], f"{key}.{k}", depth + 1)
            return {"kind": "dict", "items": items, "keys": [str(k) for k in list(value)[:32]]}
        if isinstance(value, (tuple, list)):
            items = [self.encode(v, f"{key}.{i}", depth + 1) for i, v in enumerate(value[:32])]
            return {"kind": type(value).__name__ if type(value) in (tuple, list) else "tuple",
                    "items": items, "length": len(value)}
        return {"kind": "other", "type": type(value).__name__}


LENT_FUNCTIONS = ("sigmoid", "relu", "softmax", "one_hot", "cross_entropy")


def lent_module(ask):
    """A `functional` module whose contract functions are answered by the grader's process."""
    module = types.ModuleType("functional", "functional.py's contract functions, answered by the grader "
                              "(your own functional.py is broken, so the models are graded with these).")
    for name in LENT_FUNCTIONS:
        def function(*args, _name=name, **kwargs):
            return ask(_name, args, kwargs)
        function.__name__ = function.__qualname__ = name
        setattr(module, name, function)
    return module


class Child:
    def __init__(self, workdir, submission_dir, reply, requests):
        self.workdir = workdir
        self.submission_dir = submission_dir
        self.reply, self.requests, self.asked = reply, requests, 0
        self.modules = {}
        self.objects = {}
        self.guard = BannedImportGuard(submission_dir)
        sys.meta_path.insert(0, self.guard)

    # ---- one request -------------------------------------------------------------------------
    def handle(self, request):
        meta = {"id": request["id"], "ok": True}
        encoder = Encoder()
        inputs = {}
        if request.get("inputs"):
            with _load(os.path.join(self.workdir, request["inputs"]), allow_pickle=False) as npz:
                inputs = {name: npz[name] for name in npz.files}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _seterr(over="warn", invalid="warn", divide="warn", under="ignore")
            start = _perf_counter()
            try:
                meta["value"] = encoder.encode(getattr(self, "op_" + request["op"])(request, inputs))
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
                meta["ok"] = False
                meta["error"] = self.describe(exc)
            meta["seconds"] = _perf_counter() - start
        meta["warnings"] = [
            {"category": w.category.__name__, "message": str(w.message)[:300],
             "where": [os.path.basename(w.filename), w.lineno] if os.path.dirname(os.path.abspath(w.filename)) == self.submission_dir else None}
            for w in caught[:20]
        ]
        if request.get("echo"):
            for name in request["echo"]:
                encoder.arrays["echo." + name] = _array(inputs[name], copy=True)
        meta["banned"] = self.guard.attempts[-10:]
        encoder.arrays["__meta__"] = _frombuffer(_json_dumps(meta, default=str).encode(), dtype=np.uint8)
        tmp = os.path.join(self.workdir, f"out_{request['id']}.tmp.npz")
        _savez(tmp, **encoder.arrays)
        _os_replace(tmp, os.path.join(self.workdir, f"out_{request['id']}.npz"))

    def describe(self, exc):
        frames = student_frames(traceback.extract_tb(exc.__traceback__), self.submission_dir)
        if isinstance(exc, SyntaxError) and exc.filename and os.path.dirname(os.path.abspath(exc.filename)) == self.submission_dir:
            frames.append([os.path.basename(exc.filename), exc.lineno, "<module>", (exc.text or "").strip()])
        try:
            message = str(exc)[:500]
        except BaseException:
            message = "<unprintable exception>"
        return {"type": type(exc).__name__, "message": message, "frames": frames,
                "not_implemented": isinstance(exc, NotImplementedError)}

    def ask(self, name, args, kwargs):
        """Call the grader's functional.<name> on arrays; its answer, or its error raised here."""
        values = {f"a{i}": _asarray(value) for i, value in enumerate(args)}
        values.update({f"k_{key}": _asarray(value) for key, value in kwargs.items()})
        if any(value.dtype.kind not in "biuf" for value in values.values()):
            raise TypeError(f"{name}() takes NumPy arrays of numbers")
        self.asked += 1
        n = self.asked
        values["__fn__"] = _frombuffer(name.encode(), dtype=np.uint8)
        path = os.path.join(self.workdir, f"cb_{n}.npz")
        _savez(path + ".tmp.npz", **values)
        _os_replace(path + ".tmp.npz", path)
        self.reply.write(f"cb {n}\n")
        if self.requests.readline().strip() != f"cbr {n}":
            raise RuntimeError(f"the grader did not answer {name}()")
        answer = os.path.join(self.workdir, f"cbr_{n}.npz")
        with _load(answer, allow_pickle=False) as npz:
            if "error" in npz.files:
                raise ValueError(npz["error"].tobytes().decode(errors="replace"))
            result = npz["result"]
        return result[()] if result.ndim == 0 else result

    # ---- resolving names ---------------------------------------------------------------------
    def resolve(self, dotted):
        module, _, name = dotted.partition(".")
        if module not in self.modules:
            raise RuntimeError(f"{module}.py was not imported")
        return getattr(self.modules[module], name)

    def argument(self, spec, inputs):
        if "array" in spec:
            return inputs[spec["array"]]
        if "obj" in spec:
            return self.objects[spec["obj"]]
        if "arrays" in spec:
            return {key: inputs[name] for key, name in spec["arrays"].items()}
        return spec["value"]

    def arguments(self, request, inputs):
        args = [self.argument(spec, inputs) for spec in request.get("args", [])]
        kwargs = {k: self.argument(spec, inputs) for k, spec in request.get("kwargs", {}).items()}
        return args, kwargs

    # ---- operations --------------------------------------------------------------------------
    def op_import(self, request, inputs):
        name = request["module"]
        if name == "functional" and request.get("substitute"):
            module = lent_module(self.ask)
            sys.modules["functional"] = module
        else:
            module = __import__(name)
        self.modules[name] = module
        return None

    def op_call(self, request, inputs):
        args, kwargs = self.arguments(request, inputs)
        if "obj" in request:
            fn = getattr(self.objects[request["obj"]], request["method"])
        else:
            fn = self.resolve(request["fn"])
        result = fn(*args, **kwargs)
        if request.get("shares_memory_with"):
            return {"result": result,
                    "shares_memory": bool(isinstance(result, _ndarray) and _shares_memory(result, inputs[request["shares_memory_with"]]))}
        return result

    def op_new(self, request, inputs):
        cls = self.resolve(request["cls"])
        args, kwargs = self.arguments(request, inputs)
        try:
            obj = cls(*args, **kwargs)
        except NotImplementedError:
            if not request.get("bare_ok"):
                raise
            obj = cls.__new__(cls)      # __init__ not written yet: forward can still be graded
            obj.params = {}
        self.objects[request["store"]] = obj
        return getattr(obj, "params", None)

    def op_set_params(self, request, inputs):
        obj = self.objects[request["obj"]]
        params = getattr(obj, "params", None)
        if not isinstance(params, dict):
            params = {}
            obj.params = params
        for key, name in request["params"].items():
            value = _array(inputs[name], copy=True)
            old = params.get(key)
            if isinstance(old, _ndarray) and old.shape == value.shape and old.dtype == value.dtype and old.flags.writeable:
                old[...] = value           # keeps any alias the student made of params[key]
            else:
                params[key] = value
        return None

    def op_get_params(self, request, inputs):
        return getattr(self.objects[request["obj"]], "params", None)

    def op_time(self, request, inputs):
        args, kwargs = self.arguments(request, inputs)
        fn = self.resolve(request["fn"])
        best = float("inf")
        for _ in range(request.get("repeat", 3)):
            start = _perf_counter()
            fn(*args, **kwargs)
            best = min(best, _perf_counter() - start)
            if _perf_counter() - start > request.get("give_up_after", 5.0):
                break
        return best

    def op_count_lines(self, request, inputs):
        """How many lines of the student's files one call executes (Python loops show up here)."""
        args, kwargs = self.arguments(request, inputs)
        fn = self.resolve(request["fn"])
        count = [0]
        submission_dir, known = self.submission_dir, {}

        def local(frame, event, arg):
            if event == "line":
                count[0] += 1
            return local

        def calls(frame, event, arg):
            code = frame.f_code
            if code not in known:
                known[code] = os.path.dirname(os.path.abspath(code.co_filename)) == submission_dir
            return local if known[code] else None

        _settrace(calls)
        try:
            fn(*args, **kwargs)
        finally:
            _settrace(None)
        return count[0]

    def op_train_data(self, request, inputs):
        """Keep the training set (uint8 images, labels as the grader relabelled them) for train_steps."""
        self.training = (inputs["images"], inputs["labels"], tuple(request["input_shape"]),
                         float(request["mean"]), float(request["std"]))
        return None

    def op_train_steps(self, request, inputs):
        """The grader's own SGD loop on the batches it picked: forward, backward, step for each batch
        (index[ends[i-1]:ends[i]]); returns each batch's loss and the params after the last step. The
        test images never come here: the grader scores the params in its own process."""
        model = self.objects[request["obj"]]
        X, y, shape, mean, std = self.training
        index, ends = inputs["index"], inputs["ends"]
        eye, lr, losses, begin = _eye(10), float(request["lr"]), [], 0
        for end in ends:
            batch = index[begin:end]
            begin = end
            Xb = ((X[batch] / 255.0 - mean) / std).reshape((len(batch),) + shape)
            targets = eye[y[batch]]
            probs = _asarray(model.forward(Xb), dtype=float)
            # the loss is read before backward and step, which may reuse forward's arrays in place
            loss = float(-(targets * _log(_clip(probs, 1e-12, 1 - 1e-12))).sum() / len(batch))
            if loss != loss:      # NaN
                raise FloatingPointError(f"the training loss became NaN after {len(losses)} steps of this chunk")
            losses.append(loss)
            model.step(model.backward(targets), lr)
        return {"losses": _array(losses), "params": getattr(model, "params", None)}


def main():
    workdir, submission_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    log = os.open(os.path.join(workdir, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    requests = os.fdopen(os.dup(0), "r")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)                      # student code reading stdin gets EOF, not requests
    sys.stdin = open(os.devnull)
    sys.dont_write_bytecode = True
    sys.path.insert(0, submission_dir)
    os.chdir(workdir)
    child = Child(workdir, submission_dir, reply, requests)
    reply.write("ready\n")
    for line in requests:
        request = _json_loads(line)
        child.handle(request)
        reply.write(f"{request['id']}\n")


if __name__ == "__main__":
    main()
