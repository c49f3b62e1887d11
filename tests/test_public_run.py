"""`mnist-grader grade . --public` ends with what it did not check: the points of the hidden checks and
of the accuracy items, with their bars, read from the rubric."""
import gradertools as gt
from grader.formats.table import Unchecked, to_table
from grader import report as reports
from grader.rubric import load_rubric


def test_the_public_run_ends_with_the_points_it_did_not_check(tmp_path):
    """Nothing skipped: --public leaves out the accuracy items (not visible), so nothing trains."""
    run = gt.run_grader(gt.SOLUTION, tmp_path / "results.json", extra_args=["--public"], timeout=300)
    assert run.returncode == 0, run.stderr
    assert not any(t["name"].endswith("accuracy: test accuracy after training") for t in run.results["tests"])
    rubric = load_rubric()
    later = [row for row in rubric.rows if row.visibility != "visible"]
    points, public = sum(row.points for row in later), sum(row.points for row in rubric.rows) - sum(row.points for row in later)
    assert (points, len(later), public) == (20, 6, 108)      # the default rubric, as the student saw it
    closing = " ".join(line.strip() for line in run.stdout.split("Score: ")[1].splitlines())
    assert f"Not checked here: {points:g} points in {len(later)} checks run only when your course grades" in closing
    assert "hidden tests of mlp.backward, cnn.backward" in closing
    assert ("the two accuracy items with their bars: "
            f"MLP {100 * rubric.accuracy['mlp']['threshold']:.1f}%, CNN {100 * rubric.accuracy['cnn']['threshold']:.1f}%"
            in closing)
    assert f"So {public:g} / {public:g} covers {public:g} of the course's {public + points:g} points." in closing


def test_without_public_nothing_is_said_about_unchecked_points(tmp_path):
    run = gt.run_grader(gt.SOLUTION, tmp_path / "results.json", only=["functional.relu"], timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Not checked here" not in run.stdout


def report(score, max_score):
    test = reports.CheckResult("functional.relu: shape and dtype", "passed", "", 0.0, score, max_score, "visible")
    return reports.Report("folder", [test], score, max_score, 1.0, "bwrap")


def test_a_grader_without_the_points_still_names_what_it_leaves_out():
    """The public kit's rubric has only the visible rows; it lists the others as not graded."""
    text = to_table(report(1, 1), width=100, unchecked=[
        Unchecked("mlp.backward: no stale cache"), Unchecked("mlp.accuracy: test accuracy after training", bar=0.942)])
    assert ("Not checked here: 2 checks run only when your course grades (hidden tests of mlp.backward, and the "
            "accuracy item with its bar: MLP 94.2%).") in " ".join(text.split())
    assert "Their points are in your course's rubric, not in this grader's" in " ".join(text.split())


def test_the_closing_lines_fit_the_terminal():
    text = to_table(report(1, 1), width=60, unchecked=[Unchecked(f"mlp.backward: check {i}", 1.0) for i in range(3)])
    assert all(len(line) <= 60 for line in text.splitlines()[-4:])
