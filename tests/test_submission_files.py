"""Submissions as students' machines write them: zips made on Windows, files in other encodings."""
import zipfile

import gradertools as gt

ONLY = ("functional.sigmoid", "mlp.forward", "cnn.conv2d_forward")


def full_marks(run):
    assert run.returncode == 0 and run.results is not None, gt.describe(run)
    names = [t["name"] for t in run.results["tests"]]
    assert all(any(n.startswith(item) for n in names) for item in ONLY), gt.describe(run)
    lost = [n for n, t in zip(names, run.results["tests"]) if gt.lost_points(t)]
    assert not lost, f"lost points in {lost}\n" + gt.describe(run)


def test_zip_with_windows_backslash_paths(tmp_path):
    """PowerShell's Compress-Archive (5.1) stores hw2\\functional.py: still the three files."""
    archive = tmp_path / "hw2.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in gt.CONTRACT_FILES:
            zf.writestr(zipfile.ZipInfo(f"hw2\\{name}"), (gt.SOLUTION / name).read_bytes())
    full_marks(gt.run_grader(archive, tmp_path / "results.json", only=ONLY))


def test_file_with_a_coding_line_is_read_as_python_reads_it(tmp_path):
    """A latin-1 file with its PEP 263 line imports fine in Python, so it must grade fine too."""
    submission = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    text = (submission / "functional.py").read_text(encoding="utf-8")
    text = "# -*- coding: latin-1 -*-\n# Übung 2, Gradienten von Hand\n" + text
    (submission / "functional.py").write_bytes(text.encode("latin-1"))
    full_marks(gt.run_grader(submission, tmp_path / "results.json", only=ONLY))
