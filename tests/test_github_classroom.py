"""The GitHub Classroom workflow template, tested by running the exact commands its steps run, in a
student's repository with a fresh Python environment and the public kit served from a local file."""
import shutil
import subprocess
import sys

import pytest
import yaml

import gradertools as gt

WORKFLOW = gt.ROOT / "grader" / "course" / "templates" / "github-classroom.yml"


@pytest.fixture(scope="module")
def kit_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, "-m", "grader", "public-kit", "--out", str(out / "kit"), "--zip",
                    str(out / "mnist-public-kit.zip")], cwd=gt.ROOT, check=True, capture_output=True)
    return out / "mnist-public-kit.zip"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A fresh virtual environment standing in for actions/setup-python (with pip, installed by this
    Python's pip: ensurepip alone took 5 CPU s), and a `sudo` that just runs."""
    home = tmp_path_factory.mktemp("runner")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(home / "venv" / "bin" / "python"), "install",
                    "--quiet", "pip"], check=True, capture_output=True)
    shims = home / "shims"
    shims.mkdir()
    (shims / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    (shims / "sudo").chmod(0o755)
    return home


def run_steps(repo, env):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["public-checks"]
    env = {**env, **job["env"], **env.get("overrides", {})}
    env.pop("overrides", None)
    outcomes = []
    for step in job["steps"]:
        if "run" in step:
            proc = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                                  capture_output=True, text=True, timeout=600)
            outcomes.append((step["name"], proc.returncode, proc.stdout + proc.stderr))
            if proc.returncode != 0:
                break
    return outcomes


def student_repo(tmp_path, edit=None):
    repo = tmp_path / "student-repo"
    repo.mkdir()
    for name in ("functional.py", "mlp.py", "cnn.py"):
        shutil.copy(gt.SOLUTION / name, repo / name)
    if edit:
        path = repo / edit[0]
        path.write_text(path.read_text().replace(edit[1], edit[2]))
    return repo


def environment(runner, kit_zip, tmp_path):
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    return {"PATH": f"{runner / 'venv' / 'bin'}:{runner / 'shims'}:/usr/bin:/bin", "HOME": str(tmp_path),
            "RUNNER_TEMP": str(runner_temp), "overrides": {"MNIST_PUBLIC_KIT": f"file://{kit_zip}"}}


def test_the_workflow_passes_a_correct_submission(runner, kit_zip, tmp_path):
    repo = student_repo(tmp_path)
    env = environment(runner, kit_zip, tmp_path)
    outcomes = run_steps(repo, env)
    assert [(name, code) for name, code, _ in outcomes] == [
        ("Install the public grader", 0), ("Run the public checks", 0), ("All public checks pass", 0)], outcomes
    assert (repo / "public-checks.xml").is_file() and (repo / "public-checks.json").is_file()
    # The kit installs only what the students' commands import (no matplotlib, tqdm or tomli-w), and
    # each of those commands runs in that install: the report with --feedback, and handin.
    env = {k: v for k, v in env.items() if k != "overrides"}
    python = runner / "venv" / "bin" / "python"
    missing = subprocess.run([python, "-c", "import matplotlib"], env=env, capture_output=True, text=True)
    assert "No module named 'matplotlib'" in missing.stderr
    for command in (["grade", ".", "--public", "--feedback", "fb"], ["handin", ".", "--out", "hw.zip"]):
        proc = subprocess.run([runner / "venv" / "bin" / "mnist-grader", *command], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
    assert (repo / "fb" / "feedback.html").is_file() and (repo / "hw.zip").is_file()


def test_the_workflow_fails_while_a_public_check_fails(runner, kit_zip, tmp_path):
    repo = student_repo(tmp_path, ("functional.py", "np.sum(e, axis=1, keepdims=True)", "np.sum(e, axis=0, keepdims=True)"))
    outcomes = run_steps(repo, environment(runner, kit_zip, tmp_path))
    assert [(name, code) for name, code, _ in outcomes][-1] == ("All public checks pass", 1), outcomes
    assert "functional.softmax" in (repo / "public-checks.xml").read_text()
