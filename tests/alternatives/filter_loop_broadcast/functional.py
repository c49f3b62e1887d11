import math

import numpy as np


def sigmoid(z):
    """sigmoid(z) = 1 / (1 + e^-z); exp of a clipped argument so it cannot overflow."""
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def relu(z):
    return np.maximum(0, z)


def softmax(z):
    # log-sum-exp trick
    lse = np.max(z, axis=1, keepdims=True)
    lse = lse + np.log(np.sum(np.exp(z - lse), axis=1, keepdims=True))
    return np.exp(z - lse)


def one_hot(labels, num_classes=10):
    labels = np.asarray(labels, dtype=np.int64)
    encoded = np.zeros((labels.size, num_classes), dtype=float)
    encoded[np.arange(labels.size), labels] = 1.0
    return encoded


def cross_entropy(probs, targets, eps=1e-12):
    n = probs.shape[0]
    true_class_probs = np.sum(np.clip(probs, eps, 1 - eps) * targets, axis=1)
    return float(-np.sum(np.log(true_class_probs)) / n)
