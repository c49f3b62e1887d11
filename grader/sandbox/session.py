"""The parent's handle on the student's code: call a function, build a model, get arrays back.

A Session owns one child process (process.ChildProcess) with the student's modules imported.
Every call returns plain values (arrays, dicts, tuples, floats) decoded from the child's answer,
or raises StudentError / NotWritten with a message a student can act on. After a crash or a
timeout the child is restarted for the next call, so one bad function costs only its own checks.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from grader.errors import NotWritten, StudentError
from grader.sandbox.process import ChildDied, ChildProcess, ChildTimeout, Limits


@dataclass(frozen=True)
class Obj:
    """A reference to an object (a model) that lives in the child."""
    name: str


@dataclass(frozen=True)
class Opaque:
    """A returned value that is not an array, number, dict, tuple, list or None."""
    type: str

    def __repr__(self):
        return f"<{self.type}>"


@dataclass
class Reply:
    value: object
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    echo: list = field(default_factory=list)     # the array inputs after the call, in order
    shares_memory: bool = False


def describe(value):
    """Short text for an argument or a returned value: shapes and dtypes, never the data."""
    if isinstance(value, np.ndarray):
        return f"array {value.shape} {value.dtype}" if value.ndim else f"{value.dtype} scalar"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Obj):
        return value.name
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"list [{inner}]"
    if isinstance(value, Opaque):
        return repr(value)
    return repr(value)


def decode(spec, arrays):
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]]
    if kind == "scalar":
        return arrays[spec["key"]][()]
    if kind == "none":
        return None
    if kind == "dict":
        return {k: decode(v, arrays) for k, v in spec["items"].items()}
    if kind in ("tuple", "list"):
        items = [decode(v, arrays) for v in spec["items"]]
        return tuple(items) if kind == "tuple" else items
    return Opaque(spec.get("type", "unknown"))


def crash_message(call, error):
    if error["type"] == "SystemExit":
        head = f"{call} called sys.exit()"
    else:
        head = f"{call} raised {error['type']}: {error['message']}"
    lines = [head]
    for file, line, function, code in error["frames"]:
        lines.append(f"  {file}:{line} in {function}: {code}")
    return "\n".join(lines)


class Session:
    """One child process with the student's modules imported, restarted after a crash."""

    def __init__(self, submission_dir, modules, limits=Limits(), functional_code=None,
                 import_seconds=10.0, trusted=False):
        self.submission_dir = submission_dir
        self.trusted = trusted          # the reference solution: see ChildProcess
        self.modules = list(modules)
        self.limits = limits
        self.functional_code = functional_code
        self.import_seconds = import_seconds
        self.import_problems = {}
        self.banned = []
        self.child = None
        self.generation = 0
        self.deadline = None        # monotonic time by which the current check must be done
        self.hung = {}              # function or method name -> seconds it ran before being stopped
        self.classes = {}           # name of an object in the child -> its class ("mlp.MLP")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.child is not None:
            self.child.close()
            self.child = None

    # ---- child lifecycle ------------------------------------------------------------------------
    def _ensure_child(self):
        if self.child is not None and self.child.alive:
            return
        if self.child is not None:
            self.child.close()
        self.generation += 1
        try:
            self.child = ChildProcess(self.submission_dir, self.limits, self.functional_code, self.trusted)
        except ChildDied as exc:
            raise StudentError(f"The grader could not start Python for your code: {exc}")
        for module in self.modules:
            if module in self.import_problems:
                continue
            try:
                meta, _ = self.child.request("import", timeout=self.import_seconds, module=module,
                                             substitute=module == "functional" and self.functional_code is not None)
            except ChildTimeout:
                self.import_problems[module] = (f"importing {module}.py did not finish within "
                                                f"{self.import_seconds:.0f} s: is there an infinite loop at module level?")
                self.child.close()
                return self._ensure_child()
            except ChildDied as exc:
                self.import_problems[module] = (f"importing {module}.py stopped the Python process: your code {exc}"
                                                if str(exc) else f"importing {module}.py stopped the Python process "
                                                "(os._exit, a crash, or too much memory at module level)")
                self.child.close()
                return self._ensure_child()
            self._note_banned(meta)
            if not meta["ok"]:
                self.import_problems[module] = import_message(module, meta["error"])

    def _note_banned(self, meta):
        for attempt in meta.get("banned", []):
            if attempt not in self.banned:
                self.banned.append(attempt)

    def _module_problem(self, dotted):
        module = dotted.split(".")[0]
        self._ensure_child()
        if module in self.import_problems:
            raise StudentError(self.import_problems[module])

    # ---- requests ---------------------------------------------------------------------------------
    def _encode(self, values, inputs):
        specs = []
        for value in values:
            if isinstance(value, Obj):
                specs.append({"obj": value.name})
            elif isinstance(value, np.ndarray):
                name = f"a{len(inputs)}"
                inputs[name] = value
                specs.append({"array": name})
            elif isinstance(value, dict):
                names = {}
                for key, array in value.items():
                    names[key] = f"a{len(inputs)}"
                    inputs[names[key]] = np.asarray(array)
                specs.append({"arrays": names})
            else:
                specs.append({"value": value})
        return specs

    def _run(self, call, op, timeout, inputs, **fields):
        name = fields.get("fn") or fields.get("cls")
        if "method" in fields:
            name = f"{self.classes.get(fields['obj'])}.{fields['method']}"
        if name in self.hung:       # one hang is reported once per check, not waited for again
            raise StudentError(f"{call} was not run: it did not finish within {self.hung[name]:.3g} s "
                               "earlier in this grading run. Is there an infinite loop?")
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0.5:
                raise StudentError(f"This check ran out of time before {call}: your code is too slow here "
                                   "(a Python loop over samples or pixels?).")
            timeout = min(timeout, remaining)
        try:
            meta, arrays = self.child.request(op, inputs, timeout=timeout, **fields)
        except ChildTimeout:
            self.hung[name] = timeout
            raise StudentError(f"{call} did not finish within {timeout:.3g} s. Is there an infinite loop, "
                               "or a Python loop over samples or pixels?")
        except ChildDied as exc:
            if str(exc):                # a limit of the submission's (process.Limits): say which
                raise StudentError(f"Your code {exc} during {call}; the grader stopped it.")
            raise StudentError(f"The Python process running your code stopped during {call} "
                               f"(os._exit, a crash, or memory above {self.limits.memory_bytes / 2**30:.0f} GiB).")
        self._note_banned(meta)
        if not meta["ok"]:
            error = meta["error"]
            if error["not_implemented"]:
                raise NotWritten(f"{call.split('(')[0]} is not written yet (it raises NotImplementedError).")
            raise StudentError(crash_message(call, error))
        value = decode(meta["value"], arrays)
        echo = [arrays[k] for k in sorted((k for k in arrays if k.startswith("echo.a")), key=lambda k: int(k[6:]))]
        return meta, value, echo

    def call(self, fn, *args, timeout=10.0, echo=False, **kwargs):
        """Call the student's function `fn` ("module.name") and return a Reply."""
        self._module_problem(fn)
        inputs = {}
        arg_specs = self._encode(args, inputs)
        kw_specs = dict(zip(kwargs, self._encode(list(kwargs.values()), inputs)))
        call = f"{fn.split('.')[-1]}({', '.join([describe(a) for a in args] + [f'{k}={describe(v)}' for k, v in kwargs.items()])})"
        meta, value, echoed = self._run(call, "call", timeout, inputs, fn=fn, args=arg_specs, kwargs=kw_specs,
                                        echo=list(inputs) if echo else [])
        return Reply(value, meta["warnings"], meta["seconds"], echoed)

    def method(self, obj, name, *args, label=None, timeout=10.0, echo=False):
        """Call a method of a model living in the child."""
        self._ensure_child()
        inputs = {}
        arg_specs = self._encode(args, inputs)
        call = f"{label or obj.name}.{name}({', '.join(describe(a) for a in args)})"
        meta, value, echoed = self._run(call, "call", timeout, inputs, obj=obj.name, method=name, args=arg_specs,
                                        echo=list(inputs) if echo else [])
        return Reply(value, meta["warnings"], meta["seconds"], echoed)

    def patches(self, fn, x, kh, kw, timeout=10.0):
        """extract_patches with the memory-sharing test done in the child (on the live view)."""
        self._module_problem(fn)
        inputs = {"a0": x}
        call = f"extract_patches({describe(x)}, {kh}, {kw})"
        meta, value, echoed = self._run(call, "call", timeout, inputs, fn=fn, args=[{"array": "a0"}, {"value": kh}, {"value": kw}],
                                        shares_memory_with="a0", echo=["a0"])
        reply = Reply(value["result"], meta["warnings"], meta["seconds"], echoed)
        reply.shares_memory = bool(value["shares_memory"])
        return reply

    def new(self, cls, store, bare_ok=False, timeout=10.0, **kwargs):
        """Build a model `cls` ("mlp.MLP") in the child; returns its params."""
        self._module_problem(cls)
        inputs = {}
        kw_specs = dict(zip(kwargs, self._encode(list(kwargs.values()), inputs)))
        call = f"{cls.split('.')[-1]}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        self.classes[store] = cls
        meta, value, _ = self._run(call, "new", timeout, inputs, cls=cls, kwargs=kw_specs, store=store, bare_ok=bare_ok)
        return Reply(value, meta["warnings"], meta["seconds"])

    def set_params(self, obj, params, timeout=10.0):
        self._ensure_child()
        inputs = {f"p{i}": np.array(v) for i, v in enumerate(params.values())}
        self._run(f"setting {obj.name}.params", "set_params", timeout, inputs, obj=obj.name,
                  params={k: f"p{i}" for i, k in enumerate(params)})

    def get_params(self, obj, timeout=10.0):
        self._ensure_child()
        _, value, _ = self._run(f"{obj.name}.params", "get_params", timeout, {}, obj=obj.name)
        return value

    def time(self, fn, *args, repeat=3, timeout=60.0, give_up_after=5.0):
        """Best wall time of `repeat` calls of fn(*args), measured in the child."""
        self._module_problem(fn)
        inputs = {}
        arg_specs = self._encode(args, inputs)
        call = f"{fn.split('.')[-1]}({', '.join(describe(a) for a in args)})"
        _, value, _ = self._run(call, "time", timeout, inputs, fn=fn, args=arg_specs, repeat=repeat,
                                give_up_after=give_up_after)
        return float(value)

    def count_lines(self, fn, *args, timeout=10.0):
        """Lines of the student's files executed by one call of fn(*args)."""
        self._module_problem(fn)
        inputs = {}
        arg_specs = self._encode(args, inputs)
        call = f"{fn.split('.')[-1]}({', '.join(describe(a) for a in args)})"
        _, value, _ = self._run(call, "count_lines", timeout, inputs, fn=fn, args=arg_specs)
        return int(value)

    def train(self, cls, data, timeout, **settings):
        """Train a fresh model of class `cls` with the grader's loop; returns test probabilities etc."""
        self._module_problem(cls)
        call = f"training {cls.split('.')[-1]}"
        _, value, _ = self._run(call, "train", timeout, data, cls=cls, **settings)
        return value


def import_message(module, error):
    if error["type"] == "SyntaxError":
        where = error["frames"][-1] if error["frames"] else None
        if where:
            return (f"{where[0]} line {where[1]} does not parse ({error['message'].split(' (')[0]}):\n"
                    f"    {where[3]}\nFix the syntax error; nothing in {module}.py can be graded until it parses.")
        return f"{module}.py does not parse: {error['message']}"
    if error["type"] == "SystemExit":
        file, line = (error["frames"][-1][:2]) if error["frames"] else (f"{module}.py", "?")
        via = f" (imported by {module}.py)" if file != f"{module}.py" else ""
        return (f"{file} line {line} calls sys.exit() while being imported{via}; remove it "
                "(module-level code must only define things).")
    return crash_message(f"importing {module}.py", error)
