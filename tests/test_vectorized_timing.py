"""policy.vectorized's timings in one grading: the reference is timed in one trusted child for both of
its checks, stopped with the group's, on inputs drawn once and timed again for the student."""
from collections import Counter

import gradertools as gt
from grader.checks import rules
from grader.grade import grade
from grader.reference import SOLUTION_DIR
from grader.rubric import load_rubric
from grader.sandbox import process


def test_both_checks_time_one_reference_child_on_inputs_drawn_once(monkeypatch):
    children, draws = [], Counter()
    start, draw = process.ChildProcess.__init__, rules.conv_args

    def started(self, submission_dir, *args, **kwargs):
        children.append((self, submission_dir))
        start(self, submission_dir, *args, **kwargs)

    def drawn(*args):
        draws[args] += 1
        return draw(*args)
    monkeypatch.setattr(process.ChildProcess, "__init__", started)
    monkeypatch.setattr(rules, "conv_args", drawn)
    report = grade(gt.SOLUTION, load_rubric(None), only=("policy.vectorized",))

    assert [r.status for r in report.results] == ["passed", "passed"], report.results
    references = [child for child, folder in children if folder == SOLUTION_DIR]
    assert len(references) == 1, children
    assert references[0].closed and not references[0].alive
    assert draws and max(draws.values()) == 1, [args for args, n in draws.items() if n > 1]
