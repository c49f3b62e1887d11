"""`mnist-grader handin`: a zip of exactly the three contract files, written only when each is there,
parses and imports (in a child, as grading imports them); it says what will be graded."""
import subprocess
import sys
import zipfile

import pytest

import gradertools as gt
from grader.rubric import load_rubric

ROOT = gt.ROOT


def handin(folder, out, *args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", "handin", str(folder), "--out", str(out), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def folder(tmp_path):
    """The reference's contract files beside the other files of a student's folder."""
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "hw")
    for name in ("train.py", "data.py"):
        (folder / name).write_text((ROOT / "solution" / name).read_text())
    (folder / "runs").mkdir()
    (folder / "runs" / "mlp_curves.png").write_bytes(b"\x89PNG")
    (folder / "notes.txt").write_text("my notes")
    return folder


def test_the_zip_holds_exactly_the_three_files(folder, tmp_path):
    out = tmp_path / "hw.zip"
    done = handin(folder, out)
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == list(gt.CONTRACT_FILES)
        for name in gt.CONTRACT_FILES:
            assert archive.read(name) == (folder / name).read_bytes()
    assert f"Wrote {out}: functional.py, mlp.py, cnn.py and nothing else." in done.stdout


def test_it_says_what_will_be_graded_visible_and_not(folder, tmp_path):
    done = handin(folder, tmp_path / "hw.zip")
    rubric = load_rubric()
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.startswith("  ")}
    for item in {row.item for row in rubric.rows}:
        points = sum(row.points for row in rubric.rows if row.item == item)
        public = sum(row.points for row in rubric.rows if row.item == item and row.visibility == "visible")
        assert rows[item][:2] == [f"{points:g}", f"{public:g}"], item
    assert rows["mlp.backward"][2:] == ["2", "(2", "hidden", "checks)"]
    bar = load_rubric(None).accuracy["mlp"]["threshold"]
    assert f"test accuracy at least {100 * bar:.1f}% after training" in " ".join(rows["mlp.accuracy"])
    assert rows["total"] == ["128", "108", "20"]


def test_a_syntax_error_is_named_with_file_and_line_and_no_zip_is_written(folder, tmp_path):
    text = (folder / "mlp.py").read_text()
    (folder / "mlp.py").write_text(text.replace("        N = X.shape[0]\n", "        N = X.shape[0\n", 1))
    line = text.splitlines().index("        N = X.shape[0]") + 1
    out = tmp_path / "hw.zip"
    done = handin(folder, out)
    assert done.returncode == 1
    assert f"mlp.py line {line} does not parse" in done.stdout and "N = X.shape[0" in done.stdout
    assert "No zip was written" in done.stdout and not out.exists()


def test_a_missing_file_is_named(folder, tmp_path):
    (folder / "cnn.py").unlink()
    out = tmp_path / "hw.zip"
    done = handin(folder, out)
    assert done.returncode == 1
    assert "cnn.py is missing" in done.stdout and not out.exists()


def test_a_file_that_fails_to_import_is_named_with_its_line(folder, tmp_path):
    """Parsing is not enough: importing runs the module's top level, in a child process."""
    text = (folder / "cnn.py").read_text()
    (folder / "cnn.py").write_text(text.replace("import numpy as np\n", "import numpy as np\nimport scipy_not_here\n", 1))
    done = handin(folder, tmp_path / "hw.zip")
    assert done.returncode == 1
    assert "importing cnn.py raised ModuleNotFoundError: No module named 'scipy_not_here'" in done.stdout
    assert "cnn.py:3 in <module>" in done.stdout


def test_the_skeleton_can_be_handed_in_and_is_told_what_is_not_written(tmp_path):
    out = tmp_path / "hw.zip"
    done = handin(ROOT / "assignment", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not written yet (they raise NotImplementedError): " in done.stdout and "functional.relu" in done.stdout
    assert zipfile.ZipFile(out).namelist() == list(gt.CONTRACT_FILES)
