import numpy as np
from functional import *


class MLP(object):

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        self.rng = np.random.default_rng(seed)
        self.params = {}
        self.params['W1'] = weight_std * self.rng.standard_normal((input_dim, hidden_dim))
        self.params['b1'] = np.zeros(hidden_dim)
        self.params['W2'] = weight_std * self.rng.standard_normal((hidden_dim, output_dim))
        self.params['b2'] = np.zeros(output_dim)
        self.cache = {}

    def forward(self, X):
        W1, b1, W2, b2 = (self.params[k] for k in ('W1', 'b1', 'W2', 'b2'))
        h = sigmoid(X.dot(W1) + b1)
        scores = h.dot(W2) + b2
        probs = softmax(scores)
        self.cache = dict(X=X, h=h, probs=probs)
        return probs

    def backward(self, targets):
        X, h, probs = self.cache['X'], self.cache['h'], self.cache['probs']
        N = X.shape[0]
        dscores = probs.copy()
        dscores -= targets
        dscores /= N
        grads = {}
        grads['W2'] = h.T.dot(dscores)
        grads['b2'] = np.sum(dscores, axis=0)
        dh = dscores.dot(self.params['W2'].T)
        dh_pre = dh * h * (1 - h)
        grads['W1'] = X.T.dot(dh_pre)
        grads['b1'] = np.sum(dh_pre, axis=0)
        return grads

    def step(self, grads, lr):
        for p in self.params:
            self.params[p] += -lr * grads[p]
