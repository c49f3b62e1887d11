"""Every mutant of solution/ loses points in the items it breaks, and only there.

Each mutant (tests/mutants.py) is a realistic student bug: one small text edit of one reference
file. The real grader grades solution/ with that edit; a mutant that keeps full marks is a bug the
grader cannot see, and points lost elsewhere break "a bug costs points once".
"""
import pytest

import gradertools as gt
from mutants import MUTANTS



def test_mutant_table_is_consistent():
    """Do the ids, files and items of the table make sense?"""
    ids = [m.id for m in MUTANTS]
    assert len(MUTANTS) >= 30
    assert len(ids) == len(set(ids)), "duplicate mutant ids"
    for m in MUTANTS:
        assert m.file in gt.CONTRACT_FILES, m.id
        assert m.breaks, f"{m.id} breaks nothing"
        assert m.old != m.new, m.id
        unknown = [i for i in m.breaks + m.may_break if i not in gt.ITEMS]
        assert not unknown, f"{m.id}: unknown items {unknown}"
        assert not set(m.breaks) & set(m.may_break), f"{m.id}: an item is both in breaks and may_break"
        if m.file in gt.MODEL_ITEMS:                             # gt.mutant_skip leaves the other model out
            assert all(i.startswith((gt.MODEL_ITEMS[m.file], "policy.")) for i in m.breaks + m.may_break), m.id
        if "policy.vectorized" in m.breaks:                      # gt.mutant_skip keeps it for such edits
            assert m.file == "cnn.py" and not gt.vectorized_untouched(m), m.id
    assert sum(gt.vectorized_untouched(m) for m in MUTANTS if m.file == "cnn.py") >= 5     # the methods of CNN


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_mutant_edit_matches_the_reference_once(mutant):
    """Does the edit still apply to today's solution/ (exactly one match)?"""
    text = (gt.SOLUTION / mutant.file).read_text()
    assert text.count(mutant.old) == 1, f"`old` of {mutant.id} occurs {text.count(mutant.old)} times"
    compile(gt.apply_mutant(mutant, text), mutant.file, "exec")


def test_reference_gets_full_marks():
    """The baseline: solution/ itself gets every point of every item (accuracy skipped)."""
    skip = gt.default_skip()
    run = gt.reference_run(skip)
    problems = gt.run_problems(run, skip)
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)
    lost = [t["name"] for t in run.results["tests"] if gt.lost_points(t)]
    assert not lost, f"the reference loses points in {lost}\n{gt.describe(run)}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_mutant_loses_points_in_its_items_only(mutant):
    run = gt.mutant_run(mutant)
    skip = gt.mutant_skip(mutant)
    problems = gt.run_problems(run, skip)
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)

    by_item = gt.tests_by_item(run.results)
    unnoticed = [item for item in mutant.breaks if not any(gt.lost_points(t) for t in by_item.get(item, []))]
    assert not unnoticed, (f"{mutant.id} keeps full marks in {unnoticed}: the grader does not see this bug\n"
                           + gt.describe(run, items=unnoticed))

    allowed = set(mutant.breaks) | set(mutant.may_break)
    collateral = sorted(t["name"] for item, tests in by_item.items() if item not in allowed
                        for t in tests if gt.lost_points(t))
    assert not collateral, (f"{mutant.id} also costs points in {collateral} (a bug costs points once)\n"
                            + gt.describe(run, items={gt.item_of(n) for n in collateral}))
