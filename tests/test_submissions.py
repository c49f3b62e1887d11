"""Whole submissions through the real grader.

tests/alternatives/<name>/: other CORRECT ways to write the three files; each must get full marks.
tests/submissions/<case>/: hostile or broken submissions; each must be graded safely (exit 0,
within the time bound, complete report, no process left behind) and scored as
tests/submissions/expectations.py says. Adding a case is adding a folder and an EXPECT entry.
"""
from pathlib import Path

import pytest

import gradertools as gt

needs_grader = pytest.mark.skipif(not gt.HAVE_GRADER, reason=gt.NO_GRADER_REASON)

EXPECT = gt.load_expectations()
HOSTILE = gt.case_folders(gt.SUBMISSIONS)
ALTERNATIVES = gt.case_folders(gt.ALTERNATIVES)
ACCURACY_ALTERNATIVE = "dtype_preserving"     # the one alternative that is also trained (both models)


# ------------------------------------------------------------------------------------ the folders

def test_every_hostile_folder_has_an_expectation_and_a_readme():
    assert set(HOSTILE) == set(EXPECT), "folders and EXPECT entries differ"
    for case in HOSTILE:
        readme = gt.SUBMISSIONS / case / "README"
        assert readme.is_file() and readme.read_text().strip(), f"{case} has no README"


@pytest.mark.parametrize("case", sorted(EXPECT))
def test_expectation_is_well_formed(case):
    exp = EXPECT[case]
    assert set(exp) <= {"zero", "full", "lose", "skip", "note"}, case
    prefixes = tuple(exp.get("zero", ())) + tuple(exp.get("full", ())) + tuple(exp.get("lose", ()))
    for prefix in prefixes + tuple(exp.get("skip", ())):
        assert any(gt.matches(item, (prefix,)) for item in gt.ITEMS), f"{case}: {prefix!r} matches no item"
    for item in gt.ITEMS:
        kinds = [k for k in ("zero", "full", "lose") if gt.matches(item, exp.get(k, ()))]
        assert len(kinds) <= 1, f"{case}: {item} is in {kinds}"


def test_alternatives_are_complete():
    assert len(ALTERNATIVES) >= 6 and ACCURACY_ALTERNATIVE in ALTERNATIVES
    for name in ALTERNATIVES:
        for filename in gt.CONTRACT_FILES:
            assert (gt.ALTERNATIVES / name / filename).is_file(), f"{name} has no {filename}"


# ------------------------------------------------------------------------------------ alternatives

@needs_grader
@pytest.mark.parametrize("name", ALTERNATIVES)
def test_alternative_correct_solution_gets_full_marks(name, tmp_path):
    submission = gt.copy_submission(gt.ALTERNATIVES / name, tmp_path / "submission")
    skip = () if name == ACCURACY_ALTERNATIVE else gt.default_skip()
    run = gt.run_grader(submission, tmp_path / "results.json", skip=skip)
    problems = gt.run_problems(run, skip)
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)
    lost = [t["name"] for t in run.results["tests"] if gt.lost_points(t)]
    assert not lost, (f"the correct alternative {name} loses points in {lost}\n"
                      + gt.describe(run, items={gt.item_of(n) for n in lost}))


# ------------------------------------------------------------------------------------ hostile cases

FAKE_PLACES = (gt.ROOT / "results.json", Path("/tmp/results.json"))


def remove_fakes(paths):
    """Delete the fake results files our hostile code wrote; returns the ones found."""
    found = []
    for path in paths:
        try:
            if gt.FAKE_MARKER in path.read_text(errors="replace"):
                path.unlink()
                found.append(path)
        except OSError:
            pass
    return found


@needs_grader
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_submission_is_graded_safely(case, tmp_path):
    exp = EXPECT[case]
    skip = tuple(exp.get("skip", gt.default_skip()))
    submission = gt.copy_submission(gt.SUBMISSIONS / case, tmp_path / "submission")
    out = tmp_path / "results.json"          # writes_fake_results aims ../results.json at it
    root_fake_before = FAKE_PLACES[0].exists()
    try:
        run = gt.run_grader(submission, out, skip=skip)
    finally:
        fakes = remove_fakes(FAKE_PLACES + (submission / "results.json",))
    problems = gt.run_problems(run, skip)
    if not root_fake_before and FAKE_PLACES[0] in fakes:
        problems.append("the submission wrote results.json into the grader's working directory")
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)

    results = run.results
    tests = results["tests"]
    assert not any(gt.FAKE_MARKER in str(t.get("name", "")) for t in tests), "the fake results got into the report"

    # the report lists every check the reference gets, with the same points available
    reference = gt.reference_run(skip)
    assert not gt.run_problems(reference, skip), gt.describe(reference)
    assert sorted(t["name"] for t in tests) == sorted(t["name"] for t in reference.results["tests"])
    assert results.get("max_score") == pytest.approx(reference.results.get("max_score"))
    assert results["score"] == pytest.approx(sum(gt.score(t) for t in tests))

    by_item = gt.tests_by_item(results)
    zero, full, lose = exp.get("zero", ()), exp.get("full", ()), exp.get("lose", ())
    failures = []
    for item, item_tests in sorted(by_item.items()):
        if gt.matches(item, zero):
            failures += [f"{t['name']}: {gt.score(t):g} points, expected 0" for t in item_tests if not gt.is_zero(t)]
        elif gt.matches(item, full):
            failures += [f"{t['name']}: {gt.score(t):g}/{gt.max_score(t):g}, expected full marks"
                         for t in item_tests if not gt.is_full(t)]
        elif gt.matches(item, lose) and not any(gt.lost_points(t) for t in item_tests):
            failures.append(f"{item}: full marks, expected to lose points")
    allowed = sum(gt.max_score(t) for item, item_tests in by_item.items() if not gt.matches(item, zero)
                  for t in item_tests)
    if results["score"] > allowed + 1e-9:
        failures.append(f"score {results['score']} exceeds the {allowed} points this submission can deserve")
    assert not failures, (f"{case}: {exp['note']}\n  " + "\n  ".join(failures) + "\n"
                          + gt.describe(run, items={gt.item_of(f) for f in failures}))
