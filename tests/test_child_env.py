"""Banned packages are absent, not refused: student code runs with its own Python (the kit's
.venv-child, made by scripts/setup.sh), which holds numpy, the grader's exact build of it, and
nothing else. Inside bubblewrap only that environment is mounted, so not even a file path leads to
the grader's torch."""
import hashlib
import importlib.util
import subprocess
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import gradertools as gt
from grader.errors import GraderError
from grader.sandbox import process
from grader.sandbox.session import Session

TORCH = importlib.util.find_spec("torch")
TORCH_INIT = TORCH.origin if TORCH else None          # torch's real __init__.py, in the grader's .venv
ELSEWHERE = ("tqdm", "matplotlib", "jsonschema", "pytest")   # installed beside the grader, not for students


@pytest.fixture
def fresh(monkeypatch):
    """child_python() and sandbox_mode() found again, with MNIST_CHILD_PYTHON as the test sets it."""
    monkeypatch.delenv("MNIST_CHILD_PYTHON", raising=False)
    process.child_python.cache_clear()
    process.sandbox_mode.cache_clear()
    yield monkeypatch
    process.child_python.cache_clear()
    process.sandbox_mode.cache_clear()


def numpy_core_digest(numpy_dir):
    """SHA-256 of numpy's compiled core: equal digests, same build, same bits for the same inputs."""
    (core,) = Path(numpy_dir, "_core").glob("_multiarray_umath*.so")
    return hashlib.sha256(core.read_bytes()).hexdigest()


def test_the_child_python_has_the_graders_numpy_build_and_no_torch(fresh):
    child = process.child_python()
    assert child.origin == ".venv-child", "run scripts/setup.sh: it makes .venv-child"
    assert child.numpy_version == np.__version__
    assert numpy_core_digest(child.numpy_dir) == numpy_core_digest(Path(np.__file__).parent)
    assert child.importable == ()
    for name in ("torch", "tensorflow", "jax", "tqdm"):
        proc = subprocess.run([child.executable, "-I", "-c", f"import {name}"], capture_output=True, text=True)
        assert proc.returncode != 0 and f"No module named '{name}'" in proc.stderr, (name, proc.stderr)


def test_a_child_python_that_can_import_torch_is_refused_with_the_fix(fresh, tmp_path):
    if TORCH is None:
        pytest.skip("torch is not installed here (scripts/setup.sh --torch)")
    import sys
    fresh.setenv("MNIST_CHILD_PYTHON", sys.executable)
    with pytest.raises(GraderError, match=r"can import torch.*Point MNIST_CHILD_PYTHON at a Python"):
        process.child_python()


def test_without_a_child_environment_the_grader_uses_its_own_python_and_says_so(fresh, tmp_path):
    fresh.setattr(process, "CHILD_VENV", tmp_path / "no-venv-child")
    fresh.setenv("MNIST_GRADER_SANDBOX", "none")
    child = process.child_python()
    assert child.origin == "grader"
    notes = process.sandbox_warnings()
    assert any("ran with the grader's own Python" in note for note in notes), notes


def test_numpy_is_imported_once_with_one_blas_thread_in_the_sandbox_found(fresh):
    """Finding the child's Python and the sandbox imports numpy (the slow part of both) once where it
    works: in the strongest sandbox that works, with one BLAS thread as every child has."""
    runs, run = [], subprocess.run

    def spy(command, **options):
        runs.append((command, options.get("env") or {}))
        return run(command, **options)
    fresh.setattr(subprocess, "run", spy)
    mode = process.sandbox_mode()
    assert process.child_python().sandbox == mode
    importing = [(command, env) for command, env in runs if any("import numpy" in str(a) for a in command)]
    assert importing and all(env.get("OPENBLAS_NUM_THREADS") == "1" for _, env in importing), runs
    if mode == "bwrap":
        assert len(importing) == 1 and importing[0][0][0] == "bwrap", runs


def test_threads_asking_at_once_find_the_child_python_and_the_sandbox_once(fresh):
    """The command line starts finding them early, in a thread; grade() asking meanwhile waits for that
    answer rather than starting the same probes again."""
    runs, run = [], subprocess.run

    def spy(command, **options):
        runs.append(command)
        return run(command, **options)
    fresh.setattr(subprocess, "run", spy)
    found = []
    threads = [threading.Thread(target=lambda: found.append((process.child_python(), process.sandbox_mode())))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 3 and len(set(found)) == 1
    assert sum(process.PROBE in command for command in runs) == 1, runs


PROBE = '''
import importlib.util, os
import numpy as np

def found(names, path):
    return np.array([importlib.util.find_spec(name) is not None for name in names] + [os.path.exists(path)])
'''


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_student_code_finds_numpy_and_nothing_else(fresh, tmp_path, mode):
    fresh.setenv("MNIST_GRADER_SANDBOX", mode)
    if mode == "bwrap" and not process.shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    (tmp_path / "functional.py").write_text(PROBE)
    torch_init = TORCH_INIT or "/nonexistent"
    with Session(tmp_path, ["functional"], process.Limits(memory_bytes=2 * 2**30)) as session:
        seen = session.call("functional.found", list(ELSEWHERE), torch_init).value
    assert not seen[:-1].any(), [name for name, s in zip(ELSEWHERE, seen) if s]
    if mode == "bwrap":
        assert not seen[-1], f"{torch_init} is visible inside the sandbox"


# cnn.py of a submission that wants torch for conv2d_forward: it takes the import guard out of the
# way, then tries torch by name and (in bubblewrap, where the grader's files are not even there) by
# the file path of the grader's own torch; it computes with torch if it got it, else raises.
TORCH_BY_ANY_MEANS = '''
import importlib
import importlib.util
import sys

def _torch():
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "BannedImportGuard"]
    tried = []
    try:
        return importlib.import_module("torch"), tried
    except Exception as exc:
        tried.append(f"by name: {exc!r}")
    if USE_PATH:
        try:
            spec = importlib.util.spec_from_file_location("torch", TORCH_INIT)
            module = importlib.util.module_from_spec(spec)
            sys.modules["torch"] = module
            spec.loader.exec_module(module)
            return module, tried
        except BaseException as exc:
            sys.modules.pop("torch", None)
            tried.append(f"by path: {exc!r}")
    return None, tried
'''


def torch_submission(folder, use_path):
    cnn = (gt.SOLUTION / "cnn.py").read_text()
    body = '    over the (C, kh, kw) axes does the rest. Loops over images or pixels are too slow.\n    """\n'
    assert cnn.count(body) == 1
    grab = textwrap.dedent('''\
        torch, tried = _torch()
        if torch is None or not hasattr(torch, "nn"):
            raise RuntimeError("no torch here: " + "; ".join(tried))
        t = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)),
                                       torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float64)),
                                       torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float64)))
        return t.numpy()
    ''')
    cnn = cnn.replace(body, body + textwrap.indent(grab, "    "))
    cnn += TORCH_BY_ANY_MEANS + f"\nUSE_PATH = {use_path}\nTORCH_INIT = {TORCH_INIT!r}\n"
    folder = gt.copy_submission(gt.SOLUTION, folder)
    (folder / "cnn.py").write_text(cnn)
    return folder


@pytest.mark.skipif(TORCH is None, reason="torch is not installed here (scripts/setup.sh --torch)")
@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_submission_taking_torch_by_name_or_file_path_gets_none(fresh, tmp_path, mode):
    """By file path only in bubblewrap: unsandboxed, the grader's files are on the same disk."""
    if mode == "bwrap" and process.sandbox_mode() != "bwrap":
        pytest.skip("bubblewrap is not usable on this machine")
    fresh.setenv("MNIST_GRADER_SANDBOX", mode)
    submission = torch_submission(tmp_path / "submission", use_path=mode == "bwrap")
    run = gt.run_grader(submission, tmp_path / "results.json", only=("cnn.conv2d_forward", "policy.no_torch"))
    assert run.returncode == 0 and run.results is not None, run.stderr
    tests = gt.tests_by_item(run.results)
    assert all(gt.is_zero(t) for t in tests["policy.no_torch"]), tests["policy.no_torch"]
    forward = tests["cnn.conv2d_forward"]
    assert forward and all(gt.is_zero(t) and "no torch here" in t["output"] for t in forward), forward
