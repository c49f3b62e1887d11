"""Start and stop the child process that runs student code: sandbox, limits, timeouts, cleanup.

Sandboxes, strongest first:
- "bwrap": bubblewrap with every namespace unshared (no network), a file system holding only
  Python, its libraries, the submission (read-only) and a fresh work folder;
- "user": the grader is root but user namespaces are blocked (common in Docker): the child runs
  as an unprivileged user (`nobody` unless MNIST_GRADER_USER names another) in a folder it owns;
- "none": neither is possible (a student's laptop running the public checks); grading still works
  and the report says it ran unsandboxed.

In every mode the child runs its own Python (child_python()): an environment holding numpy, the
grader's exact version of it, and nothing else, so torch and the other banned packages are absent
rather than refused: no name and no file path leads to them. The bubblewrap sandbox mounts only that
environment and its base Python, never the grader's.
"""
import json
import os
import pwd
import resource
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader.errors import GraderError
from grader.sandbox.child import BANNED

CHILD_SOURCE = Path(__file__).with_name("child.py")
KIT_ROOT = Path(__file__).resolve().parents[2]
CHILD_VENV = KIT_ROOT / ".venv-child"           # made by scripts/setup.sh
MASKED_PACKAGES = ("torch", "torchvision", "torchaudio", "tensorflow", "keras", "jax", "jaxlib")


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 6 * 2**30
    start_seconds: float = 60.0
    threads: int = 1


@lru_cache(maxsize=None)
def sandbox_mode():
    """The strongest sandbox that works on this machine: "bwrap", "user" or "none"."""
    forced = os.environ.get("MNIST_GRADER_SANDBOX")
    if forced in ("bwrap", "user", "none"):
        return forced
    python = child_python().executable
    if shutil.which("bwrap"):
        trial = subprocess.run(["bwrap", *bwrap_mounts(), "--", python, "-I", "-c", "import numpy"],
                               capture_output=True, timeout=60)
        if trial.returncode == 0:
            return "bwrap"
    user = unprivileged_user()
    if os.geteuid() == 0 and user is not None:
        try:
            trial = subprocess.run([python, "-I", "-c", "import numpy"], capture_output=True, timeout=60,
                                   cwd="/", user=user[0], group=user[1], extra_groups=[])
        except PermissionError:        # that user cannot even reach the interpreter (a 0700 home above it)
            trial = None
        if trial is not None and trial.returncode == 0:
            return "user"
    return "none"


@dataclass(frozen=True)
class ChildPython:
    """The interpreter that runs student code, as it described itself (see PROBE)."""
    executable: str             # its folder resolved, so the same path works inside bubblewrap
    origin: str                 # "MNIST_CHILD_PYTHON", ".venv-child" or "grader" (the grader's own)
    prefix: str
    base_prefix: str
    numpy_version: str
    numpy_dir: str
    sites: tuple                # its site-packages folders on sys.path
    unused_sites: tuple         # its base installation's site-packages, which a venv does not use
    importable: tuple           # banned packages it finds by name (only the grader's own may)


# Run once in the child's interpreter (python -I -c PROBE BANNED,...): where it lives, which numpy it
# has, and which banned package it would find.
PROBE = r"""
import importlib.util, json, site, sys
import numpy
sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
unused = [p for p in site.getsitepackages([sys.base_prefix]) if p not in sys.path] if sys.prefix != sys.base_prefix else []
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "numpy_version": numpy.__version__,
                  "numpy_dir": numpy.__path__[0], "sites": sites, "unused_sites": unused,
                  "importable": [name for name in sys.argv[1].split(",") if importlib.util.find_spec(name)]}))
"""


@lru_cache(maxsize=None)
def child_python():
    """The Python for student code: $MNIST_CHILD_PYTHON, else the kit's .venv-child (scripts/setup.sh),
    else the grader's own interpreter (the public kit on a student's laptop has no setup; the report
    says so). Checked once: numpy at the grader's exact version (answers must match the reference's
    bit for bit) and, unless it is the grader's own, no banned package importable."""
    named = os.environ.get("MNIST_CHILD_PYTHON")
    if named:
        path, origin = Path(named), "MNIST_CHILD_PYTHON"
    elif (CHILD_VENV / "bin" / "python").exists():
        path, origin = CHILD_VENV / "bin" / "python", ".venv-child"
    else:
        path, origin = Path(sys.executable), "grader"
    where = f"{path} (MNIST_CHILD_PYTHON)" if origin == "MNIST_CHILD_PYTHON" else str(path)
    fix = {"MNIST_CHILD_PYTHON": f"Point MNIST_CHILD_PYTHON at a Python whose environment holds numpy=="
                                 f"{np.__version__} and nothing else, or unset it.",
           ".venv-child": f"Make it again: rm -rf {CHILD_VENV} && bash scripts/setup.sh",
           "grader": "Run `bash scripts/setup.sh`: it makes .venv-child, a Python holding only numpy."}[origin]
    executable = str(path.parent.resolve() / path.name)
    try:
        probe = subprocess.run([executable, "-I", "-c", PROBE, ",".join(sorted(BANNED))], capture_output=True,
                               text=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        info = json.loads(probe.stdout) if probe.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        probe, info = exc, None
    if info is None:
        said = getattr(probe, "stderr", None) or str(probe)
        raise GraderError(f"The Python for student code, {where}, does not run or cannot import numpy "
                          f"({said.strip().splitlines()[-1] if said.strip() else 'no output'}). {fix}")
    if info["numpy_version"] != np.__version__:
        raise GraderError(f"The Python for student code, {where}, has numpy {info['numpy_version']} but the grader "
                          f"has numpy {np.__version__}: the answers of student code must match the reference's "
                          f"bit for bit. {fix}")
    if info["importable"] and origin != "grader":
        raise GraderError(f"The Python for student code, {where}, can import {', '.join(info['importable'])}: "
                          f"student code must run where banned packages are absent. {fix}")
    return ChildPython(executable, origin, info["prefix"], info["base_prefix"], info["numpy_version"],
                       info["numpy_dir"], tuple(info["sites"]), tuple(info["unused_sites"]), tuple(info["importable"]))


def unprivileged_user():
    name = os.environ.get("MNIST_GRADER_USER", "nobody")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def exposed_to_others(paths):
    """The paths an unprivileged user could read: every folder above searchable, the path readable."""
    exposed = []
    for path in paths:
        path = Path(path).resolve()
        if not path.exists():
            continue
        chain = [p for p in reversed(path.parents)] + [path]
        if all(p.stat().st_mode & 0o001 for p in chain[:-1]) and path.stat().st_mode & 0o004:
            exposed.append(path)
    return exposed


def sandbox_warnings():
    """Sentences for the report when the sandbox in use leaves something a submission could read, or
    student code ran with the grader's own Python."""
    notes = []
    child = child_python()
    if child.origin == "grader":
        notes.append("Student code ran with the grader's own Python, not a separate environment holding only numpy "
                     "(none was set up: scripts/setup.sh makes one, or set MNIST_CHILD_PYTHON)"
                     + (f"; {', '.join(child.importable)} {'is' if len(child.importable) == 1 else 'are'} installed "
                        "there, so only the import guard kept them out." if child.importable else "."))
    if sandbox_mode() != "user":
        return notes
    exposed = exposed_to_others([KIT_ROOT / "solution", KIT_ROOT / "grader", KIT_ROOT / "data",
                                 os.environ.get("MNIST_ROOT", KIT_ROOT / "data")])
    if not exposed:
        return notes
    return notes + [f"WARNING: {', '.join(map(str, exposed))} can be read by the unprivileged user running student code; "
            f"a submission could read the reference or the test labels. Fix: chmod -R o-rwx {KIT_ROOT}"]


def python_roots():
    """Folders the child's Python needs: its environment, its base installation, numpy's folder."""
    child = child_python()
    roots = {Path(child.prefix).resolve(), Path(child.base_prefix).resolve(), Path(child.numpy_dir).resolve().parent,
             Path(child.executable).resolve().parent.parent}
    return sorted({r for r in roots if not any(r != o and o in r.parents for o in roots)})


def bwrap_mounts():
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    system = []
    for top in ("usr", "bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
            system.append(path)
    roots = python_roots()
    for root in roots:
        if not any(root == p or p in root.parents for p in system):
            args += ["--ro-bind", str(root), str(root)]
    # Nothing of the kit (reference, grader, MNIST), none of the base Python's own packages (a venv
    # does not use them) and, when the child runs the grader's own Python, no autodiff library.
    child = child_python()
    hide = [KIT_ROOT, *map(Path, child.unused_sites)]
    hide += [Path(site) / name for site in child.sites for name in MASKED_PACKAGES]
    hidden = []
    for path in sorted({p.resolve() for p in hide}):
        if (path.is_dir() and any(r == path or r in path.parents for r in roots + system)
                and not any(h in path.parents for h in hidden)):
            args += ["--tmpfs", str(path)]
            hidden.append(path)
    return args


def _limit_resources(memory_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))
    return apply


class ChildDied(Exception):
    pass


class CallbackRefused(Exception):
    """The grader will not answer the child's question; the message is raised in the child."""


class ChildTimeout(Exception):
    pass


class ChildProcess:
    """One child interpreter running grader/sandbox/child.py on a submission folder."""

    def __init__(self, submission_dir, limits=Limits(), callback=None, trusted=False):
        self.limits = limits
        self.callback = callback     # answers the child's `cb <n>` questions: (name, arrays) -> array
        # trusted: the reference solution (timed against the student's code). It runs outside the
        # sandbox, as the grader's own user, so nothing a student left running as `nobody` can signal
        # or slow it down in user mode.
        self.mode = "none" if trusted else sandbox_mode()
        self.token = secrets.token_hex(8)
        self.workdir = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        shutil.copy(CHILD_SOURCE, self.workdir / "child.py")
        shutil.copytree(submission_dir, self.workdir / "submission")
        self.counter = 0
        self.proc = None
        self.reports = None             # read end of the pipe on which the child's tripwire reports attempts
        self._permissions_set = False
        self._start()

    # ---- paths as the child sees them ----
    def _inside(self, path):
        return "/box/" + str(Path(path).relative_to(self.workdir)) if self.mode == "bwrap" else str(path)

    def _command(self):
        box = "/box" if self.mode == "bwrap" else str(self.workdir)
        argv = [child_python().executable, "-I", f"{box}/child.py", box, f"{box}/submission"]
        if self.mode == "bwrap":
            argv = ["bwrap", *bwrap_mounts(), "--bind", str(self.workdir), "/box",
                    "--ro-bind", str(self.workdir / "submission"), "/box/submission",
                    "--chdir", "/box", "--", *argv]
        return argv

    def _env(self, report_fd):
        threads = str(self.limits.threads)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/box" if self.mode == "bwrap" else str(self.workdir),
               "LANG": "C.UTF-8", "MNIST_GRADER_CHILD": self.token, "MNIST_GRADER_REPORTS": str(report_fd),
               "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "VECLIB_MAXIMUM_THREADS": threads, "NUMEXPR_NUM_THREADS": threads}
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):   # correctness settings of this CPU
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def _start(self):
        kwargs = {}
        if self.mode == "user":
            uid, gid = unprivileged_user()
            os.chown(self.workdir, uid, gid)         # the child may write here; the files we
            os.chmod(self.workdir, 0o700)            # put in it stay root's and read-only
            if not self._permissions_set:            # once: later the folder holds the child's files,
                self._permissions_set = True         # symlinks maybe, which chmod would follow
                for path in self.workdir.rglob("*"):
                    if not path.is_symlink():
                        os.chmod(path, 0o755 if path.is_dir() else 0o644)
            kwargs = dict(user=uid, group=gid, extra_groups=[])
        self.reports, report_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=self.workdir, env=self._env(report_write), start_new_session=True, pass_fds=(report_write,),
                preexec_fn=_limit_resources(self.limits.memory_bytes), **kwargs)
        finally:
            os.close(report_write)
        os.set_blocking(self.reports, False)
        line = self._read_line(self.limits.start_seconds)
        if line != "ready":
            self.kill()
            raise ChildDied("the Python process for your code did not start")

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        buffer = b""
        fd = self.proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildTimeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1)
            if not chunk:
                raise ChildDied()
            if chunk == b"\n":
                return buffer.decode(errors="replace")
            buffer += chunk
            if len(buffer) > 100:
                buffer = b""

    def request(self, op, inputs=None, timeout=10.0, **fields):
        """Run one operation in the child; returns (meta, arrays). Raises ChildTimeout / ChildDied."""
        if self.proc is None or self.proc.poll() is not None:
            raise ChildDied()
        self.counter += 1
        rid = self.counter
        request = {"id": rid, "op": op, **fields}
        if inputs:
            name = f"in_{rid}.npz"
            try:
                write_new_file(self.workdir / name, lambda f: np.savez(f, **inputs))
            except OSError:             # the child put something where our input goes
                self.kill()
                raise ChildDied()
            request["inputs"] = name
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise ChildDied()
        deadline = time.monotonic() + timeout
        try:
            while True:
                line = self._read_line(max(0.0, deadline - time.monotonic()))
                if line == str(rid):
                    break
                if line.startswith("cb ") and line[3:].isdigit() and self.callback is not None:
                    self._answer_callback(int(line[3:]))
        except (ChildTimeout, ChildDied):
            self.kill()
            raise
        return self._answer(rid)

    def _answer_callback(self, n):
        """Answer the child's question cb_<n>.npz: a function name and its arguments, answered by
        self.callback with an array (or an error message the child raises). Arrays only, both ways."""
        question = self.workdir / f"cb_{n}.npz"
        try:
            arrays = read_answer(question)
            name = arrays.pop("__fn__").tobytes().decode()
            answer = {"result": np.asarray(self.callback(name, arrays))}
        except CallbackRefused as refusal:
            answer = {"error": np.frombuffer(str(refusal).encode(), dtype=np.uint8)}
        except Exception:
            self.kill()
            raise ChildDied()
        finally:
            question.unlink(missing_ok=True)
        path = self.workdir / f"cbr_{n}.npz"
        try:
            path.unlink(missing_ok=True)
            write_new_file(path, lambda f: np.savez(f, **answer))
            self.proc.stdin.write(f"cbr {n}\n".encode())
            self.proc.stdin.flush()
        except OSError:
            self.kill()
            raise ChildDied()

    def _answer(self, rid):
        path = self.workdir / f"out_{rid}.npz"
        try:
            arrays = read_answer(path)
            meta = arrays.pop("__meta__")
            if meta.dtype != np.uint8 or meta.size > META_BYTES:
                raise ValueError("not the description the child writes")
            meta = json.loads(meta.tobytes().decode())
            if not isinstance(meta, dict):
                raise ValueError("not the description the child writes")
        except Exception:
            raise ChildDied()
        finally:
            path.unlink(missing_ok=True)
            (self.workdir / f"in_{rid}.npz").unlink(missing_ok=True)
        if meta.get("id") != rid:
            raise ChildDied()
        return meta, arrays

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        kill_stragglers(self.token)

    def close(self):
        self.kill()
        if self.reports is not None:
            os.close(self.reports)
            self.reports = None
        shutil.rmtree(self.workdir, ignore_errors=True)


ANSWER_BYTES = 64 * 2**20           # the largest answer file the child may write (checks need < 10 MB)
ANSWER_MEMBERS = 200                # arrays in one answer (the Encoder writes at most 65, plus echoes)
META_BYTES = 2**20                  # the JSON description of an answer


def write_new_file(path, write):
    """Create path and write(file) into it, in a folder the child can write to: never through a
    symlink or into anything the child put there first (O_EXCL fails on any existing name)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as file:
        write(file)


def read_answer(path):
    """The arrays of an answer file the child wrote, read as untrusted: a regular file (not a symlink,
    a FIFO or a device), at most ANSWER_BYTES, an uncompressed zip (so nothing expands in memory)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > ANSWER_BYTES:
            raise ValueError("not a regular file of a sane size")
        with np.load(file, allow_pickle=False) as npz:
            members = npz.zip.infolist()         # checked before any member is read
            if (len(members) > ANSWER_MEMBERS or any(m.compress_type != zipfile.ZIP_STORED for m in members)
                    or sum(m.file_size for m in members) > ANSWER_BYTES):
                raise ValueError("not what np.savez writes")
            for member in members:               # a header may not promise more data than the member holds
                with npz.zip.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError("not what np.savez writes")
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(stream)
                if dtype.hasobject or int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size:
                    raise ValueError("an array larger than its data")
            return {name: npz[name] for name in npz.files}


def kill_stragglers(token):
    """Kill processes the child left behind, found by the token in their environment."""
    marker = f"MNIST_GRADER_CHILD={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass
