"""A two-layer fully connected network: 784 -> 128 (sigmoid) -> 10 (softmax).

Alternative: the sigmoid derivative written as A1 - A1**2, gradients through np.dot.
"""
import numpy as np

from functional import sigmoid, softmax


class MLP:
    """Z1 = X W1 + b1, A1 = sigmoid(Z1), Z2 = A1 W2 + b2, probs = softmax(Z2)."""

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {}
        self.params["W1"] = rng.normal(0.0, weight_std, (input_dim, hidden_dim))
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = rng.normal(0.0, weight_std, (hidden_dim, output_dim))
        self.params["b2"] = np.zeros(output_dim)

    def forward(self, X):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        A1 = sigmoid(np.dot(X, W1) + b1)
        probs = softmax(np.dot(A1, W2) + b2)
        self.cache = (X, A1, probs)
        return probs

    def backward(self, targets):
        X, A1, probs = self.cache
        delta2 = (probs - targets) / len(X)
        delta1 = np.dot(delta2, self.params["W2"].T) * (A1 - A1 ** 2)
        return {"W1": np.dot(X.T, delta1), "b1": delta1.sum(axis=0),
                "W2": np.dot(A1.T, delta2), "b2": delta2.sum(axis=0)}

    def step(self, grads, lr):
        for name in self.params:
            self.params[name] -= lr * grads[name]
