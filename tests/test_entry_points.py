"""The grader runs its own code wherever it is started. From inside a submission folder holding its
own `argparse.py` and `grader/` package, `mnist-grader` (the console script that setup and the
public kit install) imports nothing of that folder into the grader's process; `python -m grader`
does not either for modules it imports itself (argparse), but a `grader/` folder there replaces the
package, which is why the documents say `mnist-grader`."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gradertools as gt

ROOT = gt.ROOT
NO_TRAINING = ("--skip", "mlp.accuracy", "--skip", "cnn.accuracy")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """bin/ of a virtual environment with this kit installed as setup installs it (pip install -e),
    borrowing the test Python's packages instead of downloading them."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    borrowed = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    Path(purelib, "borrowed.pth").write_text("\n".join(borrowed) + "\n")
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)]
    proc = subprocess.run(install + ["--no-build-isolation"], capture_output=True, text=True, cwd=venv, timeout=300)
    if proc.returncode != 0:            # the borrowed setuptools is too old for pyproject.toml: build isolated
        proc = subprocess.run(install, capture_output=True, text=True, cwd=venv, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv / "bin"


def hostile_folder(folder, markers, shadows):
    """The reference's contract files, plus modules that leave a marker in `markers` when imported."""
    gt.copy_submission(gt.SOLUTION, folder)
    markers.mkdir()
    plant = ("import os, sys\n"
             f"open(os.path.join({str(markers)!r}, '{{}}-%d' % os.getpid()), 'w').write(' '.join(sys.argv))\n")
    for shadow in shadows:
        path = folder / shadow
        path.parent.mkdir(exist_ok=True)
        path.write_text(plant.format(shadow.replace("/", ".")))
    return folder


def grade_here(command, folder, out, **env):
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(folder), **env}
    return subprocess.run([*command, "grade", ".", "--only", "functional.relu", "--json", str(out)], cwd=folder,
                          capture_output=True, text=True, env=environment, timeout=300)


def planted(markers):
    return {p.name: p.read_text() for p in markers.iterdir()}


def test_the_console_script_is_installed_and_grades_from_anywhere(installed, tmp_path):
    proc = subprocess.run([str(installed / "mnist-grader"), "grade", str(gt.SOLUTION), *NO_TRAINING, "--quiet"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.split()[1] == line.split()[3], line


def test_mnist_grader_inside_a_hostile_submission_runs_only_its_own_code(installed, tmp_path):
    markers = tmp_path / "markers"
    folder = hostile_folder(tmp_path / "submission", markers, ["argparse.py", "grader/__init__.py",
                                                                "grader/cli.py", "grader/__main__.py"])
    proc = grade_here([str(installed / "mnist-grader")], folder, tmp_path / "out.json")
    assert planted(markers) == {}, planted(markers)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out.json").read_text())["score"] == 5


def test_python_m_grader_inside_a_submission_drops_the_current_folder(tmp_path):
    """A submission's argparse.py (imported by grader.cli) stays out; the kit is found on PYTHONPATH."""
    markers = tmp_path / "markers"
    folder = hostile_folder(tmp_path / "submission", markers, ["argparse.py"])
    proc = grade_here([sys.executable, "-m", "grader"], folder, tmp_path / "out.json", PYTHONPATH=str(ROOT))
    assert planted(markers) == {}, planted(markers)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out.json").read_text())["score"] == 5


@pytest.mark.skipif(sys.version_info < (3, 11), reason="python -P is Python 3.11+")
def test_python_m_grader_runs_a_submissions_grader_folder_but_python_p_does_not(installed, tmp_path):
    """What the README says: `python -m grader` imports a grader/ found in the current folder (no
    code of ours runs first, so nothing can stop it); `python -P -m grader` and mnist-grader do not."""
    markers = tmp_path / "markers"
    folder = hostile_folder(tmp_path / "submission", markers, ["grader/__init__.py"])
    grade_here([str(installed / "python"), "-m", "grader"], folder, tmp_path / "unsafe.json")
    assert list(planted(markers)) and all(name.startswith("grader.__init__.py") for name in planted(markers))
    shutil.rmtree(markers)
    markers.mkdir()
    proc = grade_here([str(installed / "python"), "-P", "-m", "grader"], folder, tmp_path / "out.json")
    assert planted(markers) == {}, planted(markers)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out.json").read_text())["score"] == 5
