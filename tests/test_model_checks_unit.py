"""The model checks (grader/checks/models.py) and the elementwise checks of functional.py, one at a
time, without a child process.

Each check is a module-level function check(ctx, kind) that can be imported and called alone. Here
ctx.student is InProcessStudent: the same requests as grader/sandbox/session.py's Session (new,
set_params, get_params, method, call, forget_hang), answered by running the model code in this
process, with the transport's copies (arguments copied in, answers copied out, the arguments echoed
after the call) and its errors (StudentError, NotWritten). It replaces the transport only: the model
code is real (solution/, or solution/ with a bug of tests/mutants.py applied) and so is the verdict.
"""
import time
import types
import warnings

import numpy as np
import pytest

import gradertools as gt
from grader import reference
from grader.checks import load_all
from grader.checks.functional import ELEMENTWISE, RELU, SIGMOID, elementwise_unchanged, elementwise_values
from grader.checks.models import (CNN, MLP, MODEL_CHECKS, MODELS, backward_at_real_size, backward_numerical,
                                  backward_stale, backward_twice, backward_unchanged, backward_values,
                                  forward_unchanged, init_seeding, init_statistics, step_values)
from grader.errors import CheckFailed, NotWritten, StudentError, StudentTimeout
from grader.rubric import load_rubric
from grader.sandbox.session import Obj, Reply, describe
from mutants import MUTANTS


# ---- the stand-in for the child ---------------------------------------------------------------------
def copied(value):
    """A value as the child's answer decodes it: fresh arrays, numbers as NumPy scalars."""
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(copied(v) for v in value)
    if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        array = np.array(value, copy=True)
        return array if isinstance(value, np.ndarray) else array[()]
    return value


def described(args):
    """The arguments as Session writes them in messages: shapes and dtypes, never the data."""
    return ", ".join(a if isinstance(a, str) else describe(a) for a in args)


class InProcessStudent:
    """ctx.student for a check, running `modules` ({"mlp": module, ...}) in this process."""

    def __init__(self, **modules):
        self.modules = modules
        self.objects = {}
        self.hangs = set()          # methods whose calls do not finish in time (the child would be stopped)
        self.forgotten = []         # what forget_hang was told

    def _run(self, call, function, args, kwargs, echo=False):
        # The child receives copies of the arrays; a dict argument holds the same arrays it echoes.
        sent = []

        def copy_in(value):
            if isinstance(value, np.ndarray):
                sent.append(value.copy())
                return sent[-1]
            if isinstance(value, dict):
                return {k: copy_in(np.asarray(v)) for k, v in value.items()}
            if isinstance(value, Obj):
                return self.objects[value.name]
            return value
        args = [copy_in(a) for a in args]
        kwargs = {k: copy_in(v) for k, v in kwargs.items()}
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", invalid="warn",
                                                                           divide="warn", under="ignore"):
            warnings.simplefilter("always")
            try:
                value = function(*args, **kwargs)
            except NotImplementedError:
                raise NotWritten(f"{call.split('(')[0]} is not written yet (it raises NotImplementedError).")
            except Exception as exc:
                raise StudentError(f"{call} raised {type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - start
        found = [{"category": w.category.__name__, "message": str(w.message), "where": None} for w in caught]
        return Reply(copied(value), found, seconds, [a.copy() for a in sent] if echo else [])

    def _resolve(self, dotted):
        module, name = dotted.split(".")
        return getattr(self.modules[module], name)

    def new(self, cls, store, bare_ok=False, timeout=10.0, **kwargs):
        def build(**kwargs):
            try:
                obj = self._resolve(cls)(**kwargs)
            except NotImplementedError:
                if not bare_ok:
                    raise
                obj = self._resolve(cls).__new__(self._resolve(cls))
                obj.params = {}
            self.objects[store] = obj
            return getattr(obj, "params", None)
        call = f"{cls.split('.')[1]}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        return self._run(call, build, [], kwargs)

    def set_params(self, obj, params, timeout=10.0):
        def assign(**params):                    # as the child does: into the arrays already there
            model = self.objects[obj.name]
            if not isinstance(getattr(model, "params", None), dict):
                model.params = {}
            for key, value in params.items():
                old = model.params.get(key)
                if (isinstance(old, np.ndarray) and old.shape == value.shape and old.dtype == value.dtype
                        and old.flags.writeable):
                    old[...] = value
                else:
                    model.params[key] = value
        self._run(f"setting {obj.name}.params", assign, [], {k: np.array(v) for k, v in params.items()})

    def get_params(self, obj, timeout=10.0):
        return self._run(f"{obj.name}.params", lambda: getattr(self.objects[obj.name], "params", None), [], {}).value

    def method(self, obj, name, *args, label=None, timeout=10.0, echo=False):
        call = f"{label or obj.name}.{name}({described(args)})"
        if name in self.hangs:
            raise StudentTimeout(f"{call} did not finish within {timeout:.3g} s.")
        return self._run(call, getattr(self.objects[obj.name], name), args, {}, echo)

    def call(self, fn, *args, timeout=10.0, echo=False, **kwargs):
        call = f"{fn.split('.')[1]}({described(list(args) + [f'{k}={describe(v)}' for k, v in kwargs.items()])})"
        return self._run(call, self._resolve(fn), args, kwargs, echo)

    def forget_hang(self, name):
        self.forgotten.append(name)


def solution_module(name, mutant=None, edits=()):
    """solution/<name>.py as a module of its own, with the edit of mutant (an id of tests/mutants.py) or
    `edits` ((old, new) pairs) applied; never put in sys.modules: its `from functional import ...` finds
    the reference's functional.py."""
    reference.live_module("functional")
    text = (gt.SOLUTION / f"{name}.py").read_text(encoding="utf-8")
    if mutant is not None:
        (mutant,) = [m for m in MUTANTS if m.id == mutant]
        assert mutant.file == f"{name}.py"
        text = gt.apply_mutant(mutant, text)
    for old, new in edits:
        text = gt.apply_edit("edit", f"{name}.py", old, new, text)
    module = types.ModuleType(f"{name}_under_test")
    exec(compile(text, str(gt.SOLUTION / f"{name}.py"), "exec"), module.__dict__)
    return module


def context(name, mutant=None, edits=()):
    """A ctx whose student runs solution/<name>.py ("mlp", "cnn", "functional"), edited (see solution_module)."""
    student = InProcessStudent(**{name: solution_module(name, mutant, edits)})
    return types.SimpleNamespace(student=student, submission=None, rubric=None)


def failure(check, case, mutant):
    """The message of check(ctx, case) for solution/ with `mutant` applied; case: a Kind or an Elementwise."""
    with pytest.raises(CheckFailed) as caught:
        check(context(getattr(case, "item", "functional"), mutant), case)
    return str(caught.value)


# ---- registration -----------------------------------------------------------------------------------
def test_each_model_check_is_a_module_level_function_registered_for_both_models():
    """Is every registered model check a named function of grader.checks.models, bound to its model?"""
    registry = load_all()
    assert len(MODEL_CHECKS) == 16
    for template, function, _ in MODEL_CHECKS:
        assert function.__qualname__ == function.__name__, function.__qualname__     # not register.<locals>.
        for kind in MODELS:
            registered = registry[template.format(item=kind.item)].function
            assert getattr(registered, "func", None) is function, template
            assert registered.keywords == {"kind": kind}, template


def test_elementwise_checks_are_module_level_functions_registered_for_sigmoid_and_relu():
    registry = load_all()
    for op in ELEMENTWISE:
        for prop, function in [("values match the reference", elementwise_values),
                               ("input unchanged", elementwise_unchanged)]:
            registered = registry[f"functional.{op.name}: {prop}"].function
            assert registered.func is function and registered.keywords == {"op": op}
            assert "<locals>" not in function.__qualname__


def test_model_checks_are_registered_in_rubric_order():
    """The registry lists MLP's model checks, then CNN's, each in the order of grader/rubric.toml."""
    ids = {template.format(item=kind.item) for template, _, _ in MODEL_CHECKS for kind in MODELS}
    registered = [check_id for check_id in load_all() if check_id in ids]
    assert registered == [row.id for row in load_rubric().rows if row.id in ids]
    assert [check_id.split(".")[0] for check_id in registered] == ["mlp"] * 16 + ["cnn"] * 16


def test_registered_check_runs_with_its_model_bound():
    """The registry's entry is what grade.py calls: function(ctx) with the model already bound."""
    check = load_all()["cnn.backward: no accumulation"]
    assert check.function(context("cnn")) is None
    with pytest.raises(CheckFailed, match="twice the first"):
        load_all()["mlp.backward: no accumulation"].function(context("mlp", "mlp_backward_accumulates"))


# ---- the reference passes every check ---------------------------------------------------------------
@pytest.mark.parametrize("kind", MODELS, ids=lambda k: k.item)
@pytest.mark.parametrize("check", [function for _, function, _ in MODEL_CHECKS], ids=lambda f: f.__name__)
def test_reference_passes(check, kind):
    assert check(context(kind.item), kind) is None


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda op: op.name)
@pytest.mark.parametrize("check", [elementwise_values, elementwise_unchanged], ids=lambda f: f.__name__)
def test_reference_functional_passes(check, op):
    assert check(context("functional"), op) is None


# ---- real bugs fail with their message ----------------------------------------------------------------
def test_init_unseeded_fails_seeding():
    assert "MLP(seed=3) twice gave different params['W1']" in failure(init_seeding, MLP, "mlp_init_unseeded")


def test_init_weights_drawn_in_the_wrong_order_are_named():
    message = failure(init_seeding, MLP, "mlp_init_W2_drawn_first")
    assert "It looks like W1 and W2 were drawn in the other order: draw W1 first." in message
    assert message.endswith("Use one rng = np.random.default_rng(seed) and draw W1 then W2, each with "
                            "rng.normal(0, std, shape).")


def test_init_variance_as_std_is_named():
    message = failure(init_statistics, CNN, "cnn_init_conv_variance_as_std")
    assert message.startswith("CNN(in_channels=3, num_filters=32, kernel_size=5, image_size=12).params['conv_W'] "
                              "has standard deviation")
    assert message.endswith("(rng.normal takes the standard deviation, not the variance.)")


def test_forward_that_scales_X_in_place_fails_input_unchanged():
    assert failure(forward_unchanged, MLP, "mlp_forward_scales_X_in_place") == (
        "MLP.forward(X) changed its input X in place. Work on new arrays (x = x - m, not x -= m) so the "
        "caller's data stays as it was.")


@pytest.mark.parametrize("kind", MODELS, ids=lambda k: k.item)
def test_backward_without_the_mean_fails_with_the_batch_size_named(kind):
    message = failure(backward_values, kind, f"{kind.item}_backward_missing_mean")
    assert message.startswith(f"{kind.label}.backward(targets)[")
    assert "after forward(X) with N = 6 differs from the expected values" in message
    assert message.endswith("It looks like 6 times too large: divide by the batch size N = 6 exactly once.")


def test_relu_derivative_one_at_zero_is_named():
    """A mask Z >= 0 differs only where Z == 0 exactly (an all-zero window with conv_b = 0)."""
    message = failure(backward_values, CNN, "cnn_backward_relu_grad_one_at_zero")
    assert "CNN.backward(targets)['conv_b']" in message
    assert "It looks like your ReLU derivative is 1 at Z == 0 (a mask Z >= 0)" in message


def test_a_relu_mask_left_out_gets_no_relu_at_zero_hint():
    message = failure(backward_values, CNN, "cnn_backward_no_relu_mask")
    assert "differs from the expected values" in message and "ReLU derivative" not in message


def test_backward_without_the_mean_fails_the_numerical_check():
    message = failure(backward_numerical, MLP, "mlp_backward_missing_mean")
    assert "disagrees with central differences of the loss" in message
    assert message.endswith("Re-derive this gradient from the chain rule.")


def test_stale_cache_fails_and_a_wrong_backward_is_not_judged_twice():
    """forward(A) with N = 3 then forward(B) with N = 7: a backward on A's cache with B's targets fails."""
    assert failure(backward_stale, MLP, "mlp_forward_stale_cache").startswith(
        "MLP.backward(array (7, 5) float64) raised ValueError: operands could not be broadcast together")
    summary = backward_stale(context("mlp", "mlp_backward_missing_mean"), MLP)
    assert summary.startswith("not judged: backward is wrong after a single forward too, which "
                              "\"mlp.backward: gradients match the reference\" counts")


def test_backward_that_accumulates_fails_no_accumulation():
    assert failure(backward_twice, MLP, "mlp_backward_accumulates").endswith(
        "The second call returned twice the first: backward must return fresh gradients each call, not add to "
        "old ones.")


def test_backward_that_changes_the_cache_fails_no_accumulation():
    assert "Calling backward again must give the same gradients" in failure(
        backward_twice, MLP, "mlp_backward_mutates_cached_probs")


def test_backward_that_changes_targets_fails_inputs_unchanged():
    assert failure(backward_unchanged, MLP, "mlp_backward_mutates_targets").startswith(
        "MLP.backward(targets) changed its input targets in place.")


def test_step_that_adds_the_gradient_is_named():
    message = failure(step_values, MLP, "mlp_step_gradient_ascent")
    assert message.startswith("MLP.params['W1'] after step(grads, lr=0.1) differs from the expected values")
    assert message.endswith("It looks like you add the gradient (params + lr * grads); subtract it.")


def test_step_that_skips_the_biases_fails():
    assert failure(step_values, MLP, "mlp_step_weights_only").startswith(
        "MLP.params['b1'] after step(grads, lr=0.1) differs from the expected values")


def test_step_that_updates_nothing_fails():
    """value = value - lr * grads[name] rebinds a loop variable: params keep their old values."""
    message = failure(step_values, CNN, "cnn_step_rebinds_loop_variable")
    assert message.startswith("CNN.params['conv_W'] after step(grads, lr=0.1) differs from the expected values")


def test_step_whose_update_forward_does_not_see_fails():
    """forward reads the arrays __init__ bound, step rebinds the entries of params: params hold the new
    values, forward computes with the old ones."""
    ctx = context("mlp", edits=[
        ('            "b2": np.zeros(output_dim),\n        }\n',
         '            "b2": np.zeros(output_dim),\n        }\n        self.weights = dict(self.params)\n'),
        ("        p = self.params\n        Z1", "        p = self.weights\n        Z1"),
        ("            self.params[name] -= lr * grads[name]",
         "            self.params[name] = self.params[name] - lr * grads[name]"),
    ])
    with pytest.raises(CheckFailed) as caught:
        step_values(ctx, MLP)
    assert str(caught.value) == (
        "MLP.params holds the updated values after step, but forward still computes with the old ones, so training "
        "would never change the model. Update the arrays forward reads: change params[k] in place (-=), or let "
        "forward read self.params.")


def test_relu_in_place_fails_input_unchanged():
    assert failure(elementwise_unchanged, RELU, "relu_in_place").startswith("relu(z) changed its input z in place.")


def test_sigmoid_with_swapped_branches_fails_values():
    assert failure(elementwise_values, SIGMOID, "sigmoid_branches_swapped").startswith(
        "sigmoid(z) with z (7, 3) differs from the expected values")


# ---- the transport's part: what the checks rely on the child for -------------------------------------
def test_a_backward_not_written_yet_is_reported_as_such():
    ctx = context("mlp")

    def backward(self, targets):
        raise NotImplementedError("backward: not written yet")
    ctx.student.modules["mlp"].MLP.backward = backward          # this test's own copy of solution/mlp.py
    with pytest.raises(NotWritten, match=r"^MLP.backward is not written yet"):
        backward_values(ctx, MLP)


def test_a_backward_too_slow_at_full_size_fails_and_is_forgotten_for_the_other_checks():
    """When the full-size backward does not finish within its allowance, the check says what it cost
    and lets the small models' checks call backward again."""
    ctx = context("mlp")
    ctx.student.hangs.add("backward")
    with pytest.raises(CheckFailed, match=r"^MLP.backward\(targets\) on the full-size MLP \(784-128-10, a batch "
                                          r"of 64\) took more than \d+ s, while its forward took"):
        backward_at_real_size(ctx, MLP)
    assert ctx.student.forgotten == ["mlp.MLP.backward"]
