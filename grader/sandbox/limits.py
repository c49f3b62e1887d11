"""Limits per submission, not per process: all the children of one submission, and everything they
fork, share one memory cap (tmpfs files included), one process cap, one CPU-time account and one
disk allowance.

- CGroups: where the grader may create control groups (v2, or v1's memory, pids and cpuacct
  hierarchies, as root), one set per submission under the grader's own group, a sub-group per child;
- Budget: holds them for one submission, and a watcher thread that adds up the files the children
  keep and their CPU time, and stops them past a limit;
- without control groups, process.py's rlimits (per process; RLIMIT_NPROC per uid in user mode).
"""
import errno
import math
import os
import secrets
import stat
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from grader.sandbox.identity import kill_exactly, owned_entries
from grader.sandbox.procfs import cgroups_of, mounts_of


# The environment variables that set the thread count of every BLAS and OpenMP pool numpy may start
# (OpenBLAS, OpenMP, MKL, Accelerate, numexpr): how Limits.threads reaches a child's numpy.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")


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


# ---------------------------------------------------------------------------------- disk usage

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
    for name, info, folder_fd in owned_entries(uid):
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
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                break
            time.sleep(0.005)         # processes still dying
    print(f"grader: could not remove the control group {path}", file=sys.stderr)


def own_cgroups():
    """{"v2": path} or {controller: path} of the groups this process is in, as mounted here."""
    mounts, unified = {}, None
    for line in mounts_of("self").splitlines():
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
    for line in cgroups_of("self").splitlines():
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
    if not os.access(parent, os.W_OK):
        return
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

    def _holds(self, pid):
        """Is pid (still) in one of these groups? Their names are unique (random parts)."""
        ends = {"/" + path.name for path in self.paths.values()}
        return any(line.endswith(end) for line in cgroups_of(pid).splitlines() for end in ends)

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
                kill_exactly(pid, lambda: self._holds(pid))
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
