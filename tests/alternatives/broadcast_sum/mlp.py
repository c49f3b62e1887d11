"""mlp.py -- HW2."""
import copy

import numpy as np

from functional import sigmoid, softmax, one_hot, cross_entropy


class MLP:
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        self.dims = (input_dim, hidden_dim, output_dim)
        rng = np.random.default_rng(seed)
        W1 = rng.normal(0, weight_std, size=(input_dim, hidden_dim))
        W2 = rng.normal(0, weight_std, size=(hidden_dim, output_dim))
        self.params = dict(W1=W1, b1=np.zeros(hidden_dim), W2=W2, b2=np.zeros(output_dim))
        self.cache = None

    def __repr__(self):
        return "MLP(%d -> %d -> %d)" % self.dims

    def forward(self, X):
        cache = {"X": X}
        cache["Z1"] = X @ self.params["W1"] + self.params["b1"]
        cache["A1"] = sigmoid(cache["Z1"])
        cache["Z2"] = cache["A1"] @ self.params["W2"] + self.params["b2"]
        cache["P"] = softmax(cache["Z2"])
        self.cache = cache
        return cache["P"]

    def predict(self, X):
        return np.argmax(self.forward(X), axis=1)

    def loss(self, X, labels):
        return cross_entropy(self.forward(X), one_hot(labels, self.dims[2]))

    def backward(self, targets):
        c = self.cache
        m = c["X"].shape[0]
        dZ2 = (c["P"] - targets) / m
        dA1 = dZ2 @ self.params["W2"].T
        dZ1 = dA1 * sigmoid(c["Z1"]) * (1 - sigmoid(c["Z1"]))
        return {"W1": c["X"].T @ dZ1, "b1": np.sum(dZ1, axis=0),
                "W2": c["A1"].T @ dZ2, "b2": np.sum(dZ2, axis=0)}

    def step(self, grads, lr):
        new = copy.deepcopy(self.params)
        for k in new:
            new[k] = new[k] - lr * grads[k]
        self.params = new
