"""The rubric's input salt: answers looked up for the public kit's inputs are worth nothing in grading.

The public kit is built and run with salt 0, and ships the reference's answers for its inputs. A
submission can carry those answers as a lookup table instead of computing anything. Graded with salt 0
it passes; graded with the course's salt (grader/rubric.toml) the inputs are new and it fails.
"""
import numpy as np

import gradertools as gt
from grader import cases
from grader.checks.functional import SHAPES
from grader.rubric import DEFAULT

CHECK = "functional.softmax: values match the reference"

LOOKUP = '''
_ANSWERS = {answers!r}


def softmax(z):
    """Answers copied from the public kit's inputs; no softmax at all."""
    z = np.asarray(z, dtype=float)
    for inputs, answer in _ANSWERS:
        inputs = np.array(inputs)
        if z.shape == inputs.shape and (np.array_equal(z, inputs) or np.array_equal(z, inputs + 1000.0)):
            return np.array(answer)
    return np.full(z.shape, 1.0 / z.shape[-1])
'''


def public_answers():
    answers = []
    for n, k in SHAPES:
        z = cases.logits(20 + n, n, k)            # this process never grades: salt 0, the public inputs
        e = np.exp(z - z.max(axis=1, keepdims=True))
        answers.append((z.tolist(), (e / e.sum(axis=1, keepdims=True)).tolist()))
    return answers


def test_salt_zero_only_outside_grading_and_fixed_inputs_ignore_it():
    assert cases.SALT == 0
    with cases.salted(2026):
        salted, fixed = cases.logits(21, 1, 4), cases.rng(96, fixed=True).normal(size=3)
    assert not np.array_equal(salted, cases.logits(21, 1, 4))
    assert np.array_equal(fixed, cases.rng(96).normal(size=3))
    assert cases.SALT == 0


def test_answers_copied_from_the_public_inputs_fail_with_the_course_salt(tmp_path):
    submission = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    functional = submission / "functional.py"
    functional.write_text(functional.read_text() + LOOKUP.format(answers=public_answers()))

    course = DEFAULT.read_text()
    assert "\nsalt = 0" not in course, "the shipped rubric must not use the public kit's salt"
    public = tmp_path / "public_salt.toml"
    public.write_text(course.replace("[inputs]\n", "[inputs]\nsalt = 0\n", 1).replace("\nsalt = 2026", "\n"))

    def lost(rubric):
        run = gt.run_grader(submission, tmp_path / f"{rubric.stem}.json", only=(CHECK,),
                            extra_args=("--rubric", str(rubric)))
        assert run.returncode == 0 and run.results, gt.describe(run)
        return [t["name"] for t in run.results["tests"] if gt.lost_points(t)]

    assert lost(public) == [], "the lookup table should fool the grader on the public inputs (salt 0)"
    assert lost(DEFAULT) == [CHECK], "with the course's salt the copied answers must fail"
