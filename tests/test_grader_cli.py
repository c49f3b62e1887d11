"""The grade command as users run it: selection flags, zips, missing files, exit codes, formats."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema

import gradertools as gt
from grader.cli import PLUGGED_VERBS

ROOT = gt.ROOT
NO_TRAINING = tuple(x for item in gt.ACCURACY_ITEMS for x in ("--skip", item))


def run_grader(submission, *args, tmp_path):
    """Grade with --json and --junit; returns (run, results.json as a dict, junit path)."""
    junit = tmp_path / "report.xml"
    run = gt.run_grader(submission, tmp_path / "results.json", extra_args=[*args, "--junit", str(junit)])
    return run, run.results, junit


def scores_by_item(results):
    return {item: (sum(t["score"] for t in tests), sum(t["max_score"] for t in tests))
            for item, tests in gt.tests_by_item(results).items()}

SCHEMAS = ROOT / "tests" / "schemas"


def copy_solution(tmp_path, name="submission"):
    folder = tmp_path / name
    folder.mkdir()
    for file in ("functional.py", "mlp.py", "cnn.py"):
        shutil.copy(ROOT / "solution" / file, folder / file)
    return folder


def validate(results, junit):
    jsonschema.validate(results, json.loads((SCHEMAS / "gradescope_results.json").read_text()))
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(str(junit))


def test_reports_match_gradescope_and_junit_schemas(tmp_path):
    folder = copy_solution(tmp_path)
    source = (folder / "functional.py").read_text()
    (folder / "functional.py").write_text(source.replace("np.sum(e, axis=1, keepdims=True)", "np.sum(e, axis=0, keepdims=True)"))
    proc, results, junit = run_grader(folder, *NO_TRAINING, tmp_path=tmp_path)
    assert proc.returncode == 0
    validate(results, junit)
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed and all(name.startswith("functional.softmax") for name in failed), failed
    cases = {case.get("name"): case for case in ET.parse(junit).iter("testcase")}
    assert cases[failed[0]].find("failure") is not None
    assert cases["functional.relu: float32 input"].find("failure") is None


def test_a_file_that_does_not_parse_gives_a_complete_report(tmp_path):
    folder = copy_solution(tmp_path)
    (folder / "functional.py").write_text("import numpy as np\n\ndef relu(z)\n    return np.maximum(z, 0)\n")
    proc, results, junit = run_grader(folder, "--only", "functional.relu", tmp_path=tmp_path)
    assert proc.returncode == 0
    validate(results, junit)
    message = ("functional.py line 3 does not parse (expected ':'):\n    def relu(z)\n"
               "Fix the syntax error; nothing in functional.py can be graded until it parses.")
    again = ("functional.py line 3 does not parse (expected ':') "
             '(the whole message is under "functional.relu: shape and dtype").')      # shown in full once
    del results["execution_time"]
    assert results == {
        "score": 0.0, "max_score": 5.0,
        "output": "Student code ran in a bubblewrap sandbox (no network, no access to the grader's files).",
        "tests": [{"name": name, "score": 0.0, "max_score": points, "status": "failed",
                   "output": message if name.endswith("shape and dtype") else again, "visibility": "visible"}
                  for name, points in [("functional.relu: shape and dtype", 1.0),
                                       ("functional.relu: values match the reference", 2.0),
                                       ("functional.relu: float32 input", 1.0),
                                       ("functional.relu: input unchanged", 1.0)]],
    }


@pytest.mark.parametrize("flags, expected_items", [
    (("--only", "functional.softmax"), {"functional.softmax"}),
    (("--only", "cnn.conv2d_backward", "--only", "mlp.step"), {"cnn.conv2d_backward", "mlp.step"}),
    (("--skip", "mlp", "--skip", "cnn", "--skip", "policy"),
     {"functional.sigmoid", "functional.relu", "functional.softmax", "functional.one_hot", "functional.cross_entropy"}),
])
def test_only_and_skip_select_checks_by_prefix(tmp_path, flags, expected_items):
    proc, results, _ = run_grader(ROOT / "solution", *flags, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert set(scores_by_item(results)) == expected_items
    assert results["score"] == results["max_score"]


def test_public_runs_only_visible_checks(tmp_path):
    proc, results, _ = run_grader(ROOT / "solution", "--public", *NO_TRAINING, tmp_path=tmp_path)
    assert proc.returncode == 0
    assert {t["visibility"] for t in results["tests"]} == {"visible"}
    assert not any("stale cache" in t["name"] for t in results["tests"])


@pytest.mark.parametrize("args, message", [
    (("grade", "no/such/folder"), "does not exist"),
    (("grade", "solution", "--only", "mlp.forwards"), "No check id starts with 'mlp.forwards'"),
    (("grade", "solution", "--rubric", "README.md"), "is not valid TOML"),
])
def test_bad_arguments_exit_2_with_a_sentence(args, message):
    proc = subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_parsing_a_grade_command_imports_only_the_grade_verbs_modules():
    """Every grading parses its command line: the other verbs' modules (batch, cluster, the course tools)
    are imported only when their verb is chosen, or its --help asked for."""
    script = ("import json, sys\nfrom grader import cli\n"
              "before = set(sys.modules)\ncli.parser().parse_args(sys.argv[1:])\n"
              "print(json.dumps(sorted(set(sys.modules) - before)))\n")
    plugged = {module for module, _ in PLUGGED_VERBS.values()} | {"grader.cluster"}

    def imported(*argv):
        proc = subprocess.run([sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return set(json.loads(proc.stdout)) & plugged
    # --feedback-stage takes its stages from grader.publish (STAGE_HELP)
    assert imported("grade", "solution", "--skip", "mlp.accuracy") == {"grader.publish"}
    assert imported("batch", "subs", "--out", "out") == {"grader.batch", "grader.cluster"}
    assert imported("release", "--check") == {"grader.course.generate"}


def test_the_grade_command_starts_numpy_with_one_blas_thread():
    """grade() computes with one BLAS thread: numpy's pools start with one, not one per core."""
    from grader.sandbox.limits import THREAD_VARIABLES
    script = ("from grader import cli\ncli.one_blas_thread()\nimport numpy, threadpoolctl\n"
              "print(max(pool['num_threads'] for pool in threadpoolctl.threadpool_info()))\n")
    env = {name: value for name, value in os.environ.items() if name not in THREAD_VARIABLES}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.split() == ["1"], proc.stdout + proc.stderr


def test_a_zip_with_a_nested_folder_grades_like_the_folder(tmp_path):
    archive = tmp_path / "student.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in ("functional.py", "mlp.py", "cnn.py"):
            z.write(ROOT / "solution" / file, f"hw3/{file}")
        z.writestr("__MACOSX/hw3/._functional.py", b"\x00\x05junk")
    proc, results, _ = run_grader(archive, *NO_TRAINING, tmp_path=tmp_path)
    assert proc.returncode == 0
    assert results["score"] == results["max_score"]


@pytest.mark.parametrize("missing, costs", [("cnn.py", ("cnn.", "policy.vectorized")), ("functional.py", ("functional.",))])
def test_a_missing_file_costs_exactly_its_checks(tmp_path, missing, costs):
    folder = copy_solution(tmp_path)
    (folder / missing).unlink()
    full = gt.reference_run(skip=gt.ACCURACY_ITEMS).results
    proc, results, _ = run_grader(folder, *NO_TRAINING, tmp_path=tmp_path)
    assert proc.returncode == 0
    assert results["max_score"] == full["max_score"]
    assert [t["name"] for t in results["tests"]] == [t["name"] for t in full["tests"]]
    for test in results["tests"]:
        if test["name"].startswith(costs):
            assert test["score"] == 0 and f"{missing} is missing" in test["output"], test
        else:
            assert test["score"] == test["max_score"], test


def test_grading_from_inside_the_submission_never_imports_it_into_the_grader(tmp_path):
    folder = copy_solution(tmp_path)
    source = (folder / "functional.py").read_text()
    (folder / "functional.py").write_text("import os\nopen(os.path.join(os.getcwd(), 'IMPORTED'), 'w').close()\n" + source)
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", ".", "--only", "functional.relu"],
                          cwd=folder, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert not (folder / "IMPORTED").exists()
    assert "Score: 5 / 5" in proc.stdout


def test_code_slow_in_every_call_gets_a_report_within_the_grading_budget(tmp_path):
    """Each call stays under its own limit, but together they would take minutes: the rubric's
    grading_seconds ends the run, and the checks left over fail with a sentence saying why."""
    submission = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    functional = submission / "functional.py"
    functional.write_text(functional.read_text().replace(
        "import numpy as np\n", "import time\n\nimport numpy as np\n\ntime.sleep(0.5)\n", 1).replace(
        '    """Apply the logistic sigmoid elementwise.', '    time.sleep(2.0)\n    """Apply the logistic sigmoid elementwise.', 1))
    rubric = gt.rubric_with(tmp_path / "rubric.toml", "\ngrading_seconds = 300", "\ngrading_seconds = 5")
    run = gt.run_grader(submission, tmp_path / "results.json", only=("functional", "mlp.forward"),
                        extra_args=("--rubric", str(rubric)), timeout=240)
    assert run.returncode == 0 and run.results, gt.describe(run)
    not_run = [t["name"] for t in run.results["tests"] if "used up the grading time" in t.get("output", "")]
    assert not_run and all(gt.lost_points(t) for t in run.results["tests"] if t["name"] in not_run), gt.describe(run)
