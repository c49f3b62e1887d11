"""solution/blas_threads.py: BLAS threads sized to the CPUs a process may use (affinity mask, cgroup
quota) and that other work leaves free, applied before numpy loads (environment) or after
(threadpoolctl)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import blas_threads
from blas_threads import blas_threads as size, busy_cpus, cgroup_quota, usable_cpus

ROOT = Path(__file__).resolve().parent.parent
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in blas_threads.VARIABLES}


def run_python(script, env=CLEAN_ENV):
    """Run script in a fresh interpreter that imports blas_threads from solution/; its last line as JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT / "solution", env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity masks on this system")
def test_an_affinity_mask_of_one_cpu_gives_one_thread():
    got = run_python("""
        import json, os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        import blas_threads
        print(json.dumps([blas_threads.usable_cpus(quota=0), blas_threads.blas_threads(busy=0, machine=64)[0]]))
    """)
    assert got == [1, 1]


def cgroup(tmp_path, files, self_cgroup="0::/\n"):
    """A fake /sys/fs/cgroup (files: {relative path: text}) and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (tmp_path / "self").write_text(self_cgroup)
    return {"root": root, "self_cgroup": tmp_path / "self"}


def test_a_cgroup_v2_quota_gives_its_cpu_count(tmp_path):
    where = cgroup(tmp_path, {"cpu.max": "200000 100000\n"})
    assert cgroup_quota(**where) == 2.0
    assert usable_cpus(affinity=16, quota=cgroup_quota(**where)) == 2
    assert size(cpus=usable_cpus(affinity=16, quota=cgroup_quota(**where)), busy=0, machine=16)[0] == 2


def test_a_fraction_of_a_cpu_rounds_down_but_never_to_zero(tmp_path):
    assert cgroup_quota(**cgroup(tmp_path, {"cpu.max": "150000 100000\n"})) == 1.5
    assert usable_cpus(affinity=8, quota=1.5) == 1
    assert usable_cpus(affinity=8, quota=0.5) == 1


def test_the_smallest_quota_of_the_process_cgroup_and_its_parents_counts(tmp_path):
    where = cgroup(tmp_path, {"cpu.max": "max 100000\n", "user/cpu.max": "300000 100000\n",
                              "user/job/cpu.max": "max 100000\n"}, self_cgroup="0::/user/job\n")
    assert cgroup_quota(**where) == 3.0


def test_no_quota_means_the_affinity_mask_decides(tmp_path):
    assert cgroup_quota(**cgroup(tmp_path, {"cpu.max": "max 100000\n"})) is None
    assert cgroup_quota(**cgroup(tmp_path / "empty", {})) is None
    assert usable_cpus(affinity=6, quota=None) == 6


def test_a_cgroup_v1_quota_is_read_in_a_container_whose_path_names_the_host(tmp_path):
    where = cgroup(tmp_path, {"cpu,cpuacct/cpu.cfs_quota_us": "400000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"},
                   self_cgroup="4:cpu,cpuacct:/docker/0123abcd\n3:memory:/docker/0123abcd\n0::/\n")
    assert cgroup_quota(**where) == 4.0
    unlimited = cgroup(tmp_path / "v1", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
                       self_cgroup="2:cpu:/\n")
    assert cgroup_quota(**unlimited) is None


def test_other_running_processes_count_as_busy_cpus(tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("2.10 1.50 0.90 3/412 12345\n")
    assert busy_cpus(loadavg, samples=2) == 2          # three running: this process and two others
    assert busy_cpus(tmp_path / "missing") == 0


@pytest.mark.parametrize("cpus, busy, machine, threads", [
    (2, 0, 2, 2),           # an idle machine: every CPU
    (2, 1, 2, 1),           # one busy process beside it
    (2, 2, 2, 1),           # two: one thread, never zero
    (4, 0, 64, 4),          # a container: its quota, not the host's CPUs
    (4, 62, 64, 2),         # ... on a host with two CPUs left
])
def test_threads_are_the_usable_cpus_that_other_work_leaves_free(cpus, busy, machine, threads):
    assert size(cpus=cpus, busy=busy, machine=machine) == (threads, cpus, busy)


def test_before_numpy_is_imported_the_environment_sizes_its_blas():
    got = run_python("""
        import json, os
        from blas_threads import limit_blas_threads
        sizing = limit_blas_threads()
        import numpy
        from threadpoolctl import threadpool_info
        print(json.dumps([sizing.threads, os.environ["OPENBLAS_NUM_THREADS"], str(sizing),
                          [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]]))
    """)
    threads, variable, line, pools = got
    assert variable == str(threads) and pools and set(pools) == {threads}
    assert line.startswith(f"BLAS threads: {threads} (") and "CPUs usable here" in line


def test_after_numpy_is_imported_threadpoolctl_sizes_it():
    got = run_python("""
        import json
        import numpy
        from threadpoolctl import threadpool_info
        from blas_threads import limit_blas_threads
        import blas_threads
        blas_threads.blas_threads = lambda: (1, 1, 0)
        sizing = limit_blas_threads()
        print(json.dumps([sizing.how, [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]]))
    """)
    how, pools = got
    assert "threadpoolctl" in how and pools and set(pools) == {1}


def test_a_thread_count_set_by_hand_is_left_alone():
    got = run_python("""
        import json, os
        from blas_threads import limit_blas_threads
        sizing = limit_blas_threads()
        print(json.dumps([sizing.threads, sizing.how, os.environ.get("MKL_NUM_THREADS")]))
    """, env={**CLEAN_ENV, "OMP_NUM_THREADS": "3"})
    assert got[0] == 3 and "OMP_NUM_THREADS=3 is set" in got[1] and got[2] is None
