"""`python -m grader package gradescope`: the zip, unpacked into a folder laid out like Gradescope's
/autograder (source/, submission/, results/), set up by its own setup.sh and run by its own
run_autograder, on the reference, a buggy and an empty submission, and with a grader that fails.

Kept fast (about 25 s): the packages skip the accuracy checks (training takes a minute), and setup.sh
borrows this Python's packages, runs student code with the kit's .venv-child and copies MNIST from
data/ (MNIST_SETUP_PYTHON, MNIST_SETUP_CHILD_PYTHON, MNIST_SETUP_DATA_FROM) instead of downloading
anything, except in test_full_setup_*, which runs setup.sh's real path (virtual environments from
PyPI, about 15 s) and grades with student code as unprivileged uids, as in Gradescope's Docker."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import gradertools as gt
from data_scripts.fetch_mnist import verify
from grader.formats.gradescope import to_gradescope
from grader import report as reports
from grader.rubric import VISIBILITIES, load_rubric

ROOT = gt.ROOT
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.json").read_text())
NO_TRAINING = ("--skip", "mlp.accuracy", "--skip", "cnn.accuracy")
FAST_ROWS = load_rubric().select(skip=gt.ACCURACY_ITEMS)
SOFTMAX_BUG = ("functional.py", "np.sum(e, axis=1, keepdims=True)", "np.sum(e, axis=0, keepdims=True)")
CHILD_PYTHON = ROOT / ".venv-child" / "bin" / "python"         # made by scripts/setup.sh

pytestmark = pytest.mark.skipif(bool(verify(ROOT / "data")), reason="MNIST is not in data/ (run scripts/setup.sh)")


# ------------------------------------------------------------------------------------ helpers

def package(out, *args):
    """Run `python -m grader package gradescope --out OUT ARGS...`; returns the process."""
    return subprocess.run([sys.executable, "-m", "grader", "package", "gradescope", "--out", str(out), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def unpack(zip_path, root):
    """Lay out an /autograder folder: the zip's contents in source/ (with their modes, as unzip does)."""
    source = Path(root) / "source"
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, source))
            path.chmod((info.external_attr >> 16) & 0o777)
    (Path(root) / "submission").mkdir()
    (Path(root) / "results").mkdir()
    return Path(root)


def fast_setup_env(**extra):
    assert CHILD_PYTHON.exists(), "run scripts/setup.sh: it makes .venv-child"
    return {**os.environ, "MNIST_SETUP_PYTHON": sys.executable, "MNIST_SETUP_CHILD_PYTHON": str(CHILD_PYTHON),
            "MNIST_SETUP_APT": "0", "MNIST_SETUP_DATA_FROM": str(ROOT / "data"), "MNIST_FETCH_SOURCES": "local", **extra}


def run_setup(root, env):
    proc = subprocess.run([str(root / "source" / "setup.sh")], capture_output=True, text=True, env=env,
                          timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def packaged_autograder(tmp_path_factory, *args):
    """A package built with ARGS, unpacked and set up the fast way; returns its /autograder folder."""
    work = tmp_path_factory.mktemp("gradescope")
    proc = package(work / "autograder.zip", *args)
    assert proc.returncode == 0, proc.stderr
    root = unpack(work / "autograder.zip", work / "autograder")
    run_setup(root, fast_setup_env())
    return root


def student_root(autograder, tmp_path, files=None):
    """A fresh /autograder for one submission: Gradescope's copy of run_autograder at the top, the
    set-up kit as source/, and the submission's files (name -> text) in submission/."""
    root = tmp_path / "autograder"
    root.mkdir()
    (root / "source").symlink_to(autograder / "source")
    shutil.copy(autograder / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, text in (files or {}).items():
        (root / "submission" / name).write_text(text)
    return root


def reference_files(edit=None):
    files = {name: (gt.SOLUTION / name).read_text() for name in gt.CONTRACT_FILES}
    if edit:
        name, old, new = edit
        assert files[name].count(old) == 1
        files[name] = files[name].replace(old, new)
    return files


def run_autograder(root, script=None, **env):
    """Run run_autograder as Gradescope does (working directory: the root); returns (process, results)."""
    script = script or root / "run_autograder"
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "AUTOGRADER_ROOT": str(root)}
    if "MNIST_GRADER_SANDBOX" in os.environ:                 # a sandbox forced for the whole test run
        environment["MNIST_GRADER_SANDBOX"] = os.environ["MNIST_GRADER_SANDBOX"]
    environment.update(env)
    proc = subprocess.run([str(script)], cwd=root, capture_output=True, text=True, env=environment, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return proc, results


def names(results):
    return [t["name"] for t in results["tests"]]


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The package the fast tests grade with: every check but the accuracy ones."""
    return packaged_autograder(tmp_path_factory, *NO_TRAINING)


# ------------------------------------------------------------------------------------ the zip

def test_the_zip_holds_the_scripts_and_the_kit_but_no_tests_data_or_venv(tmp_path):
    proc = package(tmp_path / "autograder.zip", *NO_TRAINING)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        infos = {info.filename: info for info in archive.infolist()}
        run_script = archive.read("run_autograder").decode()
        requirements = archive.read("requirements.txt").decode().splitlines()
        rubric = archive.read("grader/rubric.toml")
    for name in ("setup.sh", "run_autograder"):
        assert (infos[name].external_attr >> 16) & 0o111, f"{name} is not executable in the zip"
    for name in ("grader/__main__.py", "grader/checks/cnn.py", "solution/functional.py", "solution/data.py",
                 "data_scripts/fetch_mnist.py", "pyproject.toml", "README.md"):
        assert name in infos
    tops = {name.split("/")[0] for name in infos}
    assert tops == {"setup.sh", "run_autograder", "requirements.txt", "grader", "solution", "data_scripts",
                    "pyproject.toml", "README.md"}
    assert not [name for name in infos if "__pycache__" in name or name.endswith(".pyc") or "/." in name]
    assert rubric == (ROOT / "grader" / "rubric.toml").read_bytes()
    assert "grader_args=(--skip mlp.accuracy --skip cnn.accuracy)" in run_script
    assert 'exec "$grader" grade' in run_script and "/mnist-grader" in run_script and "-m grader" not in run_script
    assert f"max_score={sum(row.points for row in FAST_ROWS):g}" in run_script
    assert any(line.startswith("numpy") for line in requirements)
    assert not [line for line in requirements if "torch" in line]


def test_unknown_prefixes_are_refused_and_nothing_is_written(tmp_path):
    proc = package(tmp_path / "autograder.zip", "--skip", "mlp.acuracy")
    assert proc.returncode == 2
    assert "No check id starts with 'mlp.acuracy'" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_setup_installs_the_command_writes_the_pythons_fetches_mnist_and_hides_the_kit(autograder):
    source = autograder / "source"
    assert (source / ".venv-path").read_text().strip() == str(source / ".grader-venv" / "bin" / "python")
    assert os.access(source / ".grader-venv" / "bin" / "mnist-grader", os.X_OK)
    assert (source / ".child-python-path").read_text().strip() == str(CHILD_PYTHON)
    assert verify(source / "data") == {}
    readable = [str(p) for p in [source, *source.rglob("*")] if not p.is_symlink() and p.stat().st_mode & 0o007]
    assert readable == []


# ------------------------------------------------------------------------------------ grading

def test_the_reference_gets_full_marks(autograder, tmp_path):
    root = student_root(autograder, tmp_path, reference_files())
    proc, results = run_autograder(root)
    assert results["score"] == results["max_score"] == sum(row.points for row in FAST_ROWS), proc.stdout
    assert names(results) == [row.id for row in FAST_ROWS]
    assert {t["status"] for t in results["tests"]} == {"passed"}
    assert {t["visibility"] for t in results["tests"]} <= set(VISIBILITIES)
    assert [t["visibility"] for t in results["tests"]] == [row.visibility for row in FAST_ROWS]
    assert "Student code ran" in results["output"]
    assert "the grader's own Python" not in results["output"]          # the child Python setup.sh chose
    assert "leaderboard" not in results                    # no training, no accuracy
    assert f"Score: {results['score']:g} / {results['max_score']:g}" in proc.stdout   # results/stdout


def test_a_softmax_over_the_wrong_axis_loses_points_in_softmax_only(autograder, tmp_path):
    root = student_root(autograder, tmp_path, reference_files(SOFTMAX_BUG))
    _, results = run_autograder(root)
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed and all(name.startswith("functional.softmax") for name in failed), failed
    assert results["score"] == results["max_score"] - sum(t["max_score"] for t in results["tests"] if t["name"] in failed)


def test_an_empty_submission_gets_zero_with_every_check_listed(autograder, tmp_path):
    root = student_root(autograder, tmp_path)
    _, results = run_autograder(root)
    assert results["score"] == 0
    assert results["max_score"] == sum(row.points for row in FAST_ROWS)
    assert names(results) == [row.id for row in FAST_ROWS]
    assert all(t["status"] == "failed" and t["output"].strip() for t in results["tests"])


def test_a_hostile_exception_message_is_graded_not_a_crash_report(autograder, tmp_path):
    """sigmoid raises with a lone surrogate and terminal escapes in its message: the grader used to
    crash writing it (score 0 for everything, an internal error); now only sigmoid's checks fail."""
    hostile = 'def sigmoid(z):\n    raise ValueError("bad \\ud800 \\x1b]0;pwned\\x07 \\x00\\x0c <b>x</b>")\n\n\ndef _sigmoid(z):'
    root = student_root(autograder, tmp_path, reference_files(("functional.py", "def sigmoid(z):", hostile)))
    _, results = run_autograder(root)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == [row.id for row in FAST_ROWS if row.item == "functional.sigmoid"]
    assert all("raised ValueError: bad \ufffd ]0;pwned  <b>x</b>" in t["output"] for t in failed)
    assert results["score"] == results["max_score"] - sum(t["max_score"] for t in failed)


def test_run_autograder_finds_the_kit_in_its_own_folder(autograder, tmp_path):
    """The copy in source/, run from elsewhere with AUTOGRADER_ROOT naming the submission's root."""
    root = tmp_path / "elsewhere"
    (root / "submission").mkdir(parents=True)
    for name, text in reference_files().items():
        (root / "submission" / name).write_text(text)
    _, results = run_autograder(root, script=autograder / "source" / "run_autograder")
    assert results["score"] == results["max_score"] > 0


# ------------------------------------------------------------------------------------ the grader fails

def expect_crash_report(results, max_score):
    assert results["score"] == 0 and results["max_score"] == max_score and results["tests"] == []
    assert results["output"].startswith("The autograder could not grade this submission")


def test_a_grader_that_crashes_still_gives_a_results_json(autograder, tmp_path):
    broken = tmp_path / "broken-grader"
    broken.write_text("#!/bin/sh\necho 'Traceback: the grader blew up' >&2\nexit 1\n")
    broken.chmod(0o755)
    root = student_root(autograder, tmp_path, reference_files())
    proc, results = run_autograder(root, MNIST_GRADER=str(broken))
    expect_crash_report(results, sum(row.points for row in FAST_ROWS))
    assert "exit 1" in results["output"] and "Traceback" not in results["output"]
    assert "the grader blew up" in proc.stderr              # results/stdout keeps the log for instructors


def test_without_any_python_the_results_json_is_still_valid(autograder, tmp_path):
    tools = tmp_path / "bin"                                # the commands the script uses, and no Python
    tools.mkdir()
    for tool in ("bash", "env", "dirname", "mkdir", "rm", "mktemp", "cat", "head", "mv"):
        (tools / tool).symlink_to(shutil.which(tool))
    root = student_root(autograder, tmp_path, reference_files())
    _, results = run_autograder(root, PATH=str(tools), MNIST_PYTHON="/nonexistent/python")
    expect_crash_report(results, sum(row.points for row in FAST_ROWS))


def test_a_grader_error_is_explained_in_the_output(tmp_path_factory, tmp_path):
    """The default package trains, so it needs MNIST; without it the grader stops with exit 2."""
    autograder = packaged_autograder(tmp_path_factory)
    shutil.rmtree(autograder / "source" / "data")
    root = student_root(autograder, tmp_path, reference_files())
    _, results = run_autograder(root)
    expect_crash_report(results, sum(row.points for row in load_rubric().rows))
    assert "exit 2" in results["output"] and "MNIST not found" in results["output"]


# ------------------------------------------------------------------------------------ options

def test_an_instructor_rubric_and_only_are_baked_in(tmp_path_factory, tmp_path):
    text = (ROOT / "grader" / "rubric.toml").read_text()
    old = '"functional.softmax: values match the reference"    = { points = 2, visibility = "visible" }'
    assert text.count(old) == 1
    rubric = tmp_path / "my_rubric.toml"
    rubric.write_text(text.replace(old, old.replace("points = 2", "points = 5").replace('"visible"', '"hidden"')))
    autograder = packaged_autograder(tmp_path_factory, "--rubric", str(rubric), "--only", "functional")
    assert (autograder / "source" / "grader" / "rubric.toml").read_text() == rubric.read_text()
    root = student_root(autograder, tmp_path, reference_files(SOFTMAX_BUG))
    _, results = run_autograder(root)
    assert all(name.startswith("functional.") for name in names(results))
    softmax = {t["name"]: t for t in results["tests"]}["functional.softmax: values match the reference"]
    assert (softmax["score"], softmax["max_score"], softmax["visibility"]) == (0, 5, "hidden")
    expected = sum(row.points for row in load_rubric(rubric).select(only=["functional"]))
    assert results["max_score"] == expected


def test_the_leaderboard_has_accuracy_and_seconds_per_epoch():
    test = reports.CheckResult("mlp.accuracy: test accuracy after training", "passed", "", 0.0, 10, 10, "after_published")
    report = reports.Report("sub", [test], 10, 10, 1.0, "bwrap", [], {
        "mlp.accuracy": 0.9751, "cnn.accuracy": 0.98,
        "training": {"mlp": {"accuracy": 0.9751, "epoch_seconds": [1.0, 2.0, 3.5]}, "cnn": {"accuracy": 0.98}}})
    results = to_gradescope(report)
    jsonschema.validate(results, SCHEMA)
    assert results["leaderboard"] == [
        {"name": "mlp accuracy", "value": 97.51}, {"name": "cnn accuracy", "value": 98.0},
        {"name": "mlp seconds per epoch", "value": 2.17, "order": "asc"}]


# ------------------------------------------------------------------------------------ the real setup.sh

@pytest.fixture
def world_searchable(request):
    """A folder other users can traverse (pytest's own tmp folders are private), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-gradescope-"))
    folder.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


def as_nobody(*command):
    entry = pwd.getpwnam("nobody")
    return subprocess.run(list(command), capture_output=True, text=True, user=entry.pw_uid, group=entry.pw_gid,
                          extra_groups=[], cwd="/", timeout=60)


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").is_file(), reason="needs root and /usr/bin/python3")
def test_full_setup_builds_a_numpy_only_venv_for_nobody_and_grades_as_nobody(world_searchable, tmp_path):
    """setup.sh's real path (virtual environments with pip from PyPI; apt-get only if something is
    missing), then grading with student code running as unprivileged uids (the fallback used in Docker),
    which, like `nobody`, cannot read the kit."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    proc = package(tmp_path / "autograder.zip", *NO_TRAINING)
    assert proc.returncode == 0, proc.stderr
    root = unpack(tmp_path / "autograder.zip", world_searchable / "autograder")
    root.chmod(0o755)
    venv, child_venv = world_searchable / "mnist-venv", world_searchable / "mnist-child-venv"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "MNIST_VENV": str(venv),
           "MNIST_CHILD_VENV": str(child_venv), "MNIST_SETUP_DATA_FROM": str(ROOT / "data"),
           "MNIST_FETCH_SOURCES": "local", "MNIST_GRADER_SANDBOX": "user"}
    setup = run_setup(root, env)
    assert "creating the virtual environment" in setup.stdout
    assert "student code will run as unprivileged uids, one of its own for each child" in setup.stdout
    assert (root / "source" / ".venv-path").read_text().strip() == str(venv / "bin" / "python")
    assert (root / "source" / ".child-python-path").read_text().strip() == str(child_venv / "bin" / "python")

    for secret in ("solution/functional.py", "grader/rubric.toml", "data/MNIST/raw/t10k-labels-idx1-ubyte"):
        denied = as_nobody("cat", str(root / "source" / secret))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, secret
    runs = as_nobody(str(child_venv / "bin" / "python"), "-I", "-c", "import numpy; print(numpy.__version__)")
    assert runs.stdout.strip() == np.__version__, runs.stderr
    for name in ("torch", "tqdm", "matplotlib"):
        absent = as_nobody(str(child_venv / "bin" / "python"), "-I", "-c", f"import {name}")
        assert f"No module named '{name}'" in absent.stderr, (name, absent.stderr)
    with pytest.raises(PermissionError):                                # the grader's environment: root's only
        as_nobody(str(venv / "bin" / "python"), "-c", "pass")

    for name, text in reference_files().items():
        (root / "submission" / name).write_text(text)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    proc, results = run_autograder(root, MNIST_GRADER_SANDBOX="user", PATH="/usr/local/bin:/usr/bin:/bin")
    assert results["score"] == results["max_score"] == sum(row.points for row in FAST_ROWS), proc.stdout
    assert "unprivileged user" in results["output"]
    assert "WARNING" not in results["output"]              # the kit is not readable by nobody
    assert not stat.S_IMODE((root / "source").stat().st_mode) & 0o007
