"""No reference code enters the student's process in any form. When functional.py is broken, the
models are graded with the grader's functions, answered from the grader's process (grader/lent.py):
the child gets arrays back, never source, bytecode, a file or an object holding the reference.

The probe below is an mlp.py that, at import, searches everything the child can reach for the
reference's sigmoid (it is the only code in the kit that calls np.tanh): files in its working
folder, the `functional` module it is given and the code objects there. Before issue 9 the
reference's functional.py was compiled into the child's folder (functional.bin) and executed there,
so the probe found it and mlp.py would not import (mlp.* scored 0)."""
import gradertools as gt

PROBE = '''import os as _os, sys as _sys
def _reference_leaks():
    found = []
    for top, folders, files in _os.walk(_os.getcwd()):
        folders[:] = [f for f in folders if f != "submission"]
        for name in files:
            try:
                with open(_os.path.join(top, name), "rb") as f:
                    if b"tanh" in f.read():
                        found.append(name)
            except OSError:
                pass
    module = _sys.modules.get("functional")
    for value in vars(module).values() if module else ():
        code = getattr(value, "__code__", None)
        if code is not None and ("tanh" in code.co_names or any("tanh" in str(c) for c in code.co_consts)):
            found.append("functional." + getattr(value, "__name__", "?"))
    return found
if _reference_leaks():
    raise RuntimeError("the reference is reachable: " + ", ".join(_reference_leaks()))
'''


def test_a_broken_functional_is_lent_as_answers_not_code(tmp_path):
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    (folder / "functional.py").write_text("def sigmoid(z):\n    return z +\n")        # does not parse
    mlp = (folder / "mlp.py").read_text()
    (folder / "mlp.py").write_text(mlp.replace("from functional import sigmoid, softmax\n",
                                               "from functional import sigmoid, softmax\n" + PROBE, 1))
    run = gt.run_grader(folder, tmp_path / "results.json", only=("mlp.forward", "mlp.backward", "functional.sigmoid"))
    assert run.returncode == 0, gt.describe(run)
    scores = {t["name"]: (t["score"], t["max_score"], t["output"]) for t in run.results["tests"]}
    for name, (score, max_score, output) in scores.items():
        if name.startswith("mlp."):
            assert score == max_score, (name, output)          # graded with the lent functions
        else:
            assert score == 0, (name, output)                  # the broken file costs its own checks


def test_the_lent_functions_answer_only_contract_calls_of_bounded_size():
    """What the child may ask the grader's process (grader/lent.py): the five contract functions on
    arrays of numbers; anything else is refused with a sentence, computed nothing."""
    import numpy as np
    import pytest

    from grader import lent
    from grader.sandbox.process import CallbackRefused

    z = np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_allclose(lent.answer("softmax", {"a0": z}).sum(axis=1), 1.0)
    assert lent.answer("one_hot", {"a0": np.array([0, 2]), "a1": np.array(3)}).shape == (2, 3)
    for name, arrays in [("load_data", {"a0": z}),                                       # not a contract function
                         ("softmax", {"a0": np.zeros(lent.MAX_ELEMENTS + 1)}),            # too large
                         ("one_hot", {"a0": np.array([1]), "k_num_classes": np.array(10**9)}),
                         ("cross_entropy", {"a0": z, "a1": z, "k_eps": np.ones(3)}),      # eps not a number
                         ("relu", {"a0": z, "k_inplace": np.array(1)})]:                  # no such keyword
        with pytest.raises(CallbackRefused):
            lent.answer(name, dict(arrays))
