"""grader/feedback.py: the student's feedback report (feedback.md with sibling PNGs, and one
self-contained feedback.html), rendered from real grading runs (about 60 s in all):

- the reference: the whole report (`grade --report`) of the suite's shared full grading of solution/
  (gradertools.reference_run: every check, both models trained, once per test run);
- a buggy submission (softmax over columns + MLP gradients that accumulate), graded in another
  process: its visible softmax checks and an after_due_date mlp.backward check fail, its MLP's
  training is stopped by the grader's replay of its SGD steps (so it has no training record), its
  CNN is not trained;
- and edited copies of those reports (no training) for broken records and hostile messages.

The HTML is then opened in headless Chromium (Debian's `chromium`), driven over the DevTools
protocol on a pipe (`--remote-debugging-pipe`: no driver, no websocket, no extra Python package),
at phone and laptop sizes: every image decodes, no console error, nothing is fetched from outside the
page, the page never scrolls sideways; full-page screenshots go to the test's tmp dir and to
artifacts/feedback_screenshot_<name>_<size>.png. Without Chromium those tests skip (fail under CI).
"""
import base64
import copy
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gradertools as gt
from data_scripts.fetch_mnist import verify
from grader.checks.accuracy import SETTINGS
from grader.feedback import REFERENCE_CURVES, STAGES, load_reference_curves, write_feedback
from grader.formats.report_json import report_from_dict
from grader.rubric import load_rubric
from mutants import MUTANTS

ROOT = gt.ROOT
ARTIFACTS = ROOT / "artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE_PICTURES = {f"feedback_{model}_{kind}.png" for model in ("mlp", "cnn")
                      for kind in ("curves", "confusion", "misclassified")} | {"feedback_cnn_filters.png"}
ACCURACY_CHECK = "mlp.accuracy: test accuracy after training"     # after_published
HIDDEN_CHECK = "mlp.backward: no accumulation"        # visibility after_due_date in grader/rubric.toml
HOSTILE = '<script>alert("x")</script><img src="https://example.com/x.png"> `` ``` done'


# ------------------------------------------------------------------------------------ reports

def write_buggy_submission(dest):
    mutants = {m.id: m for m in MUTANTS}
    folder = gt.write_mutant(mutants["softmax_over_columns"], dest)
    mlp = folder / "mlp.py"
    mlp.write_text(gt.apply_mutant(mutants["mlp_backward_accumulates"], mlp.read_text()))
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """{"reference": Report, "buggy": Report}, both read back from report.json data."""
    if verify(ROOT / "data"):
        pytest.skip("MNIST is not in data/ (run scripts/setup.sh)")
    work = tmp_path_factory.mktemp("graded")
    buggy = write_buggy_submission(work / "buggy")
    other = gt.run_grader(buggy, work / "buggy-results.json", only=("functional.softmax", "mlp.backward", "mlp.accuracy"),
                          report_json=work / "buggy.json", timeout=300)
    reference = gt.reference_run()
    for run in (other, reference):
        assert run.returncode == 0 and run.report is not None, gt.describe(run)
    return {"reference": report_from_dict(reference.report), "buggy": report_from_dict(other.report)}


@pytest.fixture(scope="module")
def reference_report(reports):
    return reports["reference"]


@pytest.fixture(scope="module")
def buggy_report(reports):
    return reports["buggy"]


def test_training_results_wait_until_the_accuracy_is_published(reports, tmp_path):
    for stage in ("open", "due"):
        markdown, page = write_feedback(reports["reference"], tmp_path / stage, data_root=ROOT / "data", stage=stage)
        assert pictures_in(tmp_path / stage) == set() and "<img" not in page.read_text()
        for document in (markdown.read_text(), page.read_text()):
            assert "Training: " not in document and ".accuracy" not in document and "test accuracy" not in document
    write_feedback(reports["reference"], tmp_path / "published", data_root=ROOT / "data", stage="published")
    assert pictures_in(tmp_path / "published") == REFERENCE_PICTURES
    write_feedback(reports["reference"], tmp_path / "staff", data_root=ROOT / "data", show_hidden=True)
    assert pictures_in(tmp_path / "staff") == REFERENCE_PICTURES


@pytest.fixture(scope="module")
def reference_feedback(reference_report, tmp_path_factory):
    return write_feedback(reference_report, tmp_path_factory.mktemp("feedback") / "reference", data_root=ROOT / "data",
                          stage="published")


@pytest.fixture(scope="module")
def buggy_feedback(buggy_report, tmp_path_factory):
    return write_feedback(buggy_report, tmp_path_factory.mktemp("feedback") / "buggy", data_root=ROOT / "data",
                          stage="published")


class Attributes(html.parser.HTMLParser):
    """Every tag of a page with its attributes, and the text of <style> elements."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.styles, self._in_style = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def pictures_in(folder):
    return {p.name for p in Path(folder).glob("*.png")}


def markdown_links(text):
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)


# ------------------------------------------------------------------------------------ what each stage shows
# A report made by hand from the rubric (nothing graded, nothing trained): every check failed with a
# message that names it, and a training record for both models; one visible check made "hidden".

HIDDEN_ROW = "policy.no_torch: only allowed imports"


class ShownChecks(html.parser.HTMLParser):
    """The check ids listed on a feedback page (<li><span class="badge">..</span><code>id</code>) and
    the rows of its "Results by item" table (item, score, passed)."""

    def __init__(self, text):
        super().__init__()
        self.checks, self.items, self.path, self.row = [], [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.path.append(tag)
        if tag == "tr":
            self.row = []

    def handle_endtag(self, tag):
        if tag == "tr" and self.row and len(self.row) == 3:
            self.items.append(tuple(self.row))
        while self.path and self.path.pop() != tag:
            pass

    def handle_data(self, data):
        if self.path[-2:] == ["li", "code"]:
            self.checks.append(data)
        elif self.row is not None and "td" in self.path:
            if self.path[-1] == "td" or self.path[-2:] == ["td", "code"]:
                self.row.append(data)


def markdown_checks(text):
    return re.findall(r"^- \*\*[A-Z]+\*\* `([^`]+)` \(", text, flags=re.M)


@pytest.fixture(scope="module")
def staged_report():
    import dataclasses
    from grader.report import CheckResult, build_report
    rows = [dataclasses.replace(row, visibility="hidden") if row.id == HIDDEN_ROW else row for row in load_rubric().rows]
    assert {row.visibility for row in rows} == {"visible", "hidden", "after_due_date", "after_published"}
    results = {row.id: CheckResult(row.id, "failed", f"HINT-FOR {row.id}") for row in rows}
    rng = np.random.default_rng(0)
    training = {model: {"accuracy": 0.5, "epoch_loss": [2.0, 1.5, 1.2], "epoch_seconds": [1.0, 1.0, 1.0],
                        "predictions": rng.integers(0, 10, 10_000).tolist()} for model in ("mlp", "cnn")}
    training["cnn"]["conv_W"] = rng.normal(size=(8, 1, 3, 3)).tolist()
    return build_report("alice", rows, results, 1.0, "bwrap",
                        extras={"mlp.accuracy": 0.5, "cnn.accuracy": 0.5, "training": training})


@pytest.mark.parametrize("stage", ["open", "due", "published", "staff"])
def test_the_report_names_only_the_checks_of_its_stage(staged_report, stage, tmp_path):
    """Before the due date no after_due_date, after_published or hidden check is named, counted or
    scored anywhere, and there is no training section; each stage adds its own; hidden only for staff."""
    options = {"show_hidden": True} if stage == "staff" else {"stage": stage}
    markdown, page = write_feedback(staged_report, tmp_path, data_root=ROOT / "data", **options)
    text, html_text = markdown.read_text(), page.read_text()
    visibilities = ("visible", "hidden", "after_due_date", "after_published") if stage == "staff" else STAGES[stage]
    shown = [t for t in staged_report.results if t.visibility in visibilities]
    unseen = [t for t in staged_report.results if t.visibility not in visibilities]
    assert ShownChecks(html_text).checks == markdown_checks(text) == [t.id for t in shown]
    for document in (text, html.unescape(html_text)):
        for t in unseen:
            assert t.id not in document and t.message not in document, (stage, t.id)
        for t in shown:
            assert t.message in document
    items = {}
    for t in shown:
        items.setdefault(t.item, []).append(t)
    assert ShownChecks(html_text).items == [(item, f"0 / {sum(t.max_score for t in tests):g}", f"0 / {len(tests)}")
                                            for item, tests in items.items()]
    assert f"Score: 0 / {sum(t.max_score for t in shown):g}" in text
    assert ("also grades checks not shown here" in text) == bool(unseen)
    published = stage in ("published", "staff")
    for document in (text, html_text):
        assert ("Training: MLP" in document and "Training: CNN" in document) == published
        assert ("accuracy" in document.lower()) == published
    assert ("<img" in html_text) == published and bool(pictures_in(tmp_path)) == published
    if stage == "open":
        assert "mlp.backward: no accumulation" not in text and "Passed" in text
        mlp_backward = next(row for row in ShownChecks(html_text).items if row[0] == "mlp.backward")
        assert mlp_backward[2] == f"0 / {sum(t.item == 'mlp.backward' and t.visibility == 'visible' for t in staged_report.results)}"


# ------------------------------------------------------------------------------------ files

def test_reference_feedback_writes_every_picture_as_a_valid_png(reference_feedback):
    import matplotlib.image
    from PIL import Image
    markdown, page = reference_feedback
    assert markdown.name == "feedback.md" and page.name == "feedback.html" and markdown.parent == page.parent
    assert pictures_in(markdown.parent) == REFERENCE_PICTURES
    for name in REFERENCE_PICTURES:
        path = markdown.parent / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        with Image.open(path) as image:
            image.verify()
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 300, (name, pixels.shape)
        assert pixels[..., :3].std() > 0.05, f"{name} is blank"


def test_markdown_references_exactly_the_sibling_pngs(reference_feedback):
    markdown, _ = reference_feedback
    links = markdown_links(markdown.read_text())
    assert sorted(links) == sorted(REFERENCE_PICTURES)
    for link in links:
        assert "/" not in link and (markdown.parent / link).is_file(), link


def test_html_is_one_file_with_the_pngs_as_data_uris(reference_feedback):
    markdown, page = reference_feedback
    text = page.read_text()
    parsed = Attributes(text)
    images = [attrs for tag, attrs in parsed.tags if tag == "img"]
    embedded = sorted(base64.b64decode(attrs["src"].split(",", 1)[1]) for attrs in images)
    assert embedded == sorted((markdown.parent / name).read_bytes() for name in REFERENCE_PICTURES)
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            if name in attrs:
                assert attrs[name].startswith("data:image/png;base64,"), (tag, name, attrs[name][:80])
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert not any(tag in ("script", "link", "iframe", "object", "embed") for tag, _ in parsed.tags)
    assert not re.search(r"url\(|@import|https?://", "".join(parsed.styles))
    assert all(img.get("alt") and int(img["width"]) > 0 and int(img["height"]) > 0 for img in images)
    assert {"viewport", "Content-Security-Policy"} <= {a.get("name") or a.get("http-equiv")
                                                       for t, a in parsed.tags if t == "meta"}


def test_reference_feedback_reports_scores_accuracy_and_the_reference_curve(reference_report, reference_feedback):
    markdown, _ = reference_feedback
    text = markdown.read_text()
    shown = [t for t in reference_report.results if t.visibility in STAGES["published"]]
    assert f"Score: {sum(t.score for t in shown):g} / {sum(t.max_score for t in shown):g}" in text
    for model in ("mlp", "cnn"):
        accuracy = reference_report.extras["training"][model]["accuracy"]
        assert f"test accuracy is {100 * accuracy:.2f}%" in text
    assert "the reference:" in text and "**FAIL**" not in text


def test_buggy_feedback_shows_each_check_from_its_stage_on(buggy_report, buggy_feedback, tmp_path):
    markdown, page = buggy_feedback                        # published: visible, after_due_date, after_published
    text, html_text = markdown.read_text(), page.read_text()
    tests = {t.id: t for t in buggy_report.results}
    failed_visible = [t for t in buggy_report.results if t.visibility == "visible" and t.status == "failed"]
    assert failed_visible and all(t.item == "functional.softmax" for t in failed_visible)
    for t in failed_visible:
        assert t.message.splitlines()[0] in text, t.id
    later = tests[HIDDEN_CHECK]
    assert later.status == "failed" and later.message and later.visibility == "after_due_date"
    assert f"- **FAIL** `{HIDDEN_CHECK}` (0 / 1)" in text
    accuracy = tests[ACCURACY_CHECK]
    assert accuracy.status == "failed" and "SGD steps" in accuracy.message and "mlp" not in buggy_report.extras["training"]
    for document in (text, html_text):
        assert later.message.splitlines()[0][:60] in html.unescape(document)
        assert accuracy.message.splitlines()[0][:60] in html.unescape(document)     # the published accuracy check
    assert f"The grader could not train your MLP to the end (see {ACCURACY_CHECK} above)" in text
    assert "The CNN was not trained in this run" in text
    assert pictures_in(markdown.parent) == set()

    early, early_page = write_feedback(buggy_report, tmp_path / "open", data_root=ROOT / "data", stage="open")
    for document in (early.read_text(), early_page.read_text()):
        assert "no accumulation" not in document and "no stale cache" not in document
        assert later.message.splitlines()[0][:60] not in html.unescape(document)
        assert accuracy.message.splitlines()[0][:60] not in html.unescape(document)
        assert "mlp.accuracy" not in document and "Training: MLP" not in document
        assert "The CNN was not trained in this run" in document       # not graded at all: nothing to hide
    assert pictures_in(tmp_path / "open") == set()


def test_show_hidden_adds_the_hidden_messages_for_instructors(buggy_report, tmp_path):
    markdown, page = write_feedback(buggy_report, tmp_path, data_root=ROOT / "data", show_hidden=True)
    hidden = {t.id: t for t in buggy_report.results}[HIDDEN_CHECK]
    assert hidden.message.splitlines()[0] in markdown.read_text()
    assert {t.id: t for t in buggy_report.results}[ACCURACY_CHECK].message.splitlines()[0] in markdown.read_text()
    assert f"**Score: {buggy_report.score:g} / {buggy_report.max_score:g}**" in markdown.read_text()


def test_without_training_the_report_says_so_and_drops_old_pictures(reference_report, tmp_path):
    """The accuracy checks skipped: no plots, a sentence instead; pictures of an earlier run go."""
    write_feedback(reference_report, tmp_path, data_root=ROOT / "data", stage="published")
    assert pictures_in(tmp_path) == REFERENCE_PICTURES
    untrained = copy.deepcopy(reference_report)
    untrained.results = [t for t in untrained.results if not t.item.endswith(".accuracy")]
    untrained.extras = {"training": {}}
    markdown, page = write_feedback(untrained, tmp_path, data_root=ROOT / "data")
    text = markdown.read_text()
    for name in ("MLP", "CNN"):
        assert f"The {name} was not trained in this run (its accuracy check was skipped)" in text
    assert pictures_in(tmp_path) == set() and markdown_links(text) == []
    assert "<img" not in page.read_text()


def test_broken_training_records_are_described_not_drawn(reference_report, tmp_path):
    report = copy.deepcopy(reference_report)
    mlp, cnn = report.extras["training"]["mlp"], report.extras["training"]["cnn"]
    mlp["epoch_loss"] = [float("nan"), float("inf"), 2.3] + mlp["epoch_loss"][3:]
    mlp["predictions"] = mlp["predictions"][:100]
    cnn["conv_W"] = [[1.0, 2.0]]
    markdown, _ = write_feedback(report, tmp_path / "a", data_root=ROOT / "data", stage="published")
    text = markdown.read_text()
    assert "not a finite number (NaN or inf) in epoch 1, 2" in text
    assert "the predictions do not match the test set" in text
    assert "conv_W is not a finite array of shape (F, C, kh, kw)" in text
    assert pictures_in(tmp_path / "a") == {"feedback_mlp_curves.png", "feedback_cnn_curves.png",
                                           "feedback_cnn_confusion.png", "feedback_cnn_misclassified.png"}
    del report.extras["training"]["cnn"]                      # the accuracy check ran, training did not finish
    markdown, _ = write_feedback(report, tmp_path / "b", data_root=ROOT / "data", stage="published")
    assert ("The grader could not train your CNN to the end (see cnn.accuracy: test accuracy after training above), "
            "so there are no training plots.") in markdown.read_text()


def test_missing_test_set_still_draws_the_curves(reference_report, tmp_path):
    markdown, _ = write_feedback(reference_report, tmp_path / "out", data_root=tmp_path / "no-mnist-here",
                                 stage="published")
    assert "No confusion matrix or misclassified digits: the MNIST test set could not be read here" in markdown.read_text()
    assert pictures_in(tmp_path / "out") == {"feedback_mlp_curves.png", "feedback_cnn_curves.png", "feedback_cnn_filters.png"}


def test_student_text_is_escaped_in_html_and_fenced_in_markdown(buggy_report, tmp_path):
    report = copy.deepcopy(buggy_report)
    softmax = next(t for t in report.results if t.status == "failed" and t.visibility == "visible")
    softmax.message = HOSTILE
    markdown, page = write_feedback(report, tmp_path, data_root=ROOT / "data")
    parsed = Attributes(page.read_text())
    assert not any(tag == "script" for tag, _ in parsed.tags)
    assert all(attrs.get("src", "data:").startswith("data:") for _, attrs in parsed.tags)
    assert "&lt;script&gt;" in page.read_text()
    fence = re.search(r"\n  (`{4,})text\n  " + re.escape(HOSTILE) + r"\n  \1\n", markdown.read_text())
    assert fence, "the message must sit in a fence longer than any backtick run inside it"


def test_reference_curves_are_recorded_for_todays_training_settings():
    """grader/reference_training.json: regenerate with benchmarks/reference_curves.py when this fails."""
    document = json.loads(REFERENCE_CURVES.read_text())
    curves = load_reference_curves()
    assert set(curves) == {"mlp", "cnn"}, "recorded with other settings than grader/checks/accuracy.py"
    thresholds = load_rubric().accuracy
    for model, runs in curves.items():
        assert document["models"][model]["settings"]["epochs"] == SETTINGS[model]["epochs"]
        assert runs[0]["seed"] == 0, "the grader trains with seed 0: record it first"
        for run in runs:
            assert len(run["epoch_loss"]) == SETTINGS[model]["epochs"]
            assert np.all(np.diff(run["epoch_loss"]) < 0), "the reference's loss goes down every epoch"
            assert run["accuracy"] >= thresholds[model]["threshold"]
    assert REFERENCE_CURVES.stat().st_size < 10_000


def test_cli_feedback_flag_writes_the_report(tmp_path):
    submission = write_buggy_submission(tmp_path / "buggy")
    out = tmp_path / "feedback"
    run = gt.run_grader(submission, tmp_path / "results.json", only=("functional.softmax",),
                        extra_args=("--feedback", str(out)), timeout=120)
    assert run.returncode == 0 and not run.leftovers, gt.describe(run)
    assert sorted(p.name for p in out.iterdir()) == ["feedback.html", "feedback.md"]
    assert "It looks like softmax normalizes over columns" in (out / "feedback.md").read_text()
    assert "functional.softmax: values match the reference" in (out / "feedback.html").read_text()


# ------------------------------------------------------------------------------------ in a browser

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")
VIEWPORTS = {"phone": dict(width=390, height=844, deviceScaleFactor=2, mobile=True),
             "laptop": dict(width=1280, height=800, deviceScaleFactor=1, mobile=False)}


def find_chromium():
    for candidate in [os.environ.get("CHROMIUM", "")] + list(CHROMIUM_CANDIDATES):
        path = shutil.which(candidate) if candidate else None
        if path:
            return path
    return None


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe: Chromium reads JSON commands,
    each ended by a NUL byte, on its fd 3 and writes replies and events on its fd 4."""

    def __init__(self, executable, profile, log):
        to_chromium, commands = os.pipe()
        answers, from_chromium = os.pipe()

        def plumb():                              # in the child, before exec: the pipes become fds 3 and 4
            os.dup2(to_chromium, 3)
            os.dup2(from_chromium, 4)

        with open(log, "wb") as stderr:
            self.process = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                            pass_fds=(3, 4), preexec_fn=plumb, start_new_session=True)
        os.close(to_chromium)
        os.close(from_chromium)
        self.commands = os.fdopen(commands, "wb", buffering=0)
        self.answers = os.fdopen(answers, "rb", buffering=0)
        self.last_id, self.replies, self.events = 0, {}, []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        pending = b""
        while chunk := self.answers.read(1 << 16):
            pending += chunk
            *messages, pending = pending.split(b"\0")
            with self.changed:
                for message in map(json.loads, messages):
                    if "id" in message:
                        self.replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self.changed.notify_all()

    def _wait(self, found, what, timeout):
        deadline = time.monotonic() + timeout
        with self.changed:
            while (result := found()) is None:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"Chromium: no {what} within {timeout} s (exit code {self.process.poll()})")
                self.changed.wait(0.1)
            return result

    def send(self, method, session=None, timeout=30, **params):
        self.last_id += 1
        number = self.last_id
        message = {"id": number, "method": method, "params": params, **({"sessionId": session} if session else {})}
        self.commands.write(json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda: self.replies.pop(number, None), f"reply to {method}", timeout)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def wait_for(self, method, session, timeout=30):
        return self._wait(lambda: next((e for e in self.events if e["method"] == method
                                        and e.get("sessionId") == session), None), method, timeout)

    def session_events(self, session):
        with self.changed:
            return [e for e in self.events if e.get("sessionId") == session]

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
            self.process.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)       # its own session: Chromium and its helpers
            self.process.wait()
        self.commands.close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium; scripts/setup.sh does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("chromium")
    browser = Chromium(executable, folder / "profile", folder / "chromium.log")
    try:
        browser.send("Browser.getVersion", timeout=60)        # the first start can be slow
        yield browser
    finally:
        browser.close()


PAGE_FACTS = """Promise.all(Array.from(document.images, img => img.decode().then(() => img.naturalWidth, () => 0)))
  .then(widths => ({widths, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
                    height: document.documentElement.scrollHeight, title: document.title}))"""


def open_in_browser(browser, page, viewport, screenshot):
    """Load page at one viewport; returns (page facts, error messages, fetched URLs); saves a full-page screenshot."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session)
        browser.send("Emulation.setDeviceMetricsOverride", session, **VIEWPORTS[viewport])
        browser.send("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired", session)
        facts = browser.send("Runtime.evaluate", session, expression=PAGE_FACTS, awaitPromise=True,
                             returnByValue=True)["result"]["value"]
        shot = browser.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                            clip=dict(x=0, y=0, width=facts["innerWidth"], height=facts["height"], scale=1))
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        events = browser.session_events(session)
    finally:
        browser.send("Target.closeTarget", targetId=target)
    errors = [json.dumps(e["params"])[:300] for e in events
              if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert", "warning"))
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
    fetched = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    return facts, errors, fetched


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", ["reference", "buggy"])
def test_feedback_page_in_a_real_browser(name, viewport, chromium, request, tmp_path):
    markdown, page = request.getfixturevalue(f"{name}_feedback")
    facts, errors, fetched = open_in_browser(chromium, page, viewport, tmp_path / "screenshot.png")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "screenshot.png", ARTIFACTS / f"feedback_screenshot_{name}_{viewport}.png")
    assert facts["title"].startswith("Feedback for")
    assert len(facts["widths"]) == len(markdown_links(markdown.read_text())) == len(pictures_in(page.parent))
    assert all(width > 0 for width in facts["widths"]), f"images that did not load: {facts['widths']}"
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in fetched), fetched
    assert facts["innerWidth"] == VIEWPORTS[viewport]["width"]           # the meta viewport is honoured
    assert facts["scrollWidth"] <= facts["innerWidth"], "the page scrolls sideways"
    assert (tmp_path / "screenshot.png").read_bytes()[:8] == PNG_SIGNATURE
