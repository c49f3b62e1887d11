"""The submissions of tests/forgeries.py, graded by the real grader (accuracy skipped): each tries to earn
points from a measurement taken in its own process, or from fixed inputs it can recognize, and must
lose exactly those points while everything it does right keeps full marks."""
import pytest

import gradertools as gt
from forgeries import FORGERIES
from hostile import Hostile

CASES = [pytest.param(case, mode, id=f"{case.id}-{mode}") for case in FORGERIES for mode in case.modes]


@pytest.mark.parametrize("case", FORGERIES, ids=lambda c: c.id)
def test_forgery_edits_apply_to_the_reference(case):
    sources = gt.hostile_sources(Hostile(case.id, case.note, case.edits))
    for file, text in sources.items():
        compile(text, file, "exec")
    for prefix in case.full:
        assert any(gt.matches(item, (prefix.split(": ")[0],)) for item in gt.ITEMS), f"{case.id}: {prefix!r}"


@pytest.mark.parametrize("case, mode", CASES)
def test_forgery_loses_what_it_forged(case, mode, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_GRADER_SANDBOX", mode)          # inherited by the grader gradertools starts
    submission = gt.write_hostile(Hostile(case.id, case.note, case.edits), tmp_path / "submission")
    skip = gt.default_skip()
    run = gt.run_grader(submission, tmp_path / "results.json", skip=skip)
    problems = gt.run_problems(run, skip)
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)
    tests = {t["name"]: t for t in run.results["tests"]}
    failures = [f"{name}: {gt.score(tests[name]):g} points, expected 0" if name in tests else f"no check {name!r}"
                for name in case.zero if name not in tests or not gt.is_zero(tests[name])]
    for name, test in tests.items():
        if any(name == prefix or (": " not in prefix and gt.matches(gt.item_of(name), (prefix,)))
               for prefix in case.full) and not gt.is_full(test):
            failures.append(f"{name}: {gt.score(test):g}/{gt.max_score(test):g}, expected full marks")
    assert not failures, (f"{case.id} ({mode}): {case.note}\n  " + "\n  ".join(failures) + "\n"
                          + gt.describe(run, items={f.split(": ")[0] for f in failures}))
