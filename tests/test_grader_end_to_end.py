"""The grader on the reference (full marks, accuracy included) and on the generated skeleton (zero);
the same scores however the tests start it; the tests' watchdog."""
import sys
from pathlib import Path

import gradertools as gt

TODO_FREE = ("policy.",)   # items that are not a student TODO


def test_reference_scores_full_marks_with_training():
    run = gt.reference_run()
    assert run.returncode == 0, run.stderr
    failed = [(t["name"], t["output"]) for t in run.results["tests"] if t["score"] != t["max_score"]]
    assert failed == []
    assert run.results["score"] == run.results["max_score"] > 100
    assert {gt.item_of(t["name"]) for t in run.results["tests"]} >= {"mlp.accuracy", "cnn.accuracy"}
    assert "test accuracy" in run.stdout and "Score: " in run.stdout


def test_skeleton_scores_zero_on_every_check_with_a_clean_report(tmp_path):
    run = gt.run_grader(gt.ROOT / "assignment", tmp_path / "results.json")
    assert run.returncode == 0, run.stderr
    assert run.results["score"] == 0
    assert "Traceback" not in run.stdout + run.stderr
    for test in run.results["tests"]:
        assert test["status"] == "failed" and test["score"] == 0, test["name"]
        assert test["output"].count("\n") <= 2, (test["name"], test["output"])
        if not test["name"].startswith(TODO_FREE):
            assert "not written yet" in test["output"], (test["name"], test["output"])


def test_same_submission_same_score_every_run(tmp_path):
    """Also however the tests start the grader: forked by tests/zygote.py (as run_grader does by
    default), or a fresh `python -m grader`."""
    runs = [gt.run_grader(gt.SOLUTION, tmp_path / f"{i}.json", skip=gt.ACCURACY_ITEMS, fork=fork)
            for i, fork in enumerate((True, False))]
    assert [(run.returncode, run.leftovers, run.subreaper) for run in runs] == [(0, [], True)] * 2
    strip = lambda r: [(t["name"], t["score"], t["status"]) for t in r["tests"]]
    assert strip(runs[0].results) == strip(runs[1].results)


def test_the_watchdog_kills_and_reports_what_a_run_leaves_running(tmp_path):
    """The hostile tests' "nothing is left running" holds only if the watchdog sees what a grading
    leaves behind: here a process in a session of its own, outliving the command that started it
    (run as run_grader's unforked gradings are; tests/zygote.py finds leftovers with the same
    functions of tests/reaper.py)."""
    started = "import subprocess; print(subprocess.Popen(['sleep', '1000'], start_new_session=True).pid)"
    info = gt.watched([sys.executable, "-c", started], 60, tmp_path, fork=False, grace=0.3)
    pid = int((tmp_path / "stdout.txt").read_text())
    assert (info["returncode"], info["subreaper"]) == (0, True)
    assert [(p["pid"], p["cmdline"]) for p in info["leftovers"]] == [(pid, "sleep 1000")]
    assert not Path(f"/proc/{pid}").exists()           # killed and reaped
