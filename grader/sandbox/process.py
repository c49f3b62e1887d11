"""Start and stop the child process that runs student code: sandbox, limits, timeouts, cleanup.

Sandboxes, strongest first:
- "bwrap": bubblewrap with every namespace unshared (no network), a file system holding only
  Python, its libraries, the submission (read-only) and a fresh work folder;
- "user": the grader is root but user namespaces are blocked (common in Docker): the child runs
  as an unprivileged user (`nobody` unless MNIST_GRADER_USER names another) in a folder it owns;
- "none": neither is possible (a student's laptop running the public checks); grading still works
  and the report says it ran unsandboxed.
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
import sysconfig
import tempfile
import time
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CHILD_SOURCE = Path(__file__).with_name("child.py")
KIT_ROOT = Path(__file__).resolve().parents[2]
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
    if shutil.which("bwrap"):
        trial = subprocess.run(["bwrap", *bwrap_mounts(), "--", sys.executable, "-I", "-c", "import numpy"],
                               capture_output=True, timeout=60)
        if trial.returncode == 0:
            return "bwrap"
    user = unprivileged_user()
    if os.geteuid() == 0 and user is not None:
        trial = subprocess.run([sys.executable, "-I", "-c", "import numpy"], capture_output=True, timeout=60,
                               cwd="/", user=user[0], group=user[1], extra_groups=[])
        if trial.returncode == 0:
            return "user"
    return "none"


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
    """Sentences for the report when the sandbox in use leaves something a submission could read."""
    if sandbox_mode() != "user":
        return []
    exposed = exposed_to_others([KIT_ROOT / "solution", KIT_ROOT / "grader", KIT_ROOT / "data",
                                 os.environ.get("MNIST_ROOT", KIT_ROOT / "data")])
    if not exposed:
        return []
    return [f"WARNING: {', '.join(map(str, exposed))} can be read by the unprivileged user running student code; "
            f"a submission could read the reference or the test labels. Fix: chmod -R o-rwx {KIT_ROOT}"]


def python_roots():
    """Folders the child's Python needs: the interpreter's prefix, the venv, numpy's site-packages."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(np.__file__).resolve().parent.parent, Path(sys.executable).resolve().parent.parent}
    return sorted({r for r in roots if not any(r != o and o in r.parents for o in roots)})


def bwrap_mounts():
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for top in ("usr", "bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    roots = python_roots()
    for root in roots:
        if not any(root == p or p in root.parents for p in (Path("/usr"), Path("/bin"), Path("/lib"))):
            args += ["--ro-bind", str(root), str(root)]
    # Nothing of the kit (reference, grader, MNIST) and no autodiff library inside the box.
    hide = [KIT_ROOT]
    for site in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        hide += [Path(site) / name for name in MASKED_PACKAGES]
    for path in hide:
        if path.is_dir() and any(r == path or r in path.parents for r in roots):
            args += ["--tmpfs", str(path)]
    return args


def _limit_resources(memory_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))
    return apply


class ChildDied(Exception):
    pass


class ChildTimeout(Exception):
    pass


class ChildProcess:
    """One child interpreter running grader/sandbox/child.py on a submission folder."""

    def __init__(self, submission_dir, limits=Limits(), functional_code=None, trusted=False):
        self.limits = limits
        # trusted: the reference solution (timed against the student's code). It runs outside the
        # sandbox, as the grader's own user, so nothing a student left running as `nobody` can signal
        # or slow it down in user mode.
        self.mode = "none" if trusted else sandbox_mode()
        self.token = secrets.token_hex(8)
        self.workdir = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        shutil.copy(CHILD_SOURCE, self.workdir / "child.py")
        shutil.copytree(submission_dir, self.workdir / "submission")
        if functional_code is not None:
            (self.workdir / "functional.bin").write_bytes(functional_code)
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
        argv = [sys.executable, "-I", f"{box}/child.py", box, f"{box}/submission"]
        if (self.workdir / "functional.bin").exists():
            argv.append(f"{box}/functional.bin")
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
            while self._read_line(max(0.0, deadline - time.monotonic())) != str(rid):
                pass
        except (ChildTimeout, ChildDied):
            self.kill()
            raise
        return self._answer(rid)

    def _answer(self, rid):
        path = self.workdir / f"out_{rid}.npz"
        try:
            arrays = read_answer(path)
            meta = json.loads(arrays.pop("__meta__").tobytes().decode())
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


ANSWER_BYTES = 400 * 2**20          # the largest answer file the child may write


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
            if (len(members) > 10_000 or any(m.compress_type != zipfile.ZIP_STORED for m in members)
                    or sum(m.file_size for m in members) > ANSWER_BYTES):
                raise ValueError("not what np.savez writes")
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
