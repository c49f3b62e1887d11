import numpy as np

import functional as fn


class MLP:
    """Two-layer perceptron."""

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        self.rng = np.random.default_rng(seed)
        self.params = {}
        self._add("W1", self._normal((input_dim, hidden_dim), weight_std))
        self._add("b1", np.zeros(hidden_dim))
        self._add("W2", self._normal((hidden_dim, output_dim), weight_std))
        self._add("b2", np.zeros(output_dim))

    def _normal(self, shape, std):
        return self.rng.normal(0, std, shape)

    def _add(self, name, value):
        self.params[name] = value

    def forward(self, X):
        self.inputs = X
        self.hidden = fn.sigmoid(X @ self.params["W1"] + self.params["b1"])
        self.output = fn.softmax(self.hidden @ self.params["W2"] + self.params["b2"])
        return self.output

    def backward(self, targets):
        targets = np.array(targets, dtype=float)            # own float copy of the labels
        batch = len(targets)
        err_out = (self.output - targets) / batch
        err_hidden = (err_out @ self.params["W2"].T) * self.hidden * (1 - self.hidden)
        return {
            "W1": self.inputs.T @ err_hidden,
            "b1": err_hidden.sum(axis=0),
            "W2": self.hidden.T @ err_out,
            "b2": err_out.sum(axis=0),
        }

    def step(self, grads, lr):
        for name in self.params:
            np.subtract(self.params[name], lr * grads[name], out=self.params[name])
