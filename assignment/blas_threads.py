# GENERATED from solution/blas_threads.py by "mnist-grader release" -- do not edit; edit solution/blas_threads.py and regenerate.
"""How many threads NumPy's BLAS should run: no more than the CPUs this process may use and that
other work leaves free.

Provided code: you don't need to change anything here. train.py calls it before importing NumPy.

NumPy's OpenBLAS starts one thread per CPU the machine shows, and its threads wait for each other
by spinning. Training with batches of 128 does thousands of small matrix products per epoch; when
one of those threads finds no free CPU (other programs are running, or a container or notebook
server allows less CPU time than the CPUs it shows), every product waits for it, and an epoch
takes twenty times as long as on one thread. So the count is the smallest of
- the CPUs this process may run on (os.sched_getaffinity);
- the CPU quota of its cgroup (v2: cpu.max; v1: cpu.cfs_quota_us / cpu.cfs_period_us), rounded down;
- the CPUs that other runnable processes leave free right now (/proc/loadavg);
and at least 1. A thread count set by hand in the environment (OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, ...) is left as it is.

    from blas_threads import limit_blas_threads
    print(limit_blas_threads())    # before `import numpy`; after it, only with threadpoolctl

Standard library only (it is copied into the students' folder), and nothing happens on import.
"""
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# Read by OpenBLAS, OpenMP, MKL, BLIS, Apple's Accelerate and numexpr when NumPy loads them.
VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SAMPLES = 5                # /proc/loadavg read this many times, 10 ms apart: a short-lived process
SAMPLE_SECONDS = 0.01      # shows in one sample, a busy one in all of them
_KEEP = []                 # threadpoolctl's limiter, kept alive for the life of the process
OWN = object()             # "this process's own", as a default argument


@dataclass(frozen=True)
class Sizing:
    """The thread count and what it was computed from; str() is one line for a user."""

    threads: int
    cpus: int                  # CPUs this process may use (affinity and quota)
    busy: int                  # other processes that were running (each keeps a CPU busy)
    how: str                   # how the count was applied, or why it could not be

    def __str__(self):
        return (f"BLAS threads: {self.threads} ({self.cpus} CPU{'s' * (self.cpus != 1)} usable here, "
                f"{self.busy} other process{'es' * (self.busy != 1)} running; {self.how})")


def affinity_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), or every CPU where that is unknown."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):           # macOS and Windows have no affinity masks
        return os.cpu_count() or 1


def cgroup_quota(root=CGROUP_ROOT, self_cgroup="/proc/self/cgroup") -> Optional[float]:
    """The CPU time this process's cgroup may use, in CPUs (1.5 = one and a half), or None for no limit.

    Looks in the process's own cgroup and every one above it (the smallest quota counts), under
    root (cgroup v2) and root/cpu, root/cpu,cpuacct (v1). Inside a container /proc/self/cgroup often
    names the host's path; the container's own cgroup is then mounted at root itself, also looked at.
    """
    root = Path(root)
    paths = {"v2": "/", "v1": "/"}
    try:
        for line in Path(self_cgroup).read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0":
                paths["v2"] = path
            elif "cpu" in controllers.split(","):
                paths["v1"] = path
    except (OSError, ValueError):
        pass
    quotas = []
    for folder in _ancestors(root, paths["v2"]):
        quotas.append(_read_cpu_max(folder / "cpu.max"))
    for mount in (root / "cpu", root / "cpu,cpuacct"):
        for folder in _ancestors(mount, paths["v1"]):
            quotas.append(_read_cfs(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us"))
    quotas = [q for q in quotas if q is not None]
    return min(quotas) if quotas else None


def _ancestors(mount, path):
    """mount/path, its parents up to mount, and mount itself (a container's own cgroup)."""
    folder = mount / path.strip("/")
    found = [folder]
    while folder != mount and mount in folder.parents:
        folder = folder.parent
        found.append(folder)
    return found


def _read_cpu_max(path):
    """cgroup v2: "max 100000" (no limit) or "200000 100000" (2 CPUs)."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _read_cfs(quota_path, period_path):
    """cgroup v1: quota -1 means no limit."""
    try:
        quota, period = int(quota_path.read_text()), int(period_path.read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cpus(affinity=None, quota=OWN) -> int:
    """The CPUs this process may use: its affinity mask and its cgroup quota (rounded down), at least 1.
    affinity and quota default to this process's own (tests pass their own; quota None: no quota)."""
    affinity = affinity_cpus() if affinity is None else affinity
    quota = cgroup_quota() if quota is OWN else quota
    cpus = min(affinity, math.floor(quota)) if quota is not None else affinity
    return max(1, cpus)


def busy_cpus(loadavg="/proc/loadavg", samples=SAMPLES) -> int:
    """How many CPUs other processes keep busy right now: the runnable tasks in /proc/loadavg (its
    fourth field, "running/total"), less this one, at its lowest over a few samples; 0 where unknown."""
    counts = []
    for sample in range(samples):
        if sample:
            time.sleep(SAMPLE_SECONDS)
        try:
            counts.append(int(Path(loadavg).read_text().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return 0
    return max(0, min(counts) - 1)


def blas_threads(cpus=None, busy=None, machine=None):
    """(threads, usable CPUs, busy CPUs): at most the usable CPUs, at most the machine's CPUs less the
    busy ones, at least 1. The arguments default to this process's and this machine's own."""
    cpus = usable_cpus() if cpus is None else cpus
    busy = busy_cpus() if busy is None else busy
    machine = (os.cpu_count() or cpus) if machine is None else machine
    return max(1, min(cpus, machine - busy)), cpus, busy


def limit_blas_threads() -> Sizing:
    """Size the BLAS thread pool: through the environment before NumPy is imported, through
    threadpoolctl (if installed) after it. Returns what was done, to print."""
    threads, cpus, busy = blas_threads()
    preset = [name for name in VARIABLES if os.environ.get(name)]
    if preset:
        name = preset[0]
        return Sizing(_int(os.environ[name], threads), cpus, busy, f"{name}={os.environ[name]} is set, so left as it is")
    if "numpy" not in sys.modules:
        for name in VARIABLES:
            os.environ[name] = str(threads)
        return Sizing(threads, cpus, busy, "set through OPENBLAS_NUM_THREADS and the like")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return Sizing(threads, cpus, busy, "not applied: NumPy was imported first and threadpoolctl is not installed")
    _KEEP.append(threadpool_limits(limits=threads, user_api="blas"))
    return Sizing(threads, cpus, busy, "set through threadpoolctl")


def _int(text, default):
    try:
        return int(text)
    except ValueError:
        return default
