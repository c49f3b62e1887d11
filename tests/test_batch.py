"""`python -m grader batch`: a folder of submissions graded in worker processes, grades.csv, the
students' results and the summary; resuming, regrading a changed submission, surviving a kill.

Fast on purpose: every run skips the accuracy items (training) but one, which trains only the MLP
of a single submission."""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import gradertools as gt
from grader import batch
from grader.rubric import load_rubric

ROOT = gt.ROOT
NO_TRAINING = ("--skip", "mlp.accuracy", "--skip", "cnn.accuracy")
# For the tests of the batch's own bookkeeping (reruns, kills): a quick selection that still holds the
# buggy student's softmax and the after_due_date checks (LATER_CHECKS).
QUICK = ("--only", "functional", "--only", "mlp.backward")
SCHEMA = json.loads((gt.TESTS / "schemas" / "gradescope_results.json").read_text())


# ------------------------------------------------------------------------------------ helpers

def validate(results):
    """results against Gradescope's schema. jsonschema is imported here, not with the module: the
    batch's spawned workers import this module to run dies_or_grades, and need none of it."""
    import jsonschema
    jsonschema.validate(results, SCHEMA)


def run_batch(submissions, out, *args, timeout=600):
    cmd = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    proc.elapsed = time.monotonic() - start
    return proc


def start_batch(submissions, out, *args, env=None):
    cmd = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_grades(out):
    with open(Path(out) / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return header, {row[0]: dict(zip(header, row)) for row in rows[1:]}


def items_in_rubric_order(*skip):
    rows = load_rubric().select(skip=skip)
    return list(dict.fromkeys(row.item for row in rows)), {
        item: sum(r.points for r in rows if r.item == item) for item in dict.fromkeys(r.item for r in rows)}


def copy_reference(dest):
    return gt.copy_submission(gt.SOLUTION, dest)


def write_buggy(dest):
    """The reference with softmax normalized over the batch (axis 0) instead of over each row."""
    from mutants import MUTANTS
    return gt.write_mutant(next(m for m in MUTANTS if m.id == "softmax_over_columns"), dest)


def write_hostile(case_id, dest):
    """A hostile case: tests/submissions/<id>/ where it exists, else built from tests/hostile.py."""
    folder = gt.TESTS / "submissions" / case_id
    if folder.is_dir():
        return gt.copy_submission(folder, dest)
    from hostile import HOSTILE
    return gt.write_hostile(next(case for case in HOSTILE if case.id == case_id), dest)


def zip_folder(folder, zip_path):
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(Path(folder).iterdir()):
            archive.write(file, file.name)
    return zip_path


def mtimes(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in (Path(out) / "students").glob("*/results.json")}


def child_pids(pid):
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def running(pid):
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def still_running(pids, timeout=20):
    """The pids among `pids` still running after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if running(pid)]


def wait_for_rows(out, count, proc, timeout=120):
    """Poll grades.csv until it has `count` rows (returns them) or the batch ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            _, rows = read_grades(out)
            if len(rows) >= count:
                return rows
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"grades.csv never had {count} rows (batch exit code {proc.poll()})")


# ------------------------------------------------------------------------------------ a class's folder

STUDENTS = ("buggy", "empty", "infinite_loop_at_import", "no_cnn", "reference", "reference_zip", "sys_exit_at_import")
LATER_CHECKS = ("mlp.backward: no accumulation", "mlp.backward: no stale cache")     # after_due_date in the rubric


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """One batch over a folder holding the reference, a zip of it, a buggy, two hostile and an empty
    submission, one without cnn.py, a broken zip, a stray file and a hidden folder; returns (folder,
    out, process)."""
    root = tmp_path_factory.mktemp("batch")
    subs = root / "submissions"
    subs.mkdir()
    copy_reference(subs / "reference")
    zip_folder(subs / "reference", subs / "reference_zip.zip")
    copy_reference(subs / "no_cnn")
    (subs / "no_cnn" / "cnn.py").unlink()
    write_buggy(subs / "buggy")
    write_hostile("sys_exit_at_import", subs / "sys_exit_at_import")
    write_hostile("infinite_loop_at_import", subs / "infinite_loop_at_import")
    (subs / "empty").mkdir()
    (subs / "broken.zip").write_bytes(b"this is not a zip file")
    (subs / "notes.txt").write_text("grading notes\n")
    copy_reference(subs / ".hidden")
    # The rubric with a 4 s limit per call instead of 10: the infinite loop spins for that long once.
    rubric = gt.rubric_with(root / "rubric.toml", "\ncall_seconds = 10 ", "\ncall_seconds = 4 ")
    out = root / "out"
    proc = run_batch(subs, out, *NO_TRAINING, "--workers", "2", "--rubric", str(rubric))
    assert proc.returncode == 0, proc.stderr
    return subs, out, proc


def test_grades_csv_has_a_row_per_student_and_a_column_per_item(graded_class):
    _, out, _ = graded_class
    items, item_max = items_in_rubric_order("mlp.accuracy", "cnn.accuracy")
    header, rows = read_grades(out)
    assert header == ["student", "score", "max_score", "status", *items, "message"]
    assert list(rows) == sorted(STUDENTS + ("broken",))        # no notes.txt, no .hidden
    full = sum(item_max.values())
    for student in ("reference", "reference_zip"):
        assert rows[student]["status"] == "graded"
        assert float(rows[student]["score"]) == float(rows[student]["max_score"]) == full
        assert all(float(rows[student][item]) == item_max[item] for item in items)
    assert rows["empty"]["status"] == "graded" and float(rows["empty"]["score"]) == 0


def test_the_message_column_names_missing_files(graded_class):
    _, out, _ = graded_class
    _, rows = read_grades(out)
    assert rows["no_cnn"]["status"] == "graded" and rows["no_cnn"]["message"] == "cnn.py is missing."
    assert rows["empty"]["message"] == "functional.py, mlp.py, cnn.py are missing."
    assert all(rows[student]["message"] == "" for student in ("reference", "reference_zip", "buggy"))
    summary = (out / "summary.md").read_text()
    section = summary.split("## Missing or refused files")[1].split("\n## ")[0]
    assert "| no\\_cnn | `cnn.py` | cnn.py is missing from the submission: put functional.py, mlp.py, cnn.py side" in section
    assert section.count("| empty |") == 3 and "| reference |" not in section


def test_buggy_softmax_loses_points_in_softmax_only(graded_class):
    _, out, _ = graded_class
    items, item_max = items_in_rubric_order("mlp.accuracy", "cnn.accuracy")
    _, rows = read_grades(out)
    buggy = rows["buggy"]
    lost = [item for item in items if float(buggy[item]) < item_max[item]]
    assert lost == ["functional.softmax"]
    assert float(buggy["score"]) == sum(float(buggy[item]) for item in items)


def test_hostile_submissions_are_graded_not_fatal(graded_class):
    _, out, _ = graded_class
    _, rows = read_grades(out)
    items, item_max = items_in_rubric_order("mlp.accuracy", "cnn.accuracy")
    exits = rows["sys_exit_at_import"]
    assert exits["status"] == "graded"
    assert all(float(exits[item]) == 0 for item in items if item.startswith("functional."))
    assert all(float(exits[item]) == item_max[item] for item in items if item.startswith(("mlp.", "cnn.")))
    loops = rows["infinite_loop_at_import"]
    assert loops["status"] == "graded"
    assert all(float(loops[item]) == 0 for item in items if item.startswith("cnn."))
    assert all(float(loops[item]) == item_max[item] for item in items if item.startswith(("functional.", "mlp.")))


def test_a_broken_zip_is_an_error_row_with_the_reason(graded_class):
    _, out, proc = graded_class
    _, rows = read_grades(out)
    broken = rows["broken"]
    assert broken["status"] == "error" and broken["score"] == ""
    assert "broken.zip is not a zip file" in broken["message"]
    assert not (out / "students" / "broken" / "results.json").exists()
    assert "Ignored notes.txt" in proc.stderr


def test_every_graded_student_has_gradescope_results_and_feedback(graded_class):
    _, out, _ = graded_class
    _, rows = read_grades(out)
    for student in STUDENTS:
        folder = out / "students" / student
        results = json.loads((folder / "results.json").read_text())
        validate(results)
        assert results["score"] == float(rows[student]["score"])
        assert (folder / "feedback.md").is_file()
        state = json.loads((folder / "batch.json").read_text())
        assert state["status"] == "graded" and state["key"]


def test_feedback_before_the_due_date_shows_only_the_visible_checks(graded_class):
    _, out, _ = graded_class
    folder = out / "students" / "buggy"
    assert all(name in (folder / "results.json").read_text() for name in LATER_CHECKS)     # Gradescope hides them itself
    for page in ("feedback.md", "feedback.html"):
        text = (folder / page).read_text()
        assert "functional.softmax: values match the reference" in text
        assert not any(name in text for name in LATER_CHECKS), page


def test_summary_lists_the_most_frequently_failed_checks(graded_class):
    _, out, _ = graded_class
    failing = {}
    for student in STUDENTS:
        for test in json.loads((out / "students" / student / "results.json").read_text())["tests"]:
            if test["status"] != "passed":
                failing[test["name"]] = failing.get(test["name"], 0) + 1
    summary = (out / "summary.md").read_text()
    table = summary.split("## Most frequently failed checks")[1].split("\n## ")[0]
    listed = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            name, count = line.strip("| ").split("` |")
            listed[name.strip("`")] = int(count.strip(" |"))
    assert listed and all(failing[name] == count for name, count in listed.items())
    assert max(listed.values()) == max(failing.values())
    assert listed["cnn.backward: gradients match the reference"] == 3     # empty, infinite_loop, no_cnn
    assert failing["functional.softmax: values match the reference"] == 3   # buggy, sys_exit, empty
    assert "8 students: 7 graded, 1 error" in summary
    assert "| broken |" in summary and "Ignored notes.txt" in summary
    assert "![Score histogram](score_histogram.png)" in summary


def test_score_histogram_is_a_png(graded_class):
    _, out, _ = graded_class
    from matplotlib.image import imread
    data = (out / "score_histogram.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(out / "score_histogram.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


# ------------------------------------------------------------------------------------ resuming

def test_rerun_skips_graded_students_force_and_changes_regrade(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    copy_reference(subs / "alice")
    write_buggy(subs / "bob")
    zip_folder(subs / "alice", subs / "carol.zip")
    first = run_batch(subs, out, *QUICK)
    assert first.returncode == 0, first.stderr
    assert "Grading 3 submissions" in first.stdout
    before = mtimes(out)
    assert sorted(before) == ["alice", "bob", "carol"]

    again = run_batch(subs, out, *QUICK)
    assert again.returncode == 0, again.stderr
    assert "Nothing to grade: 3 already graded" in again.stdout
    assert mtimes(out) == before

    assert not any(name in (out / "students" / "alice" / "feedback.md").read_text() for name in LATER_CHECKS)
    published = subprocess.run([sys.executable, "-m", "grader", "publish", str(out), "--stage", "due"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
    assert published.returncode == 0 and "of 3 students" in published.stdout, published.stderr
    assert mtimes(out) == before                                            # nothing graded again
    assert all(name in (out / "students" / "alice" / "feedback.md").read_text() for name in LATER_CHECKS)

    shutil.copyfile(gt.SOLUTION / "functional.py", subs / "bob" / "functional.py")     # bob fixes his softmax
    fixed = run_batch(subs, out, *QUICK)
    assert fixed.returncode == 0, fixed.stderr
    assert "Grading 1 submission with 1 worker process; 2 already graded" in fixed.stdout
    assert all(name in (out / "students" / "bob" / "feedback.md").read_text() for name in LATER_CHECKS)  # the stage kept
    after = mtimes(out)
    assert after["alice"] == before["alice"] and after["carol"] == before["carol"] and after["bob"] != before["bob"]
    _, rows = read_grades(out)
    assert {row["score"] for row in rows.values()} == {rows["alice"]["max_score"]}

    forced = run_batch(subs, out, *QUICK, "--force")
    assert "Grading 3 submissions" in forced.stdout
    assert all(forced_time != after[s] for s, forced_time in mtimes(out).items())

    narrower = run_batch(subs, out, "--only", "functional.softmax")      # another selection: graded again
    assert "Grading 3 submissions" in narrower.stdout
    header, rows = read_grades(out)
    assert header == ["student", "score", "max_score", "status", "functional.softmax", "message"]
    assert all(row["score"] == row["max_score"] == "7" for row in rows.values())


def test_a_killed_batch_keeps_finished_results_and_the_rerun_completes(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    students = [f"student{i}" for i in range(6)]
    for student in students:
        copy_reference(subs / student)
    proc = start_batch(subs, out, *QUICK, "--workers", "1")
    try:
        finished = wait_for_rows(out, 1, proc)
        workers = child_pids(proc.pid)
        proc.kill()                                            # SIGKILL: no chance to clean up
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not still_running(workers)                          # the workers die with the batch
    _, rows = read_grades(out)
    assert 1 <= len(finished) <= len(rows) < len(students)
    assert all(row["status"] == "graded" and row["score"] == row["max_score"] for row in rows.values())

    rerun = run_batch(subs, out, *QUICK)
    assert rerun.returncode == 0, rerun.stderr
    skipped = int(rerun.stdout.split("; ")[1].split()[0])
    assert skipped >= len(rows)
    assert f"Grading {len(students) - skipped} submission" in rerun.stdout
    _, rows = read_grades(out)
    assert sorted(rows) == students
    assert all(row["status"] == "graded" and row["score"] == row["max_score"] for row in rows.values())


def test_sigterm_stops_the_batch_and_writes_what_finished(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    for i in range(4):
        copy_reference(subs / f"student{i}")
    temporary = tmp_path / "tmp"                  # the batch's temporary folders, and nothing else's
    temporary.mkdir()
    proc = start_batch(subs, out, *QUICK, "--workers", "1", env={**os.environ, "TMPDIR": str(temporary)})
    try:
        wait_for_rows(out, 1, proc)
        while proc.poll() is None and not any(temporary.glob("mnist-grader-*")):   # a grading under way
            time.sleep(0.01)
        workers = child_pids(proc.pid)
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in stderr
    assert not still_running(workers)
    # The grading it stopped leaves no copy of the student's files behind (its worker exits at once).
    assert sorted(p.name for p in temporary.iterdir() if p.name.startswith("mnist-")) == []
    _, rows = read_grades(out)
    assert rows and f"{len(rows)} students: {len(rows)} graded" in (out / "summary.md").read_text()
    kept = f"Kept: {len(rows)} graded student{'s' * (len(rows) > 1)} in all, in {out / 'grades.csv'}, "
    assert (f"The batch was interrupted: it finished {len(rows)} of the 4 submissions it set out to grade." in stderr
            and f"{kept}{out / 'summary.md'} and {out / 'students'}/." in stderr), stderr
    assert (f"To grade the {4 - len(rows)} left, run the same command again (from {ROOT}); the students already "
            "graded are skipped:") in stderr
    command = f"{sys.executable} -m grader batch {subs} --out {out} {' '.join(QUICK)} --workers 1"
    assert f"\n  {command}\n" in stderr + "\n", stderr


# ------------------------------------------------------------------------------------ the pool

def dies_or_grades(task):
    """Stands in for grade_student in the workers: "dies" kills its worker, the others pass."""
    if task["student"] == "dies":
        os._exit(9)
    time.sleep(0.2)
    return {"student": task["student"], "status": "graded", "score": 1.0, "max_score": 1.0, "items": {},
            "failed": [], "message": ""}


def test_a_worker_that_dies_costs_only_its_own_student():
    tasks = [{"student": name, "path": name, "out": name} for name in ("a", "b", "dies", "c", "d", "e")]
    done = {}
    config = {"rubric": None, "only": [], "skip": [], "public": False, "data_root": None, "needs_mnist": False}
    batch.grade_all(tasks, 2, config, lambda task, state: done.setdefault(task["student"], []).append(state),
                    work=dies_or_grades)
    assert sorted(done) == ["a", "b", "c", "d", "dies", "e"]
    assert all(len(states) == 1 for states in done.values())
    assert done["dies"][0]["status"] == "error" and done["dies"][0]["message"] == batch.WORKER_DIED
    assert all(done[s][0]["status"] == "graded" for s in "abcde")


def test_mnist_is_read_once_per_process():
    from grader import grade
    grade.read_mnist.cache_clear()
    first, second = grade.mnist_loader(None)(), grade.mnist_loader(None)()
    assert first is second and grade.read_mnist.cache_info().misses == 1
    assert not first["test_labels"].flags.writeable


def test_a_saved_state_counts_only_when_complete_and_for_this_key(tmp_path):
    """A rerun skips a student whose state and results.json are whole and whose key is unchanged."""
    task = {"student": "alice", "path": "alice", "out": str(tmp_path), "key": "k"}
    (tmp_path / "results.json").write_text('{"score": 1, "tests": []}')
    (tmp_path / "batch.json").write_text(json.dumps({"status": "graded", "key": "k", "feedback": "written"}))
    assert batch.finished(task)
    assert batch.finished(dict(task, key="changed")) is None
    (tmp_path / "results.json").write_text('{"score": 1, "tes')             # cut short: grade again
    assert batch.finished(task) is None


# ------------------------------------------------------------------------------------ cannot run

@pytest.mark.parametrize("case", ["missing_folder", "no_submissions", "no_mnist", "zero_workers", "unknown_item"])
def test_a_batch_that_cannot_run_exits_2_with_a_sentence(case, tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    args = list(NO_TRAINING)
    if case != "no_submissions":
        copy_reference(subs / "alice")
    if case == "missing_folder":
        subs = tmp_path / "nowhere"
    if case == "no_mnist":
        args = ["--only", "mlp.accuracy", "--data-root", str(tmp_path / "no_data")]
    if case == "zero_workers":
        args += ["--workers", "0"]
    if case == "unknown_item":
        args += ["--only", "mlp.backwards"]
    proc = run_batch(subs, tmp_path / "out", *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    expected = {"missing_folder": "is not a folder", "no_submissions": "holds no submissions",
                "no_mnist": "MNIST", "zero_workers": "--workers 0", "unknown_item": "No check id starts with"}[case]
    assert expected in proc.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


# ------------------------------------------------------------------------------------ training, once

def test_accuracy_checks_run_in_the_batch(tmp_path):
    """The one trained case: the MLP of a single reference submission (about 20 s). Its feedback shows
    the accuracy and the training plots once published, and not before; publishing grades nothing
    (the submissions are gone by then)."""
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    copy_reference(subs / "alice")
    proc = run_batch(subs, out, "--only", "mlp.accuracy", "--only", "mlp.backward")
    assert proc.returncode == 0, proc.stderr
    header, rows = read_grades(out)
    assert header == ["student", "score", "max_score", "status", "mlp.backward", "mlp.accuracy", "message"]
    assert rows["alice"]["status"] == "graded" and rows["alice"]["score"] == rows["alice"]["max_score"]
    folder = out / "students" / "alice"
    results = json.loads((folder / "results.json").read_text())
    validate(results)
    assert any(entry["name"] == "mlp accuracy" and entry["value"] > 90 for entry in results["leaderboard"])
    accuracy = "mlp.accuracy: test accuracy after training"

    def shown():
        text = (folder / "feedback.md").read_text()
        return ([name for name in LATER_CHECKS + (accuracy,) if name in text], "Training: MLP" in text,
                sorted(p.name for p in folder.glob("*.png")))

    assert shown() == ([], False, [])
    subs.rename(tmp_path / "gone")
    for stage, expected in (("due", (list(LATER_CHECKS), False, [])),
                            ("published", (list(LATER_CHECKS) + [accuracy], True, [
                                "feedback_mlp_confusion.png", "feedback_mlp_curves.png", "feedback_mlp_misclassified.png"]))):
        published = subprocess.run([sys.executable, "-m", "grader", "publish", str(out), "--stage", stage], cwd=ROOT,
                                   capture_output=True, text=True, timeout=120)
        assert published.returncode == 0, published.stderr
        assert shown() == expected, stage
