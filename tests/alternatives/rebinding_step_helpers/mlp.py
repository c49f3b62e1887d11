"""A two-layer fully connected network: 784 -> 128 (sigmoid) -> 10 (softmax).

Alternative: the cache is a dict, dZ1 goes through an explicit sigmoid_grad helper, and step
rebinds the dict entries instead of updating the arrays in place.
"""
import numpy as np

from functional import sigmoid, softmax


def sigmoid_grad(A):
    """Derivative of the sigmoid, written in terms of its output A = sigmoid(Z)."""
    return A * (1.0 - A)


class MLP:
    """Z1 = X W1 + b1, A1 = sigmoid(Z1), Z2 = A1 W2 + b2, probs = softmax(Z2)."""

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        W1 = rng.normal(0.0, weight_std, (input_dim, hidden_dim))
        W2 = rng.normal(0.0, weight_std, (hidden_dim, output_dim))
        self.params = dict(W1=W1, b1=np.zeros(hidden_dim), W2=W2, b2=np.zeros(output_dim))
        self.cache = {}

    def forward(self, X):
        Z1 = X @ self.params["W1"] + self.params["b1"]
        A1 = sigmoid(Z1)
        Z2 = A1 @ self.params["W2"] + self.params["b2"]
        probs = softmax(Z2)
        self.cache = {"X": X, "Z1": Z1, "A1": A1, "probs": probs}
        return probs

    def backward(self, targets):
        c = self.cache
        N = c["X"].shape[0]
        dZ2 = (c["probs"] - targets) / N                          # (N, K)
        dA1 = dZ2 @ self.params["W2"].T                           # (N, H)
        dZ1 = dA1 * sigmoid_grad(c["A1"])                         # (N, H)
        grads = {}
        grads["W2"] = c["A1"].T @ dZ2
        grads["b2"] = dZ2.sum(axis=0)
        grads["W1"] = c["X"].T @ dZ1
        grads["b1"] = dZ1.sum(axis=0)
        return grads

    def step(self, grads, lr):
        for k in list(self.params):
            self.params[k] = self.params[k] - lr * grads[k]
