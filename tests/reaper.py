"""The watchdog the tests run the grader under: `python -S reaper.py --timeout S --report F --stdout F
--stderr F --cwd D [--grace S] -- CMD...` (gradertools.run_grader starts it when it does not fork the
grader from tests/zygote.py, which does the same with this file's functions).

It makes itself a Linux "child subreaper", so every process the grader or the student's code leaves
behind is re-parented to it instead of to init; after the grader exits it lists those leftovers,
kills them (by pid) and reports them. It also enforces the time bound.

Standard library only, and little of it: it starts once per grading (hundreds of times a test run),
with -S (no site-packages), in about half the CPU time of a script that imports more.
"""
import json
import os
import signal
import subprocess
import sys
import time

# Leftover processes get this long to disappear after the grader exits before they count.
LEFTOVER_GRACE = 3.0


def become_subreaper():
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0          # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def process_table():
    """{pid: (parent pid, process group, state)} of every process this one can see (/proc/PID/stat)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()      # the name in parentheses may hold spaces
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(root=None):
    """[(pid, state)] of every process below root (default: this one), zombies included."""
    children = {}
    for pid, (parent, _, state) in process_table().items():
        children.setdefault(parent, []).append((pid, state))
    found, stack = [], [os.getpid() if root is None else root]
    while stack:
        for pid, state in children.get(stack.pop(), []):
            found.append((pid, state))
            stack.append(pid)
    return found


def live_descendants(root=None):
    """The pids of the live (not zombie) processes below root (default: this one)."""
    return [pid for pid, state in descendants(root) if state not in ("Z", "X")]


def in_group(pgid):
    """The pids of the live processes of process group pgid."""
    return [pid for pid, (_, group, state) in process_table().items() if group == pgid and state not in ("Z", "X")]


def _reap_zombies():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def collect_leftovers(grace):
    deadline = time.monotonic() + grace
    while True:
        _reap_zombies()
        live = live_descendants()
        if not live or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    leftovers = [{"pid": pid, "cmdline": _cmdline(pid)} for pid in live]
    for pid in live:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if live:
        time.sleep(0.2)
        _reap_zombies()
    return leftovers


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="reaper.py")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--stdout", required=True)
    parser.add_argument("--stderr", required=True)
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--grace", type=float, default=LEFTOVER_GRACE)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    subreaper = become_subreaper()
    start = time.monotonic()
    timed_out = False
    with open(args.stdout, "wb") as out, open(args.stderr, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=args.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            returncode = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            returncode = proc.wait()
    elapsed = time.monotonic() - start
    leftovers = collect_leftovers(args.grace) if subreaper else []
    with open(args.report, "w") as fh:
        json.dump({"returncode": returncode, "timed_out": timed_out, "elapsed": elapsed,
                   "leftovers": leftovers, "subreaper": subreaper}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
