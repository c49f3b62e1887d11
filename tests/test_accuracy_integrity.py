"""The accuracy items measure learning, not memory: models that do not learn by their own SGD steps
score 0 on mlp.accuracy, however they try to look trained.

Each case is the reference with a few edits (like tests/hostile.py), graded with the real grader
on mlp.accuracy alone. On the grader before issue 9 (test images sent into the child, its forward
labelling them), the first two cases scored 8/8."""
import pytest

import gradertools as gt

STEP_BODY = '        Returns: nothing; self.params is updated.\n        """\n'
FORWARD_BODY = '        - probs: shape (N, output_dim); each row sums to 1\n        """\n'
BACKWARD_BODY = '        - grads: dict with the keys and shapes of self.params\n        """\n'

CASES = {
    # step does nothing; forward answers test images by nearest neighbour among the training batches
    # it saw, labelled by the targets backward received (96.9% before).
    "nearest_neighbour_memory": [
        (STEP_BODY, STEP_BODY + "        return\n"),
        (FORWARD_BODY, FORWARD_BODY + (
            "        memory = self.__dict__.setdefault('memory', [])\n"
            "        if len(X) == 1000 and memory:\n"
            "            seen = np.concatenate([m[0] for m in memory]); labels = np.concatenate([m[1] for m in memory])\n"
            "            near = np.argmin(((X[:, None, :] - seen[None, :2000, :]) ** 2).sum(-1), axis=1)\n"
            "            return np.eye(10)[labels[:2000][near]]\n")),
        ("        N = X.shape[0]\n", "        N = X.shape[0]\n"
         "        if len(self.memory) < 40: self.memory.append((X.copy(), targets.argmax(1)))\n"),
    ],
    # step does nothing; the weights are whatever __init__ drew.
    "step_does_nothing": [(STEP_BODY, STEP_BODY + "        return\n")],
    # honest SGD, but after the last of the 4690 steps the params are swapped for other weights.
    "weights_swapped_after_training": [
        (STEP_BODY, STEP_BODY + (
            "        self.steps = getattr(self, 'steps', 0) + 1\n"
            "        if self.steps >= 4690:\n"
            "            for name in self.params:\n"
            "                self.params[name] = self.params[name] * 1.5 + 0.01\n"
            "            return\n")),
    ],
    # gradients of a sum instead of a mean: training still "works" (a 128x larger step) but is not
    # the contract's SGD.
    "sum_not_mean": [("(probs - targets) / N                          # (N, K)", "(probs - targets)                              # (N, K)")],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_that_does_not_learn_by_its_own_sgd_scores_zero(case, tmp_path):
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    text = (folder / "mlp.py").read_text()
    for old, new in CASES[case]:
        text = gt.apply_edit(case, "mlp.py", old, new, text)
    (folder / "mlp.py").write_text(text)
    run = gt.run_grader(folder, tmp_path / "results.json", only=("mlp.accuracy",))
    assert run.returncode == 0, gt.describe(run)
    (test,) = run.results["tests"]
    assert test["score"] == 0, test["output"]
    assert "SGD steps" in test["output"], test["output"]


# The one alternative that is also trained, its whole MLP run (every chunk, the secret replays, the
# bar): code that keeps the input's dtype, as dtype_preserving does, 3.6 ms a training batch here
# against the reference's 2.7. Its CNN is not trained (about 30 s): the reference's is, in the shared
# full reference run, and every alternative's CNN goes through the replay in the test below.
TRAINED_ALTERNATIVE = "float32_selftest"
TRAINING_BATCHES_ONLY = """

_any_forward = MLP.forward


def _training_batches_only(self, X):
    if len(X) not in (128, 96):
        raise RuntimeError("not a training batch")
    return _any_forward(self, X)


MLP.forward = _training_batches_only
"""


def test_the_child_never_sees_the_test_images_and_a_correct_alternative_trains_to_full_marks(tmp_path):
    """A correct alternative whose forward fails on anything but a training batch (128, or the last 96
    of an epoch) gets full marks: the test set is evaluated in the grader's process (before issue 9,
    the child's forward labelled the test images in chunks of 1000, and this model scored 0), and a
    whole training of code other than the reference's passes every replay and the bar."""
    assert (gt.ALTERNATIVES / TRAINED_ALTERNATIVE).is_dir()
    folder = gt.copy_submission(gt.ALTERNATIVES / TRAINED_ALTERNATIVE, tmp_path / "submission")
    with open(folder / "mlp.py", "a") as file:
        file.write(TRAINING_BATCHES_ONLY)
    run = gt.run_grader(folder, tmp_path / "results.json", only=("mlp.accuracy",))
    (test,) = run.results["tests"]
    assert test["score"] == test["max_score"] == 8, test["output"]


def test_every_correct_alternative_trains_exactly_like_the_reference():
    """The replay must never fail correct code: every submission in tests/alternatives/ (other but
    equivalent formulas, float32-preserving code, module-style classes, ...) lands on the reference's
    params after a chunk of SGD steps, for both models (a few chunks each: whole trainings are those of
    the reference, in the shared full reference run, and of TRAINED_ALTERNATIVE's MLP, above)."""
    import numpy as np

    from grader import reference
    from grader.checks import accuracy
    from grader.grade import GROUP_MODULES, mnist_loader
    from grader.sandbox.session import Session
    from threadpoolctl import threadpool_limits

    mnist = mnist_loader(None)()
    images = mnist["train_images"][:1000]        # what six batches need: the child gets less to read
    data = reference.load_data_module()
    failures = []
    with threadpool_limits(limits=1):
        for folder in sorted(p for p in gt.ALTERNATIVES.iterdir() if p.is_dir()):
            with Session(folder, GROUP_MODULES["models"]) as session:
                for item, settings in accuracy.SETTINGS.items():
                    rng = np.random.default_rng(7)
                    labels = rng.permutation(10)[mnist["train_labels"][:1000]]
                    batches, _ = accuracy.schedule(rng, 1, len(labels))
                    params = accuracy.reference_model(item).params
                    session.start_training(settings["cls"], params, images, labels,
                                           settings["input_shape"], data.MEAN, data.STD, timeout=60)
                    for chunk in (range(0, 3), range(3, 6)):     # two short chunks: the replay is what is tested
                        index = np.concatenate([batches[b] for b in chunk])
                        ends = np.cumsum([len(batches[b]) for b in chunk])
                        reply = session.train_steps(index, ends, settings["lr"], timeout=120)
                        after = accuracy.checked_params(reply["params"], {k: v.shape for k, v in params.items()}, "after")
                        mismatch = accuracy.replay_mismatch(item, params, after, [batches[b] for b in chunk],
                                                            images, labels, data)
                        if mismatch:
                            failures.append((folder.name, item, mismatch))
                        params = after
    assert failures == []
