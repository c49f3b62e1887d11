"""Start and stop the child process that runs student code: sandbox, identity, limits, cleanup.

Sandboxes, strongest first:
- "bwrap": bubblewrap with every namespace unshared (no network), a file system holding only
  Python, its libraries, the submission (read-only), a fresh work folder and a size-capped /tmp;
- "user": the grader is root but user namespaces are blocked (common in Docker): every child runs
  under a uid of its own (Identity), so no child can see, signal or read another, and everything
  that uid started is killed when the child is done, whatever session or environment it gave itself;
- "none": neither is possible (a student's laptop running the public checks); grading still works
  and the report says it ran unsandboxed.

Limits hold per submission, not per process (Budget): where the kernel lets the grader create
control groups (v2, or v1's memory, pids and cpuacct hierarchies), all the children of one submission
share one group with a memory cap (tmpfs files included), a process cap and a CPU-time account; in
user mode the child's uid also caps its processes (RLIMIT_NPROC). A watcher thread adds up the files
the children keep (work folders; in user mode their uid's files in the shared temporary folders) and
their CPU time, and stops them past the limit. A child starts behind a gate: it waits until the
grader has put it in its groups and set its rlimits, so none of the student's code runs unconfined.

The folders: a root-owned folder per child (0710, group: the child's gid in user mode) holding
child.py, the submission and functional.bin read-only, and `work`, the one folder the child may
write. The grader touches `work` only through a folder handle (dir_fd, O_NOFOLLOW, O_EXCL), so
nothing the child renames or links there can redirect the grader's reads or writes.
"""
import errno
import fcntl
import grp
import json
import math
import os
import pwd
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

CHILD_SOURCE = Path(__file__).with_name("child.py")
KIT_ROOT = Path(__file__).resolve().parents[2]
MASKED_PACKAGES = ("torch", "torchvision", "torchaudio", "tensorflow", "keras", "jax", "jaxlib")


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 6 * 2**30     # all the processes of one submission together, its tmpfs files included
    processes: int = 64               # processes and threads of one submission at once
    disk_bytes: int = 2**30           # files one submission keeps: work folders, temporary files
    cpu_seconds: float = 1500.0       # CPU time of all the processes of one submission
    start_seconds: float = 60.0
    threads: int = 1
    budget: object = None             # the submission's Budget; None: each child gets one of its own


def size_text(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def exceeded_memory(limits):
    return f"used more than {size_text(limits.memory_bytes)} of memory in all its processes together"


def exceeded_cpu(limits):
    return f"used more than {limits.cpu_seconds:.0f} s of CPU time in all its processes together"


def exceeded_disk(limits):
    return (f"wrote more than {size_text(limits.disk_bytes)} of files (its working folder and temporary "
            "files together)")


def exceeded_processes(limits):
    return f"tried to run more than {limits.processes} processes or threads at once"


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
    if os.geteuid() == 0:
        try:
            identity = Identity.claim()
        except OSError:
            return "none"
        try:
            trial = subprocess.run([sys.executable, "-I", "-c", "import numpy"], capture_output=True, timeout=60,
                                   cwd="/", user=identity.uid, group=identity.uid, extra_groups=[])
            if trial.returncode == 0:
                return "user"
        except (OSError, subprocess.SubprocessError):     # that Python is not readable by other users
            pass
        finally:
            identity.release()
    return "none"


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
    return [f"WARNING: {', '.join(map(str, exposed))} can be read by the unprivileged users running student code; "
            f"a submission could read the reference or the test labels. Fix: chmod -R o-rwx {KIT_ROOT}"]


def python_roots():
    """Folders the child's Python needs: the interpreter's prefix, the venv, numpy's site-packages."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(np.__file__).resolve().parent.parent, Path(sys.executable).resolve().parent.parent}
    return sorted({r for r in roots if not any(r != o and o in r.parents for o in roots)})


def bwrap_mounts(tmp_bytes=None):
    size = ["--size", str(tmp_bytes)] if tmp_bytes else []
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp"]
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


class ChildTimeout(Exception):
    pass


class ChildProcess:
    """One child interpreter running grader/sandbox/child.py on a submission folder."""

    def __init__(self, submission_dir, limits=Limits(), functional_code=None, trusted=False):
        self.limits = limits
        # trusted: the reference solution (timed against the student's code). It runs outside the
        # sandbox, as the grader's own user, out of the submission's groups and uids.
        self.mode = "none" if trusted else sandbox_mode()
        self.token = secrets.token_hex(8)
        self.counter = 0
        self.proc = self.pidfd = self.group = self.identity = self.folder = None
        self.base_fd = self.work_fd = None
        self.exceeded = None         # set by the Budget's watcher when it stops this child
        self.closed = False
        self.budget, self.owns_budget = (None if trusted else limits.budget), False
        try:
            if not trusted and self.budget is None:
                self.budget, self.owns_budget = Budget(limits), True
            if self.mode == "user":
                self.identity = Identity.claim()
            self._make_folder(submission_dir, functional_code)
            self._start()
        except BaseException:
            self.close()
            raise

    # ---- the folder ----
    def _make_folder(self, submission_dir, functional_code):
        self.folder = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        self.base_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        shutil.copy(CHILD_SOURCE, self.folder / "child.py")
        shutil.copytree(submission_dir, self.folder / "submission")
        if functional_code is not None:
            (self.folder / "functional.bin").write_bytes(functional_code)
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
        argv = [sys.executable, "-I", f"{box}/child.py", f"{box}/work", f"{box}/submission"]
        if (self.folder / "functional.bin").exists():
            argv.append(f"{box}/functional.bin")
        if self.mode == "bwrap":
            argv = [shutil.which("bwrap"), *bwrap_mounts(self.limits.disk_bytes),
                    "--ro-bind", str(self.folder), "/box", "--bind", str(self.folder / "work"), "/box/work",
                    "--chdir", "/box/work", "--", *argv]
        # bubblewrap forbids new privileges itself (and may need them: a setuid bwrap)
        privileges = "keep" if self.mode == "bwrap" else "no-new-privs"
        return [sys.executable, "-I", "-S", "-c", GATE, json.dumps(self._rlimits()), privileges, *argv]

    def _rlimits(self):
        limits = self.limits
        cpu = max(1, math.ceil(limits.cpu_seconds))
        rlimits = {"RLIMIT_AS": [limits.memory_bytes] * 2, "RLIMIT_CORE": [0, 0],
                   "RLIMIT_FSIZE": [limits.disk_bytes] * 2, "RLIMIT_CPU": [cpu, cpu + 1]}
        if self.identity is not None:             # a uid of its own: the count is this child's alone
            rlimits["RLIMIT_NPROC"] = [limits.processes] * 2
        return rlimits

    def _env(self):
        threads = str(self.limits.threads)
        work = "/box/work" if self.mode == "bwrap" else str(self.folder / "work")
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8", "MNIST_GRADER_CHILD": self.token,
               "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "VECLIB_MAXIMUM_THREADS": threads, "NUMEXPR_NUM_THREADS": threads}
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
        self.proc = subprocess.Popen(
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.folder / "work", env=self._env(), start_new_session=True, **user)
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
        """One line from the child's reply channel. The child's death is noticed by its pid (a pidfd),
        never by the pipe's end: a grandchild holding the pipe open cannot stretch a request."""
        deadline = time.monotonic() + timeout
        buffer = b""
        fd = self.proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildTimeout()
            watched = [fd] if self.pidfd is None else [fd, self.pidfd]
            ready, _, _ = select.select(watched, [], [], remaining if self.pidfd is not None else min(remaining, 0.05))
            if fd in ready:
                chunk = os.read(fd, 1)
                if not chunk:
                    raise ChildDied(self._reason())
                if chunk == b"\n":
                    return buffer.decode(errors="replace")
                buffer += chunk
                if len(buffer) > 100:
                    buffer = b""
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
            name = f"in_{rid}.npz"
            try:
                write_new_file(self.work_fd, name, lambda f: np.savez(f, **inputs))
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
            while self._read_line(max(0.0, deadline - time.monotonic())) != str(rid):
                pass
        except (ChildTimeout, ChildDied):
            self.kill()
            raise
        return self._answer(rid)

    def _answer(self, rid):
        name = f"out_{rid}.npz"
        try:
            arrays = read_answer(self.work_fd, name)
            meta = json.loads(arrays.pop("__meta__").tobytes().decode())
        except Exception:
            raise ChildDied()
        finally:
            for done in (name, f"in_{rid}.npz"):   # tmpfs files stay charged to the child until deleted
                try:
                    os.unlink(done, dir_fd=self.work_fd)
                except OSError:
                    pass
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
            for fd in (self.work_fd, self.base_fd, self.pidfd):
                if fd is not None:
                    os.close(fd)
            self.work_fd = self.base_fd = self.pidfd = None
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
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


ANSWER_BYTES = 400 * 2**20          # the largest answer file the child may write


def write_new_file(folder_fd, name, write):
    """Create file `name` in the folder open as folder_fd and write(file) into it, in a folder the
    child can write to: never through a symlink or into anything the child put there first (O_EXCL
    fails on any existing name)."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder_fd)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o644)        # readable by the child's uid, whatever our umask
        write(file)


def read_answer(folder_fd, name):
    """The arrays of an answer file the child wrote, read as untrusted: a regular file (not a symlink,
    a FIFO or a device), at most ANSWER_BYTES, an uncompressed zip (so nothing expands in memory)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
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
    """Kill processes the child left behind, found by the token in their environment (modes without
    a uid of the child's own; a process that cleared its environment escapes this scan)."""
    marker = f"MNIST_GRADER_CHILD={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


# ---------------------------------------------------------------------------------- disk usage

SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")    # where any uid may write
MAX_DEPTH, MAX_ENTRIES = 64, 100_000


def tree_bytes(dir_fd, seen):
    """Bytes a folder's files take (each inode once, at least a block each), walked through folder
    handles only, so no link the child made leads the walk elsewhere. A tree deeper than MAX_DEPTH
    or larger than MAX_ENTRIES counts as infinite: no honest code writes that."""
    total, entries = 0, 0
    stack = []                        # (fd, its entries) of the folders being walked, deepest last

    def enter(fd):
        try:
            stack.append((fd, os.scandir(fd)))     # scandir works on its own copy of fd
        except OSError:
            os.close(fd)

    enter(os.dup(dir_fd))
    try:
        while stack:
            fd, iterator = stack[-1]
            entry = next(iterator, None)
            if entry is None:
                iterator.close()
                os.close(stack.pop()[0])
                continue
            entries += 1
            if entries > MAX_ENTRIES:
                return math.inf
            try:
                info = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += max(info.st_blocks * 512, 4096)
            if stat.S_ISDIR(info.st_mode):
                if len(stack) >= MAX_DEPTH:
                    return math.inf
                try:
                    enter(os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd))
                except OSError:
                    pass
    finally:
        for fd, iterator in stack:
            iterator.close()
            os.close(fd)
    return total


def shared_bytes(uid, seen):
    """Bytes uid's entries take at the top of the folders every user may write to."""
    total = 0
    for name, info, folder_fd in _owned_entries(uid):
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += max(info.st_blocks * 512, 4096)
        if stat.S_ISDIR(info.st_mode):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder_fd)
            except OSError:
                continue
            try:
                total += tree_bytes(fd, seen)
            finally:
                os.close(fd)
    return total


def _owned_entries(uid):
    """(name, lstat, folder fd) of every entry of uid's at the top of SHARED_FOLDERS; each folder fd
    stays open until the caller moves on to the next folder."""
    for folder in SHARED_FOLDERS:
        try:
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            owned = []
            for name in os.listdir(folder_fd):
                try:
                    info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                except OSError:
                    continue
                if info.st_uid == uid:
                    owned.append((name, info))
            for name, info in owned:
                yield name, info, folder_fd
        finally:
            os.close(folder_fd)


# ---------------------------------------------------------------------------------- identities

def uid_range():
    """The uids reserved for children (MNIST_GRADER_UIDS="FIRST-LAST" to choose others)."""
    first, _, last = os.environ.get("MNIST_GRADER_UIDS", "60500-60999").partition("-")
    return range(int(first), int(last) + 1)


LOCKS = Path(os.environ.get("MNIST_GRADER_LOCKS", "/run/mnist-grader"))

KILLER = """import os, signal
if os.getuid() != 0 and os.geteuid() != 0:      # kill(-1) as root would kill the machine
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
"""


class Identity:
    """A uid (and a gid of the same number) for one child alone: taken from a reserved range, used by
    no account, held through a lock file in a root-only folder, so graders running side by side on
    one machine never share one (the lock dies with the grader that held it). What a crashed grader
    left running under it, or left in the shared temporary folders, is removed before it is used."""

    def __init__(self, uid, lock_fd):
        self.uid, self.lock_fd = uid, lock_fd

    @classmethod
    def claim(cls):
        folder = lock_folder()
        uids = list(uid_range())
        start = secrets.randbelow(len(uids))
        for uid in uids[start:] + uids[:start]:
            if has_account(uid):
                continue
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            identity = cls(uid, fd)
            identity.clear()
            return identity
        raise OSError(errno.EAGAIN, f"every uid in {uids[0]}-{uids[-1]} is in use by a running grader "
                                    "(set MNIST_GRADER_UIDS to a larger range)")

    def kill(self):
        """Kill every process running as this uid, whatever its session, group or environment: a
        helper that becomes the uid calls kill(-1, SIGKILL), which reaches all of them at once, and
        the grader kills by pid whatever is left (the uid's own processes may kill the helper)."""
        for attempt in range(100):
            left = processes_of(self.uid)
            if not left:
                return
            if attempt < 3:
                try:
                    subprocess.run([sys.executable, "-I", "-S", "-c", KILLER], user=self.uid, group=self.uid,
                                   extra_groups=[], cwd="/", env={}, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
                except (OSError, subprocess.SubprocessError):    # over its RLIMIT_NPROC, say
                    pass
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
        print(f"grader: processes of uid {self.uid} survived SIGKILL: {processes_of(self.uid)}", file=sys.stderr)

    def clear(self):
        """No process and no file of this uid's anywhere the grader knows of."""
        self.kill()
        for name, info, folder_fd in _owned_entries(self.uid):
            try:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(name, dir_fd=folder_fd)
                else:
                    os.unlink(name, dir_fd=folder_fd)
            except OSError:
                pass

    def release(self):
        if self.lock_fd is None:
            return
        try:
            self.clear()
        finally:
            os.close(self.lock_fd)
            self.lock_fd = None


def lock_folder():
    LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(LOCKS)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise OSError(errno.EPERM, f"{LOCKS} must be a folder owned by root that only root may write")
    return LOCKS


def has_account(uid):
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def processes_of(uid):
    """Live (not zombie) processes whose real, effective, saved or file-system uid is uid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as file:
                fields = dict(line.split(":", 1) for line in file if ":" in line)
        except OSError:
            continue
        if fields.get("State", "").strip().startswith("Z"):
            continue
        if str(uid) in fields.get("Uid", "").split():
            found.append(int(name))
    return found


# ---------------------------------------------------------------------------------- control groups

def _read(path, default=""):
    try:
        return Path(path).read_text()
    except OSError:
        return default


def _write(path, value):
    with open(path, "w") as file:
        file.write(str(value))


def _stat_value(path, key):
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _rmdir(path):
    for attempt in range(200):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:               # processes still dying
            time.sleep(0.005)
    print(f"grader: could not remove the control group {path}", file=sys.stderr)


def own_cgroups():
    """{"v2": path} or {controller: path} of the groups this process is in, as mounted here."""
    mounts, unified = {}, None
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or len(extra) < 3:
            continue
        if extra[0] == "cgroup2":
            unified = (fields[3], fields[4])
        elif extra[0] == "cgroup":
            for option in extra[2].split(","):
                mounts.setdefault(option, (fields[3], fields[4]))
    found = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in (controllers.split(",") if controllers else ["v2"]):
            mount = unified if controller == "v2" else mounts.get(controller)
            if mount is None:
                continue
            root, point = mount
            relative = path[len(root):] if root != "/" and path.startswith(root) else path
            found[controller] = Path(point) / relative.lstrip("/")
    return found


def remove_stale_groups(parent):
    """Groups of graders that died without closing them (a batch worker killed, say): whatever still
    runs in them is killed, and they are removed. Named mnist-grader-<pid of the grader>-<random>."""
    try:
        stale = [p for p in parent.glob("mnist-grader-*-*") if not _alive(int(p.name.split("-")[2]))]
    except (OSError, ValueError, IndexError):
        return
    for path in stale:
        v2 = (path / "cgroup.kill").exists() or (path / "cgroup.controllers").exists()
        CGroups({"stale": path}, v2).close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class CGroups:
    """One submission's control groups, made under the grader's own: cgroup v2 (memory.max, pids.max,
    cgroup.kill) where the grader may enable those controllers, else v1's memory, pids and cpuacct
    hierarchies; None from create() where neither is possible (not root, say). Each child gets a
    sub-group (ChildGroup): limits apply to the sum, kills and OOM counts to one child."""

    def __init__(self, paths, v2):
        self.paths, self.v2 = paths, v2     # v2: {"v2": path}; v1: {controller: path}

    @classmethod
    def create(cls, name, limits):
        try:
            own = own_cgroups()
        except (OSError, ValueError):
            return None
        for parent in own.values():
            remove_stale_groups(parent)
        for attempt in (cls._create_v2, cls._create_v1):
            try:
                groups = attempt(own, name, limits)
            except (OSError, ValueError):
                continue
            if groups is not None:
                return groups
        return None

    @classmethod
    def _create_v2(cls, own, name, limits):
        parent = own.get("v2")
        if parent is None or not {"memory", "pids"} <= set(_read(parent / "cgroup.controllers").split()):
            return None
        if not {"memory", "pids"} <= set(_read(parent / "cgroup.subtree_control").split()):
            _write(parent / "cgroup.subtree_control", "+memory +pids")   # EBUSY when we share our group
        path = parent / name
        path.mkdir(mode=0o755)
        groups = cls({"v2": path}, True)
        try:
            _write(path / "memory.max", limits.memory_bytes)
            if (path / "memory.swap.max").exists():
                _write(path / "memory.swap.max", 0)
            _write(path / "pids.max", limits.processes)
            _write(path / "cgroup.subtree_control", "+memory +pids")
        except OSError:
            groups.close()
            raise
        return groups

    @classmethod
    def _create_v1(cls, own, name, limits):
        if "memory" not in own or "pids" not in own:
            return None
        groups = cls({}, False)
        try:
            for controller in ("memory", "pids", "cpuacct"):
                if controller not in own:
                    continue
                path = own[controller] / name
                path.mkdir(mode=0o755)
                groups.paths[controller] = path
            memory = groups.paths["memory"]
            _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes)   # no swapping past it
            _write(groups.paths["pids"] / "pids.max", limits.processes)
        except OSError:
            groups.close()
            raise
        return groups

    def child(self, token, pid):
        """A sub-group for one child, with pid (the gate, not yet released) in it."""
        child = ChildGroup({key: path / f"child-{token}" for key, path in self.paths.items()}, self.v2)
        try:
            for path in child.paths.values():
                path.mkdir(mode=0o755)
            for path in child.paths.values():
                _write(path / "cgroup.procs", pid)
        except OSError:
            child.kill()
            child.remove()
            raise
        return child

    def cpu_seconds(self):
        if self.v2:
            return _stat_value(self.paths["v2"] / "cpu.stat", "usage_usec") / 1e6
        if "cpuacct" in self.paths:
            return int(_read(self.paths["cpuacct"] / "cpuacct.usage", "0") or 0) / 1e9
        return 0.0

    def processes(self):
        """The most processes the submission had at once (pids.peak where the kernel keeps it)."""
        path = self.paths["v2" if self.v2 else "pids"]
        return int(_read(path / "pids.peak", "") or _read(path / "pids.current", "0") or 0)

    def peak_memory(self):
        path = self.paths["v2" if self.v2 else "memory"]
        return int(_read(path / ("memory.peak" if self.v2 else "memory.max_usage_in_bytes"), "0") or 0)

    def close(self):
        """Kill whatever is left in the groups and remove them (children's sub-groups first)."""
        for path in self.paths.values():
            for sub in sorted(path.glob("child-*")) if path.exists() else []:
                ChildGroup({"x": sub}, self.v2).kill()
                _rmdir(sub)
        ChildGroup(dict(self.paths), self.v2).kill()
        for path in self.paths.values():
            _rmdir(path)


class ChildGroup:
    """One child's sub-groups of its submission's CGroups."""

    def __init__(self, paths, v2):
        self.paths, self.v2 = paths, v2
        self.fork_base = self._fork_count()

    def _pids(self):
        pids = set()
        for path in self.paths.values():
            pids.update(int(p) for p in _read(path / "cgroup.procs").split())
        return pids

    def kill(self):
        for path in self.paths.values():
            if (path / "cgroup.kill").exists():       # v2, Linux 5.14 and later: all at once
                try:
                    _write(path / "cgroup.kill", 1)
                except OSError:
                    pass
        for attempt in range(200):         # a process forking meanwhile is caught on the next round
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if attempt > 2:
                time.sleep(0.005)

    def oom_kills(self):
        if self.v2:
            return _stat_value(self.paths["v2"] / "memory.events", "oom_kill")
        return _stat_value(self.paths["memory"] / "memory.oom_control", "oom_kill") if "memory" in self.paths else 0

    def _fork_count(self):
        """Forks refused for the submission's pids.max so far (its group's pids.events)."""
        path = self.paths.get("v2" if self.v2 else "pids")
        return _stat_value(path.parent / "pids.events", "max") if path is not None else 0

    def fork_failures(self):
        return self._fork_count() - self.fork_base

    def remove(self):
        for path in self.paths.values():
            _rmdir(path)


# ---------------------------------------------------------------------------------- the budget

class Budget:
    """The limits all the children of one submission share. grade.py holds one per submission:

        with Budget(limits) as limits:      # the same limits, bound to this budget
            ... Session(..., limits) ...

    Control groups (where possible) cap memory and processes in the kernel; a watcher thread adds
    up the files the children keep and their CPU time and stops all of them past a limit. The
    groups are removed, and anything left in them killed, when the budget is closed."""

    PERIOD = 0.05

    def __init__(self, limits):
        self.limits = replace(limits, budget=self)
        self.groups = None
        if os.environ.get("MNIST_GRADER_CGROUPS", "1") != "0":
            self.groups = CGroups.create(f"mnist-grader-{os.getpid()}-{secrets.token_hex(4)}", limits)
        self.children = set()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = None
        self.peaks = {"disk_bytes": 0, "processes": 0, "memory_bytes": 0, "cpu_seconds": 0.0}

    def __enter__(self):
        return self.limits

    def __exit__(self, *exc):
        self.close()

    def add(self, child, pid):
        group = self.groups.child(child.token, pid) if self.groups is not None else None
        with self.lock:
            self.children.add(child)
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="mnist-grader-budget", daemon=True)
                self.thread.start()
        return group

    def leave(self, child):
        with self.lock:                   # waits for a watcher round that may be stopping the child
            self.children.discard(child)

    def close(self):
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        if self.groups is not None:
            self._sample()
            self.groups.close()
            self.groups = None

    def _watch(self):
        while not self.done.wait(self.PERIOD):
            with self.lock:
                if self.children:
                    try:
                        self._check()
                    except Exception as exc:     # never let a bad round end the watching
                        print(f"grader: budget watcher: {exc!r}", file=sys.stderr)

    def _sample(self):
        """Note the groups' peaks (for the tests' figures); returns the CPU seconds used so far."""
        cpu = self.groups.cpu_seconds()
        self.peaks["cpu_seconds"] = max(self.peaks["cpu_seconds"], cpu)
        self.peaks["processes"] = max(self.peaks["processes"], self.groups.processes())
        self.peaks["memory_bytes"] = max(self.peaks["memory_bytes"], self.groups.peak_memory())
        return cpu

    def _check(self):
        limits, reason = self.limits, None
        if self.groups is not None:
            cpu = self._sample()
            if cpu > limits.cpu_seconds:
                reason = exceeded_cpu(limits)
        disk = sum(child.disk_bytes() for child in self.children)
        self.peaks["disk_bytes"] = max(self.peaks["disk_bytes"], disk if disk != math.inf else 0)
        if reason is None and disk > limits.disk_bytes:
            reason = exceeded_disk(limits)
        if reason is not None:
            for child in list(self.children):
                child.stop(reason)
