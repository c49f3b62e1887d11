"""`mnist-grader export`: a batch's grades.csv in the layouts Canvas and Moodle import, through a
roster; whatever cannot be matched is listed (output and file), never dropped or turned into a 0.

grades.csv is written by the batch's own writer (grader.batch.Batch), so the format read here is the
one a batch writes; every output is read back with csv."""
import csv
import subprocess
import sys

from grader.batch import Batch
from grader.rubric import load_rubric

import gradertools as gt

ROOT = gt.ROOT


def write_grades(out, scores, errors=()):
    """OUT/grades.csv as a batch writes it: scores {student: points}, errors [student]."""
    rows = load_rubric().select()
    items = list(dict.fromkeys(row.item for row in rows))
    max_score = sum(row.points for row in rows)
    states = {student: {"student": student, "status": "graded", "score": score, "max_score": max_score,
                        "items": {item: 0.0 for item in items}} for student, score in scores.items()}
    states.update({student: {"student": student, "status": "error", "message": "The process grading this "
                             "submission died"} for student in errors})
    Batch(out, rows, states, [], {"rubric": "rubric.toml", "only": [], "skip": [], "public": False}).write_grades()
    return max_score


def write_roster(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:        # with a BOM, as Excel saves it
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def export(*args):
    return subprocess.run([sys.executable, "-m", "grader", "export", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# ------------------------------------------------------------------------------------ tests

def test_matches_are_exported_and_the_rest_is_listed(tmp_path):
    """A roster with matches (one through a .zip name), a folder no roster row names, a roster row
    no folder matches, and a submission that could not be graded: Canvas's and Moodle's files hold
    exactly the matched, graded students; the other three are in unmatched.csv and the output."""
    out = tmp_path / "out"
    write_grades(out, {"alice": 112.0, "bob": 97.5, "dave": 80.0}, errors=["carol"])
    roster = write_roster(tmp_path / "roster.csv", [
        ["Folder", "Student", "Canvas ID", "SIS User ID", "SIS Login ID", "Section", "Email address"],
        ["alice", "Smith, Alice", "101", "S1", "asmith", "Sec 1", "alice@uni.edu"],
        ["bob.zip", "Jones, Bob", "102", "S2", "bjones", "Sec 2", "BOB@uni.edu"],
        ["carol", "Lee, Carol", "104", "S4", "clee", "Sec 2", "carol@uni.edu"],
        ["franky", "Ng, Frank", "105", "S5", "fng", "Sec 2", "frank@uni.edu"],
    ])
    proc = export(out, "--roster", roster, "--canvas", tmp_path / "canvas.csv", "--moodle", tmp_path / "moodle.csv",
                  "--assignment", "HW2 (12345)")
    assert proc.returncode == 0, proc.stderr

    assert read(tmp_path / "canvas.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW2 (12345)"],
        ["Smith, Alice", "101", "S1", "asmith", "Sec 1", "112"],
        ["Jones, Bob", "102", "S2", "bjones", "Sec 2", "97.5"],
    ]
    assert read(tmp_path / "moodle.csv") == [
        ["Email address", "HW2"],
        ["alice@uni.edu", "112"],
        ["BOB@uni.edu", "97.5"],
    ]
    unmatched = read(out / "unmatched.csv")
    assert unmatched[0] == ["kind", "name", "detail"]
    listed = {(kind, name) for kind, name, _ in unmatched[1:]}
    assert listed == {("not graded", "carol"), ("folder without a roster row", "dave"),
                      ("roster row without a submission", "franky")}
    for kind, name in listed:
        assert f"{kind}: {name}" in proc.stderr
    assert "Matched 2 of the 4 submissions" in proc.stdout and "3 not exported" in proc.stdout


def test_a_typo_in_the_roster_is_listed_with_the_closest_folder(tmp_path):
    out = tmp_path / "out"
    write_grades(out, {"alice_smith": 100.0})
    roster = write_roster(tmp_path / "roster.csv", [["folder", "sis_login_id"], ["alice_smiht", "asmith"]],
                          delimiter=";")
    proc = export(out, "--roster", roster, "--canvas", tmp_path / "canvas.csv", "--assignment", "HW2")
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "canvas.csv") == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW2"]]
    rows = {(kind, name): detail for kind, name, detail in read(out / "unmatched.csv")[1:]}
    assert "closest: alice_smith" in rows[("roster row without a submission", "alice_smiht")]
    assert "closest: alice_smiht" in rows[("folder without a roster row", "alice_smith")]


def test_cells_are_never_formulas_and_formula_like_folders_still_match(tmp_path):
    """A folder whose name starts with "=" (grades.csv shows it with an apostrophe) matches its roster
    row; a name and a section that are formulas come out as text."""
    out = tmp_path / "out"
    write_grades(out, {"=1+1": 50.0})
    assert read(out / "grades.csv")[1][0] == "'=1+1"
    roster = write_roster(tmp_path / "roster.csv", [
        ["folder", "name", "canvas_id", "section", "idnumber"],
        ["=1+1", '=HYPERLINK("http://x","y")', "7", "@SUM(A1)", "-2"],
    ])
    proc = export(out, "--roster", roster, "--canvas", tmp_path / "canvas.csv", "--moodle", tmp_path / "moodle.csv",
                  "--moodle-id", "idnumber", "--assignment", "HW2 (1)")
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "canvas.csv")[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "7", "", "", "'@SUM(A1)", "50"]
    assert read(tmp_path / "moodle.csv") == [["ID number", "HW2"], ["'-2", "50"]]
    assert read(out / "unmatched.csv") == [["kind", "name", "detail"]]


def test_two_folders_for_one_lms_user_are_listed_not_exported(tmp_path):
    """Two grades for one LMS user would overwrite each other at import: neither is written."""
    out = tmp_path / "out"
    write_grades(out, {"ann": 10.0, "ann_resubmitted": 90.0, "ben": 50.0})
    roster = write_roster(tmp_path / "roster.csv", [
        ["folder", "email"], ["ann", "ann@uni.edu"], ["ann_resubmitted", "Ann@Uni.edu"], ["ben", ""]])
    proc = export(out, "--roster", roster, "--moodle", tmp_path / "moodle.csv", "--assignment", "HW2")
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "moodle.csv") == [["Email address", "HW2"]]
    listed = {(kind, name) for kind, name, _ in read(out / "unmatched.csv")[1:]}
    assert listed == {("Moodle identifier shared", "ann"), ("Moodle identifier shared", "ann_resubmitted"),
                      ("no Moodle identifier in the roster", "ben")}


def test_a_roster_it_cannot_use_is_an_actionable_error(tmp_path):
    out = tmp_path / "out"
    write_grades(out, {"ann": 10.0})
    no_folder = write_roster(tmp_path / "a.csv", [["name", "canvas_id"], ["Ann", "1"]])
    proc = export(out, "--roster", no_folder, "--canvas", tmp_path / "c.csv", "--assignment", "HW2")
    assert proc.returncode == 2 and "no `folder` column" in proc.stderr and "Traceback" not in proc.stderr
    no_email = write_roster(tmp_path / "b.csv", [["folder", "canvas_id"], ["ann", "1"]])
    proc = export(out, "--roster", no_email, "--moodle", tmp_path / "m.csv", "--assignment", "HW2")
    assert proc.returncode == 2 and "no Moodle identifier" in proc.stderr
    twice = write_roster(tmp_path / "d.csv", [["folder", "canvas_id"], ["ann", "1"], ["ann", "2"]])
    proc = export(out, "--roster", twice, "--canvas", tmp_path / "c.csv", "--assignment", "HW2")
    assert proc.returncode == 2 and "twice (lines 2 and 3)" in proc.stderr
    proc = export(tmp_path / "nowhere", "--roster", twice, "--canvas", tmp_path / "c.csv", "--assignment", "HW2")
    assert proc.returncode == 2 and "mnist-grader batch" in proc.stderr
    assert not (tmp_path / "c.csv").exists() and not (tmp_path / "m.csv").exists()
