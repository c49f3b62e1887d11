"""The grader's own process must stay safe whatever the child does in the folder they share.

Student code can reach child.py's globals: it is the child's __main__ module (walking up from an
exception's frame no longer works: the child's tripwire refuses tb_frame, but the module is in
sys.modules), and from there plant files where the grader (often root) writes inputs or reads answers:
- a symlink where the next input goes: the grader must never write through it;
- a FIFO where the next input goes: the grader must not block on it;
- an answer that promises a 1.5 GB array in a few bytes: the grader must refuse it, not make it.
Each time the grader must finish with a complete report, and the attack must cost the student the
checks it broke.
"""
import pytest

import gradertools as gt

WALK = '''
import warnings as _warnings


def _child_globals():
    """child.py's module globals: the child runs it as __main__."""
    names = vars(getattr(_warnings.sys, "mod" + "ules")["__main__"])
    return names if "Child" in names else None


_G = _child_globals()
'''

ATTACKS = {
    "symlink": WALK + '''
if _G is not None:
    for _k in range(1, 120):             # where the grader will write the inputs of requests 1..119
        try:
            _G["os"].symlink("{target}_%d.arr" % _k, "in_%d.arr" % _k)
        except OSError:
            pass
''',
    "fifo": WALK + '''
if _G is not None:
    for _k in range(1, 120):
        try:
            _G["os"].mkfifo("in_%d.arr" % _k)
        except OSError:
            pass
''',
    "huge_answer": WALK + '''
if _G is not None:
    import json as _json

    def _huge(file, arrays, meta=None):  # every answer: an array of 1.5 GB promised in a 128-byte file
        table = [["zz", "|u1", [1_500_000_000], "C", 0, 1_500_000_000]]
        header = _json.dumps({"meta": meta, "arrays": table}).encode()
        head = _G["MAGIC"] + len(header).to_bytes(8, "little") + header
        file.write(head + bytes(-len(head) % 64) + bytes(64))
    _G["write_arrays"] = _huge
''',
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_child_cannot_turn_the_shared_folder_against_the_grader(attack, tmp_path):
    submission = gt.copy_submission(gt.ROOT / "solution", tmp_path / "submission")
    target = tmp_path / "written_by_the_grader"
    functional = submission / "functional.py"
    text = functional.read_text()
    anchor = "import numpy as np\n"
    assert anchor in text
    functional.write_text(text.replace(anchor, anchor + ATTACKS[attack].replace("{target}", str(target)), 1))

    skip = gt.default_skip()
    run = gt.run_grader(submission, tmp_path / "results.json", skip=skip, timeout=300)
    problems = gt.run_problems(run, skip)
    assert not problems, "\n".join(problems) + "\n" + gt.describe(run)
    assert not list(tmp_path.glob("written_by_the_grader*")), "the grader wrote through the child's symlink"
    lost = [t["name"] for t in run.results["tests"] if gt.lost_points(t)]
    assert "functional.sigmoid: values match the reference" in lost, (
        f"the {attack} attack broke the answers of functional.sigmoid, yet it kept its points\n" + gt.describe(run))
