"""2-layer MLP (sigmoid hidden layer, softmax output)."""
import numpy as np

from functional import sigmoid, softmax


def _gaussian(rng, std, shape):
    """Helper: one weight matrix drawn from N(0, std^2)."""
    return rng.normal(loc=0.0, scale=std, size=shape)


class MLP:
    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        W1 = _gaussian(rng, weight_std, (input_dim, hidden_dim))
        W2 = _gaussian(rng, weight_std, (hidden_dim, output_dim))
        self.params = {}
        self.params['W1'] = W1
        self.params['b1'] = np.zeros((hidden_dim,))
        self.params['W2'] = W2
        self.params['b2'] = np.zeros((output_dim,))
        # cache (filled by forward)
        self.X = None
        self.A1 = None
        self.probs = None

    def forward(self, X):
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        self.X = X
        Z1 = np.dot(X, W1) + b1
        self.A1 = sigmoid(Z1)
        Z2 = np.dot(self.A1, W2) + b2
        self.probs = softmax(Z2)
        return self.probs

    def backward(self, targets):
        N = self.X.shape[0]
        dZ2 = (self.probs - targets) / N
        dW2 = np.dot(self.A1.T, dZ2)
        db2 = dZ2.sum(axis=0)
        dA1 = np.dot(dZ2, self.params['W2'].T)
        dZ1 = dA1 * self.A1 * (1 - self.A1)
        dW1 = np.dot(self.X.T, dZ1)
        db1 = dZ1.sum(axis=0)
        return {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}

    def step(self, grads, lr):
        for k, g in grads.items():
            self.params[k] = self.params[k] - lr * g
