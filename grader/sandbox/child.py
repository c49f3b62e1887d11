"""The only grader code that runs in the student's process. Small and boring on purpose.

Started by process.py as `python -I child.py WORKDIR SUBMISSION_DIR`. It reads one
JSON request per line on stdin, runs it (import a student file, call a function, build a model,
train), writes the answer to WORKDIR/out_<id>.arr (write_arrays: a JSON header, then raw array bytes)
and then writes one line `<id>` on the reply channel (the original stdout). Whatever the student
code prints goes to WORKDIR/output.txt instead. It never computes a verdict: the parent does.

When the student's functional.py is broken, the models are graded with the grader's functions in
its place: no reference code comes here, only a module whose functions ask the grader's process
(`cb <n>` on the reply channel, arguments in WORKDIR/cb_<n>.arr; the answer in WORKDIR/cbr_<n>.arr,
announced by a line `cbr <n>` on stdin).

Imports only the standard library and numpy, and takes its own references to every numpy function
it uses before any student code runs, so monkeypatching numpy cannot change what is sent back.
No verdict rests on what it measures: the parent times each request's round trip itself.

After numpy is imported, a PEP 578 audit hook (install_tripwire) turns the cheap ways into the
grader's own code (frames, gc, tracing, ctypes, new processes, subinterpreters) and every import of
an autodiff library into clear failures, and reports each attempt at once on a pipe to the parent
(fd MNIST_GRADER_REPORTS), which student code cannot take back. It is a tripwire, not the sandbox:
code in this process can rewrite this process's memory.
"""
import _thread
import importlib.abc
import io
import json
import linecache
import os
import re
import sys
import types
import warnings

import numpy as np
import numpy.fft
import numpy.lib.stride_tricks
import numpy.linalg
import numpy.random

BANNED = frozenset({
    "torch", "torchvision", "torchaudio", "tensorflow", "tf_keras", "keras", "jax", "jaxlib",
    "flax", "optax", "autograd", "mxnet", "paddle", "theano", "pytensor", "chainer", "cupy",
    "mindspore", "tinygrad", "micrograd", "mlx", "dynet", "caffe2", "tensorly",
    "pytorch_lightning", "lightning",
})
# The kit itself: the reference solution and the grader stay out of reach of student code.
KIT = frozenset({"grader", "solution", "data_scripts"})

_ndarray = np.ndarray
_generic = np.generic
_asarray = np.asarray
_array = np.array
_frombuffer = np.frombuffer
_copyto = np.copyto
_getitem = np.ndarray.__getitem__
_dtype = np.dtype
_tobytes = np.ndarray.tobytes
_open = io.open
_seterr = np.seterr
_eye = np.eye
_log = np.log
_clip = np.clip
_json_dumps = json.dumps
_json_loads = json.loads
_os_replace = os.replace
_os_remove = os.remove
_getline = linecache.getline


# Audit events the tripwire refuses (besides imports of BANNED and reads of FRAME_ATTRIBUTES), by the
# kind of attempt the parent is told about. Correct code never raises any of them.
REFUSED = {
    "gc.get_objects": "gc", "gc.get_referrers": "gc", "gc.get_referents": "gc",
    "sys.settrace": "trace", "sys.setprofile": "trace", "sys._current_frames": "frame",
    "sys._current_exceptions": "frame", "sys.addaudithook": "trace",
    "cpython.PyInterpreterState_New": "interpreter",
    "os.system": "process", "os.exec": "process", "os.posix_spawn": "process", "os.spawn": "process",
    "os.fork": "process", "os.forkpty": "process", "subprocess.Popen": "process", "pty.spawn": "process",
}
# Attribute reads that hand out a frame or a code object (PEP 578 audits exactly these, and __code__).
FRAME_ATTRIBUTES = frozenset({"tb_frame", "f_code", "gi_frame", "gi_code", "cr_frame", "ag_frame"})
BANNED_IMPORT = "mnist.banned_import"      # the event the import guard raises for the tripwire to report


def install_tripwire(submission_dir, report_fd):
    """Install the audit hook; returns traceback_frames(tb), the one way left to read a traceback, and
    check_modules(), which reports a banned module found in sys.modules (a namespace package made
    from a masked, empty folder loads no file and raises no event on the way in).

    Everything the hook uses is captured here, in closures: frozensets, the builtins it calls, the
    report fd, and `owner`, the thread the grader lets through while it reads frames itself. No module
    global leads to them, so rebinding names in this module or in builtins changes nothing. Call it
    after numpy and the modules the child needs are imported: their imports call sys._getframe."""
    banned, kit, refused, frame_attributes = BANNED, KIT, dict(REFUSED), FRAME_ATTRIBUTES
    guard_event, message = BANNED_IMPORT, banned_message
    getframe, get_ident, write, fstat, modules = sys._getframe, _thread.get_ident, os.write, os.fstat, sys.modules
    _str, _len, _isinstance, _type, _list = str, len, isinstance, type, list
    _ImportError, _RuntimeError, _ValueError, _OSError = ImportError, RuntimeError, ValueError, OSError
    traceback_type, safe = types.TracebackType, frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
    owner, sent, seen = [None], [0], set()
    channel = None
    if report_fd is not None:
        try:
            info = fstat(report_fd)
            channel = (info.st_dev, info.st_ino)
            os.set_blocking(report_fd, False)
        except _OSError:
            report_fd = None

    def student_lines(frame):
        """"file:line" of the submission's frames from `frame` up, outermost first (owner is set)."""
        found = []
        while frame is not None and _len(found) < 8:
            filename = frame.f_code.co_filename
            if _isinstance(filename, _str) and filename.rpartition("/")[0] == submission_dir:
                found.append(filename.rpartition("/")[2] + ":" + _str(frame.f_lineno))
            frame = frame.f_back
        return found[::-1]

    def report(kind, what, caller_only=False):
        """Tell the parent now: one line "kind\twhat\tfile:line,..." on the pipe (at most 64)."""
        owner[0] = get_ident()
        try:
            caller = getframe(2)
            lines = student_lines(caller.f_back if caller_only else caller)
            if caller_only:      # only attempts made by the submission's own code (not the stdlib's)
                filename = caller.f_code.co_filename
                if not (_isinstance(filename, _str) and filename.rpartition("/")[0] == submission_dir):
                    return
                lines.append(filename.rpartition("/")[2] + ":" + _str(caller.f_lineno))
        finally:
            owner[0] = None
        if report_fd is None or sent[0] >= 64:
            return
        sent[0] += 1
        name = "".join([c for c in (what if _isinstance(what, _str) else "?")[:100] if c in safe])
        try:
            info = fstat(report_fd)
            if (info.st_dev, info.st_ino) == channel:        # still our pipe, not a file put in its place
                write(report_fd, (kind + "\t" + name + "\t" + ",".join(lines) + "\n").encode())
        except _OSError:
            pass

    def hook(event, args):
        if owner[0] is not None and owner[0] == get_ident():
            return
        if event == "import" or event == guard_event:
            name = args[0] if _len(args) and _isinstance(args[0], _str) else ""
            top = name.partition(".")[0]
            if top in banned:
                report("import", name)
                if event == "import":
                    raise _ImportError(message(name))
            elif top in kit and event == "import":
                raise _ImportError(f"No module named {name!r}")
        elif event == "open":
            path = args[0] if _len(args) else None
            if _isinstance(path, _str):
                for part in path.split("/"):
                    if part.partition(".")[0] in banned and part != "":
                        report("import", part.partition(".")[0])
                        raise _ImportError(message(part.partition(".")[0]))
        elif event == "object.__getattr__":
            if _len(args) > 1 and args[1] in frame_attributes:
                report("frame", args[1], caller_only=True)
                raise _RuntimeError(f"reading .{args[1]} is not allowed here: frames and code objects lead to the "
                                    "grader's own code")
        elif event == "object.__setattr__":
            if _len(args) > 1 and args[1] == "__code__":
                report("frame", "__code__")
                raise _RuntimeError("replacing a function's __code__ is not allowed here")
        elif event == "sys._getframe":
            report("frame", "sys._getframe", caller_only=True)
            raise _ValueError("call stack is not available here")   # the standard library expects ValueError
        elif event in refused or event.startswith("ctypes."):
            report(refused.get(event, "ctypes"), event)
            raise _RuntimeError(f"{event} is not allowed in this assignment")

    def traceback_frames(tb):
        """[(filename, line, function)] of a traceback, read with the grader's own permission."""
        found = []
        owner[0] = get_ident()
        try:
            while _type(tb) is traceback_type and _len(found) < 200:
                code = tb.tb_frame.f_code
                found.append((code.co_filename, tb.tb_lineno, code.co_name))
                tb = tb.tb_next
        finally:
            owner[0] = None
        return found

    def check_modules():
        for name in _list(modules):
            top = name.partition(".")[0] if _isinstance(name, _str) else ""
            if top in banned and top not in seen:
                seen.add(top)
                report("import", top)

    sys.addaudithook(hook)
    return traceback_frames, check_modules


def banned_message(name):
    top = name.partition(".")[0]
    return (f"No module named {name!r}: {top} is not allowed in this assignment "
            "(only numpy and harmless standard-library modules)")


def import_guard():
    """A meta-path finder that makes `import torch` fail in any form (importlib.import_module too, which
    raises no "import" audit event). It reports through an audit event, so it holds nothing that leads
    to the tripwire's report channel or its permission flag."""
    banned, kit, audit, message, event = BANNED, KIT, sys.audit, banned_message, BANNED_IMPORT

    class BannedImportGuard(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            top = fullname.partition(".")[0]
            if top in kit:
                raise ImportError(f"No module named {fullname!r}")
            if top in banned:
                audit(event, fullname)
                raise ImportError(message(fullname))
            return None
    return BannedImportGuard()


def student_frames(frames, submission_dir):
    """The frames that belong to the student's files: [file, line, function, code]."""
    keep = []
    for filename, lineno, function in frames:
        if os.path.dirname(os.path.abspath(filename)) == submission_dir:
            keep.append([os.path.basename(filename), lineno, function, _getline(filename, lineno).strip()])
    return keep[-6:]


# ---- the channel's file format, both ways ----------------------------------------------------------
# An .arr file: MAGIC (8 bytes), the header's length (8 bytes, little-endian), the header (JSON:
# {"meta": any JSON value, "arrays": [[name, dtype.str, shape, order, offset, nbytes], ...]}), then
# each array's bytes at data start + offset, where the data start and every offset are multiples of
# ALIGN and the arrays follow one another in the table's order without overlapping. An array is
# stored in C order, or in Fortran order ("F") when it is Fortran-contiguous only, as np.save keeps it.
# No pickle, no compression: parse_arrays never makes more bytes than the file holds.
MAGIC = b"\x93MNARR1\n"
ALIGN = 64
MAX_DIMS = 64                         # numpy's own limit
# dtype.str of the dtypes np.save writes without pickle: bool, ints, floats, complex, bytes, str,
# plain void, datetime/timedelta. No object dtype, no fields, no subarray (dtype.str never names them).
DTYPE_STR = re.compile(r"\|b1|\|[iu]1|[<>][iu](2|4|8)|[<>]f(2|4|8|16)|[<>]c(8|16|32)|\|[SV][1-9][0-9]{0,8}"
                       r"|[<>]U[1-9][0-9]{0,8}|[<>][mM]8(\[[1-9]?[0-9]{0,8}(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?")
_dtype_match = DTYPE_STR.fullmatch


class ArraysError(ValueError):
    """Bytes that are not a file write_arrays writes (the grader's process reads the child's files with
    parse_arrays and treats this as the child's death)."""


def write_arrays(file, arrays, meta=None):
    """Write `arrays` (name -> array) and `meta` (a JSON value) to the binary `file` in the .arr format."""
    table, blobs, offset = [], [], 0
    for name, value in arrays.items():
        value = _asarray(value)
        order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
        data = _tobytes(value, order)
        table.append([name, value.dtype.str, list(value.shape), order, offset, len(data)])
        blobs.append(data)
        offset += -(-len(data) // ALIGN) * ALIGN
    header = _json_dumps({"meta": meta, "arrays": table}, default=str).encode()
    head = len(MAGIC) + 8 + len(header)
    file.write(MAGIC + len(header).to_bytes(8, "little") + header + bytes(-head % ALIGN))
    for data in blobs:
        file.write(data)
        file.write(bytes(-len(data) % ALIGN))


def parse_arrays(buffer, max_arrays=None, max_header=None):
    """(meta, {name: array}) of the bytes of an .arr file, each array a fresh writable copy with the
    dtype, shape and order written. Read as untrusted: a header of at most max_header bytes checked
    before it is parsed (a JSON too deep for the parser is refused, not followed), at most max_arrays
    arrays, each a dtype of DTYPE_STR with exactly prod(shape) * itemsize bytes, all within the file,
    aligned, in order and apart. Anything else raises ArraysError."""
    view = memoryview(buffer)
    size, start = len(view), len(MAGIC) + 8
    if size < start or view[:len(MAGIC)] != MAGIC:
        raise ArraysError("not an .arr file")
    length = int.from_bytes(view[len(MAGIC):start], "little")
    if (max_header is not None and length > max_header) or start + length > size:
        raise ArraysError("a header too long")
    try:
        header = _json_loads(str(view[start:start + length], "utf-8"))
    except (ValueError, RecursionError, MemoryError):
        raise ArraysError("a header that is not JSON, or too deeply nested") from None
    if type(header) is not dict or len(header) != 2 or type(header.get("arrays")) is not list or "meta" not in header:
        raise ArraysError("a header of the wrong form")
    table = header["arrays"]
    if max_arrays is not None and len(table) > max_arrays:
        raise ArraysError("too many arrays")
    base = -(-(start + length) // ALIGN) * ALIGN
    arrays, end = {}, base
    for entry in table:
        if type(entry) is not list or len(entry) != 6:
            raise ArraysError("an array entry of the wrong form")
        name, descr, shape, order, offset, nbytes = entry
        if (type(name) is not str or name in arrays or type(descr) is not str or _dtype_match(descr) is None
                or type(shape) is not list or len(shape) > MAX_DIMS or order not in ("C", "F")
                or type(offset) is not int or type(nbytes) is not int):
            raise ArraysError("an array entry of the wrong form")
        count = 1
        for d in shape:
            if type(d) is not int or d < 0:
                raise ArraysError("a shape of the wrong form")
            count *= d
        try:
            dtype = _dtype(descr)
        except (TypeError, ValueError):
            raise ArraysError("an unknown dtype") from None
        if (dtype.str != descr or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None
                or dtype.itemsize == 0):
            raise ArraysError("a dtype that is not plain")
        if nbytes != count * dtype.itemsize or offset % ALIGN or base + offset < end or base + offset + nbytes > size:
            raise ArraysError("an array that is not where the header says")
        end = base + offset + nbytes
        try:
            flat = _frombuffer(view, dtype, count, base + offset)
            value = flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)
        except (TypeError, ValueError):
            raise ArraysError("an array numpy cannot make") from None
        arrays[name] = _array(value, copy=True, order="K")
    return header["meta"], arrays


def read_arrays(path):
    """(meta, arrays) of an .arr file the grader wrote (the child trusts it)."""
    with _open(path, "rb") as file:
        return parse_arrays(file.read())


def save_arrays(path, arrays, meta=None):
    """Write an .arr file for the grader, complete before its name appears."""
    with _open(path + ".tmp", "wb") as file:
        write_arrays(file, arrays, meta)
    _os_replace(path + ".tmp", path)


class Encoder:
    """A value as plain arrays plus a JSON description of it: the one format of the channel between the
    grader and the child, both ways.

    The child describes what student code returned (from_student=True): its arrays are copied, so
    nothing the student keeps can change them once described, and its size is bounded (32 items per
    container, 4 levels, 65 arrays, 48 MB per array), since the grader reads it. The grader describes the
    arguments of a call (from_student=False): its arrays are sent as they are (an array's memory
    layout is part of what some checks send), and a `special` function describes first what only the
    grader sends: an object living in the child, plain JSON values. The grader reads the child's
    descriptions with session.decode, which trusts nothing; the child reads the grader's with decode()."""

    def __init__(self, from_student=True, special=None):
        self.arrays = {}
        self.bounded = from_student
        self.special = special          # value -> description, or None for the kinds below

    def encode(self, value, key="r", depth=0):
        spec = self.special(value) if self.special is not None else None
        if spec is not None:
            return spec
        items = 32 if self.bounded else None
        if self.bounded and (depth > 4 or len(self.arrays) > 64):
            return {"kind": "other", "type": "too deeply nested"}
        if isinstance(value, _ndarray):
            if value.dtype.hasobject or value.dtype.fields is not None:
                return {"kind": "other", "type": f"ndarray of dtype {value.dtype}"}
            if self.bounded and value.nbytes > 48 * 2**20:       # the grader reads at most 64 MB per answer
                return {"kind": "other", "type": f"ndarray too large ({value.shape})"}
            self.arrays[key] = _array(value, copy=True, subok=False, order="C") if self.bounded else value
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
            found = {}
            for k in list(value)[:items]:
                found[str(k)] = self.encode(value[k], f"{key}.{k}", depth + 1)
            return {"kind": "dict", "items": found, "keys": [str(k) for k in list(value)[:items]]}
        if isinstance(value, (tuple, list)):
            found = [self.encode(v, f"{key}.{i}", depth + 1) for i, v in enumerate(value[:items])]
            return {"kind": type(value).__name__ if type(value) in (tuple, list) else "tuple",
                    "items": found, "length": len(value)}
        return {"kind": "other", "type": type(value).__name__}


def decode(spec, arrays, objects):
    """The value the grader described in spec (Encoder's format, its special kinds included: "obj",
    an object living here; "value", a plain JSON value), from the arrays it sent."""
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["key"]]
    if kind == "scalar":
        return arrays[spec["key"]][()]
    if kind == "value":
        return spec["value"]
    if kind == "obj":
        return objects[spec["name"]]
    if kind == "none":
        return None
    if kind == "dict":
        return {key: decode(item, arrays, objects) for key, item in spec["items"].items()}
    if kind in ("tuple", "list"):
        items = [decode(item, arrays, objects) for item in spec["items"]]
        return tuple(items) if kind == "tuple" else items
    raise TypeError(f"the grader sent a value it could not describe ({spec.get('type')})")


def lent_module(ask, names):
    """A `functional` module whose contract functions (names, as the grader lists them) are answered by
    the grader's process."""
    module = types.ModuleType("functional", "functional.py's contract functions, answered by the grader "
                              "(your own functional.py is broken, so the models are graded with these).")
    for name in names:
        def function(*args, _name=name, **kwargs):
            return ask(_name, args, kwargs)
        function.__name__ = function.__qualname__ = name
        setattr(module, name, function)
    return module


class Child:
    def __init__(self, workdir, submission_dir, reply, requests, tripwire):
        self.workdir = workdir
        self.submission_dir = submission_dir
        self.reply, self.requests, self.asked = reply, requests, 0
        self.traceback_frames, self.check_modules = tripwire
        self.modules = {}
        self.objects = {}
        sys.meta_path.insert(0, import_guard())

    # ---- one request -------------------------------------------------------------------------
    def handle(self, request):
        meta = {"id": request["id"], "ok": True}
        encoder = Encoder()
        inputs = {}
        if request.get("inputs"):
            _, inputs = read_arrays(os.path.join(self.workdir, request["inputs"]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _seterr(over="warn", invalid="warn", divide="warn", under="ignore")
            try:
                meta["value"] = encoder.encode(getattr(self, "op_" + request["op"])(request, inputs))
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
                meta["ok"] = False
                meta["error"] = self.describe(exc)
        self.check_modules()
        meta["warnings"] = [
            {"category": w.category.__name__, "message": str(w.message)[:300],
             "where": [os.path.basename(w.filename), w.lineno] if os.path.dirname(os.path.abspath(w.filename)) == self.submission_dir else None}
            for w in caught[:20]
        ]
        if request.get("echo"):
            for name in request["echo"]:
                encoder.arrays["echo." + name] = _array(inputs[name], copy=True)
        save_arrays(os.path.join(self.workdir, f"out_{request['id']}.arr"), encoder.arrays, meta)

    def describe(self, exc):
        frames = student_frames(self.traceback_frames(exc.__traceback__), self.submission_dir)
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
        save_arrays(os.path.join(self.workdir, f"cb_{n}.arr"), values, {"fn": name})
        self.reply.write(f"cb {n}\n")
        if self.requests.readline().strip() != f"cbr {n}":
            raise RuntimeError(f"the grader did not answer {name}()")
        answer = os.path.join(self.workdir, f"cbr_{n}.arr")
        meta, arrays = read_arrays(answer)
        _os_remove(answer)                   # the folder's size counts against the submission's disk limit
        if meta is not None:
            raise ValueError(meta["error"])
        result = arrays["result"]
        return result[()] if result.ndim == 0 else result

    # ---- resolving names ---------------------------------------------------------------------
    def resolve(self, dotted):
        module, _, name = dotted.partition(".")
        if module not in self.modules:
            raise RuntimeError(f"{module}.py was not imported")
        return getattr(self.modules[module], name)

    def arguments(self, request, inputs):
        args = [decode(spec, inputs, self.objects) for spec in request.get("args", [])]
        kwargs = {k: decode(spec, inputs, self.objects) for k, spec in request.get("kwargs", {}).items()}
        return args, kwargs

    # ---- operations --------------------------------------------------------------------------
    def op_import(self, request, inputs):
        name = request["module"]
        if name == "functional" and request.get("substitute"):
            module = lent_module(self.ask, [str(n) for n in request["substitute"]])
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
        if "pick" in request:
            return self.picked(result, request, inputs)
        return result

    def picked(self, result, request, inputs):
        """Only result[pick], the positions the parent chose (so a result too large to send, a view of
        a huge x, stays here), before and after the parent's new values are copied into an input:
        the parent sees from them whether the result is a view of that input. Judges nothing."""
        if not isinstance(result, _ndarray):
            return result
        answer = {"shape": tuple(int(d) for d in result.shape)}
        pick = inputs[request["pick"]]
        if result.ndim != pick.shape[1] or any(int(pick[:, k].min()) < 0 or int(pick[:, k].max()) >= result.shape[k]
                                               for k in range(result.ndim)):
            return answer
        index = tuple(pick[:, k] for k in range(result.ndim))
        if request.get("full"):
            answer["full"] = _array(result, copy=True, subok=False)
        answer["before"] = _array(_getitem(result, index), copy=True, subok=False)
        if "overwrite" in request:
            target, source = request["overwrite"]
            try:
                _copyto(inputs[target], inputs[source])
            except (TypeError, ValueError):         # the student made the input read-only
                return answer
            answer["after"] = _array(_getitem(result, index), copy=True, subok=False)
        return answer

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
        for key, value in decode(request["params"], inputs, self.objects).items():
            value = _array(value, copy=True)
            old = params.get(key)
            if isinstance(old, _ndarray) and old.shape == value.shape and old.dtype == value.dtype and old.flags.writeable:
                old[...] = value           # keeps any alias the student made of params[key]
            else:
                params[key] = value
        return None

    def op_get_params(self, request, inputs):
        return getattr(self.objects[request["obj"]], "params", None)

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


def warm_up():
    """Run once what the child itself needs, so modules numpy imports lazily are in before the tripwire."""
    buffer = io.BytesIO()
    write_arrays(buffer, {"a": np.zeros((2, 3), order="F"), "b": np.zeros((), dtype="<U2")}, {"m": [1]})
    parse_arrays(buffer.getvalue(), 2, 2**20)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        np.einsum("ij,jk->ik", np.ones((2, 2)), np.ones((2, 2)), optimize=True)


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
    warm_up()
    report_fd = os.environ.get("MNIST_GRADER_REPORTS")
    tripwire = install_tripwire(submission_dir, int(report_fd) if report_fd and report_fd.isdigit() else None)
    child = Child(workdir, submission_dir, reply, requests, tripwire)
    reply.write("ready\n")
    for line in requests:
        request = _json_loads(line)
        child.handle(request)
        reply.write(f"{request['id']}\n")


if __name__ == "__main__":
    main()
