"""The grader on the reference (full marks, accuracy included) and on the generated skeleton (zero)."""
import xml.etree.ElementTree as ET

import pytest

from gradertools_core import NO_TRAINING, ROOT, run_grader, scores_by_item

TODO_FREE = ("policy.",)   # items that are not a student TODO


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    return run_grader(ROOT / "solution", tmp_path=tmp_path_factory.mktemp("reference"))


def test_reference_scores_full_marks_with_training(reference_run):
    proc, results, junit = reference_run
    assert proc.returncode == 0, proc.stderr
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["score"] != t["max_score"]]
    assert failed == []
    assert results["score"] == results["max_score"] > 100
    assert {t["name"].split(":")[0] for t in results["tests"]} >= {"mlp.accuracy", "cnn.accuracy"}
    assert "test accuracy" in proc.stdout and "Score: " in proc.stdout
    cases = ET.parse(junit).getroot().iter("testcase")
    assert all(case.find("failure") is None for case in cases)


def test_reference_grading_takes_well_under_a_minute(reference_run):
    _, results, _ = reference_run
    assert results["execution_time"] < 60, results["execution_time"]


def test_skeleton_scores_zero_on_every_check_with_a_clean_report(tmp_path):
    proc, results, _ = run_grader(ROOT / "assignment", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == 0
    assert "Traceback" not in proc.stdout + proc.stderr
    for test in results["tests"]:
        assert test["status"] == "failed" and test["score"] == 0, test["name"]
        assert test["output"].count("\n") <= 2, (test["name"], test["output"])
        if not test["name"].startswith(TODO_FREE):
            assert "not written yet" in test["output"], (test["name"], test["output"])


def test_same_submission_same_score_every_run(tmp_path):
    first = run_grader(ROOT / "solution", *NO_TRAINING, tmp_path=tmp_path / "a")[1]
    second = run_grader(ROOT / "solution", *NO_TRAINING, tmp_path=tmp_path / "b")[1]
    strip = lambda r: [(t["name"], t["score"], t["status"]) for t in r["tests"]]
    assert strip(first) == strip(second)
    assert scores_by_item(first) == scores_by_item(second)
