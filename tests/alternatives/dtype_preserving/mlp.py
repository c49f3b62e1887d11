"""A two-layer fully connected network: 784 -> 128 (sigmoid) -> 10 (softmax).

Alternative: works in the parameters' dtype (float64), casting inputs explicitly once.
"""
import numpy as np

from functional import sigmoid, softmax


class MLP:
    """Z1 = X W1 + b1, A1 = sigmoid(Z1), Z2 = A1 W2 + b2, probs = softmax(Z2)."""

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        W1 = rng.normal(0.0, weight_std, (input_dim, hidden_dim)).astype(np.float64)
        W2 = rng.normal(0.0, weight_std, (hidden_dim, output_dim)).astype(np.float64)
        self.params = {"W1": W1, "b1": np.zeros(hidden_dim, dtype=np.float64),
                       "W2": W2, "b2": np.zeros(output_dim, dtype=np.float64)}

    def _dtype(self, *arrays):
        return np.result_type(self.params["W1"], *arrays)

    def forward(self, X):
        p = self.params
        X = np.asarray(X)
        X = X.astype(self._dtype(X), copy=False)          # a new array only if the dtype differs
        A1 = sigmoid(X @ p["W1"] + p["b1"])                 # (N, H)
        probs = softmax(A1 @ p["W2"] + p["b2"])             # (N, K)
        self.cache = (X, A1, probs)
        return probs

    def backward(self, targets):
        X, A1, probs = self.cache
        targets = np.asarray(targets).astype(probs.dtype, copy=False)
        N = X.shape[0]
        delta2 = (probs - targets) / probs.dtype.type(N)                    # (N, K)
        delta1 = (delta2 @ self.params["W2"].T) * A1 * (1 - A1)              # (N, H)
        return {"W1": X.T @ delta1, "b1": delta1.sum(axis=0),
                "W2": A1.T @ delta2, "b2": delta2.sum(axis=0)}

    def step(self, grads, lr):
        for name, value in self.params.items():
            np.subtract(value, np.asarray(lr * grads[name], dtype=value.dtype), out=value)
