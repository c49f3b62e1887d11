"""The reference against PyTorch autograd (float64), on random shapes."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import cnn
import functional
import mlp

TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def torch():
    """torch, imported by the one xdist worker that runs this module (a module-scoped fixture pins it
    there, tests/conftest.py), not by every worker while collecting: the import takes about a second."""
    return pytest.importorskip("torch")


def t(a, grad=False):
    import torch
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("shape", [(1, 10), (7, 3), (64, 10)])
def test_functional_values_match_torch(torch, rng, shape):
    z = rng.normal(scale=5.0, size=shape)
    assert_allclose(functional.sigmoid(z), torch.sigmoid(t(z)).numpy(), **TOL)
    assert_allclose(functional.relu(z), torch.relu(t(z)).numpy(), **TOL)
    assert_allclose(functional.softmax(z), torch.softmax(t(z), dim=1).numpy(), **TOL)

    labels = rng.integers(0, shape[1], size=shape[0])
    targets = functional.one_hot(labels, shape[1])
    assert_allclose(targets, torch.nn.functional.one_hot(torch.tensor(labels), shape[1]).numpy())
    probs = functional.softmax(z)
    want = -(t(targets) * torch.log(torch.clamp(t(probs), 1e-12, 1 - 1e-12))).sum(dim=1).mean()
    assert_allclose(functional.cross_entropy(probs, targets), want.item(), **TOL)


def torch_loss(probs, targets):
    import torch
    return -(t(targets) * torch.log(probs)).sum(dim=1).mean()


@pytest.mark.parametrize("n, d, h, k", [(1, 5, 3, 4), (7, 12, 5, 3), (32, 784, 128, 10)])
def test_mlp_forward_and_gradients_match_torch(torch, rng, n, d, h, k):
    model = mlp.MLP(input_dim=d, hidden_dim=h, output_dim=k, seed=3)
    X = rng.normal(size=(n, d))
    targets = functional.one_hot(rng.integers(0, k, size=n), k)

    probs = model.forward(X)
    grads = model.backward(targets)

    p = {name: t(value, grad=True) for name, value in model.params.items()}
    z1 = t(X) @ p["W1"] + p["b1"]
    probs_t = torch.softmax(torch.sigmoid(z1) @ p["W2"] + p["b2"], dim=1)
    torch_loss(probs_t, targets).backward()

    assert_allclose(probs, probs_t.detach().numpy(), **TOL)
    assert set(grads) == set(model.params)
    for name in model.params:
        assert grads[name].shape == model.params[name].shape
        assert_allclose(grads[name], p[name].grad.numpy(), err_msg=name, **TOL)


CONV_SHAPES = [  # N, C, H, W, F, kh, kw
    (1, 1, 5, 5, 1, 3, 3),
    (2, 3, 8, 6, 4, 3, 3),
    (3, 2, 7, 9, 5, 2, 4),
    (4, 1, 6, 6, 2, 1, 1),
    (2, 2, 5, 7, 3, 5, 2),
]


@pytest.mark.parametrize("n, c, h, w, f, kh, kw", CONV_SHAPES)
def test_conv2d_forward_and_backward_match_torch(torch, rng, n, c, h, w, f, kh, kw):
    x = rng.normal(size=(n, c, h, w))
    weight = rng.normal(size=(f, c, kh, kw))
    bias = rng.normal(size=f)
    xt, wt, bt = t(x, True), t(weight, True), t(bias, True)
    out_t = torch.nn.functional.conv2d(xt, wt, bt)

    out = cnn.conv2d_forward(x, weight, bias)
    assert out.shape == (n, f, h - kh + 1, w - kw + 1)
    assert_allclose(out, out_t.detach().numpy(), **TOL)

    dout = rng.normal(size=out.shape)
    out_t.backward(t(dout))
    dx, dweight, dbias = cnn.conv2d_backward(dout, x, weight)
    assert_allclose(dx, xt.grad.numpy(), **TOL)
    assert_allclose(dweight, wt.grad.numpy(), **TOL)
    assert_allclose(dbias, bt.grad.numpy(), **TOL)


@pytest.mark.parametrize("n, c, size, f, k, classes", [
    (1, 1, 28, 8, 3, 10), (5, 2, 9, 3, 3, 4), (3, 3, 6, 2, 2, 7), (16, 1, 7, 4, 5, 10),
])
def test_cnn_forward_and_gradients_match_torch(torch, rng, n, c, size, f, k, classes):
    model = cnn.CNN(in_channels=c, num_filters=f, kernel_size=k, image_size=size,
                    num_classes=classes, seed=5)
    X = rng.normal(size=(n, c, size, size))
    targets = functional.one_hot(rng.integers(0, classes, size=n), classes)

    probs = model.forward(X)
    grads = model.backward(targets)

    p = {name: t(value, grad=True) for name, value in model.params.items()}
    flat = torch.relu(torch.nn.functional.conv2d(t(X), p["conv_W"], p["conv_b"])).reshape(n, -1)
    probs_t = torch.softmax(flat @ p["fc_W"] + p["fc_b"], dim=1)
    torch_loss(probs_t, targets).backward()

    assert_allclose(probs, probs_t.detach().numpy(), **TOL)
    assert set(grads) == set(model.params)
    for name in model.params:
        assert grads[name].shape == model.params[name].shape
        assert_allclose(grads[name], p[name].grad.numpy(), err_msg=name, **TOL)
