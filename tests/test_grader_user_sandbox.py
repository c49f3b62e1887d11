"""The "user" sandbox: the grader is root, user namespaces are unavailable (as in Docker, and so on
Gradescope), so student code runs under an unprivileged uid of its own, one per child (see
grader/sandbox/identity.py). Tested with a Python that any uid can run: a virtual environment of the
system Python in a world-readable folder, holding only numpy, which both grades (PYTHONPATH: this kit)
and runs student code (MNIST_CHILD_PYTHON; the kit's own .venv-child may sit under a home other users
cannot enter). tests/test_sandbox_limits.py tries the limits and a batch where one student attacks
the other."""
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import gradertools as gt

ROOT = gt.ROOT
NO_TRAINING = tuple(x for item in gt.ACCURACY_ITEMS for x in ("--skip", item))

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("python3", path="/usr/bin"),
                                reason="needs root and /usr/bin/python3")


# What the grader imports besides numpy, and what `grader batch` adds (tests/test_sandbox_limits.py).
SYSTEM_VENV_PACKAGES = ("threadpoolctl", "tqdm", "matplotlib")


def make_system_venv():
    """A venv of /usr/bin/python3 holding numpy and SYSTEM_VENV_PACKAGES at this environment's versions,
    in a folder every uid can enter (beside the test run's folder, removed with it by conftest.py);
    the path of its python."""
    folder = gt.beside_run_folder("system-venv")
    # Without pip of its own (ensurepip alone takes 3 CPU s): this Python's pip installs into it.
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    wanted = [f"numpy=={np.__version__}", *(f"{name}=={version(name)}" for name in SYSTEM_VENV_PACKAGES)]
    subprocess.run([sys.executable, "-m", "pip", "--python", folder / "venv" / "bin" / "python", "install", "--quiet",
                    *wanted], check=True, capture_output=True)
    return str(folder / "venv" / "bin" / "python")


@pytest.fixture(scope="session")
def system_python():
    """The system Python's venv: made once per test run and shared by every xdist worker (it takes a
    pip install: ~7 s)."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    python = Path(gt.once_per_run("system-venv", make_system_venv))
    for parent in python.parents:
        if not os.stat(parent).st_mode & 0o001:
            pytest.skip(f"{parent} is not searchable by other users")
    return python


def grade(python, submission, *args):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MNIST_GRADER_SANDBOX": "user",
           "MNIST_CHILD_PYTHON": str(python)}
    return subprocess.run([str(python), "-m", "grader", "grade", str(submission), *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


def test_reference_scores_full_marks_as_an_unprivileged_user(system_python):
    proc = grade(system_python, ROOT / "solution", *NO_TRAINING)
    assert proc.returncode == 0, proc.stderr
    score = [line for line in proc.stdout.splitlines() if line.startswith("Score:")][0]
    got, total = score.split()[1], score.split()[3]
    assert got == total, proc.stdout
    assert "unprivileged user" in proc.stdout


def test_student_code_runs_under_a_uid_of_its_own_and_cannot_write_the_submission(system_python, tmp_path):
    folder = tmp_path / "probe"
    folder.mkdir()
    for name in ("mlp.py", "cnn.py"):
        shutil.copy(ROOT / "solution" / name, folder / name)
    source = (ROOT / "solution" / "functional.py").read_text()
    probe = textwrap.dedent('''
        import os as _os
        if _os.getuid() == 0:
            raise RuntimeError("running as root")
        if _os.getuid() not in range(60500, 61000) or _os.getgid() != _os.getuid() or _os.getgroups():
            raise RuntimeError(f"not a uid of its own: {_os.getuid()}, {_os.getgid()}, {_os.getgroups()}")
        if _os.stat("..").st_uid != 0 or _os.access("..", _os.W_OK):
            raise RuntimeError("the folder around the working folder is not root's")
        try:
            open(_os.path.join(_os.path.dirname(__file__), "functional.py"), "a").close()
            raise RuntimeError("the submission is writable")
        except PermissionError:
            pass
    ''')
    (folder / "functional.py").write_text(source + probe)
    proc = grade(system_python, folder, "--only", "functional.relu")
    assert proc.returncode == 0, proc.stderr
    assert "Score: 5 / 5" in proc.stdout, proc.stdout


def test_the_report_warns_when_the_kit_is_readable_by_that_user(system_python):
    from grader.sandbox.process import exposed_to_others
    proc = grade(system_python, ROOT / "solution", "--only", "functional.relu")
    exposed = exposed_to_others([ROOT / "solution", ROOT / "grader", ROOT / "data"])
    assert ("WARNING" in proc.stdout) == bool(exposed), proc.stdout
