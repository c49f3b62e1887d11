"""MLP 784 -> 128 -> 10. Runs in the input's dtype: float32 batches give float32 probs."""
import numpy as np

from functional import sigmoid, softmax, one_hot, cross_entropy


class MLP:
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": weight_std * rng.standard_normal((input_dim, hidden_dim)),
                       "b1": np.zeros(hidden_dim)}
        self.params["W2"] = weight_std * rng.standard_normal((hidden_dim, output_dim))
        self.params["b2"] = np.zeros(output_dim)

    def _p(self, name, dtype):
        return self.params[name].astype(dtype, copy=False)

    def forward(self, X):
        dt = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = X.astype(dt, copy=False)
        A1 = sigmoid(X @ self._p("W1", dt) + self._p("b1", dt))
        probs = softmax(A1 @ self._p("W2", dt) + self._p("b2", dt))
        self.X, self.A1, self.probs = X, A1, probs
        return probs

    def backward(self, targets):
        N = self.X.shape[0]
        dt = self.probs.dtype
        delta2 = (self.probs - targets.astype(dt, copy=False)) / N
        delta1 = delta2 @ self._p("W2", dt).T * self.A1 * (1 - self.A1)
        grads = {"W1": self.X.T @ delta1, "b1": delta1.sum(axis=0),
                 "W2": self.A1.T @ delta2, "b2": delta2.sum(axis=0)}
        return grads

    def step(self, grads, lr):
        for name, g in grads.items():
            self.params[name] -= lr * g


if __name__ == "__main__":
    # quick self-test on random data: the loss must go down, and a finite-difference check
    import time

    rng = np.random.default_rng(1)
    X = rng.normal(size=(256, 20))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    Y = one_hot(y, 4)
    net = MLP(20, 16, 4, weight_std=0.5)
    t0 = time.time()
    for epoch in range(200):
        P = net.forward(X)
        net.step(net.backward(Y), 0.5)
        if epoch % 50 == 0:
            print(epoch, cross_entropy(P, Y))
    print("trained in", time.time() - t0, "s; final loss", cross_entropy(net.forward(X), Y))
    g = net.backward(Y)
    h = 1e-6
    for name in net.params:
        i = tuple(rng.integers(0, s) for s in net.params[name].shape)
        old = net.params[name][i]
        net.params[name][i] = old + h
        lp = cross_entropy(net.forward(X), Y)
        net.params[name][i] = old - h
        lm = cross_entropy(net.forward(X), Y)
        net.params[name][i] = old
        print(name, "numeric", (lp - lm) / (2 * h), "analytic", g[name][i])
    print("float32:", net.forward(X.astype(np.float32)).dtype)
