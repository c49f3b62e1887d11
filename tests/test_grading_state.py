"""The grader's explicit state, without a child process: check groups, the GradingRun the checks
share, the time budget at its thresholds, typed call outcomes, and report.json's mapping."""
import json
import re
import sys
import time
import types
from pathlib import Path

import pytest

from grader import checks, static
from grader.checks import GROUPS, Context, GradingRun, load_all, rules
from grader.errors import CheckFailed, OutOfTime, StudentDied, StudentRaised
from grader.formats.report_json import report_from_dict, report_to_dict
from grader.grade import run_one
from grader.report import CheckResult, build_report
from grader.rubric import load_rubric
from grader.sandbox.process import ChildDied
from grader.sandbox.session import Session
from grader.submission import FILES, Submission
from grader.timebudget import CALL_NOT_RUN, CHECK_NOT_RUN, NO_LIMIT, START_SECONDS, TimeBudget, call_timeout

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------ check groups

def test_every_check_is_in_a_known_group_and_the_groups_are_where_the_docstring_says():
    registry = load_all()
    assert {c.group for c in registry.values()} <= set(GROUPS)
    for c in registry.values():
        item = c.id.split(":")[0]
        if item.startswith("functional."):
            assert c.group == "functional", c.id
        elif item.endswith(".accuracy"):
            assert c.group == item and GROUPS[item].trains, c.id
        elif item == "policy.no_torch":
            assert c.group == "policy", c.id          # no child: judged from the sources and the reports
        else:                                           # mlp.*, cnn.*, and policy.vectorized (times cnn.py)
            assert c.group == "models", c.id
    assert GROUPS["policy"].modules == () and "cnn" in GROUPS["models"].modules
    for name in GROUPS:
        assert f'"{name}"' in checks.__doc__, f"the checks' docstring does not say what {name!r} is"


@pytest.fixture
def fake_module(monkeypatch):
    """A module of checks of its own, registering into an empty registry."""
    module = types.ModuleType("grader.checks.fake_for_test")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(checks, "REGISTRY", {})

    def define():
        def function(ctx):
            return None
        function.__module__ = module.__name__
        return function
    return module, define


def test_a_check_without_a_group_or_with_an_unknown_one_is_refused(fake_module):
    module, define = fake_module
    with pytest.raises(ValueError, match="has no group"):
        checks.check("mlp.forward: something new")(define())
    with pytest.raises(ValueError, match="unknown group 'model'"):
        checks.check("mlp.forward: something new", group="model")(define())
    assert checks.REGISTRY == {}


def test_a_module_declares_its_group_once_and_a_check_may_name_another(fake_module):
    module, define = fake_module
    module.GROUP = "functional"
    checks.check("mlp.forward: declared by the module")(define())
    checks.check("mlp.forward: named by the check", group="policy")(define())
    assert {c.id: c.group for c in checks.REGISTRY.values()} == {
        "mlp.forward: declared by the module": "functional", "mlp.forward: named by the check": "policy"}


# ------------------------------------------------------------------------------------ GradingRun

def reference_submission():
    sources = {name: (ROOT / "solution" / name).read_text() for name in FILES}
    submission = Submission(ROOT / "solution", ROOT / "solution", sources)
    submission.scan = static.scan(sources, load_rubric().allowed_imports)
    return submission


def test_no_torch_reads_the_ban_attempts_from_the_grading_run():
    submission, rubric = reference_submission(), load_rubric()
    rules.no_autodiff(Context(None, submission, rubric, GradingRun()))          # nothing reported: passes
    line = submission.sources["mlp.py"].splitlines()[0].strip()
    attempt = {"kind": "import", "what": "torch", "where": [["mlp.py", 1]]}
    with pytest.raises(CheckFailed, match=re.escape(f"mlp.py:1: {line} tried to import torch")):
        rules.no_autodiff(Context(None, submission, rubric, GradingRun(banned_attempts=[attempt])))


# ------------------------------------------------------------------------------------ time budget

def test_the_submission_budget_at_its_threshold():
    budget = TimeBudget(end=100.0)
    assert not budget.spent(100.0 - START_SECONDS) and budget.spent(100.0 - START_SECONDS + 0.001)
    assert budget.spent(100.0) and budget.spent(150.0)
    assert not NO_LIMIT.spent(1e12)


def test_a_checks_deadline_is_its_own_budget_cut_to_the_submissions():
    budget = TimeBudget(end=100.0)
    assert budget.deadline(30.0, now=10.0) == 40.0            # its own budget ends first
    assert budget.deadline(30.0, now=90.0) == 100.0           # the submission's ends first
    assert budget.deadline(None, now=10.0) == 100.0           # no budget of its own
    assert NO_LIMIT.deadline(30.0, now=10.0) == 40.0 and NO_LIMIT.deadline(None, now=10.0) is None


def test_a_call_gets_what_is_left_and_is_not_started_below_the_threshold():
    assert call_timeout(None, 10.0, "relu(z)") == 10.0
    assert call_timeout(100.0, 10.0, "relu(z)", now=50.0) == 10.0
    assert call_timeout(100.0, 10.0, "relu(z)", now=95.0) == 5.0
    assert call_timeout(100.0, 10.0, "relu(z)", now=100.0 - START_SECONDS) == START_SECONDS
    with pytest.raises(OutOfTime) as caught:
        call_timeout(100.0, 10.0, "relu(z)", now=100.0 - START_SECONDS + 0.001)
    assert str(caught.value) == CALL_NOT_RUN.format(call="relu(z)") and "relu(z)" in str(caught.value)


class Student:
    deadline = "unset"


def test_run_one_does_not_start_a_check_once_the_budget_is_spent_and_sets_the_deadline_otherwise():
    called = []
    check = checks.Check("functional.relu: shape and dtype", lambda ctx: called.append(ctx), "functional", 30.0)
    ctx = Context(Student(), None, None, GradingRun())
    result = run_one(check, ctx, TimeBudget(time.monotonic() + START_SECONDS / 2))
    assert (result.status, result.message, called) == ("failed", CHECK_NOT_RUN, [])
    assert ctx.student.deadline == "unset"

    before = time.monotonic()
    result = run_one(check, ctx, TimeBudget(before + 1000.0))
    after = time.monotonic()
    assert result.status == "passed" and called == [ctx]
    assert before + 30.0 <= ctx.student.deadline <= after + 30.0
    run_one(check, ctx, TimeBudget(before + 10.0))
    assert ctx.student.deadline == before + 10.0


# ------------------------------------------------------------------------------------ typed outcomes

class Sent(Exception):
    pass


class StubChild:
    """Stands in for a ChildProcess: records the timeout of each request, then answers as told."""
    reports = None

    def __init__(self, answer):
        self.answer, self.timeouts = answer, []

    def request(self, op, inputs, timeout, **fields):
        self.timeouts.append(timeout)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def session_with(answer, deadline=None):
    session = Session(ROOT / "solution", ["functional"])
    session.child, session.deadline = StubChild(answer), deadline
    return session


def test_a_call_is_cut_to_its_checks_deadline_and_refused_when_too_little_is_left():
    session = session_with(Sent(), deadline=time.monotonic() + 1000.0)
    with pytest.raises(Sent):
        session._run("relu(z)", "call", 10.0, {}, fn="functional.relu")
    assert session.child.timeouts == [10.0]
    session = session_with(Sent(), deadline=time.monotonic() + START_SECONDS / 2)
    with pytest.raises(OutOfTime, match=r"ran out of time before relu\(z\)"):
        session._run("relu(z)", "call", 10.0, {}, fn="functional.relu")
    assert session.child.timeouts == []


@pytest.mark.parametrize("reason", ["", "used more than 3 GiB of memory"])
def test_a_child_that_stops_is_student_died(reason):
    with pytest.raises(StudentDied):
        session_with(ChildDied(reason))._run("relu(z)", "call", 10.0, {}, fn="functional.relu")


def test_an_exception_of_the_students_is_student_raised_with_its_type():
    error = {"type": "MemoryError", "message": "Unable to allocate 9 GiB", "frames": [], "not_implemented": False}
    with pytest.raises(StudentRaised) as caught:
        session_with(({"ok": False, "error": error}, {}))._run("relu(z)", "call", 10.0, {}, fn="functional.relu")
    assert caught.value.exception_type == "MemoryError" and "Unable to allocate" in str(caught.value)


# ------------------------------------------------------------------------------------ report.json

STORED = {      # a report.json as the batch has always written it (Gradescope's words)
    "submission": "alice", "tests": [
        {"name": "functional.relu: shape and dtype", "score": 1.0, "max_score": 1.0, "status": "passed",
         "output": "", "visibility": "visible", "seconds": 0.01},
        {"name": "mlp.backward: no accumulation", "score": 0.0, "max_score": 2.0, "status": "failed",
         "output": "HINT", "visibility": "after_due_date", "seconds": 0.2}],
    "score": 1.0, "max_score": 3.0, "execution_time": 1.5, "sandbox": "bwrap", "notes": ["n"], "extras": {}}


def test_report_json_keeps_its_words_and_reads_back_into_check_results():
    report = report_from_dict(json.loads(json.dumps(STORED)))
    assert [(r.id, r.status, r.message, r.visibility) for r in report.results] == [
        ("functional.relu: shape and dtype", "passed", "", "visible"),
        ("mlp.backward: no accumulation", "failed", "HINT", "after_due_date")]
    assert report.item_scores() == {"functional.relu": (1.0, 1.0), "mlp.backward": (0.0, 2.0)}
    assert json.dumps(report_to_dict(report)) == json.dumps(STORED)
    with pytest.raises(TypeError):
        report_from_dict(dict(STORED, results=[]))


def test_a_built_report_round_trips_through_report_json():
    rows = load_rubric().select(only=("functional.relu", "policy"))
    results = {row.id: CheckResult(row.id, "failed", f"because {row.id}", 0.25) for row in rows[::2]}
    report = build_report("x", rows, results, 2.0, "none", ["a note"])
    assert report_from_dict(json.loads(json.dumps(report_to_dict(report)))) == report
    assert [r.visibility for r in report.results] == [row.visibility for row in rows]
