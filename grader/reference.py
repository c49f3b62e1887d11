"""The reference solution, as the checks see it: `reference.functional`, `reference.mlp`,
`reference.cnn`. Used in the grader's process only, never in a child.

Three modes:
- "live" (the full kit): solution/*.py, loaded by file path under the contract's module names, so a
  submission that happens to sit in the current directory can never be imported here instead;
- "record": live, and every answer is kept, to build the public kit students run locally;
- "replay" (the public kit, which has no solution code): answers come from public_reference.npz,
  recorded from the public checks. A check that asks for anything else cannot run there.
Reference models are proxies keyed on their constructor arguments and parameters, so a replayed
`MLP(...).forward(X)` finds the answer recorded for the same parameters and the same X.

Nothing is loaded at import: solution/*.py is executed (and public_reference.npz read) on the first
answer a check asks for, so commands that grade nothing (`--help`, `release --check`) run no
solution code.
"""
import hashlib
import importlib.util
import json
import sys
import threading
from pathlib import Path

import numpy as np

from grader.contract import MODULES

SOLUTION_DIR = Path(__file__).resolve().parent.parent / "solution"
RECORDING = Path(__file__).with_name("public_reference.npz")
CLASSES = {"MLP", "CNN"}


class NotRecorded(Exception):
    """The public kit has no recorded reference answer for this call."""


def _load(name):
    module = sys.modules.get(name)
    if module is not None and Path(getattr(module, "__file__", "")).resolve().parent == SOLUTION_DIR:
        return module
    path = SOLUTION_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not part of this copy of the grader")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def digest(*values):
    """A key for arguments: equal values give equal keys, whatever their memory layout."""
    h = hashlib.sha256()

    def feed(value):
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            value = np.asarray(value)
            h.update(f"a{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, dict):
            h.update(b"d")
            for key in sorted(value):
                h.update(repr(key).encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            h.update(f"l{len(value)}".encode())
            for item in value:
                feed(item)
        else:
            h.update(repr(value).encode())
    for value in values:
        feed(value)
    return h.hexdigest()[:32]


class Answers:
    """Recorded reference answers: key -> value (arrays, dicts, tuples, floats)."""

    def __init__(self):
        self.values = {}

    def save(self, path):
        arrays, index = {}, {}

        def encode(value):
            if isinstance(value, (np.ndarray, np.generic)):
                name = f"v{len(arrays)}"
                arrays[name] = np.asarray(value)
                return {"array": name}
            if isinstance(value, dict):
                return {"dict": {k: encode(v) for k, v in value.items()}}
            if isinstance(value, (list, tuple)):
                return {"tuple": [encode(v) for v in value]}
            return {"value": value}
        for key, value in self.values.items():
            index[key] = encode(value)
        arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path):
        answers = cls()
        with np.load(path, allow_pickle=False) as npz:
            index = json.loads(npz["__index__"].tobytes().decode())
            arrays = {name: npz[name] for name in npz.files if name != "__index__"}

        def decode(spec):
            if "array" in spec:
                return arrays[spec["array"]]
            if "dict" in spec:
                return {k: decode(v) for k, v in spec["dict"].items()}
            if "tuple" in spec:
                return tuple(decode(v) for v in spec["tuple"])
            return spec["value"]
        answers.values = {key: decode(spec) for key, spec in index.items()}
        return answers


def copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(copy(v) for v in value)
    return value


class Reference:
    """Answers reference calls in the current mode. The solution's modules and the recorded answers
    are loaded on first use."""

    def __init__(self):
        live = (SOLUTION_DIR / "functional.py").is_file()
        self.mode = "live" if live else "replay"
        self._answers = Answers() if live else None
        self._modules = None
        self._lock = threading.Lock()          # checks run in several threads

    @property
    def answers(self):
        with self._lock:
            if self._answers is None:
                self._answers = Answers.load(RECORDING) if RECORDING.is_file() else Answers()
            return self._answers

    @answers.setter
    def answers(self, value):
        self._answers = value

    @property
    def modules(self):
        with self._lock:
            if self._modules is None:
                live = self.mode != "replay"
                self._modules = {name: _load(name) for name in MODULES} if live else {}
            return self._modules

    def answer(self, key, compute):
        if self.mode == "replay":
            if key not in self.answers.values:
                raise NotRecorded(key)
            return copy(self.answers.values[key])
        value = compute()
        if self.mode == "record":
            self.answers.values[key] = copy(value)
        return value


REFERENCE = Reference()


class ModelProxy:
    """A reference model: params is a plain dict the checks may set; forward/backward are answered."""

    def __init__(self, module, name, **kwargs):
        self._module, self._name, self._kwargs = module, name, kwargs
        self._key = f"{module}.{name}({digest(kwargs)})"
        self._last_X = None
        self.params = REFERENCE.answer(self._key + ".params", lambda: self._real().params)

    def _real(self):
        model = getattr(REFERENCE.modules[self._module], self._name)(**self._kwargs)
        if hasattr(self, "params"):
            model.params = copy(self.params)
        return model

    def forward(self, X):
        self._last_X = X
        key = f"{self._key}.forward({digest(self.params, X)})"
        return REFERENCE.answer(key, lambda: self._real().forward(X))

    def backward(self, targets):
        X = self._last_X

        def compute():
            model = self._real()
            model.forward(X)
            return model.backward(targets)
        return REFERENCE.answer(f"{self._key}.backward({digest(self.params, X, targets)})", compute)

    def after_forward(self, what, function, *inputs):
        """function(model) for a fresh reference model that has run forward on the last X (a variant of
        backward, for a hint), answered in the current mode under `what` like forward and backward."""
        X = self._last_X

        def compute():
            model = self._real()
            model.forward(X)
            return function(model)
        return REFERENCE.answer(f"{self._key}.{what}({digest(self.params, X, *inputs)})", compute)


class ModuleProxy:
    """reference.functional / .mlp / .cnn: functions and model classes, answered in the current mode."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        if attr in CLASSES:
            return lambda **kwargs: ModelProxy(self._name, attr, **kwargs)

        def function(*args, **kwargs):
            key = f"{self._name}.{attr}({digest(args, kwargs)})"
            return REFERENCE.answer(key, lambda: getattr(REFERENCE.modules[self._name], attr)(*args, **kwargs))
        function.__name__ = attr
        return function


functional = ModuleProxy("functional")
mlp = ModuleProxy("mlp")
cnn = ModuleProxy("cnn")


def live_module(name):
    """The reference module itself ("functional", "mlp", "cnn"), for work too large to record (training,
    the test set); the public kit has none, so the checks that need it run only when a course grades."""
    if REFERENCE.mode == "replay":
        raise NotRecorded(name)
    return REFERENCE.modules[name]


def timed(key, measure):
    """A reference timing: measured live, recorded for the public kit, replayed there."""
    return REFERENCE.answer(f"timing.{key}", measure)


def load_data_module():
    """solution/data.py, the provided MNIST reader (trusted code)."""
    return _load("data")
