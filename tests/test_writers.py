"""Every output survives any string a student controls: exception messages, warnings, file names and
the names of the folders or zips a batch grades. Hostile strings (lone surrogates, every C0 and C1
control character, markup, spreadsheet formulas, very long text) go through each writer, and each
output is parsed back with a real parser: results.json with json and its schema, JUnit with
ElementTree and its XSD, grades.csv with csv, summary.md and feedback.md rendered by markdown-it,
feedback.html with html.parser, the terminal table checked for escape sequences.

Most cases build Report objects directly (fast); two run the real grader and the real batch on a
hostile submission and hostile names (no training)."""
import copy
import csv
import html.parser
import json
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import gradertools as gt
from grader import batch
from grader.feedback import write_feedback
from grader.formats.escape import FORMULA_START, markdown, spreadsheet
from grader.formats.gradescope import to_gradescope, write_gradescope
from grader.formats.junit import write_junit
from grader.formats.table import to_table
from grader.formats.report_json import report_to_dict
from grader.report import CheckResult, Report, build_report
from grader.rubric import load_rubric
from grader.text import clean, clean_name

ROOT = gt.ROOT
SCHEMAS = ROOT / "tests" / "schemas"
GRADESCOPE_SCHEMA = json.loads((SCHEMAS / "gradescope_results.json").read_text())
CONTROLS = "".join(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0)]))
# Characters no output may hold: control characters but tab and newline, lone surrogates, U+FFFE/U+FFFF
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
TERMINAL_SEQUENCE = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
CONV_W_SHAPE = (8, 1, 3, 3)          # the contract's CNN(): 8 filters, 1 channel, 3 x 3


def hostile_strings(seed=0, count=24):
    """Fixed hostile strings and random ones drawn from all of Unicode, surrogates and controls often."""
    rng = random.Random(seed)
    fixed = [CONTROLS, "\ud800", "a\udfffb\ud83d", "<script>alert(1)</script>", "]]>", "=cmd|' /C calc'!A0",
             "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1", "  =HYPERLINK(\"http://x\",\"y\")", "\uff1d1+1",
             TERMINAL_SEQUENCE + "text", "`` ``` ` code", "| a | b |", "*bold* _it_ [link](http://x) ![i](x.png)",
             "# heading", "1. list", "- item", "> quote", "<img src=x onerror=alert(1)>", "&amp; &lt;",
             "\u202eevil\u2066", "\ufffe\uffff", "line\r\nbreak\u2028sep\x85", "x" * 100_000,
             "\u00e9" * 30_000 + "\ud800" + "\x00" * 30_000, ""]
    pools = [lambda: rng.randrange(0, 0x110000), lambda: rng.randrange(0xD800, 0xE000), lambda: rng.randrange(0, 0xA0),
             lambda: ord(rng.choice("<>&'\"`|[]()*_#=+-@\\;!"))]
    randoms = ["".join(chr(rng.choice(pools)()) for _ in range(rng.randrange(1, 300))) for _ in range(count)]
    return fixed + randoms


STRINGS = hostile_strings()
ROWS = load_rubric().select(skip=("mlp.accuracy", "cnn.accuracy"))
STATUSES = ("failed", "error", "not_implemented", "passed")


def built_report(strings, submission="x"):
    """A report as the grader builds it, every check's message one of strings."""
    results = {row.id: CheckResult(row.id, STATUSES[i % 4], strings[i % len(strings)], 0.01)
               for i, row in enumerate(ROWS)}
    return build_report(submission, ROWS, results, 1.0, "bwrap", notes=strings[:5])


def raw_report(strings):
    """A report that never went through build_report: hostile text in every field, names included."""
    tests = [CheckResult(f"{strings[i % len(strings)]}: {strings[(i + 1) % len(strings)]}", STATUSES[i % 4],
                         strings[(i + 2) % len(strings)], 0.5, 0.0, 1.0, "visible") for i in range(len(strings))]
    return Report(strings[0] + strings[1], tests, 0.0, float(len(tests)), 2.0, "none", list(strings[:6]), {})


def chunks(strings, size=8):
    return [strings[i:i + size] for i in range(0, len(strings), size)]


REPORTS = [pytest.param(kind, i, id=f"{kind}-{i}") for kind in ("built", "raw") for i in range(len(chunks(STRINGS)))]


def make(kind, i):
    strings = chunks(STRINGS)[i]
    return built_report(strings, submission=strings[0]) if kind == "built" else raw_report(strings)


def assert_clean(text, where):
    bad = FORBIDDEN.search(text)
    assert bad is None, f"{where} holds {bad.group()!r} at {bad.start()}"
    text.encode("utf-8")


# ------------------------------------------------------------------------------------ the cleaning

def test_clean_removes_what_no_writer_accepts_and_caps_the_length():
    assert clean("a\ud800b") == "a\ufffdb"
    assert clean("a" + CONTROLS + "b") == "a\t\n\n\nb"           # CR and NEL are line breaks
    assert clean("one\r\ntwo\rthree\u2028four") == "one\ntwo\nthree\nfour"
    assert clean("\u202eevil") == "evil"
    long = clean("y" * 10_000, 100)
    assert len(long) <= 100 and long.startswith("y" * 50) and "more characters cut" in long
    assert clean(b"\xff bytes") == "\ufffd bytes" and clean(None) == "None"
    for s in STRINGS:
        assert_clean(clean(s), "clean()")
        assert clean(clean(s)) == clean(s)


def test_names_are_one_line_and_keep_apart_what_differs():
    assert clean_name("ab") != clean_name("a\x1bb") and clean_name("a\nb") == "a\ufffdb"
    assert clean_name("=HYPERLINK(1)") == "=HYPERLINK(1)"        # cleaning is not escaping: see the writers
    for s in STRINGS:
        name = clean_name(s)
        assert_clean(name, "clean_name()")
        assert "\n" not in name and "\t" not in name and len(name) <= 80 and len(name.encode()) <= 240


# ------------------------------------------------------------------------------------ each writer

@pytest.mark.parametrize("kind, i", REPORTS)
def test_results_json_is_valid_json_of_gradescopes_schema(kind, i, tmp_path):
    report = make(kind, i)
    write_gradescope(report, tmp_path / "results.json")
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert text.isascii()
    results = json.loads(text)
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert len(results["tests"]) == len(report.results)
    for test, written in zip(report.results, results["tests"]):
        assert_clean(written["output"] + written["name"], "results.json")
        if kind == "built" and test.status != "not_implemented":
            assert written["output"] == test.message


@pytest.mark.parametrize("kind, i", REPORTS)
def test_junit_parses_and_matches_the_xsd(kind, i, tmp_path):
    xmlschema = pytest.importorskip("xmlschema")
    report = make(kind, i)
    write_junit(report, tmp_path / "report.xml")
    tree = ET.parse(tmp_path / "report.xml")
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(str(tmp_path / "report.xml"))
    cases = list(tree.iter("testcase"))
    assert len(cases) == len(report.results)
    for test, case in zip(report.results, cases):
        problem = case.find("failure") if test.status in ("failed", "not_implemented") else case.find("error")
        if test.status != "passed":
            assert problem is not None and (problem.text or "") == clean(test.message, None)


@pytest.mark.parametrize("kind, i", REPORTS)
def test_the_table_holds_no_escape_sequence(kind, i):
    table = to_table(make(kind, i), width=80)
    assert_clean(table, "the table")
    assert "\x1b" not in table


class Page(html.parser.HTMLParser):
    """Tags with their attributes, and the text of every element of the given names."""

    def __init__(self, text, collect=("pre", "td", "code", "h1", "li")):
        super().__init__(convert_charrefs=True)
        self.tags, self.texts, self.open, self.collect = [], {name: [] for name in collect}, [], collect
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.collect:
            self.open.append([tag, ""])

    def handle_endtag(self, tag):
        if self.open and self.open[-1][0] == tag:
            name, text = self.open.pop()
            self.texts[name].append(text)
            if self.open:
                self.open[-1][1] += text

    def handle_data(self, data):
        if self.open:
            self.open[-1][1] += data


def rendered(markdown_text):
    markdown_it = pytest.importorskip("markdown_it")
    return Page(markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown_text))


MARKDOWN_TAGS = {"h1", "h2", "h3", "p", "strong", "em", "code", "pre", "ul", "li", "table", "thead", "tbody", "tr",
                 "th", "td", "img"}


def squeeze(text):
    return "".join(text.split())


@pytest.mark.parametrize("kind, i", REPORTS)
def test_feedback_markdown_and_html_show_student_text_as_text(kind, i, tmp_path):
    report = make(kind, i)
    markdown_path, html_path = write_feedback(report, tmp_path)
    for path in (markdown_path, html_path):
        assert_clean(path.read_text(encoding="utf-8"), path.name)
    md = rendered(markdown_path.read_text(encoding="utf-8"))
    assert {tag for tag, _ in md.tags} <= MARKDOWN_TAGS, "Markdown let markup through"
    shown = [clean(t.message) or ("Not written yet." if t.status == "not_implemented" else "")
             for t in report.results if t.status != "passed" and t.visibility == "visible"]
    shown = [text for text in shown if text]
    assert [squeeze(text) for text in md.texts["pre"]] == [squeeze(text) for text in shown]
    page = Page(html_path.read_text(encoding="utf-8"))
    assert {tag for tag, _ in page.tags} <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2",
                                             "p", "div", "table", "thead", "tbody", "tr", "th", "td", "code",
                                             "details", "summary", "span", "ul", "li", "pre"}
    assert page.texts["pre"] == shown
    title = "Feedback for " + clean_name(Path(report.submission).name or report.submission)
    assert [squeeze(text) for text in md.texts["h1"]] == [squeeze(title)] and page.texts["h1"] == [title]


@pytest.mark.parametrize("i", range(len(chunks(STRINGS))))
def test_grades_csv_and_summary_keep_student_ids_and_messages_as_text(i, tmp_path):
    strings = chunks(STRINGS)[i]
    rows = load_rubric().select(only=("functional.relu",))
    states = {}
    for n, s in enumerate(strings):
        student = f"{s}{n}"            # unique, whatever the string
        if n % 2:
            states[student] = batch.error_state({"student": student, "path": s}, s)
        else:
            states[student] = {"student": student, "status": "graded", "score": 1.0, "max_score": 5.0,
                               "items": {"functional.relu": 1.0}, "failed": [s], "feedback": "failed"}
    out = tmp_path / "out"
    summary = batch.Batch(out, rows, states, [f"note {s}" for s in strings],
                          {"rubric": strings[0], "only": [strings[1]], "skip": [], "public": False})
    summary.write_summary()
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert len(table) == 1 + len(states)
    for row in table:
        for value in row:
            assert_clean(value.replace("\n", ""), "grades.csv")
            assert not value.lstrip(" ").startswith(FORMULA_START), f"a formula: {value[:40]!r}"
    by_id = {row[0]: row for row in table[1:]}
    for student, state in states.items():
        assert spreadsheet(student) in by_id
        if state["status"] == "error":
            assert by_id[spreadsheet(student)][-1] == spreadsheet(state["message"])
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert_clean(text, "summary.md")
    page = rendered(text)
    assert {tag for tag, _ in page.tags} <= MARKDOWN_TAGS
    assert [attrs.get("src") for tag, attrs in page.tags if tag == "img"] == ["score_histogram.png"]
    errors = sorted((s for s in states.values() if s["status"] == "error"), key=lambda s: s["student"])
    cells = page.texts["td"][-2 * len(errors):]
    expected = [text for s in errors for text in (s["student"], s["message"])]
    assert [squeeze(c) for c in cells] == [squeeze(clean(e, None)) for e in expected]


def test_markdown_escaping_renders_to_the_text_itself():
    for s in STRINGS:
        if len(s) > 1000:
            continue
        page = rendered(f"| a |\n|---|\n| {markdown(s)} |\n")
        assert {tag for tag, _ in page.tags} <= {"table", "thead", "tbody", "tr", "th", "td"}, s
        assert squeeze(page.texts["td"][0]) == squeeze(clean(s)), s


# ------------------------------------------------------------------------------------ size caps

def training(conv_W, predictions=None, epochs=5):
    return {"accuracy": 0.97, "epoch_loss": [0.5] * epochs, "epoch_seconds": [1.0] * epochs,
            "predictions": list(predictions if predictions is not None else [3] * 10_000), "conv_W": conv_W}


def test_the_training_record_keeps_only_the_contracts_shapes():
    rows = load_rubric().select(only=("cnn.accuracy",))
    results = {rows[0].id: CheckResult(rows[0].id, "passed", "ok")}
    good = np.full(CONV_W_SHAPE, 0.25).tolist()
    report = build_report("x", rows, results, 1.0, "bwrap", extras={"cnn.accuracy": 0.97, "training": {
        "cnn": training(good), "mlp": training(np.zeros((100, 100, 3, 3)).tolist(), predictions=[1] * 10_001)}})
    cnn, mlp = report.extras["training"]["cnn"], report.extras["training"]["mlp"]
    assert cnn["conv_W"] == good and len(cnn["predictions"]) == 10_000
    assert "conv_W" not in mlp and "predictions" not in mlp and mlp["epoch_loss"] == [0.5] * 5
    assert len(json.dumps(report_to_dict(report))) < 200_000

    hostile = {"accuracy": float("nan"), "epoch_loss": [float("nan"), float("inf"), 0.5],
               "epoch_seconds": [1.0] * 1_000_000, "predictions": [11] * 10_000,
               "conv_W": np.full(CONV_W_SHAPE, np.inf).tolist(), "other": "x" * 10_000_000}
    report = build_report("x", rows, results, 1.0, "bwrap", extras={"training": {"cnn": hostile}, "junk": "y" * 10**6})
    assert report.extras == {"training": {"cnn": {"epoch_loss": [None, None, 0.5]}}}
    json.dumps(report_to_dict(report), allow_nan=False)


def test_messages_and_notes_are_capped(tmp_path):
    report = built_report(["z" * 1_000_000], submission="s" * 1_000_000)
    assert all(len(t.message) <= 4000 for t in report.results)
    assert len(report.submission) <= 1000 and all(len(n) <= 1000 for n in report.notes)
    write_gradescope(report, tmp_path / "results.json")
    assert (tmp_path / "results.json").stat().st_size < 1_000_000


def test_a_leaderboard_never_holds_nan_or_infinity():
    report = Report("x", [], 0.0, 0.0, 1.0, "none", [], {"mlp.accuracy": float("nan"), "cnn.accuracy": 0.5,
                    "training": {"mlp": {"epoch_seconds": [float("inf")]}, "cnn": {"epoch_seconds": [1e308, 1e308]}}})
    results = to_gradescope(report)
    json.dumps(results, allow_nan=False)
    assert results["leaderboard"] == [{"name": "cnn accuracy", "value": 50.0}]


# ------------------------------------------------------------------------------------ the real grader

HOSTILE_MESSAGE = "bad \\ud800 " + "".join(f"\\x{c:02x}" for c in (0, 0x0C, 0x1B, 0x7F)) + \
    " \\x1b]0;pwned\\x07\\x1b[2J <script>alert(1)</script> ]]> =cmd|' /C calc'!A0"


def hostile_submission(dest):
    """The reference, but sigmoid raises an exception whose message holds a lone surrogate, NUL,
    form feed, ESC sequences, markup and a formula."""
    folder = gt.copy_submission(gt.SOLUTION, dest)
    source = (folder / "functional.py").read_text()
    assert source.count("def sigmoid(z):") == 1
    (folder / "functional.py").write_text(source.replace(
        "def sigmoid(z):", f'def sigmoid(z):\n    raise ValueError("{HOSTILE_MESSAGE}")\n\n\ndef _sigmoid(z):'))
    return folder


def test_the_grader_reports_a_hostile_exception_message_in_every_format(tmp_path):
    folder = hostile_submission(tmp_path / "submission")
    junit, feedback = tmp_path / "report.xml", tmp_path / "feedback"
    run = gt.run_grader(folder, tmp_path / "results.json", only=("functional.sigmoid",),
                        extra_args=["--junit", str(junit), "--feedback", str(feedback)])
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.results is not None, run.results_error
    jsonschema.validate(run.results, GRADESCOPE_SCHEMA)
    assert run.results["score"] == 0 and len(run.results["tests"]) == 5
    message = run.results["tests"][0]["output"]
    assert "raised ValueError: bad \ufffd" in message and "<script>" in message
    assert_clean(message, "results.json")
    pytest.importorskip("xmlschema").XMLSchema(SCHEMAS / "junit.xsd").validate(str(junit))
    assert [case.find("failure").text for case in ET.parse(junit).iter("testcase")] == \
        [t["output"] for t in run.results["tests"]]
    assert "\x1b" not in run.stdout and "Score: 0 / " in run.stdout
    for name in ("feedback.md", "feedback.html"):
        assert_clean((feedback / name).read_text(encoding="utf-8"), name)
    assert "<script>" not in (feedback / "feedback.html").read_text()


def test_a_batch_of_hostile_names_has_a_row_for_every_student(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    names = [b"=HYPERLINK(\"http:--x\",\"click\")", b"title\x1b]0;pwned\x07\x1b[2J", b"latin1-\xe9\xff",
             b"<img src=x onerror=alert(1)>", b"tab\tand\nnewline"]
    for name in names:
        os.mkdir(os.path.join(os.fsencode(subs), name))
    open(os.path.join(os.fsencode(subs), names[2], b"\xff\x1b.txt"), "w").close()     # not UTF-8 inside either
    shutil.copy(gt.SOLUTION / "functional.py", subs / "=HYPERLINK(\"http:--x\",\"click\")" / "functional.py")
    (subs / "broken<img src=x onerror=alert(1)>.zip").write_bytes(b"not a zip")
    with zipfile.ZipFile(subs / "+cmd.zip", "w") as archive:
        archive.write(gt.SOLUTION / "functional.py", "functional.py")
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "--workers", "2",
                           "--only", "functional.relu"], cwd=ROOT, capture_output=True, timeout=600)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, stderr[-3000:]
    assert b"\x1b" not in proc.stdout + proc.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    ids = sorted(clean_name(os.fsdecode(name)) for name in names) + ["+cmd", "broken<img src=x onerror=alert(1)>"]
    assert sorted(row[0].removeprefix("'") for row in table[1:]) == sorted(ids)
    rows = {row[0].removeprefix("'"): dict(zip(table[0], row)) for row in table[1:]}
    assert rows['=HYPERLINK("http:--x","click")']["functional.relu"] == "5"
    assert rows["+cmd"]["score"] == "5" and rows["broken<img src=x onerror=alert(1)>"]["status"] == "error"
    assert all(not cell.startswith(FORMULA_START) for row in table for cell in row)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    for student in rows:
        if rows[student]["status"] == "graded":
            results = json.loads((out / "students" / student / "results.json").read_text())
            jsonschema.validate(results, GRADESCOPE_SCHEMA)


# ------------------------------------------------------------------------------------ no result is missing

def test_a_grader_crash_on_a_submission_is_an_error_entry_for_every_check(monkeypatch, tmp_path, capsys):
    """An unexpected exception while grading (a grader bug some submission triggers) still gives exit 0
    and every output, each selected check an error entry that says what happened."""
    from grader import cli, grade

    def crash(*args, **kwargs):
        raise RuntimeError("the grader tripped over \ud800\x1b[2J this submission")
    monkeypatch.setattr(grade, "grade", crash)
    code = cli.main(["grade", str(gt.SOLUTION), "--only", "functional.relu", "--json", str(tmp_path / "r.json"),
                     "--junit", str(tmp_path / "r.xml"), "--feedback", str(tmp_path / "fb")])
    assert code == 0
    results = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert len(results["tests"]) == 4 and results["score"] == 0
    assert all("internal error while grading this submission (RuntimeError: the grader tripped over \ufffd"
               in t["output"] for t in results["tests"])
    assert len(list(ET.parse(tmp_path / "r.xml").iter("error"))) == 4
    assert (tmp_path / "fb" / "feedback.html").is_file()
    out, err = capsys.readouterr()
    assert "ERROR" in out and "\x1b" not in out and "Traceback" in err


def test_a_writer_that_fails_is_retried_and_the_others_still_write(monkeypatch, tmp_path, capsys):
    """A feedback writer that fails on the training record writes without it; one that always fails
    is exit 2 with a sentence, after the JSON, JUnit and the table are written."""
    from grader import cli, feedback
    from grader.report import crashed_report

    report = crashed_report("s", load_rubric().select(only=("functional.relu",)), "m", 1.0)
    report.extras = {"training": {"mlp": {"epoch_loss": [1.0]}}}
    monkeypatch.setattr(cli, "grade_or_explain", lambda args, rubric: report)
    real = feedback.build_feedback

    def picky(report, *args, **kwargs):
        if report.extras:
            raise ValueError("cannot draw this")
        return real(report, *args, **kwargs)
    monkeypatch.setattr(feedback, "build_feedback", picky)
    args = ["grade", "s", "--json", str(tmp_path / "r.json"), "--feedback", str(tmp_path / "fb")]
    assert cli.main(args) == 0
    assert "the training results are left out" in (tmp_path / "fb" / "feedback.md").read_text()

    monkeypatch.setattr(feedback, "build_feedback", lambda *a, **k: 1 / 0)
    (tmp_path / "r.json").unlink()
    capsys.readouterr()
    assert cli.main(args + ["--junit", str(tmp_path / "r.xml")]) == 2
    out, err = capsys.readouterr()
    assert "error: Could not write the feedback report: ZeroDivisionError" in err and "Score: 0 / 5" in out
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.xml").is_file()
