"""Start and stop the child process that runs student code: sandbox, identity, limits, cleanup.

Sandboxes, strongest first:
- "bwrap": bubblewrap with every namespace unshared (no network), a file system holding only
  Python, its libraries, the submission (read-only), a fresh work folder and a size-capped /tmp;
- "user": the grader is root but user namespaces are blocked (common in Docker): every child runs
  under a uid of its own (identity.py), so no child can see, signal or read another, and everything
  that uid started is killed when the child is done, whatever session or environment it gave itself;
- "none": neither is possible (a student's laptop running the public checks); grading still works
  and the report says it ran unsandboxed.

Limits hold per submission, not per process (limits.py: Budget, control groups, a watcher for
files and CPU time). A child starts behind a gate: it waits until the grader has put it in its
submission's groups, sets its rlimits, and only then becomes the child, so none of the student's
code runs unconfined.

The folders: a root-owned folder per child (0710, group: the child's gid in user mode) holding
child.py and the submission read-only, and `work`, the one folder the child may write. The grader
touches `work` only through a folder handle (dir_fd, O_NOFOLLOW, O_EXCL), so nothing the child
renames or links there can redirect the grader's reads or writes.

In every mode the child runs its own Python (child_python()): an environment holding numpy, the
grader's exact version of it, and nothing else, so torch and the other banned packages are absent
rather than refused: no name and no file path leads to them. The bubblewrap sandbox mounts only that
environment and its base Python, never the grader's.
"""
import json
import math
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path

import numpy as np

from grader import tempfolders
from grader.errors import GraderError
from grader.sandbox.child import BANNED, parse_arrays, write_arrays
from grader.sandbox.identity import Identity
from grader.sandbox.limits import (THREAD_VARIABLES, Budget, Limits, exceeded_cpu, exceeded_disk,  # noqa: F401 (Limits, Budget: the API)
                                   exceeded_memory, exceeded_processes, shared_bytes, tree_bytes)
from grader.sandbox.procfs import holding_environment

CHILD_SOURCE = Path(__file__).with_name("child.py")
KIT_ROOT = Path(__file__).resolve().parents[2]
CHILD_VENV = KIT_ROOT / ".venv-child"           # made by scripts/setup.sh
MAX_LINE = 100          # bytes of a line of the child's reply channel that are kept (ChildProcess._read_line)


# One thread per BLAS pool, as in every child (Limits.threads), for the probes below: their `import
# numpy` would otherwise start a thread per core (more CPU time than the import itself, for nothing).
ONE_THREAD = {name: "1" for name in THREAD_VARIABLES}
FINDING = threading.RLock()


def found_once(function):
    """function (an lru_cache), answered for one thread at a time: a thread that asks while another is
    finding the answer (grade() starts that early, in a thread of its own) waits for it and gets it
    from the cache, instead of starting the same child processes again."""
    @wraps(function)
    def found(*args):
        with FINDING:
            return function(*args)
    found.cache_clear = function.cache_clear
    return found


@found_once
@lru_cache(maxsize=None)
def sandbox_mode():
    """The strongest sandbox that works on this machine: "bwrap", "user" or "none"."""
    forced = os.environ.get("MNIST_GRADER_SANDBOX")
    if forced in ("bwrap", "user", "none"):
        return forced
    child = child_python()
    return child.sandbox if child.sandbox is not None else strongest_sandbox(child)[0]


def strongest_sandbox(child):
    """(mode, numpy's version there): the strongest sandbox in which `child` (its folders as PROBE
    found them) imports numpy, tried strongest first; the version is None for "none" (nothing tried)."""
    python = child.executable
    if shutil.which("bwrap"):
        said = numpy_says(["bwrap", *bwrap_mounts(child=child), "--", python, "-I", "-c", NUMPY_SAYS],
                          env={**os.environ, **ONE_THREAD})
        if said is not None:
            return "bwrap", said
    if os.geteuid() == 0:
        try:
            identity = Identity.claim()
        except OSError:
            return "none", None
        try:
            said = numpy_says([python, "-I", "-c", NUMPY_SAYS], cwd="/", user=identity.uid, group=identity.uid,
                              extra_groups=[], env={**os.environ, **ONE_THREAD})
            if said is not None:
                return "user", said
        finally:
            identity.release()
    return "none", None


# Run where the child's Python is tried (python -I -c NUMPY_SAYS): numpy imports there, and says its version.
NUMPY_SAYS = "import numpy; print(numpy.__version__)"


def numpy_says(command, **options):
    """numpy's version as NUMPY_SAYS printed it in `command`, or None if it failed."""
    try:
        trial = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=60, **options)
    except (OSError, subprocess.SubprocessError):  # other users cannot reach it (a 0700 home above it)
        return None
    return trial.stdout.strip() if trial.returncode == 0 and trial.stdout.strip() else None


@dataclass(frozen=True)
class ChildPython:
    """The interpreter that runs student code, as it described itself (see PROBE and NUMPY_SAYS)."""
    executable: str             # its folder resolved, so the same path works inside bubblewrap
    origin: str                 # "MNIST_CHILD_PYTHON", ".venv-child" or "grader" (the grader's own)
    prefix: str
    base_prefix: str
    numpy_version: str
    numpy_dir: str
    sites: tuple                # its site-packages folders on sys.path
    unused_sites: tuple         # its base installation's site-packages, which a venv does not use
    importable: tuple           # banned packages it finds by name (only the grader's own may)
    sandbox: str = None         # the strongest sandbox it imported numpy in (None: a mode is forced)


# Run once in the child's interpreter (python -I -c PROBE BANNED,...): where it lives, where its numpy
# is, and which banned package it would find; by name only, so nothing is imported here. numpy is then
# imported where student code will run, in the strongest sandbox that works (strongest_sandbox), or
# without one when a mode is forced or none works: one `import numpy` for the two questions.
PROBE = r"""
import importlib.util, json, site, sys
numpy = importlib.util.find_spec("numpy")
sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
unused = [p for p in site.getsitepackages([sys.base_prefix]) if p not in sys.path] if sys.prefix != sys.base_prefix else []
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix,
                  "numpy_dir": numpy.submodule_search_locations[0] if numpy and numpy.submodule_search_locations else None,
                  "sites": sites, "unused_sites": unused,
                  "importable": [name for name in sys.argv[1].split(",") if importlib.util.find_spec(name)]}))
"""


@found_once
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
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **ONE_THREAD}
    probe = run_quietly([executable, "-I", "-c", PROBE, ",".join(sorted(BANNED))], env=env)
    info = answer(probe, json.loads)
    said = sandbox = None
    if info is not None and info["numpy_dir"] is not None:
        child = ChildPython(executable, origin, info["prefix"], info["base_prefix"], None, info["numpy_dir"],
                            tuple(info["sites"]), tuple(info["unused_sites"]), tuple(info["importable"]))
        if os.environ.get("MNIST_GRADER_SANDBOX") not in ("bwrap", "user", "none"):
            sandbox, said = strongest_sandbox(child)
    if info is not None and said is None:        # no sandbox tried, or none imported numpy: here, then
        probe = run_quietly([executable, "-I", "-c", NUMPY_SAYS], env=env)
        said = answer(probe, str.strip)
    if info is None or not said:
        said = probe.stderr if isinstance(probe, subprocess.CompletedProcess) else str(probe)
        raise GraderError(f"The Python for student code, {where}, does not run or cannot import numpy "
                          f"({said.strip().splitlines()[-1] if said.strip() else 'no output'}). {fix}")
    numpy_version = said
    if numpy_version != np.__version__:
        raise GraderError(f"The Python for student code, {where}, has numpy {numpy_version} but the grader "
                          f"has numpy {np.__version__}: the answers of student code must match the reference's "
                          f"bit for bit. {fix}")
    if info["importable"] and origin != "grader":
        raise GraderError(f"The Python for student code, {where}, can import {', '.join(info['importable'])}: "
                          f"student code must run where banned packages are absent. {fix}")
    return ChildPython(executable, origin, info["prefix"], info["base_prefix"], numpy_version,
                       info["numpy_dir"], tuple(info["sites"]), tuple(info["unused_sites"]), tuple(info["importable"]),
                       sandbox)


def run_quietly(command, env):
    """The finished `command` (in /, output captured as text), or the exception that stopped it."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd="/", env=env)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return exc


def answer(probe, read):
    """read(what the probe printed) if it ran and succeeded, else None."""
    if not isinstance(probe, subprocess.CompletedProcess) or probe.returncode != 0:
        return None
    try:
        return read(probe.stdout)
    except ValueError:
        return None


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
    return notes + [f"WARNING: {', '.join(map(str, exposed))} can be read by the unprivileged users running student code; "
            f"a submission could read the reference or the test labels. Fix: chmod -R o-rwx {KIT_ROOT}"]


def python_roots(child):
    """Folders the child's Python needs: its environment, its base installation, numpy's folder."""
    roots = {Path(child.prefix).resolve(), Path(child.base_prefix).resolve(), Path(child.numpy_dir).resolve().parent,
             Path(child.executable).resolve().parent.parent}
    return sorted({r for r in roots if not any(r != o and o in r.parents for o in roots)})


def bwrap_mounts(tmp_bytes=None, child=None):
    """bubblewrap's arguments for `child` (default: child_python()), up to the command."""
    child = child or child_python()
    size = ["--size", str(tmp_bytes)] if tmp_bytes else []
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp"]
    system = []
    for top in ("usr", "bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
            system.append(path)
    roots = python_roots(child)
    for root in roots:
        if not any(root == p or p in root.parents for p in system):
            args += ["--ro-bind", str(root), str(root)]
    # Nothing of the kit (reference, grader, MNIST), none of the base Python's own packages (a venv
    # does not use them) and, when the child runs the grader's own Python, no banned package (child.BANNED).
    hide = [KIT_ROOT, *map(Path, child.unused_sites)]
    hide += [Path(site) / name for site in child.sites for name in sorted(BANNED)]
    hidden = []
    for path in sorted({p.resolve() for p in hide}):
        if (path.is_dir() and any(r == path or r in path.parents for r in roots + system)
                and not any(h in path.parents for h in hidden)):
            args += ["--tmpfs", str(path)]
            hidden.append(path)
    return args


# The first program of every child, run by the child's Python: it waits for "go" (the grader puts it
# in its control groups meanwhile), sets its rlimits (itself: a grader without CAP_SYS_RESOURCE, as
# in Docker, cannot set another uid's), forbids gaining privileges (setuid programs) outside
# bubblewrap, makes new files private, and only then becomes the real command.
GATE = """import json, os, resource, sys
if os.read(0, 3) != b"go\\n":
    os._exit(111)
for name, value in json.loads(sys.argv[1]).items():
    resource.setrlimit(getattr(resource, name), tuple(value))
if sys.argv[2] == "no-new-privs":
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:   # PR_SET_NO_NEW_PRIVS
        os._exit(112)
os.umask(0o077)
os.execv(sys.argv[3], sys.argv[3:])
"""


class ChildDied(Exception):
    """The child stopped. str(): what it exceeded ("used more than 1 GiB of memory ..."), or empty."""


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
        # sandbox, as the grader's own user, out of the submission's groups and uids.
        self.mode = "none" if trusted else sandbox_mode()
        self.token = secrets.token_hex(8)
        self.counter = 0
        self.proc = self.pidfd = self.group = self.identity = self.folder = None
        self.unread = b""            # read from the child's reply channel, not yet taken as a line
        self.base_fd = self.work_fd = None
        self.reports = None          # read end of the pipe on which the child's tripwire reports attempts
        self.exceeded = None         # set by the Budget's watcher when it stops this child
        self.closed = False
        self.budget, self.owns_budget = (None if trusted else limits.budget), False
        try:
            if not trusted and self.budget is None:
                self.budget, self.owns_budget = Budget(limits), True
            if self.mode == "user":
                self.identity = Identity.claim()
            self._make_folder(submission_dir)
            self._start()
        except BaseException:
            self.close()
            raise

    # ---- the folder ----
    def _make_folder(self, submission_dir):
        self.folder = tempfolders.make("mnist-grader-")
        self.base_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        shutil.copy(CHILD_SOURCE, self.folder / "child.py")
        shutil.copytree(submission_dir, self.folder / "submission")
        os.mkdir("work", 0o700, dir_fd=self.base_fd)
        self.work_fd = os.open("work", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.base_fd)
        if self.identity is not None:
            # root:gid, readable by the child's group only; `work` belongs to the child's uid. The
            # folder is root's, so the child can neither rename `work` nor put anything beside it.
            gid = self.identity.uid
            for root, dirs, files in os.walk(self.folder):
                os.chown(root, 0, gid, follow_symlinks=False)
                os.chmod(root, 0o750)
                for name in files:
                    os.chown(os.path.join(root, name), 0, gid, follow_symlinks=False)
                    os.chmod(os.path.join(root, name), 0o640)
                dirs[:] = [d for d in dirs if not (root == str(self.folder) and d == "work")]
            os.chmod(self.folder, 0o710)
            os.fchown(self.work_fd, self.identity.uid, gid)
            os.fchmod(self.work_fd, 0o700)

    # ---- the command ----
    def _command(self):
        box = "/box" if self.mode == "bwrap" else str(self.folder)
        python = child_python().executable
        argv = [python, "-I", f"{box}/child.py", f"{box}/work", f"{box}/submission"]
        if self.mode == "bwrap":
            argv = [shutil.which("bwrap"), *bwrap_mounts(self.limits.disk_bytes),
                    "--ro-bind", str(self.folder), "/box", "--bind", str(self.folder / "work"), "/box/work",
                    "--chdir", "/box/work", "--", *argv]
        # bubblewrap forbids new privileges itself (and may need them: a setuid bwrap)
        privileges = "keep" if self.mode == "bwrap" else "no-new-privs"
        return [python, "-I", "-S", "-c", GATE, json.dumps(self._rlimits()), privileges, *argv]

    def _rlimits(self):
        limits = self.limits
        cpu = max(1, math.ceil(limits.cpu_seconds))
        rlimits = {"RLIMIT_AS": [limits.memory_bytes] * 2, "RLIMIT_CORE": [0, 0],
                   "RLIMIT_FSIZE": [limits.disk_bytes] * 2, "RLIMIT_CPU": [cpu, cpu + 1]}
        if self.identity is not None:             # a uid of its own: the count is this child's alone
            rlimits["RLIMIT_NPROC"] = [limits.processes] * 2
        return rlimits

    def _env(self, report_fd):
        threads = str(self.limits.threads)
        work = "/box/work" if self.mode == "bwrap" else str(self.folder / "work")
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8", "MNIST_GRADER_CHILD": self.token,
               "MNIST_GRADER_REPORTS": str(report_fd), **{name: threads for name in THREAD_VARIABLES}}
        if self.mode != "bwrap":        # bubblewrap's /tmp is private already
            env["TMPDIR"] = work
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):   # correctness settings of this CPU
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def _start(self):
        user = {}
        if self.identity is not None:
            user = dict(user=self.identity.uid, group=self.identity.uid, extra_groups=[])
        self.reports, report_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=self.folder / "work", env=self._env(report_write), start_new_session=True,
                pass_fds=(report_write,), **user)
        finally:
            os.close(report_write)
        os.set_blocking(self.reports, False)
        if hasattr(os, "pidfd_open"):
            self.pidfd = os.pidfd_open(self.proc.pid)
        try:
            if self.budget is not None:      # the gate waits for "go": nothing of the student's runs yet
                self.group = self.budget.add(self, self.proc.pid)
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
            line = self._read_line(self.limits.start_seconds)
        except ChildTimeout:
            raise ChildDied(f"it did not start within {self.limits.start_seconds:.0f} s")
        except (ChildDied, OSError):
            reason = self._reason()
            raise ChildDied(f"your code {reason}" if reason else "it stopped before it was ready")
        if line != "ready":
            raise ChildDied("it did not answer as expected")

    def _reason(self):
        """Which limit stopped the child, as the end of "your code ...", or ""."""
        if self.exceeded:
            return self.exceeded
        if self.group is not None and self.group.oom_kills():
            return exceeded_memory(self.limits)
        code = self.proc.poll() if self.proc is not None else None
        if code == -signal.SIGXCPU:
            return exceeded_cpu(self.limits)
        if code == -signal.SIGXFSZ:
            return exceeded_disk(self.limits)
        if self.group is not None and self.group.fork_failures():
            return exceeded_processes(self.limits)
        return ""

    def _read_line(self, timeout):
        """One line from the child's reply channel (at most MAX_LINE bytes of it: the lines the grader
        waits for are short, so a longer one is garbage, cut to its end). The child's death is noticed
        by its pid (a pidfd), never by the pipe's end: a grandchild holding the pipe open cannot
        stretch a request. What is read beyond the line waits in self.unread for the next call."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            if b"\n" in self.unread:
                line, self.unread = self.unread.split(b"\n", 1)
                return line[-MAX_LINE:].decode(errors="replace")
            self.unread = self.unread[-MAX_LINE:]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildTimeout()
            watched = [fd] if self.pidfd is None else [fd, self.pidfd]
            ready, _, _ = select.select(watched, [], [], remaining if self.pidfd is not None else min(remaining, 0.05))
            if fd in ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise ChildDied(self._reason())
                self.unread += chunk
            elif ready or (self.pidfd is None and self.proc.poll() is not None):
                raise ChildDied(self._reason())      # exited, and nothing is left to read

    def request(self, op, inputs=None, timeout=10.0, **fields):
        """Run one operation in the child; returns (meta, arrays). Raises ChildTimeout / ChildDied."""
        if self.proc is None or self.proc.poll() is not None:
            raise ChildDied(self._reason())
        self.counter += 1
        rid = self.counter
        request = {"id": rid, "op": op, **fields}
        if inputs:
            name = f"in_{rid}.arr"
            try:
                write_new_file(self.work_fd, name, lambda f: write_arrays(f, inputs))
            except OSError:             # the child put something where our input goes
                self.kill()
                raise ChildDied(self._reason())
            request["inputs"] = name
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise ChildDied(self._reason())
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
        """Answer the child's question cb_<n>.arr: a function name (its meta) and its arguments, answered by
        self.callback with an array (or an error message the child raises). Arrays only, both ways."""
        question = f"cb_{n}.arr"
        try:
            meta, arrays = read_answer(self.work_fd, question)
            if not isinstance(meta, dict) or not isinstance(meta.get("fn"), str):
                raise ValueError("not the question the child writes")
            answer, error = {"result": np.asarray(self.callback(meta["fn"], arrays))}, None
        except CallbackRefused as refusal:
            answer, error = {}, {"error": str(refusal)}
        except Exception:
            self.kill()
            raise ChildDied()
        finally:
            unlink_quietly(self.work_fd, question)
        path = f"cbr_{n}.arr"
        try:
            unlink_quietly(self.work_fd, path)
            write_new_file(self.work_fd, path, lambda f: write_arrays(f, answer, error))
            self.proc.stdin.write(f"cbr {n}\n".encode())
            self.proc.stdin.flush()
        except OSError:
            self.kill()
            raise ChildDied()

    def _answer(self, rid):
        path = f"out_{rid}.arr"
        try:
            meta, arrays = read_answer(self.work_fd, path)
            if not isinstance(meta, dict):
                raise ValueError("not the description the child writes")
        except Exception:
            raise ChildDied()
        finally:                        # tmpfs files stay charged to the child until deleted
            unlink_quietly(self.work_fd, path)
            unlink_quietly(self.work_fd, f"in_{rid}.arr")
        if meta.get("id") != rid:
            raise ChildDied()
        return meta, arrays

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, reason):
        """Kill every process of this child, from any thread (the Budget's watcher); the thread
        talking to the child sees it die and reports `reason`."""
        if self.exceeded is None:
            self.exceeded = reason
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        if self.group is not None:
            self.group.kill()
        if self.identity is not None:
            self.identity.kill()

    def kill(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.group is not None:
            self.group.kill()
        if self.identity is not None:
            self.identity.kill()
        if self.proc is not None:
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.identity is None:
            kill_stragglers(self.token)

    def close(self):
        """Kill everything the child started and remove its groups, folder and uid, whatever happened."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.budget is not None:
                self.budget.leave(self)     # the watcher no longer looks at this child
            self.kill()
            if self.group is not None:
                self.group.remove()
        finally:
            for fd in (self.work_fd, self.base_fd, self.pidfd, self.reports):
                if fd is not None:
                    os.close(fd)
            self.work_fd = self.base_fd = self.pidfd = self.reports = None
            if self.folder is not None:
                tempfolders.remove(self.folder)
            if self.identity is not None:
                self.identity.release()
            if self.owns_budget:
                self.budget.close()

    def disk_bytes(self):
        """What this child keeps on disk: its work folder, and its uid's files in the shared folders."""
        total, seen = 0, set()
        if self.work_fd is not None:
            total += tree_bytes(self.work_fd, seen)
        if self.identity is not None:
            total += shared_bytes(self.identity.uid, seen)
        return total


ANSWER_BYTES = 64 * 2**20           # the largest answer file the child may write (checks need < 10 MB)
ANSWER_MEMBERS = 200                # arrays in one answer (the Encoder writes at most 65, plus echoes)
META_BYTES = 2**20                  # the JSON header of an answer: its description and its table of arrays


def write_new_file(folder_fd, name, write):
    """Create file `name` in the folder open as folder_fd and write(file) into it, in a folder the
    child can write to: never through a symlink or into anything the child put there first (O_EXCL
    fails on any existing name)."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder_fd)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o644)        # readable by the child's uid, whatever our umask
        write(file)


def unlink_quietly(folder_fd, name):
    try:
        os.unlink(name, dir_fd=folder_fd)
    except OSError:
        pass


def read_answer(folder_fd, name):
    """(meta, arrays) of the .arr file `name` the child wrote in the folder open as folder_fd, read as
    untrusted: a regular file (not a symlink, a FIFO or a device) of at most ANSWER_BYTES, read once,
    its header and every array checked by child.parse_arrays (at most ANSWER_MEMBERS arrays, a header
    of at most META_BYTES), so nothing takes more memory than the file's own bytes, twice."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > ANSWER_BYTES:
            raise ValueError("not a regular file of a sane size")
        data = file.read(info.st_size)          # never more than it had: the child may still write to it
    return parse_arrays(data, ANSWER_MEMBERS, META_BYTES)


def kill_stragglers(token):
    """Kill processes the child left behind, found by the token in their environment (modes without
    a uid of the child's own; a process that cleared its environment escapes this scan)."""
    for pid in holding_environment(f"MNIST_GRADER_CHILD={token}".encode()):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
