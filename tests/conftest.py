"""Shared fixtures. In the test process `functional`, `mlp`, `cnn` are the reference (solution/).

Also how the suite is spread over pytest-xdist's workers (`make test` runs `--dist loadgroup`): a
test that uses a module-scoped fixture of ours (a trained model, a built kit, a running cluster)
runs on the same worker as every other test of its module using one, so that fixture is built
once; every other test goes to whichever worker is free. And the folder the workers of one run
share, where tests/gradertools.py keeps the reference's grading runs (computed once per run).
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

# jsonschema imports its optional rfc3987_syntax, which compiles 38 lark grammars (1.4 s in every
# process that imports jsonschema, so in each xdist worker while it collects). Only the "iri" formats
# use it, and the tests validate no format (jsonschema.validate checks formats only when asked).
sys.modules.setdefault("rfc3987_syntax", None)

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SOLUTION = ROOT / "solution"
if str(SOLUTION) not in sys.path:
    sys.path.insert(0, str(SOLUTION))

import gradertools  # noqa: E402  (tests/ is on sys.path: pytest's rootdir-relative import of conftest)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# BLAS threads for an xdist worker and every process it starts (nbgrader's kernels, train.py, the
# public kit's grader, Dask's workers) that does not size them itself: one, as many workers as CPUs.
# OpenBLAS otherwise starts a thread per CPU, and its threads spin waiting for a CPU another worker
# holds (solution/blas_threads.py): one MLP epoch took 7.5 s instead of 1.5 s in a busy worker.
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
_KEEP = []


def pytest_configure(config):
    """The folder every process of this run shares, made by the first (xdist's controller, or the
    only process) and inherited by xdist's workers through the environment; one BLAS thread in
    each xdist worker."""
    if os.environ.get(gradertools.RUN_FOLDER_ENV) is None:
        config._run_folder = tempfile.mkdtemp(prefix="mnist-tests-run-")
        os.environ[gradertools.RUN_FOLDER_ENV] = config._run_folder
        compile_grader()
    if os.environ.get("PYTEST_XDIST_WORKER") and not any(os.environ.get(name) for name in BLAS_VARIABLES):
        for name in BLAS_VARIABLES:
            os.environ[name] = "1"
        from threadpoolctl import threadpool_limits
        _KEEP.append(threadpool_limits(limits=1))          # this process: NumPy is loaded already


def compile_grader():
    """The grader's and the solution's bytecode, written once for the run: every grading a test starts
    is a Python process of its own, which compiles every module whose bytecode is missing or stale
    and, where none is written (PYTHONDONTWRITEBYTECODE=1), does so in every grading (0.1-0.2 CPU s)."""
    import compileall
    import re
    for folder in (ROOT / "grader", SOLUTION):
        compileall.compile_dir(folder, quiet=1, rx=re.compile(r"/templates/"))   # templates are not Python


def pytest_unconfigure(config):
    folder = getattr(config, "_run_folder", None)
    if folder:
        for beside in Path(folder).parent.glob(f"{Path(folder).name}-*"):     # gradertools.beside_run_folder
            shutil.rmtree(beside, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(gradertools.RUN_FOLDER_ENV, None)


def _built_once(item):
    """True when the test uses a fixture of ours that is built once per module (or session)."""
    for defs in item._fixtureinfo.name2fixturedefs.values():
        fixturedef = defs[-1]
        if fixturedef.scope == "function":
            continue
        try:
            where = Path(fixturedef.func.__code__.co_filename).resolve()
        except AttributeError:
            continue
        if TESTS in where.parents:
            return True
    return False


# Modules holding the longest tests or module fixtures (a training, a built kit or venv, a cluster),
# longest first: they start first, so that no worker is left alone with a 90 s test at the end while
# the other is idle. Only the order changes; a module missing here runs after them, as collected.
LONG_FIRST = ("test_submissions.py", "test_training.py", "test_feedback.py", "test_nbgrader.py",
              "test_gradescope.py", "test_batch.py", "test_cluster.py", "test_github_classroom.py",
              "test_grader_end_to_end.py", "test_accuracy_integrity.py")


def pytest_collection_modifyitems(config, items):
    """Start the modules of LONG_FIRST first. Mark the tests that use a module-scoped fixture of ours
    with their module as xdist group; in an xdist worker, also write which group each such test is
    in, for GroupScheduling."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))      # stable: each module keeps its order
    groups = {}
    for item in items:
        if _built_once(item):
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(ROOT).as_posix()))
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})
        if names:
            groups[item.nodeid] = "_".join(names)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(gradertools.RUN_FOLDER_ENV):
        path = Path(os.environ[gradertools.RUN_FOLDER_ENV]) / f"groups-{worker}.json"
        path.with_suffix(".partial").write_text(json.dumps(groups))
        path.with_suffix(".partial").replace(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` as xdist means it: xdist 3.8 tells a group by a suffix it adds to the test's
    node id, which pytest 9 no longer lets it change, so every test ran alone (a module's fixtures built
    on every worker). This scheduler reads the groups the workers wrote instead."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        groups = None

        def _split_scope(self, nodeid):
            if self.groups is None:
                folder = Path(os.environ[gradertools.RUN_FOLDER_ENV])
                self.groups = {}
                for path in folder.glob("groups-*.json"):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
