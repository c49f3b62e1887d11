"""A uid of its own for every child in user mode (the grader is root, without bubblewrap).

No child can then see another's files or /proc/PID/cwd, nor signal it, and everything a child
started can be killed by its uid alone, whatever session, process group or environment it gave
itself. The uids come from a reserved range (no /etc/passwd entry needed) and are held through lock
files in a root-only folder, so graders running side by side on one machine never share one.
"""
import errno
import fcntl
import grp
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from grader.sandbox.procfs import processes_of, uids_of  # noqa: F401 (uids_of: the API)

SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")    # where any uid may write


def owned_entries(uid):
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


def uid_range():
    """The uids reserved for children (MNIST_GRADER_UIDS="FIRST-LAST" to choose others)."""
    first, _, last = os.environ.get("MNIST_GRADER_UIDS", "60500-60999").partition("-")
    return range(int(first), int(last) + 1)


LOCKS = Path(os.environ.get("MNIST_GRADER_LOCKS", "/run/mnist-grader"))

# Run as the uid: kill(-1, SIGKILL) reaches every process that uid may signal (its own), never the
# caller. As root it would kill the machine: the test is there in case the uid switch ever failed.
KILLER = ["/bin/sh", "-c", 'test "$(id -u)" -ne 0 && kill -9 -1']


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
                    subprocess.run(KILLER, user=self.uid, group=self.uid,
                                   extra_groups=[], cwd="/", env={}, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
                except (OSError, subprocess.SubprocessError):    # over its RLIMIT_NPROC, say
                    pass
            for pid in left:
                kill_exactly(pid, lambda: self.uid in uids_of(pid))
            time.sleep(0.01)
        print(f"grader: processes of uid {self.uid} survived SIGKILL: {processes_of(self.uid)}", file=sys.stderr)

    def clear(self):
        """No process and no file of this uid's anywhere the grader knows of."""
        self.kill()
        for name, info, folder_fd in owned_entries(self.uid):
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


def kill_exactly(pid, belongs):
    """SIGKILL process pid if belongs() still holds once the pid is pinned by a pidfd: between
    reading a pid and signalling it, the process may exit and its number go to another one, and the
    grader may be root."""
    if not hasattr(os, "pidfd_open"):
        if belongs():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if belongs():
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)
