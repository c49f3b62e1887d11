"""Whole submissions through the real grader.

tests/alternatives/<name>/: other CORRECT ways to write the three files; each must get full marks.
tests/hostile.py: hostile or broken submissions, each a few text edits of solution/ built at test
time; each must be graded safely (exit 0, within the time bound, complete report, no process left
behind) and scored as its entry says. Adding a case is adding an entry to HOSTILE.
"""
from pathlib import Path

import pytest

import gradertools as gt
from hostile import HOSTILE


CASES = {case.id: case for case in HOSTILE}
ALTERNATIVES = gt.case_folders(gt.ALTERNATIVES)


# ------------------------------------------------------------------------------------ the table

def test_hostile_table_is_consistent():
    """Do the ids, notes, files and fake results of tests/hostile.py make sense?"""
    assert len(HOSTILE) >= 20
    assert len(CASES) == len(HOSTILE), "duplicate hostile ids"
    for case in HOSTILE:
        assert case.note.strip() and "\n" not in case.note, f"{case.id} needs a one-line note"
        assert case.edits or case.remove, f"{case.id} changes nothing"
        assert set(case.remove) <= set(gt.CONTRACT_FILES), case.id
        assert set(case.unparsable) <= set(gt.CONTRACT_FILES) - set(case.remove), case.id
        for file, old, new in case.edits:
            assert file in gt.CONTRACT_FILES and file not in case.remove, f"{case.id}: edits {file}"
            assert old and old != new, f"{case.id}: empty or no-op edit of {file}"
    for case_id in ("prints_fake_results", "writes_fake_results"):
        assert any(gt.FAKE_MARKER in new for _, _, new in CASES[case_id].edits), case_id


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_hostile_edits_match_the_reference_once(case):
    """Does every edit still apply to today's solution/ (exactly one match, in order)?"""
    for file, old, _ in case.edits:
        text = (gt.SOLUTION / file).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"`old` of {case.id} occurs {text.count(old)} times in solution/{file}"
    sources = gt.hostile_sources(case)               # also checks the count after the earlier edits
    assert sorted(sources) == sorted(set(gt.CONTRACT_FILES) - set(case.remove))
    for file, text in sources.items():
        if file in case.unparsable:
            with pytest.raises(SyntaxError):
                compile(text, file, "exec")
        else:
            compile(text, file, "exec")


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_expectation_is_well_formed(case):
    prefixes = case.zero + case.full + case.lose
    for prefix in prefixes + case.skip:
        assert any(gt.matches(item, (prefix,)) for item in gt.ITEMS), f"{case.id}: {prefix!r} matches no item"
    for item in gt.ITEMS:
        kinds = [k for k in ("zero", "full", "lose") if gt.matches(item, getattr(case, k))]
        assert len(kinds) <= 1, f"{case.id}: {item} is in {kinds}"


def test_alternatives_are_complete():
    assert len(ALTERNATIVES) >= 6
    for name in ALTERNATIVES:
        for filename in gt.CONTRACT_FILES:
            assert (gt.ALTERNATIVES / name / filename).is_file(), f"{name} has no {filename}"


# ------------------------------------------------------------------------------------ alternatives

@pytest.mark.parametrize("name", ALTERNATIVES)
def test_alternative_correct_solution_gets_full_marks(name, tmp_path):
    submission = gt.copy_submission(gt.ALTERNATIVES / name, tmp_path / "submission")
    skip = gt.default_skip()                  # one alternative is trained in test_accuracy_integrity.py
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


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_hostile_submission_is_graded_safely(case, tmp_path):
    skip = case.skip
    submission = gt.write_hostile(case, tmp_path / "submission")
    out = tmp_path / "results.json"          # writes_fake_results aims ../results.json at it
    root_fake_before = FAKE_PLACES[0].exists()
    extra = ()
    if case.call_seconds is not None:
        rubric = gt.rubric_with(tmp_path / "rubric.toml", "\ncall_seconds = 10 ", f"\ncall_seconds = {case.call_seconds:g} ")
        extra = ("--rubric", str(rubric))
    try:
        run = gt.run_grader(submission, out, skip=skip, extra_args=extra)
    finally:
        fakes = remove_fakes(FAKE_PLACES + (submission / "results.json",))
    problems = gt.run_problems(run, skip)
    if not root_fake_before and FAKE_PLACES[0] in fakes:
        problems.append("the submission wrote results.json into the grader's working directory")
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)

    results = run.results
    tests = results["tests"]
    assert not any(gt.FAKE_MARKER in str(t.get("name", "")) for t in tests), "the fake results got into the report"
    if case.call_seconds is not None:          # the rubric's limit holds for the import and every call
        assert any(f"within {case.call_seconds:g} s" in t["output"] for t in tests), gt.describe(run)
        assert not any("within 10 s" in t["output"] for t in tests), gt.describe(run)

    # the report lists every check the reference gets, with the same points available
    reference = gt.reference_run(skip)
    assert not gt.run_problems(reference, skip), gt.describe(reference)
    assert sorted(t["name"] for t in tests) == sorted(t["name"] for t in reference.results["tests"])
    assert results.get("max_score") == pytest.approx(reference.results.get("max_score"))
    assert results["score"] == pytest.approx(sum(gt.score(t) for t in tests))

    by_item = gt.tests_by_item(results)
    zero, full, lose = case.zero, case.full, case.lose
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
    assert not failures, (f"{case.id}: {case.note}\n  " + "\n  ".join(failures) + "\n"
                          + gt.describe(run, items={gt.item_of(f) for f in failures}))
