import numpy as np

from functional import Model, sigmoid, softmax


class MLP(Model):
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.normal(0, weight_std, (input_dim, hidden_dim))}
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = rng.normal(0, weight_std, (hidden_dim, output_dim))
        self.params["b2"] = np.zeros(output_dim)

    def forward(self, X):
        A1 = sigmoid(X @ self.params["W1"] + self.params["b1"])
        probs = softmax(A1 @ self.params["W2"] + self.params["b2"])
        self._X, self._A1, self._probs = X, A1, probs
        return probs

    def backward(self, targets):
        delta2 = (self._probs - targets) / len(self._X)
        delta1 = delta2 @ self.params["W2"].T * (self._A1 - self._A1 ** 2)
        return {"W1": self._X.T @ delta1, "b1": delta1.sum(0),
                "W2": self._A1.T @ delta2, "b2": delta2.sum(0)}
