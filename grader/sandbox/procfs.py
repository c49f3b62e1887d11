"""What the grader reads of other processes, from /proc, in one place: which processes exist, their
uids, their parent, their environment and their control groups.

The sandbox looks for the processes a child left behind (by uid in user mode, identity.py; by the
token in their environment otherwise, process.py; by control group, limits.py), and a batch worker
for its own children (batch.py). Every reader tolerates a process that exits while it is read: a
vanished process is simply not found. Where there is no /proc (a student's laptop running the
public checks on macOS), no process is found."""
import os


def pids():
    """The pids of every process this one can see."""
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def uids_of(pid):
    """The real, effective, saved and file-system uids of a live process; empty for a zombie or none."""
    try:
        with open(f"/proc/{pid}/status") as file:
            fields = dict(line.split(":", 1) for line in file if ":" in line)
    except OSError:
        return set()
    if fields.get("State", "").strip().startswith("Z"):
        return set()
    return {int(uid) for uid in fields.get("Uid", "").split()}


def processes_of(uid):
    """Live (not zombie) processes whose real, effective, saved or file-system uid is uid."""
    return [pid for pid in pids() if uid in uids_of(pid)]


def parent_of(pid):
    """The pid of pid's parent; None when pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
        return int(stat[stat.rindex(")") + 2:].split()[1])      # the name in parentheses may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def children_of(parent):
    """The processes whose parent is `parent` (zombies too)."""
    return [pid for pid in pids() if parent_of(pid) == parent]


def holding_environment(entry):
    """The processes whose environment holds `entry` (b"NAME=value"). A process that cleared its
    environment, or that this one may not read, is not found."""
    found = []
    for pid in pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                if entry in file.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            pass
    return found


def cgroups_of(pid="self"):
    """The text of /proc/PID/cgroup: one line "hierarchy:controllers:path" per hierarchy ("" when gone)."""
    return _read(f"/proc/{pid}/cgroup")


def mounts_of(pid="self"):
    """The text of /proc/PID/mountinfo ("" when unreadable)."""
    return _read(f"/proc/{pid}/mountinfo")


def _read(path):
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""
