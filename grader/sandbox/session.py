"""The parent's handle on the student's code: call a function, build a model, get arrays back.

A Session owns one child process (process.ChildProcess) with the student's modules imported.
Every call returns plain values (arrays, dicts, tuples, floats) decoded from the child's answer,
or raises NotWritten or a StudentError of the outcome's type (grader/errors.py: StudentRaised,
StudentTimeout, StudentDied, OutOfTime) with a message a student can act on. After a crash or a
timeout the child is restarted for the next call, so one bad function costs only its own checks.

A call's arguments go to the child in the format its answers come back in (child.Encoder: plain
arrays plus a JSON description, in an .arr file: child.write_arrays), read there by child.decode and
here by decode().

Reply.seconds is the wall time of the request's round trip, measured here: nothing the child says
about time is used. Attempts the child's tripwire reports (banned imports, frames, ...) are read
from its report pipe after every request and kept in Session.banned.
"""
import os
import time
from dataclasses import dataclass, field

import numpy as np

from grader.contract import FILES, FUNCTIONAL
from grader.errors import NotWritten, StudentDied, StudentError, StudentRaised, StudentTimeout
from grader.sandbox.child import Encoder
from grader.sandbox.process import ChildDied, ChildProcess, ChildTimeout, Limits
from grader.text import clean, clean_name
from grader.timebudget import call_timeout

FRAMES_SHOWN = 8            # the innermost frames of a traceback (a recursion has a thousand)


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
    seconds: float = 0.0                          # wall time of the round trip, measured by the parent
    echo: list = field(default_factory=list)     # the array inputs after the call, in order


# What the child's tripwire may report (see child.install_tripwire), and how much of it is read.
ATTEMPT_KINDS = ("import", "frame", "gc", "trace", "ctypes", "process", "interpreter")
REPORT_BYTES = 256 * 1024


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


MAX_NODES = 300             # values in one decoded answer (the child's Encoder writes at most 65 arrays)
UNREADABLE = "unreadable answer"


def decode(spec, arrays, budget=None):
    """The value the child described in spec, from the arrays it sent. Only the kinds the child's
    Encoder writes are read, at most MAX_NODES values, each array one the child sent; anything else
    (the child's process is the student's to rewrite) becomes an Opaque value the checks reject."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or not isinstance(spec, dict):
        return Opaque(UNREADABLE)
    kind = spec.get("kind")
    if kind in ("array", "scalar"):
        value = arrays.get(spec.get("key")) if isinstance(spec.get("key"), str) else None
        if not isinstance(value, np.ndarray):
            return Opaque(UNREADABLE)
        return value if kind == "array" else value[()]
    if kind == "none":
        return None
    if kind == "dict" and isinstance(spec.get("items"), dict):
        return {clean_name(k, 100): decode(v, arrays, budget) for k, v in list(spec["items"].items())[:64]}
    if kind in ("tuple", "list") and isinstance(spec.get("items"), list):
        items = [decode(v, arrays, budget) for v in spec["items"][:64]]
        return tuple(items) if kind == "tuple" else items
    return Opaque(clean_name(spec.get("type", "unknown"), 60))


def child_error(error):
    """The child's description of an exception, every string in it the student's (type, message,
    traceback lines), cleaned (grader/text.py) and of the expected form whatever the child sent."""
    error = error if isinstance(error, dict) else {}
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    frames = [[clean_name(f[0], 100), line_number(f[1]), clean_name(f[2], 100), clean(f[3], 300).strip()]
              for f in frames if isinstance(f, (list, tuple)) and len(f) == 4]
    return {"type": clean_name(error.get("type", "Exception"), 100), "message": clean(error.get("message", ""), 1000),
            "frames": frames, "not_implemented": error.get("not_implemented") is True}


def line_number(value):
    return value if type(value) is int or value is None else clean_name(value, 12)


def crash_message(call, error):
    error = child_error(error)
    if error["type"] == "SystemExit":
        head = f"{call} called sys.exit()"
    else:
        head = f"{call} raised {error['type']}: {error['message']}"
    lines = [head]
    frames = error["frames"]
    if len(frames) > FRAMES_SHOWN:
        lines.append(f"  ... {len(frames) - FRAMES_SHOWN} earlier lines of the traceback")
    for file, line, function, code in frames[-FRAMES_SHOWN:]:
        lines.append(f"  {file}:{line} in {function}: {code}")
    return "\n".join(lines)


def child_warnings(meta):
    """The warnings the child recorded, cleaned: [{"category", "message", "where": [file, line] or None}]."""
    found = meta.get("warnings") if isinstance(meta.get("warnings"), list) else []
    kept = []
    for w in found[:20]:
        if isinstance(w, dict):
            where = w.get("where")
            where = [clean_name(where[0], 100), line_number(where[1])] if isinstance(where, list) and len(where) == 2 else None
            kept.append({"category": clean_name(w.get("category", ""), 100), "message": clean(w.get("message", ""), 300),
                         "where": where})
    return kept


class Session:
    """One child process with the student's modules imported, restarted after a crash."""

    def __init__(self, submission_dir, modules, limits=Limits(), lent_functional=None,
                 call_seconds=10.0, trusted=False):
        self.submission_dir = submission_dir
        self.trusted = trusted          # the reference solution: see ChildProcess
        self.modules = list(modules)
        self.limits = limits
        # (name, arrays) -> array: the grader's functional.py functions, answered in the grader's process
        # for a child whose own functional.py is broken (see child.lent_module); None: the student's own
        self.lent_functional = lent_functional
        self.call_seconds = call_seconds    # each import's and each call's limit, unless a call names its own
        self.import_problems = {}
        self.banned = []            # attempts reported by the child: {"kind", "what", "where": [[file, line]]}
        self._report_bytes = 0
        self._report_rest = b""
        self.child = None
        self.deadline = None        # monotonic time by which the current check must be done (timebudget.py)
        self.hung = {}              # function or method name -> seconds it ran before being stopped
        self.classes = {}           # name of an object in the child -> its class ("mlp.MLP")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.child is not None:
            self._read_reports()
            self.child.close()
            self.child = None

    # ---- child lifecycle ------------------------------------------------------------------------
    def _ensure_child(self):
        if self.child is not None and self.child.alive:
            return
        if self.child is not None:
            self._read_reports()
            self.child.close()
        self._report_rest = b""
        try:
            self.child = ChildProcess(self.submission_dir, self.limits, self.lent_functional, self.trusted)
        except ChildDied as exc:
            raise StudentError(f"The grader could not start Python for your code: {exc}")
        for module in self.modules:
            if module in self.import_problems:
                continue
            lent = list(FUNCTIONAL) if module == "functional" and self.lent_functional is not None else []
            try:
                meta, _ = self.child.request("import", timeout=self.call_seconds, module=module, substitute=lent)
            except ChildTimeout:
                problem = (f"importing {module}.py did not finish within {self.call_seconds:.0f} s: is there an "
                           "infinite loop at module level?")
            except ChildDied as exc:
                problem = (f"importing {module}.py stopped the Python process: your code {exc}" if str(exc) else
                           f"importing {module}.py stopped the Python process (os._exit, a crash, or too much "
                           "memory at module level)")
            else:
                self._read_reports()
                if not meta["ok"]:
                    self.import_problems[module] = import_message(module, meta["error"])
                continue
            self.import_problems[module] = problem
            return self._ensure_child()

    def _read_reports(self):
        """Read what the child's tripwire wrote on its pipe since the last time (at most REPORT_BYTES in
        all): one line per attempt, "kind\twhat\tfile:line,file:line"."""
        fd = self.child.reports if self.child is not None else None
        while fd is not None and self._report_bytes < REPORT_BYTES:
            try:
                chunk = os.read(fd, min(65536, REPORT_BYTES - self._report_bytes))
            except OSError:             # BlockingIOError: nothing more for now
                break
            if not chunk:
                break
            self._report_bytes += len(chunk)
            *lines, self._report_rest = (self._report_rest + chunk).split(b"\n")
            for line in lines:
                attempt = parse_attempt(line)
                if attempt is not None and attempt not in self.banned and len(self.banned) < 100:
                    self.banned.append(attempt)

    def forget_hang(self, name):
        """Let calls of `name` ("mlp.MLP.backward") run again after one did not finish: a check that timed
        it with a short limit of its own does not speak for the other checks' calls."""
        self.hung.pop(name, None)

    def _module_problem(self, dotted):
        module = dotted.split(".")[0]
        self._ensure_child()
        if module in self.import_problems:
            raise StudentError(self.import_problems[module])

    # ---- requests ---------------------------------------------------------------------------------
    @staticmethod
    def _encoder():
        """The channel's Encoder (child.py) for a request's values: arrays sent as they are (their memory
        layout is part of what some checks send), objects living in the child by name, plain values as JSON."""
        def special(value):
            if isinstance(value, Obj):
                return {"kind": "obj", "name": value.name}
            if value is None or isinstance(value, (bool, int, float, str)):
                return {"kind": "value", "value": value}
            if not isinstance(value, (np.ndarray, np.generic, dict, list, tuple)):     # a grader bug, said here
                raise TypeError(f"a {type(value).__name__} cannot be sent to the child")
            return None
        return Encoder(from_student=False, special=special)

    def _run(self, call, op, timeout, inputs, **fields):
        name = fields.get("fn") or fields.get("cls")
        if "method" in fields:
            name = f"{self.classes.get(fields['obj'])}.{fields['method']}"
        if name in self.hung:       # one hang is reported once per check, not waited for again
            raise StudentTimeout(f"{call} was not run: it did not finish within {self.hung[name]:.3g} s "
                               "earlier in this grading run (an infinite loop, or code far too slow).")
        timeout = call_timeout(self.deadline, self.call_seconds if timeout is None else timeout, call)
        start = time.perf_counter()
        try:
            meta, arrays = self.child.request(op, inputs, timeout=timeout, **fields)
        except ChildTimeout:
            self.hung[name] = timeout
            raise StudentTimeout(f"{call} did not finish within {timeout:.3g} s: it is far too slow here (a "
                               "Python loop over samples or pixels?) or never ends (an infinite loop).")
        except ChildDied as exc:
            if str(exc):                # a limit of the submission's (process.Limits): say which
                raise StudentDied(f"Your code {exc} during {call}; the grader stopped it.")
            raise StudentDied(f"The Python process running your code stopped during {call} "
                               f"(os._exit, a crash, or memory above {self.limits.memory_bytes / 2**30:.0f} GiB).")
        finally:
            self._read_reports()
        meta["seconds"] = time.perf_counter() - start      # the parent's own measure; the child sends none
        if not meta["ok"]:
            error = child_error(meta.get("error"))
            if error["not_implemented"]:
                raise NotWritten(f"{call.split('(')[0]} is not written yet (it raises NotImplementedError).")
            raise StudentRaised(crash_message(call, error), error["type"])
        value = decode(meta["value"], arrays)
        echo = [arrays["echo." + name] for name in fields.get("echo", ()) if "echo." + name in arrays]
        return meta, value, echo

    def call(self, fn, *args, timeout=None, echo=False, **kwargs):
        """Call the student's function `fn` ("module.name") and return a Reply."""
        self._module_problem(fn)
        encoder = self._encoder()
        arg_specs = [encoder.encode(value, f"a{i}") for i, value in enumerate(args)]
        kw_specs = {key: encoder.encode(value, f"k_{key}") for key, value in kwargs.items()}
        call = f"{fn.split('.')[-1]}({', '.join([describe(a) for a in args] + [f'{k}={describe(v)}' for k, v in kwargs.items()])})"
        meta, value, echoed = self._run(call, "call", timeout, encoder.arrays, fn=fn, args=arg_specs, kwargs=kw_specs,
                                        echo=list(encoder.arrays) if echo else [])
        return Reply(value, child_warnings(meta), meta["seconds"], echoed)

    def method(self, obj, name, *args, label=None, timeout=None, echo=False):
        """Call a method of a model living in the child."""
        self._ensure_child()
        encoder = self._encoder()
        arg_specs = [encoder.encode(value, f"a{i}") for i, value in enumerate(args)]
        call = f"{label or obj.name}.{name}({', '.join(describe(a) for a in args)})"
        meta, value, echoed = self._run(call, "call", timeout, encoder.arrays, obj=obj.name, method=name, args=arg_specs,
                                        echo=list(encoder.arrays) if echo else [])
        return Reply(value, child_warnings(meta), meta["seconds"], echoed)

    def call_and_pick(self, fn, *args, pick, overwrite=None, full=False, timeout=None):
        """Call fn(*args) and get back only result[pick] (pick: (M, ndim) integer positions), then again
        after the child copies overwrite = (i, new_values) into argument i (an array). Returns the
        result's shape, the picked values before and after (None when the result is no array, the
        positions do not fit its shape, or the argument could not be written) and, with full=True,
        the whole result taken before the copy."""
        self._module_problem(fn)
        encoder = self._encoder()
        arg_specs = [encoder.encode(value, f"a{i}") for i, value in enumerate(args)]
        inputs = encoder.arrays
        inputs["pick"] = np.asarray(pick, dtype=np.int64)
        fields = {"pick": "pick", "full": bool(full)}
        if overwrite is not None:
            inputs["after"] = np.asarray(overwrite[1])
            fields["overwrite"] = [arg_specs[overwrite[0]]["key"], "after"]
        call = f"{fn.split('.')[-1]}({', '.join(describe(a) for a in args)})"
        meta, value, _ = self._run(call, "call", timeout, inputs, fn=fn, args=arg_specs, **fields)
        if not isinstance(value, dict):
            return Picked(value, None, None, None, None)
        shape = tuple(int(d) for d in value["shape"])
        return Picked(value, shape, value.get("before"), value.get("after"), value.get("full"))

    def new(self, cls, store, bare_ok=False, timeout=None, **kwargs):
        """Build a model `cls` ("mlp.MLP") in the child; returns its params."""
        self._module_problem(cls)
        encoder = self._encoder()
        kw_specs = {key: encoder.encode(value, f"k_{key}") for key, value in kwargs.items()}
        call = f"{cls.split('.')[-1]}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        self.classes[store] = cls
        meta, value, _ = self._run(call, "new", timeout, encoder.arrays, cls=cls, kwargs=kw_specs, store=store,
                                   bare_ok=bare_ok)
        return Reply(value, child_warnings(meta), meta["seconds"])

    def set_params(self, obj, params, timeout=None):
        self._ensure_child()
        encoder = self._encoder()
        spec = encoder.encode({key: np.array(value) for key, value in params.items()}, "p")
        self._run(f"setting {obj.name}.params", "set_params", timeout, encoder.arrays, obj=obj.name, params=spec)

    def get_params(self, obj, timeout=None):
        self._ensure_child()
        _, value, _ = self._run(f"{obj.name}.params", "get_params", timeout, {}, obj=obj.name)
        return value

    def start_training(self, cls, params, images, labels, input_shape, mean, std, timeout):
        """A model of class `cls` in the child holding `params`, and the training set it will be trained on."""
        self.new(cls, "trained", bare_ok=True, timeout=timeout)
        self.set_params(Obj("trained"), params, timeout=timeout)
        self._run("loading the training set", "train_data", timeout, {"images": images, "labels": labels},
                  input_shape=list(input_shape), mean=mean, std=std)

    def train_steps(self, index, ends, lr, timeout):
        """SGD steps of the training model on the batches index[ends[i-1]:ends[i]]; returns
        {"losses": one per batch, "params": the params after the last step}."""
        self._module_problem(self.classes["trained"])
        call = f"training {self.classes['trained'].split('.')[-1]}"
        _, value, _ = self._run(call, "train_steps", timeout, {"index": index, "ends": ends}, obj="trained", lr=lr)
        if not isinstance(value, dict):
            raise StudentError(f"{call} returned no params")
        return value


@dataclass
class Picked:
    """What Session.call_and_pick got back (see there)."""
    value: object          # the decoded answer: the child's dict, or the returned value if it was no array
    shape: tuple
    before: object
    after: object
    full: object


def parse_attempt(line):
    """One line of the child's report pipe as {"kind", "what", "where": [[file, line], ...]}, or None."""
    try:
        kind, what, where = line.decode("ascii").split("\t")
    except (UnicodeDecodeError, ValueError):
        return None
    if kind not in ATTEMPT_KINDS:
        return None
    frames = []
    for item in where.split(",")[:8]:
        file, _, number = item.rpartition(":")
        if file in FILES and number.isdigit():
            frames.append([file, int(number)])
    return {"kind": kind, "what": what[:100], "where": frames}


def import_message(module, error):
    error = child_error(error)
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
