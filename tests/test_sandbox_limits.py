"""Limits per submission and one identity per child (grader/sandbox/process.py).

Each limit is tried on a submission that forks: the processes of one submission together stay
within the memory, process, disk and CPU limits, in every sandbox mode this machine offers. In user
mode (root, no bubblewrap) every child has a uid of its own: a batch of two where one student's
code detaches a process to read and kill the other's gets nothing, and leaves nothing behind.

Student code runs in a driver subprocess (DRIVER): user mode needs a Python that other users can
run (the system Python's venv of tests/test_grader_user_sandbox.py). The figures each test measures
are printed (run with -s to see them).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import gradertools as gt
from grader.sandbox import identity, limits, process
from test_grader_user_sandbox import system_python  # noqa: F401  (a fixture)

ROOT = gt.ROOT
MiB, GiB = 2**20, 2**30

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the limits need root (cgroups, uids) on Linux")

DRIVER = '''
import json, sys
from pathlib import Path
from grader.errors import StudentError
from grader.sandbox import process
from grader.sandbox.session import Session

folder, fn, limits, timeout = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
if len(sys.argv) > 5:
    process.CHILD_SOURCE = Path(sys.argv[5])
if not hasattr(process, "Budget"):      # the code before per-submission limits: show what it did
    OldLimits = process.Limits

    class Budget:
        def __init__(self, limits):
            self.groups, self.peaks = True, {"processes": 0, "memory_bytes": 0, "disk_bytes": 0, "cpu_seconds": 0}
            self.limits = OldLimits(memory_bytes=limits.get("memory_bytes", 6 * 2**30))
            self.limits.__dict__["budget"] = self
        def __enter__(self):
            return self.limits
        def __exit__(self, *exc):
            pass
    process.Budget, process.Limits = Budget, dict
uids = []                               # every uid the children ran under (user mode)
if hasattr(process, "Identity"):
    claim = process.Identity.claim.__func__

    def record(cls):
        identity = claim(cls)
        uids.append(identity.uid)
        return identity
    process.Identity.claim = classmethod(record)
with process.Budget(process.Limits(**limits)) as bound:
    budget = bound.budget
    cgroups = budget.groups is not None
    names = sorted({path.name for path in budget.groups.paths.values()}) if cgroups and budget.groups is not True else []
    try:
        with Session(folder, ["functional"], bound) as session:
            outcome = {"value": session.call("functional." + fn, timeout=timeout).value.tolist()}
    except StudentError as exc:
        outcome = {"error": str(exc)}
print(json.dumps({**outcome, "peaks": budget.peaks, "cgroups": cgroups, "mode": process.sandbox_mode(),
                  "uids": uids, "groups": names}))
'''

FORKING = '''
import os, stat, sys, time
import _posixsubprocess
import numpy as np

# The child's audit hook refuses os.fork and subprocess: a tripwire, not the sandbox (README). These
# helpers start fresh interpreters the way it does not see, as a determined submission would.

def _spawn(code, *args, keep_pipes=False):
    """Start `python -c code args` (this child's Python); keep_pipes: it inherits every pipe of this
    process, the reply channel to the grader included. Returns its pid."""
    argv = [sys.executable, "-c", code, *map(str, args)]
    errors, errors_write = os.pipe()
    keep = {errors_write}
    if keep_pipes:
        for name in os.listdir("/proc/self/fd"):
            try:
                if stat.S_ISFIFO(os.fstat(int(name)).st_mode):
                    keep.add(int(name))
            except OSError:
                pass
    try:
        pid = _posixsubprocess.fork_exec(argv, [os.fsencode(sys.executable)], True, tuple(sorted(keep)), None, None,
                                         -1, -1, -1, -1, -1, -1, errors, errors_write, True, False, -1,
                                         None, None, None, -1, None, False)
    finally:
        os.close(errors_write)
    failure = os.read(errors, 10000)
    os.close(errors)
    if failure:
        raise OSError(failure.decode(errors="replace"))
    return pid

def _wait(pid):
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

BOMB = """
import os, signal, sys, time
pids = []
for _ in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        if sys.argv[2] == "detach":
            os.setsid()
        time.sleep(120)
        os._exit(0)
    pids.append(pid)
open(sys.argv[1], "w").write(str(len(pids)))
if sys.argv[2] != "detach":
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
"""

def fork_bomb():
    """A helper forks sleepers until the system says no; returns how many ran at once."""
    _wait(_spawn(BOMB, "bomb-count", "wait"))
    return np.array(int(open("bomb-count").read()))

def leave_a_crowd():
    """Detached sleepers up to the process limit, left running."""
    _wait(_spawn(BOMB, "crowd-count", "detach"))
    return np.array(1)

HOLD = "import sys, time, numpy as np; block = np.ones(int(sys.argv[1]) * 2**20 // 8); time.sleep(float(sys.argv[2]))"

def four_hogs():
    """Four processes touching 480 MB each at the same time; returns how many lived to finish."""
    pids = [_spawn(HOLD, 480, 3) for _ in range(4)]       # all four start and touch theirs well within 3 s
    return np.array(sum(_wait(pid) for pid in pids))

def biggest_hog():
    """Two helpers hold 300 MB each; then this process itself touches 500 MB."""
    helpers = [_spawn(HOLD, 300, 30) for _ in range(2)]
    time.sleep(1.5)                               # theirs touched (about 0.3 s on a busy machine)
    block = np.ones(500 * 2**20 // 8)
    return np.array(block.size)

def _fill(folder):
    chunk = b"x" * 2**20
    written = 0
    try:
        for i in range(128):                     # up to 2 GiB in 16 MiB files
            with open(os.path.join(folder, f"fill-{os.getpid()}-{i}"), "wb") as file:
                for _ in range(16):
                    file.write(chunk)
                    written += len(chunk)
    except OSError:
        pass
    return np.array(written)

def fill_work_folder():
    return _fill(".")

def fill_tmp():
    return _fill("/tmp")

def die_leaving_a_grandchild():
    """A helper holding every pipe of this process sleeps on; then this process dies."""
    _spawn("import time; time.sleep(120)", keep_pipes=True)
    os._exit(3)

SPIN = \"\"\"
import time
end = time.time() + 60
while time.time() < end:
    pass
\"\"\"

def burn_cpu():
    """Three busy helpers and this process's own busy loop, for at most 60 s of wall time."""
    helpers = [_spawn(SPIN) for _ in range(3)]
    end = time.time() + 60
    while time.time() < end:
        pass
    for pid in helpers:
        _wait(pid)
    return np.array(1)

def leave_sleepers():
    """Two sleepers in a session of their own, then this process waits too."""
    for _ in range(2):
        _spawn("import os, time; os.setsid(); time.sleep(300)")
    time.sleep(300)
    return np.array(1)
'''


def modes():
    """Sandbox modes to try; "user-no-cgroups" is user mode where /sys/fs/cgroup is read-only (Docker)."""
    found = ["none"]
    if process.sandbox_mode() == "bwrap" or os.environ.get("MNIST_GRADER_SANDBOX") == "bwrap":
        found.insert(0, "bwrap")
    return found + ["user", "user-no-cgroups"]


@pytest.fixture(params=modes())
def mode(request):
    return request.param


@pytest.fixture
def python(mode, request):
    """The Python that runs the grader: in user mode one that the children's uids can run."""
    if mode.startswith("user"):
        if not shutil.which("python3", path="/usr/bin"):
            pytest.skip("user mode needs /usr/bin/python3")
        return request.getfixturevalue("system_python")
    return Path(sys.executable)


def submission(tmp_path, source=FORKING):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "functional.py").write_text(textwrap.dedent(source))
    return folder


def environment(mode, python):
    """The grader's environment: in user mode the children's Python is the grader's (tests/
    test_grader_user_sandbox.py: one any uid can run)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MNIST_GRADER_SANDBOX": mode.split("-")[0],
           "MNIST_GRADER_CGROUPS": "0" if mode.endswith("no-cgroups") else "1"}
    if mode.startswith("user"):
        env["MNIST_CHILD_PYTHON"] = str(python)
    return env


def needs_cgroups(mode):
    if mode.endswith("no-cgroups"):
        pytest.skip("without control groups this limit holds per process only (README, trust)")


def drive(python, mode, folder, fn, timeout=60.0, tmpdir=None, child_source=None, **limits):
    env = environment(mode, python)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    argv = [str(python), "-c", DRIVER, str(folder), fn, json.dumps(limits), str(timeout)]
    if child_source is not None:
        argv.append(str(child_source))
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["mode"] == mode.split("-")[0]
    assert result["cgroups"] == (not mode.endswith("no-cgroups"))
    return result


def left_behind(result):
    """Processes of a driver run's uids or in its control groups, and its groups, still there."""
    names, uids, left = result["groups"], set(result["uids"]), []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            groups = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if not _zombie(pid) and (uids & identity.uids_of(pid) or any(f"/{name}" in groups for name in names)):
            left.append(pid)
    return left, [g for g in grader_groups() if any(name in g for name in names)]


def grader_groups():
    groups = []
    for path in limits.own_cgroups().values():
        groups += [str(p) for p in path.glob("mnist-grader-*")]
    for top in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpuacct"):
        groups += [str(p) for p in Path(top).glob("mnist-grader-*")]
    return sorted(set(groups))


def figure(name, **values):
    print(f"\n[figures] {name}: " + ", ".join(f"{k} = {v}" for k, v in values.items()))


# ---------------------------------------------------------------------------------------------- limits

def test_a_fork_bomb_stops_at_the_process_limit(python, mode, tmp_path):
    limit = 16
    result = drive(python, mode, submission(tmp_path), "fork_bomb", processes=limit)
    forked = result["value"]
    figure(f"fork bomb ({mode})", limit=limit, forked_at_once=forked, peak_processes_seen=result["peaks"]["processes"])
    assert forked < limit                         # the child itself counts (and bubblewrap's two)
    assert result["peaks"]["processes"] <= limit  # 0 without control groups: the uid's RLIMIT_NPROC held


def test_four_forks_share_one_memory_limit(python, mode, tmp_path):
    needs_cgroups(mode)
    result = drive(python, mode, submission(tmp_path), "four_hogs", memory_bytes=GiB)
    finished, peak = result["value"], result["peaks"]["memory_bytes"]
    figure(f"4 x 480 MB ({mode})", limit="1 GiB", finished=f"{finished} of 4", peak_memory_MiB=peak // MiB)
    assert finished <= 2
    assert 0 < peak <= GiB


def test_the_process_over_the_memory_limit_is_named(python, mode, tmp_path):
    if mode != "bwrap":
        pytest.skip("one mode is enough for the message")
    result = drive(python, mode, submission(tmp_path), "biggest_hog", memory_bytes=GiB)
    assert "Your code used more than 1 GiB of memory in all its processes together during biggest_hog()" \
        in result.get("error", ""), result


@pytest.mark.parametrize("where", ["fill_work_folder", "fill_tmp"])
def test_files_written_stay_within_the_disk_limit(python, mode, tmp_path, where):
    if where == "fill_tmp" and mode == "none":
        pytest.skip("unsandboxed, the child's /tmp is the grader's: nothing to tell its files by")
    limit = 128 * MiB
    result = drive(python, mode, submission(tmp_path), where, disk_bytes=limit)
    seen = result["peaks"]["disk_bytes"]
    written = result.get("value")
    figure(f"{where} ({mode})", limit_MiB=limit // MiB, written_MiB=None if written is None else written // MiB,
           peak_seen_MiB=seen // MiB, outcome=result.get("error", "returned")[:90])
    if written is not None:                       # bubblewrap's /tmp is a tmpfs of that size: ENOSPC
        assert where == "fill_tmp" and mode == "bwrap"
        assert written <= limit
    else:                                         # the watcher saw the total pass the limit
        assert "Your code wrote more than 128 MiB of files" in result["error"]
        # and stopped the writer long before its 2 GiB. How far past the limit it got is what the
        # writer managed in the watcher's reaction time: 130-410 MiB here with two busy processes beside
        # it (page-cache writes run at 2 GB/s). The bound leaves room for a reaction of about 0.4 s.
        assert seen < 8 * limit


def test_cpu_time_of_all_processes_is_capped(python, mode, tmp_path):
    needs_cgroups(mode)
    start = time.monotonic()
    result = drive(python, mode, submission(tmp_path), "burn_cpu", timeout=120, cpu_seconds=2)
    figure(f"CPU ({mode})", limit_s=2, cpu_seen_s=round(result["peaks"]["cpu_seconds"], 2),
           wall_s=round(time.monotonic() - start, 1))
    assert "Your code used more than 2 s of CPU time in all its processes together" in result.get("error", ""), result


def test_the_death_of_the_child_is_noticed_though_a_grandchild_holds_its_pipes(python, mode, tmp_path):
    result = drive(python, mode, submission(tmp_path), "die_leaving_a_grandchild", timeout=60)
    assert "stopped during die_leaving_a_grandchild()" in result.get("error", ""), result


def test_everything_left_running_at_the_process_limit_is_killed(python, mode, tmp_path):
    result = drive(python, mode, submission(tmp_path), "leave_a_crowd", processes=16)
    assert result["value"] == 1
    assert result["uids"] or result["groups"]
    assert left_behind(result) == ([], [])


def test_a_child_that_dies_before_it_is_ready_leaves_nothing(python, mode, tmp_path):
    temporary = Path(tempfile.mkdtemp(prefix="limits-tmpdir-"))     # reachable by the children's uids
    os.chmod(temporary, 0o711)
    dying = temporary / "dying_child.py"
    dying.write_text("import os\nos._exit(3)\n")
    os.chmod(dying, 0o644)
    try:
        result = drive(python, mode, submission(tmp_path), "fork_bomb", tmpdir=temporary, child_source=dying)
        assert "could not start Python for your code" in result["error"]
        assert sorted(p.name for p in temporary.iterdir()) == ["dying_child.py"]
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def test_a_grader_killed_mid_call_leaves_nothing_once_the_next_one_starts(python, mode, tmp_path):
    needs_cgroups(mode)
    folder = submission(tmp_path)
    env = environment(mode, python)
    driver = subprocess.Popen([str(python), "-c", DRIVER, str(folder), "leave_sleepers", "{}", "300"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = f"-{driver.pid}-"
    try:
        for _ in range(600):                      # the sleepers are up: the child and its two
            groups = [p for p in grader_groups() if token in p and "pids" in p]
            if groups and int(Path(groups[0], "pids.current").read_text()) >= 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the sleepers never started")
        members = [int(pid) for pid in Path(groups[0], "cgroup.procs").read_text().split()]
        for pid in members:
            assert not _zombie(pid)
    finally:
        driver.kill()                             # SIGKILL: no cleanup of its own
        driver.wait()
    drive(python, mode, folder, "fork_bomb", processes=8)
    assert [g for g in grader_groups() if token in g] == []
    assert [pid for pid in members if not _zombie(pid)] == []


# ---------------------------------------------------------------------------------------------- user mode

ATTACK = '''
import os as _os

_DAEMON = r"""
import os, signal, sys, time
marker, loot = sys.argv[1], sys.argv[2]
me, mine = os.getpid(), os.getuid()
with open(loot + ".proof", "a") as out:
    out.write(f"daemon {me} uid {mine} session {os.getsid(0)} token {'MNIST_GRADER_CHILD' in os.environ}\\n")
end = time.time() + 90
while time.time() < end:
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            cmdline = open(f"/proc/{name}/cmdline", "rb").read()
            uid = int(open(f"/proc/{name}/status").read().split("Uid:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        if b"child.py" not in cmdline:
            continue
        for path in ("cwd/submission/mlp.py", "cwd/../submission/mlp.py"):
            try:
                text = open(f"/proc/{name}/{path}").read()
            except OSError:
                continue
            if marker in text:
                with open(loot, "a") as out:
                    out.write(f"read {name} {path}\\n")
                os.kill(int(name), signal.SIGKILL)
        if uid != mine:
            try:
                os.kill(int(name), 0)
                with open(loot, "a") as out:
                    out.write(f"signal {name}\\n")
            except OSError:
                pass
    time.sleep(0.02)
"""


_LAUNCH = r"""
import os, sys
os.setsid()
if os.fork():
    os._exit(0)
os.execve("/usr/bin/python3", ["python3", "-c", *sys.argv[1:]], {})
"""


def _detach():
    """A launcher that setsid()s, double-forks and execve()s the daemon with an empty environment: out
    of the child's session, process group and environment token. Started with fork_exec, which the
    child's audit hook (a tripwire, not the sandbox) does not see."""
    import _posixsubprocess
    errors, errors_write = _os.pipe()
    try:
        _posixsubprocess.fork_exec(["/usr/bin/python3", "-c", _LAUNCH, _DAEMON, "MARKER", "LOOT"],
                                   [b"/usr/bin/python3"], True, (errors_write,), None, [], -1, -1, -1, -1, -1, -1,
                                   errors, errors_write, True, False, -1, None, None, None, -1, None, False)
    finally:
        _os.close(errors_write)
    _os.close(errors)


_HERE = _os.getcwd()


def _swap_work_folder():
    """Rename the working folder and leave a symlink to TARGET in its place."""
    try:
        _os.rename(_HERE, _HERE + ".moved")
        _os.symlink("TARGET", _HERE)
        outcome = "swapped"
    except OSError as exc:
        outcome = f"refused: {exc.strerror}"
    with open("LOOT.proof", "a") as out:
        out.write(f"swap {outcome}\\n")


_sigmoid = sigmoid


def sigmoid(z):
    """Keep the grader's input files (written through the symlink) from being deleted."""
    try:
        for name in _os.listdir(_HERE):
            if name.startswith("in_"):
                _os.rename(_os.path.join(_HERE, name), _os.path.join(_HERE, "kept-" + name))
    except OSError:
        pass
    return _sigmoid(z)


def _wait_for_daemon():
    """Go on once the daemon has said that it runs: a grading ends its children within a second or two,
    which may be before a fresh python3 has started, and the test needs the attack to have run."""
    import time as _time
    for _ in range(200):
        try:
            with open("LOOT.proof") as proof:
                if "daemon " in proof.read():
                    return
        except OSError:
            pass
        _time.sleep(0.05)


_detach()
_wait_for_daemon()
_swap_work_folder()
'''


@pytest.mark.parametrize("mode", ["user", "user-no-cgroups"])
def test_user_mode_batch_one_student_cannot_touch_the_other(system_python, tmp_path, mode):  # noqa: F811 (imported fixture)
    marker = f"honest-{os.urandom(6).hex()}"
    shared = Path(tempfile.mkdtemp(prefix="limits-attack-"))         # where the attacker reports
    os.chmod(shared, 0o777)
    target = shared / "target"
    target.mkdir()
    os.chmod(target, 0o777)
    loot = shared / "loot.txt"
    try:
        submissions = tmp_path / "submissions"
        honest = gt.copy_submission(gt.SOLUTION, submissions / "honest")
        with open(honest / "mlp.py", "a") as file:
            file.write(f"\n# {marker}\n")
        attacker = gt.copy_submission(gt.SOLUTION, submissions / "attacker")
        attack = ATTACK.replace("MARKER", marker).replace("LOOT", str(loot)).replace("TARGET", str(target))
        with open(attacker / "functional.py", "a") as file:
            file.write(attack)
        out = tmp_path / "out"
        proc = subprocess.run([str(system_python), "-m", "grader", "batch", str(submissions), "--out", str(out),
                               "--workers", "2", *[x for item in gt.ACCURACY_ITEMS for x in ("--skip", item)]],
                              cwd=ROOT, env=environment(mode, system_python), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
        survivors = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                     if marker.encode() in _cmdline(pid) and not _zombie(pid)]
        stolen = loot.read_text() if loot.exists() else ""
        proof = Path(f"{loot}.proof").read_text() if Path(f"{loot}.proof").exists() else ""
        planted = sorted(p.name for p in target.iterdir())
        figure(f"batch ({mode})", honest=f"{rows['honest']['score']}/{rows['honest']['max_score']}",
               attacker=f"{rows['attacker']['score']}/{rows['attacker']['max_score']}",
               attacker_processes_left=len(survivors), loot_lines=len(stolen.splitlines()),
               files_written_through_symlink=len(planted),
               attack_ran=f"{proof.count('daemon ')} daemons, {proof.count('swap ')} swaps tried")
        assert "token False" in proof and "swap" in proof, proof     # the attack ran
        assert float(rows["honest"]["score"]) == float(rows["honest"]["max_score"]) == 112, rows["honest"]
        assert stolen == ""
        assert survivors == []
        assert planted == []
    finally:
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):       # never leave the daemon running
            if marker.encode() in _cmdline(pid) and pid != os.getpid():
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        shutil.rmtree(shared, ignore_errors=True)


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
