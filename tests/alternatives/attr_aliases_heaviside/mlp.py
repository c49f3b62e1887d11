import numpy as np

from functional import sigmoid, softmax


class MLP:
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        # the weights live in attributes; params holds the very same arrays (aliases)
        self.W1 = rng.normal(0, weight_std, size=(input_dim, hidden_dim))
        self.b1 = np.zeros(hidden_dim)
        self.W2 = rng.normal(0, weight_std, size=(hidden_dim, output_dim))
        self.b2 = np.zeros(output_dim)
        self.params = dict(zip(("W1", "b1", "W2", "b2"), (self.W1, self.b1, self.W2, self.b2)))

    def forward(self, X):
        self.X = X
        self.A1 = sigmoid(X @ self.W1 + self.b1)
        self.P = softmax(self.A1 @ self.W2 + self.b2)
        return self.P

    def backward(self, targets):
        dZ2 = (self.P - targets) / self.X.shape[0]
        dZ1 = (dZ2 @ self.W2.T) * self.A1 * (1 - self.A1)
        return dict(W1=np.einsum("ni,nj->ij", self.X, dZ1), b1=dZ1.sum(axis=0),
                    W2=np.einsum("ni,nj->ij", self.A1, dZ2), b2=dZ2.sum(axis=0))

    def step(self, grads, lr):
        # in place, so the attributes (aliases) see the update too
        for k in ("W1", "b1", "W2", "b2"):
            self.params[k] -= lr * grads[k]
