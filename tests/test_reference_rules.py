"""The contract's rules, held by the reference: stability, dtypes, no mutation, init."""
import ast
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import cnn
import functional
import mlp

SOLUTION = Path(__file__).resolve().parent.parent / "solution"
ALLOWED_IMPORTS = {"numpy", "math", "typing", "functools", "itertools", "collections",
                   "dataclasses", "__future__", "functional", "mlp", "cnn"}


@pytest.fixture
def strict():
    """Overflow, invalid and divide-by-zero raise; underflow is allowed."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


def test_softmax_and_sigmoid_are_finite_at_extreme_logits(strict):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 1e4]])
    assert_allclose(functional.softmax(z), [[1, 0, 0], [1 / 3] * 3, [1 / 3] * 3])
    assert_allclose(functional.softmax(z + 123.0), functional.softmax(z))
    assert_array_equal(functional.sigmoid(np.array([1e4, -1e4, 0.0])), [1.0, 0.0, 0.5])
    for dtype in (np.float32, np.float64):
        assert np.all(np.isfinite(functional.softmax(z.astype(dtype))))
        assert np.all(np.isfinite(functional.sigmoid(z.astype(dtype))))


def test_cross_entropy_is_clipped_at_probs_zero_and_one(strict):
    targets = np.eye(3)
    wrong = np.roll(np.eye(3), 1, axis=1)
    assert_allclose(functional.cross_entropy(wrong, targets), -np.log(1e-12))
    assert_allclose(functional.cross_entropy(targets, targets), -np.log(1 - 1e-12), atol=1e-15)
    assert_allclose(functional.cross_entropy(functional.softmax(np.zeros((4, 10))), np.eye(10)[:4]),
                    np.log(10))


def test_models_survive_extreme_inputs(strict, rng):
    model = mlp.MLP(seed=0)
    model.forward(rng.normal(scale=1e3, size=(4, 784)))
    model.backward(np.eye(10)[:4])
    net = cnn.CNN(seed=0)
    net.forward(rng.normal(scale=1e3, size=(2, 1, 28, 28)))
    net.backward(np.eye(10)[:2])


def test_dtypes_follow_the_input(rng):
    for dtype in (np.float32, np.float64):
        z = rng.normal(size=(5, 10)).astype(dtype)
        for fn in (functional.sigmoid, functional.relu, functional.softmax):
            assert fn(z).dtype == dtype, fn.__name__
    assert functional.one_hot(np.array([1, 0, 2]), 3).dtype == np.float64
    model = mlp.MLP(seed=0)
    for name, value in model.params.items():
        assert value.dtype == np.float64, name
    probs = model.forward(rng.normal(size=(3, 784)).astype(np.float32))
    assert probs.dtype == np.float64
    assert all(g.dtype == np.float64 for g in model.backward(np.eye(10)[:3]).values())


def test_no_function_modifies_its_inputs(rng):
    X = rng.normal(size=(6, 784))
    targets = functional.one_hot(rng.integers(0, 10, size=6))
    model = mlp.MLP(seed=0)
    X_before, t_before = X.copy(), targets.copy()
    model.forward(X)
    grads = model.backward(targets)
    grads_before = {k: v.copy() for k, v in grads.items()}
    model.step(grads, 0.1)
    assert_array_equal(X, X_before)
    assert_array_equal(targets, t_before)
    for name in grads:
        assert_array_equal(grads[name], grads_before[name])

    x = rng.normal(size=(2, 1, 8, 8))
    weight, bias, dout = rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3), rng.normal(size=(2, 3, 6, 6))
    copies = [a.copy() for a in (x, weight, bias, dout)]
    cnn.conv2d_forward(x, weight, bias)
    cnn.conv2d_backward(dout, x, weight)
    for before, after in zip(copies, (x, weight, bias, dout)):
        assert_array_equal(before, after)


def test_step_is_sgd(rng):
    model = cnn.CNN(seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    grads = {k: rng.normal(size=v.shape) for k, v in model.params.items()}
    model.step(grads, 0.05)
    for name in before:
        assert_allclose(model.params[name], before[name] - 0.05 * grads[name], rtol=1e-15)


def test_init_follows_the_contract():
    model = mlp.MLP(seed=7)
    rng = np.random.default_rng(7)
    assert_array_equal(model.params["W1"], rng.normal(0, 0.1, (784, 128)))
    assert_array_equal(model.params["W2"], rng.normal(0, 0.1, (128, 10)))
    assert not model.params["b1"].any() and not model.params["b2"].any()

    net = cnn.CNN(seed=7)
    rng = np.random.default_rng(7)
    assert_array_equal(net.params["conv_W"], rng.normal(0, np.sqrt(2 / 9), (8, 1, 3, 3)))
    assert_array_equal(net.params["fc_W"], rng.normal(0, np.sqrt(1 / (8 * 26 * 26)), (8 * 26 * 26, 10)))
    assert net.params["conv_b"].shape == (8,) and net.params["fc_b"].shape == (10,)
    assert not net.params["conv_b"].any() and not net.params["fc_b"].any()


def test_backward_uses_the_last_forward_and_does_not_accumulate(rng):
    model = mlp.MLP(input_dim=6, hidden_dim=5, output_dim=4, seed=0)
    A, B = rng.normal(size=(3, 6)), rng.normal(size=(7, 6))
    targets = functional.one_hot(rng.integers(0, 4, size=7), 4)
    model.forward(A)
    model.forward(B)
    first = model.backward(targets)
    second = model.backward(targets)
    fresh = mlp.MLP(input_dim=6, hidden_dim=5, output_dim=4, seed=0)
    fresh.forward(B)
    want = fresh.backward(targets)
    for name in want:
        assert_allclose(first[name], want[name], rtol=1e-15)
        assert_allclose(second[name], want[name], rtol=1e-15)


@pytest.mark.parametrize("name", ["functional.py", "mlp.py", "cnn.py"])
def test_contract_files_import_only_allowed_modules(name):
    tree = ast.parse((SOLUTION / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] in ALLOWED_IMPORTS, f"{name}:{node.lineno} imports {module}"
