"""Activations, softmax and the loss, computed explicitly in the input's floating dtype.

Alternative: every function picks its working dtype once (float32 stays float32, float64 stays
float64, integers become float64) and builds its constants in that dtype.
"""
import numpy as np


def _floating(a):
    """a as an array of a floating dtype (no copy when it already is one)."""
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def sigmoid(z):
    """1 / (1 + exp(-z)) elementwise, exponentiating only -|z| (no overflow at +-1e4)."""
    z = _floating(z)
    one = z.dtype.type(1)
    e = np.exp(-np.abs(z))                      # in (0, 1], same dtype as z
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = one / (one + e[positive])
    out[~positive] = e[~positive] / (one + e[~positive])
    return out


def relu(z):
    """max(z, 0) elementwise, same dtype as z."""
    z = np.asarray(z)
    return np.maximum(z, z.dtype.type(0))


def softmax(z):
    """Row-wise softmax of logits (N, K), shifted by each row's max."""
    z = _floating(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True, dtype=e.dtype)   # e is our own array
    return e


def one_hot(labels, num_classes=10):
    """float64 array (N, num_classes) with out[n, labels[n]] = 1."""
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], num_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def cross_entropy(probs, targets, eps=1e-12):
    """Mean over the batch of -sum_k targets * log(clip(probs, eps, 1 - eps)), in probs' dtype."""
    probs = _floating(probs)
    dtype = probs.dtype
    clipped = np.clip(probs, dtype.type(eps), dtype.type(1) - dtype.type(eps))
    log_probs = np.log(clipped)
    total = np.sum(np.asarray(targets).astype(dtype, copy=False) * log_probs, dtype=dtype)
    return float(-total / probs.shape[0])
