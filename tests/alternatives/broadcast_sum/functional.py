"""functional.py -- HW2. Author: (student)"""
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.piecewise(z, [z >= 0, z < 0],
                        [lambda t: 1 / (1 + np.exp(-t)),
                         lambda t: np.exp(t) / (1 + np.exp(t))])


def relu(z):
    return (z + np.abs(z)) / 2


def softmax(z):
    z_max = z.max(axis=1).reshape(-1, 1)
    num = np.exp(z - z_max)
    den = num.sum(axis=1).reshape(-1, 1)
    return num / den


def one_hot(labels, num_classes=10):
    return np.equal.outer(np.asarray(labels), np.arange(num_classes)).astype(float)


def cross_entropy(probs, targets, eps=1e-12):
    N = probs.shape[0]
    log_likelihood = targets * np.log(np.clip(probs, eps, 1 - eps))
    return -log_likelihood.sum() / N
