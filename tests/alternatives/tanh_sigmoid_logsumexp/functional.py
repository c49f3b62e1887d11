"""Activations, softmax and the loss.

Alternative: sigmoid through tanh, softmax through a row-wise log-sum-exp.
"""
import numpy as np


def sigmoid(z):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2; tanh saturates to +-1 without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def relu(z):
    """max(z, 0) elementwise; keeps the dtype (NaN stays NaN, like np.maximum)."""
    z = np.asarray(z)
    return np.where(z < 0, 0, z)


def softmax(z):
    """exp(log_softmax(z)), with log_softmax(z) = (z - m) - log(sum exp(z - m)), m the row max."""
    shifted = z - np.max(z, axis=1, keepdims=True)                          # (N, K), <= 0
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.exp(log_probs)


def one_hot(labels, num_classes=10):
    """float64 (N, num_classes): row n is 1 at labels[n], 0 elsewhere."""
    labels = np.asarray(labels)
    return (labels[:, None] == np.arange(num_classes)[None, :]).astype(np.float64)


def cross_entropy(probs, targets, eps=1e-12):
    """-(1/N) sum_n sum_k targets[n, k] log(clip(probs[n, k], eps, 1 - eps))."""
    N = probs.shape[0]
    log_probs = np.log(np.clip(probs, eps, 1.0 - eps))
    return -np.einsum("nk,nk->", targets, log_probs) / N
