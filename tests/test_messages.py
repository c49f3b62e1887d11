"""A bug costs points once, and each message fits what went wrong (issue 11): an error repeated across
the checks of a file is shown once; "no stale cache" is not judged while backward is wrong anyway;
hints only where their bug fits."""
import gradertools as gt

NO_TRAINING = gt.ACCURACY_ITEMS


def grade_edited(tmp_path, file, old, new, only):
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    text = (folder / file).read_text()
    (folder / file).write_text(gt.apply_edit("test", file, old, new, text))
    run = gt.run_grader(folder, tmp_path / "results.json", only=only)
    assert run.returncode == 0, gt.describe(run)
    return {t["name"]: t for t in run.results["tests"]}


def test_a_syntax_error_is_shown_in_full_once(tmp_path):
    tests = grade_edited(tmp_path, "functional.py", "import numpy as np\n", "import numpy as np\nx = (\n",
                         only=("functional.",))
    outputs = [t["output"] for t in tests.values()]
    full = [o for o in outputs if "Fix the syntax error" in o]
    assert len(full) == 1 and len(outputs) > 10
    assert all("does not parse" in o and "the whole message is under" in o for o in outputs if o not in full)


def test_no_stale_cache_is_not_judged_while_backward_is_wrong_anyway(tmp_path):
    tests = grade_edited(tmp_path, "mlp.py", "(probs - targets) / N                          # (N, K)",
                         "(probs - targets)                              # (N, K)", only=("mlp.backward",))
    assert tests["mlp.backward: gradients match the reference"]["score"] == 0
    stale = tests["mlp.backward: no stale cache"]
    assert stale["score"] == stale["max_score"] and stale["output"].startswith("not judged"), stale


def test_a_convolution_that_overflows_in_float32_gets_no_softmax_hint(tmp_path):
    body = '    over the (C, kh, kw) axes does the rest. Loops over images or pixels are too slow.\n    """\n'
    tests = grade_edited(tmp_path, "cnn.py", body,
                         body + "    if x.dtype == np.float32:\n        return np.full((x.shape[0], weight.shape[0], "
                         "x.shape[2] - weight.shape[2] + 1, x.shape[3] - weight.shape[3] + 1), -np.inf)\n",
                         only=("cnn.conv2d_forward",))
    failed = [t["output"] for t in tests.values() if t["score"] < t["max_score"]]
    assert failed and all("exp()" not in o for o in failed), failed
    assert any("NaN or infinite" in o for o in failed), failed
