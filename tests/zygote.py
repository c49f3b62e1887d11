"""The tests' gradings without Python's start-up, the grader's imports and the sandbox probes each
time: a process that has done them forks one grader per grading.

Of a grading's CPU time (about 1 s for a submission without training), 0.2 s is Python starting and
importing NumPy and the grader, and 0.15 s finding the Python for student code and the sandbox (two
probe processes); the suite grades about 200 submissions through gradertools.run_grader, which sends
them here. Every other way the tests start the grader (the console script, `batch` and its workers,
Gradescope's run_autograder, the public kit, nbgrader, run_grader(fork=False)) still starts a fresh
Python that probes.

`python zygote.py` is started by gradertools, one per test process, with the kit as its working
folder and the environment of the gradings it is sent (gradertools starts another when a test has
changed an environment variable: the grader reads some as it is imported, and the sandbox found
depends on others). It sizes BLAS as the command line does before NumPy loads
(cli.one_blas_thread), imports the grader's modules, finds the Python for student code and the
sandbox once (child_python, sandbox_mode), as each of `batch`'s workers does before its first
grading, becomes a child subreaper (as tests/reaper.py does), and reads requests on stdin, one JSON
line each: {"argv", "cwd", "env", "stdout", "stderr", "timeout"}. For each, it forks:
- the fork is the grader. It takes a session of its own, the request's environment and working
  folder, /dev/null as stdin and the two files as stdout and stderr, then runs grader/__main__.py
  as `python -m grader` does (runpy) and ends as a Python program ends: its SystemExit leaves
  this file's top level, so its threads are joined, atexit runs and its buffers are flushed;
- the zygote waits for it (killing its process group after `timeout` seconds), then kills and
  lists every process it left behind, and answers with one JSON line: {"returncode", "timed_out",
  "elapsed", "leftovers", "subreaper"}, what tests/reaper.py reports.
The zygote ends when its stdin closes (its test process ended).
"""
import json
import os
import select
import signal
import sys
import time

import reaper
from grader.sandbox.limits import THREAD_VARIABLES       # NumPy is not imported yet: see load_the_grader


def load_the_grader():
    """Import what a grading imports, after the environment the command line sets first, and find
    the Python for student code and the sandbox."""
    from grader.cli import one_blas_thread
    one_blas_thread()
    import grader.cli  # noqa: F401
    import grader.grade  # noqa: F401
    import grader.formats.gradescope  # noqa: F401
    import grader.formats.junit  # noqa: F401
    import grader.formats.report_json  # noqa: F401
    import grader.formats.table  # noqa: F401
    import grader.publish  # noqa: F401
    import grader.rubric  # noqa: F401
    from grader.checks import load_all
    load_all()
    from grader.sandbox.process import child_python, sandbox_mode
    child_python()
    sandbox_mode()


def wait(pid, timeout):
    """(exit status as subprocess gives it, timed out?) of the forked grader."""
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        timed_out = not ready
        if timed_out:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), timed_out
    finally:
        os.close(pidfd)


def serve():
    """Answer requests until stdin closes; returns the request in each forked grader."""
    subreaper = reaper.become_subreaper()
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            raise SystemExit(0)
        request = json.loads(line)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            return request
        returncode, timed_out = wait(pid, request["timeout"])
        elapsed = time.monotonic() - start
        leftovers = reaper.collect_leftovers(reaper.LEFTOVER_GRACE) if subreaper else []
        sys.stdout.buffer.write(json.dumps({"returncode": returncode, "timed_out": timed_out, "elapsed": elapsed,
                                            "leftovers": leftovers, "subreaper": subreaper}).encode() + b"\n")
        sys.stdout.buffer.flush()


def become_the_grader(request):
    """This fork, set up as subprocess.Popen(start_new_session=True) sets up `python -m grader`."""
    os.setsid()
    os.environ.clear()
    os.environ.update(request["env"])
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")        # what one_blas_thread() set before NumPy loaded
    os.chdir(request["cwd"])
    streams = [os.open(os.devnull, os.O_RDONLY)] + [
        os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for name in ("stdout", "stderr")]
    for fd, stream in enumerate(streams):
        os.dup2(stream, fd)
        os.close(stream)
    sys.argv = [sys.argv[0], *request["argv"]]
    sys.path[0] = os.getcwd()                  # what `python -m` puts first


if __name__ == "__main__":
    load_the_grader()
    grading = serve()
    become_the_grader(grading)
    import runpy
    runpy.run_module("grader", run_name="__main__", alter_sys=True)       # raises SystemExit(main())
