"""A tiny PyTorch-style MLP: a list of modules, each with forward/backward."""
import numpy as np

from functional import sigmoid, softmax


class Linear:
    """torch.nn.Linear, but reading its weights from the model's params dict."""

    def __init__(self, params, w, b):
        self.params, self.w, self.b = params, w, b

    def forward(self, x):
        self.x = x
        return x @ self.params[self.w] + self.params[self.b]

    def backward(self, dy, grads):
        grads[self.w] = self.x.T @ dy
        grads[self.b] = dy.sum(axis=0)
        return dy @ self.params[self.w].T


class Sigmoid:
    def forward(self, x):
        self.y = sigmoid(x)
        return self.y

    def backward(self, dy, grads):
        return dy * self.y * (1 - self.y)


class MLP:
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.normal(0, weight_std, (input_dim, hidden_dim)), "b1": np.zeros(hidden_dim)}
        self.params.update(W2=rng.normal(0, weight_std, (hidden_dim, output_dim)), b2=np.zeros(output_dim))
        self.modules = [Linear(self.params, "W1", "b1"), Sigmoid(), Linear(self.params, "W2", "b2")]

    def forward(self, X):
        h = X
        for m in self.modules:
            h = m.forward(h)
        self.probs = softmax(h)
        return self.probs

    def backward(self, targets):
        grads = {}
        d = (self.probs - targets) / targets.shape[0]
        for m in reversed(self.modules):
            d = m.backward(d, grads)
        return grads

    def step(self, grads, lr):
        for k in self.params:
            self.params[k] -= lr * grads[k]
