"""A two-layer fully connected network: 784 -> 128 (sigmoid) -> 10 (softmax).

Alternative: a private _Dense helper does the affine layers; it reads its weights from the
model's params dict on every call (so replacing entries of params is always seen).
"""
import numpy as np

from functional import sigmoid, softmax


class _Dense:
    """y = x W + b, with W = params[w_key] and b = params[b_key]."""

    def __init__(self, w_key, b_key):
        self.w_key, self.b_key = w_key, b_key
        self.x = None

    def forward(self, params, x):
        self.x = x
        return x @ params[self.w_key] + params[self.b_key]

    def backward(self, params, dy):
        """Returns (dx, {w_key: dW, b_key: db}) for the upstream gradient dy."""
        grads = {self.w_key: self.x.T @ dy, self.b_key: dy.sum(axis=0)}
        return dy @ params[self.w_key].T, grads


class MLP:
    """Z1 = X W1 + b1, A1 = sigmoid(Z1), Z2 = A1 W2 + b2, probs = softmax(Z2)."""

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.standard_normal((input_dim, hidden_dim)) * weight_std,
            "b1": np.zeros(hidden_dim),
            "W2": rng.standard_normal((hidden_dim, output_dim)) * weight_std,
            "b2": np.zeros(output_dim),
        }
        self._hidden = _Dense("W1", "b1")
        self._output = _Dense("W2", "b2")
        self._A1 = self._probs = None

    def forward(self, X):
        self._A1 = sigmoid(self._hidden.forward(self.params, X))
        self._probs = softmax(self._output.forward(self.params, self._A1))
        return self._probs

    def backward(self, targets):
        N = self._probs.shape[0]
        dA1, grads = self._output.backward(self.params, (self._probs - targets) / N)
        _, hidden_grads = self._hidden.backward(self.params, dA1 * self._A1 * (1.0 - self._A1))
        grads.update(hidden_grads)
        return grads

    def step(self, grads, lr):
        for name, value in self.params.items():
            value -= lr * grads[name]
