"""Central-difference numerical gradients of both reference models (float64)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import cnn
import functional
import mlp


def numerical_gradient(loss_of, param, h=1e-6):
    """d loss / d param by central differences; param is perturbed and restored in place."""
    grad = np.zeros_like(param)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + h
        plus = loss_of()
        param[index] = saved - h
        minus = loss_of()
        param[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


def check_model(model, X, targets):
    model.forward(X)
    grads = model.backward(targets)
    for name, param in model.params.items():
        numeric = numerical_gradient(
            lambda: functional.cross_entropy(model.forward(X), targets), param)
        assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("n", [1, 6])
def test_mlp_gradients_match_central_differences(rng, n):
    model = mlp.MLP(input_dim=7, hidden_dim=5, output_dim=4, weight_std=0.5, seed=1)
    X = rng.normal(size=(n, 7))
    check_model(model, X, functional.one_hot(rng.integers(0, 4, size=n), 4))


@pytest.mark.parametrize("n", [1, 4])
def test_cnn_gradients_match_central_differences(rng, n):
    model = cnn.CNN(in_channels=2, num_filters=3, kernel_size=3, image_size=6,
                    num_classes=5, seed=2)
    X = rng.normal(size=(n, 2, 6, 6))
    check_model(model, X, functional.one_hot(rng.integers(0, 5, size=n), 5))


def test_conv2d_backward_dx_matches_central_differences(rng):
    x = rng.normal(size=(2, 2, 5, 6))
    weight = rng.normal(size=(3, 2, 2, 3))
    bias = rng.normal(size=3)
    dout = rng.normal(size=(2, 3, 4, 4))
    dx, dweight, dbias = cnn.conv2d_backward(dout, x, weight)
    loss_of = lambda: np.sum(cnn.conv2d_forward(x, weight, bias) * dout)
    assert_allclose(dx, numerical_gradient(loss_of, x), rtol=1e-6, atol=1e-8)
    assert_allclose(dweight, numerical_gradient(loss_of, weight), rtol=1e-6, atol=1e-8)
    assert_allclose(dbias, numerical_gradient(loss_of, bias), rtol=1e-6, atol=1e-8)
