"""`mnist-grader batch --scheduler ADDRESS` / `--cluster local:N` (grader/cluster.py), with real processes:
a `dask scheduler` and two `dask worker`s started from the command line, each in its own working folder
with one thread, everything on 127.0.0.1. They grade a class's folder to exactly the local batch's
grades.csv, also when one worker is killed mid-batch; a submission that kills its workers again and
again becomes an error row. Every process is stopped when the module's tests end, even on failure.

Fast on purpose: no accuracy item (no training)."""
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import gradertools as gt
from grader import batch, cluster
from test_batch import NO_TRAINING, read_grades, run_batch, start_batch, zip_folder

ROOT = gt.ROOT
ALLOWED_FAILURES = 1                  # the scheduler gives up on a task after 2 worker deaths


# ------------------------------------------------------------------------------------ processes

@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list
    root: Path


def dask(args, cwd, env, log):
    """`dask ARGS...` in its own session (so its process group can be killed whole), output to log."""
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def grading_now(pid):
    """True while a process below pid runs a submission (the sandbox's child.py)."""
    for child in gt.live_descendants(pid):
        try:
            if b"child.py" in Path("/proc", str(child), "cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


def listening(pids):
    """The addresses ("IP:port") on which any of pids listens for TCP connections."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:           # LISTEN
                ip, port = fields[1].split(":")
                raw = bytes.fromhex(ip)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(f"{ipaddress.ip_address(words)}:{int(port, 16)}")
    return found


def loopback_only(addresses):
    return all(address.rsplit(":", 1)[0] in ("127.0.0.1", "::1") for address in addresses)


def stop(proc):
    """SIGKILL proc's whole process group (a dask worker's nanny, worker process and their helpers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def workers_of(address):
    from distributed import Client
    with Client(address, timeout=30, set_as_default=False) as client:
        return client.nthreads()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers on 127.0.0.1; all killed at the end, then checked gone."""
    root = tmp_path_factory.mktemp("dask")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(ALLOWED_FAILURES))   # this checkout's grader
    started = []
    try:
        file = root / "scheduler.json"
        # --dashboard-address: without it their HTTP servers (health, metrics) listen on every address,
        # even with --no-dashboard
        started.append(dask(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                             "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)],
                            root / "scheduler", env, root / "scheduler.log"))
        deadline = time.monotonic() + 60
        while not file.is_file() and time.monotonic() < deadline and started[0].poll() is None:
            time.sleep(0.1)
        assert file.is_file(), (root / "scheduler.log").read_text()
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("worker-a", "worker-b"):
            started.append(dask(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                                 "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--name", name,
                                 "--local-directory", str(root / name)],
                                root / name, env, root / f"{name}.log"))
        deadline = time.monotonic() + 60
        while len(workers_of(address)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers_of(address)) == 2, (root / "worker-a.log").read_text()[-3000:]
        sockets = listening([pid for proc in started for pid in gt.in_group(proc.pid)])
        assert sockets and loopback_only(sockets), sockets         # dashboards and nannies included
        yield Cluster(address, started[0], started[1:], root)
    finally:
        for proc in reversed(started):
            stop(proc)
        time.sleep(0.5)
        left = [pid for proc in started for pid in gt.in_group(proc.pid)]
        assert not left, f"processes left running: {left}"


# ------------------------------------------------------------------------------------ a class

def write_class(folder):
    """The reference, two correct alternatives (one zipped), a mutant, and a broken submission (a syntax
    error, a symbolic link the reader refuses, a missing file)."""
    folder.mkdir()
    gt.copy_submission(gt.SOLUTION, folder / "reference")
    gt.copy_submission(gt.ALTERNATIVES / "einsum_conv", folder / "einsum_conv")
    zipped = gt.copy_submission(gt.ALTERNATIVES / "torchlike_modules", folder.parent / "torchlike_modules")
    zip_folder(zipped, folder / "torchlike_modules.zip")
    from mutants import MUTANTS
    gt.write_mutant(next(m for m in MUTANTS if m.id == "softmax_over_columns"), folder / "mutant")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "functional.py").write_text("def softmax(z:\n    return z\n")
    (broken / "mlp.py").symlink_to(gt.SOLUTION / "mlp.py")
    return folder


def states(out):
    return {p.parent.name: json.loads(p.read_text()) for p in (Path(out) / "students").glob("*/batch.json")}


def results(out, student):
    """Each test's name, score, status and message of a student's results.json; not the seconds, nor the
    milliseconds that policy.vectorized reports."""
    data = json.loads((Path(out) / "students" / student / "results.json").read_text())
    return data["score"], [(t["name"], t["score"], t.get("status"),
                            "" if t["name"].startswith("policy.vectorized") and t["score"] else t["output"])
                           for t in data["tests"]]


def test_the_cluster_grades_as_the_local_batch_even_when_a_worker_is_killed(dask_cluster, tmp_path):
    subs = write_class(tmp_path / "submissions")
    local, remote = tmp_path / "local", tmp_path / "remote"
    proc = run_batch(subs, local, *NO_TRAINING, "--workers", "2")
    assert proc.returncode == 0, proc.stderr

    killed = dask_cluster.workers[0]
    run = start_batch(subs, remote, *NO_TRAINING, "--scheduler", dask_cluster.address)
    try:
        deadline = time.monotonic() + 60
        while not grading_now(killed.pid) and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert grading_now(killed.pid), "worker-a never graded anything"
        stop(killed)                                      # mid-grading: its submission is graded again elsewhere
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert f"with the Dask cluster at {dask_cluster.address}" in stdout

    header, local_rows = read_grades(local)
    remote_header, remote_rows = read_grades(remote)
    assert remote_header == header
    assert remote_rows == local_rows                      # every cell: scores, items, status, message
    full = [s for s, row in local_rows.items() if row["status"] == "graded" and row["score"] == row["max_score"]]
    assert sorted(full) == ["einsum_conv", "reference", "torchlike_modules"]
    assert local_rows["mutant"]["status"] == local_rows["broken"]["status"] == "graded"
    for student in local_rows:
        assert results(remote, student) == results(local, student), student
        names = {p.name for p in (remote / "students" / student).iterdir()}
        assert names == {p.name for p in (local / "students" / student).iterdir()}, student
    local_states, remote_states = states(local), states(remote)
    for student, state in remote_states.items():          # the same state, keys and values, as a local run's
        expected = local_states[student]
        assert set(state) - {"worker"} == set(expected), student
        assert {k: v for k, v in state.items() if k not in ("seconds", "worker")} == \
            {k: v for k, v in expected.items() if k != "seconds"}, student
    assert "symbolic link" in json.dumps(results(remote, "broken"))

    rerun = run_batch(subs, remote, *NO_TRAINING, "--scheduler", dask_cluster.address)
    assert rerun.returncode == 0, rerun.stderr
    assert f"Nothing to grade: {len(local_rows)} already graded" in rerun.stdout


# ------------------------------------------------------------------------------------ a killer

def worker_killer():
    """A stand-in for grade_on_worker: "dies" kills the worker process running it, the others pass. Made
    in a function so that Dask sends it by value (the workers cannot import this test module)."""
    def kills_its_worker(payload, config):
        if payload["student"] == "dies":
            os._exit(9)
        report = {"submission": payload["path"], "tests": [], "score": 1.0, "max_score": 1.0, "execution_time": 0.0,
                  "sandbox": "none", "notes": [], "extras": {}}
        state = {"version": batch.STATE_VERSION, "student": payload["student"], "status": "graded", "score": 1.0,
                 "max_score": 1.0, "items": {}, "failed": [], "message": "", "feedback": "unavailable",
                 "feedback_note": "", "key": None, "submission": payload["path"]}
        return {"state": state, "report": report, "feedback": {}}
    return kills_its_worker


def test_a_submission_that_kills_its_workers_becomes_an_error_row(dask_cluster, tmp_path):
    tasks = []
    for name in ("a", "dies", "b"):
        gt.copy_submission(gt.SOLUTION, tmp_path / name)
        tasks.append({"student": name, "path": str(tmp_path / name), "out": str(tmp_path / "out" / name),
                      "key": name})
    config = {"rubric": str(batch.DEFAULT_RUBRIC), "only": [], "skip": [], "public": False, "data_root": None,
              "needs_mnist": False}
    import argparse
    grading = cluster.connect(argparse.Namespace(workers=None, cluster=None, scheduler=dask_cluster.address))
    done = {}
    try:
        grading.grade_all(tasks, config, lambda task, state: done.setdefault(task["student"], []).append(state),
                          work=worker_killer())
    finally:
        grading.close()
    assert sorted(done) == ["a", "b", "dies"] and all(len(s) == 1 for s in done.values())
    assert done["dies"][0]["status"] == "error"
    assert done["dies"][0]["message"] == cluster.WORKER_DIED.format(times=ALLOWED_FAILURES + 1)
    assert json.loads((tmp_path / "out" / "dies" / "batch.json").read_text())["status"] == "error"
    assert all(done[s][0]["status"] == "graded" for s in "ab")


# ------------------------------------------------------------------------------------ the options

def test_cluster_local_grades_and_leaves_no_process(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    gt.copy_submission(gt.SOLUTION, subs / "reference")
    proc = start_batch(subs, tmp_path / "out", *NO_TRAINING, "--cluster", "local:1")
    try:
        deadline = time.monotonic() + 120
        while not grading_now(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        sockets = listening([proc.pid] + gt.live_descendants(proc.pid))   # the scheduler, its dashboard, the worker
        stdout, stderr = proc.communicate(timeout=180)
        left = gt.live_descendants(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "with a local Dask cluster of 1 worker process" in stdout
    _, rows = read_grades(tmp_path / "out")
    assert rows["reference"]["score"] == rows["reference"]["max_score"] != ""
    assert not left
    assert len(sockets) >= 3 and loopback_only(sockets), sockets


@pytest.mark.parametrize("args, says", [
    (("--cluster", "local:0"), "give local:N"),
    (("--cluster", "local:2", "--scheduler", "tcp://127.0.0.1:1"), "not allowed with argument"),
    (("--scheduler", "tcp://127.0.0.1:1", "--workers", "2"), "Drop --workers"),
])
def test_wrong_cluster_options_exit_2_with_a_sentence(args, says, tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    gt.copy_submission(gt.SOLUTION, subs / "reference")
    proc = run_batch(subs, tmp_path / "out", *NO_TRAINING, *args, timeout=60)
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr


STOP_CHILDREN = """
import signal, subprocess
from grader import cluster
sandboxed = subprocess.Popen(["sleep", "600"], start_new_session=True)
other = subprocess.Popen(["sleep", "600"])
cluster.stop_sandbox_children()
print(sandboxed.wait(timeout=10) == -signal.SIGKILL, other.poll() is None)
other.kill()
"""


def test_stopping_a_worker_kills_the_sandbox_children_it_started():
    """What the worker plugin does when a worker closes: the children leading their own session (the
    sandbox's, grader/sandbox/process.py) die; any other child of the worker is left alone. In a
    process of its own, as a worker would: here it would also stop this module's dask processes."""
    proc = subprocess.run([sys.executable, "-c", STOP_CHILDREN], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["True", "True"], proc.stderr


FREED_MEMORY = """
import resource
import numpy as np
from grader import cluster

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        a = np.ones(700_000)          # 5.6 MB, the size of a CNN activation of a batch of 128
        (a * 2.0).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
print(faults(), end=" ")
cluster.keep_freed_memory()
faults()
print(faults())
"""


def test_a_worker_keeps_freed_memory_despite_the_nannys_trim_setting(dask_cluster):
    """Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which makes every NumPy
    temporary page-fault in afresh (the grader's own work then takes ~1.45x the CPU); the worker side
    of a grading undoes it. Measured in a process of its own with the nanny's setting, as a worker."""
    env = dask_cluster_worker_env(dask_cluster)
    assert env == "65536", "the premise: Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers"
    proc = subprocess.run([sys.executable, "-c", FREED_MEMORY], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, MALLOC_TRIM_THRESHOLD_=env))
    before, after = map(int, proc.stdout.split())
    assert before > 5000 and after < before / 20, (before, after, proc.stderr)


def dask_cluster_worker_env(dask_cluster):
    """MALLOC_TRIM_THRESHOLD_ in the environment of the module's Dask workers."""
    import distributed
    with distributed.Client(dask_cluster.address, timeout=30, set_as_default=False) as client:
        values = client.run(lambda: __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert values and len(set(values.values())) == 1, values     # one worker left if the kill test ran first
    return set(values.values()).pop()
