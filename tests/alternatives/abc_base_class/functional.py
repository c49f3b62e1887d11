"""Shared pieces: the activations, the loss, and a small Model base class used by MLP and CNN."""
from abc import ABC, abstractmethod
from typing import Dict

import numpy as np


def sigmoid(z):
    return 0.5 * np.tanh(0.5 * z) + 0.5


def relu(z):
    out = np.array(z, copy=True)
    np.maximum(out, 0, out=out)
    return out


def softmax(z):
    logits = np.asarray(z)
    logits = logits - logits.max(axis=1)[:, None]
    expd = np.exp(logits)
    return expd / expd.sum(axis=1)[:, None]


def one_hot(labels, num_classes=10):
    labels = np.asarray(labels, dtype=np.intp)
    Y = np.zeros((labels.shape[0], num_classes), np.float64)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def cross_entropy(probs, targets, eps=1e-12):
    return -np.vdot(targets, np.log(np.clip(probs, eps, 1 - eps))) / probs.shape[0]


class Model(ABC):
    """A model owns self.params; step() is the same SGD for everyone."""

    params: Dict[str, np.ndarray]

    @abstractmethod
    def forward(self, X):
        ...

    @abstractmethod
    def backward(self, targets):
        ...

    def step(self, grads, lr):
        for name in self.params:
            self.params[name] = self.params[name] - lr * grads[name]

    def predict(self, X):
        return self.forward(X).argmax(axis=1)
