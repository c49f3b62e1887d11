"""`mnist-grader publish OUT_DIR --stage due|published`: a batch's feedback reports rewritten from the
stored reports when the due date passes or grades are published, without grading again.

The batch folder here is made by hand (a report of every rubric check, nothing graded or trained),
and the submission it names does not exist: publish must never need it. tests/test_batch.py runs
publish on real batches too."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import gradertools as gt
from grader import publish
from grader.feedback import STAGES, write_feedback
from grader.formats.report_json import report_to_dict
from grader.report import CheckResult, build_report
from grader.rubric import load_rubric

ROOT = gt.ROOT
HIDDEN_ROW = "policy.no_torch: only allowed imports"


def make_report(submission):
    rows = [dataclasses.replace(row, visibility="hidden") if row.id == HIDDEN_ROW else row for row in load_rubric().rows]
    results = {row.id: CheckResult(row.id, "failed", f"HINT-FOR {row.id}") for row in rows}
    rng = np.random.default_rng(1)
    training = {model: {"accuracy": 0.5, "epoch_loss": [2.0, 1.5], "epoch_seconds": [1.0, 1.0],
                        "predictions": rng.integers(0, 10, 10_000).tolist()} for model in ("mlp", "cnn")}
    return build_report(submission, rows, results, 1.0, "bwrap",
                        extras={"mlp.accuracy": 0.5, "cnn.accuracy": 0.5, "training": training})


@pytest.fixture
def batch_out(tmp_path):
    """OUT_DIR as a batch leaves it before the due date: alice graded (report.json, an "open" feedback
    report), bob an error row (no report.json). Alice's submission folder is gone."""
    out = tmp_path / "out"
    alice = out / "students" / "alice"
    report = make_report(tmp_path / "submissions" / "alice")
    alice.mkdir(parents=True)
    (alice / "report.json").write_text(json.dumps(report_to_dict(report)))
    write_feedback(report, alice, data_root=ROOT / "data")
    (out / "students" / "bob").mkdir()
    (out / "students" / "bob" / "batch.json").write_text('{"status": "error"}')
    assert not (tmp_path / "submissions").exists()
    return out, report


def run_publish(out, *args):
    return subprocess.run([sys.executable, "-m", "grader", "publish", str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def names(report, *visibilities):
    return [t.id for t in report.results if t.visibility in visibilities]


def test_publish_reveals_each_stage_from_the_stored_reports(batch_out):
    out, report = batch_out
    folder = out / "students" / "alice"
    later = names(report, "after_due_date")
    accuracy = names(report, "after_published")
    assert later and accuracy
    text = (folder / "feedback.md").read_text()
    assert not any(name in text for name in later + accuracy) and "Training: MLP" not in text

    due = run_publish(out, "--stage", "due")
    assert due.returncode == 0, due.stderr
    assert "1 student" in due.stdout and "bob" in due.stdout and "Traceback" not in due.stderr
    text, page = (folder / "feedback.md").read_text(), (folder / "feedback.html").read_text()
    for document in (text, page):
        assert all(name in document for name in later) and not any(name in document for name in accuracy)
        assert "Training: MLP" not in document and HIDDEN_ROW not in document
    assert json.loads((out / publish.STAGE_FILE).read_text()) == {"stage": "due"}
    assert publish.read_stage(out) == "due"

    published = run_publish(out, "--stage", "published", "--data-root", str(ROOT / "data"))
    assert published.returncode == 0, published.stderr
    text = (folder / "feedback.md").read_text()
    assert all(name in text for name in later + accuracy) and HIDDEN_ROW not in text
    assert "Training: MLP" in text and "Training: CNN" in text
    assert {p.name for p in folder.glob("*.png")} >= {"feedback_mlp_curves.png", "feedback_cnn_confusion.png"}
    assert not (out / "students" / "bob" / "feedback.md").exists()

    back = run_publish(out, "--stage", "open")           # published by mistake: take it back
    assert back.returncode == 0, back.stderr
    text = (folder / "feedback.md").read_text()
    assert not any(name in text for name in later + accuracy) and not list(folder.glob("*.png"))


def test_a_report_that_cannot_be_read_is_named_and_the_others_still_written(batch_out):
    out, report = batch_out
    carol = out / "students" / "carol"
    carol.mkdir()
    (carol / "report.json").write_text('{"submission": "carol", "tes')
    proc = run_publish(out, "--stage", "due")
    assert proc.returncode == 1
    assert "carol (its report.json cannot be read" in proc.stderr and "Traceback" not in proc.stderr
    assert names(report, "after_due_date")[0] in (out / "students" / "alice" / "feedback.md").read_text()


def test_publish_needs_the_folder_of_a_batch(tmp_path):
    proc = run_publish(tmp_path, "--stage", "due")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "has no students/ folder" in proc.stderr


def test_the_stage_file_names_a_known_stage_or_counts_as_open(tmp_path):
    assert set(publish.STAGE_HELP) == set(STAGES)
    assert publish.read_stage(tmp_path) == "open"
    for content in ("not json", '{"stage": "everything"}', "[1]"):
        (tmp_path / publish.STAGE_FILE).write_text(content)
        assert publish.read_stage(tmp_path) == "open"
    (tmp_path / publish.STAGE_FILE).write_text('{"stage": "published"}')
    assert publish.read_stage(tmp_path) == "published"
