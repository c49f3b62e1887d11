"""Fonctions de base — σ(z), ReLU, softmax, one-hot et l'entropie croisée.

Toutes les fonctions travaillent sur des lots entiers (∀ n ∈ batch) sans boucle Python.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]


def sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^(−z)) = exp(−log(1 + e^(−z))), via np.logaddexp (jamais d'overflow)."""
    return np.exp(-np.logaddexp(0.0, -z))


def relu(z: Array) -> Array:
    """ReLU(z) = max(z, 0); ∂ReLU/∂z = 𝟙[z > 0] (0 en z = 0)."""
    return z * (z > 0)


def logsumexp(z: Array, axis: int = 1) -> Array:
    """log ∑ₖ exp(zₖ), stable (on soustrait le max)."""
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def softmax(z: Array) -> Array:
    """softmax(z)ₙₖ = exp(zₙₖ − logsumexp(zₙ))."""
    return np.exp(z - logsumexp(z, axis=1))


def one_hot(labels: npt.NDArray[np.integer], num_classes: int = 10) -> Array:
    """labels (N,) → matrice (N, K) de 0.0 et 1.0."""
    return (np.arange(num_classes)[None, :] == np.asarray(labels)[:, None]).astype(np.float64)


def cross_entropy(probs: Array, targets: Array, eps: float = 1e-12) -> np.ndarray:
    """L = −(1/N) ∑ₙ ∑ₖ yₙₖ · log(clip(pₙₖ, ε, 1 − ε)); renvoie un tableau 0-d."""
    log_p = np.log(np.clip(probs, eps, 1.0 - eps))
    per_sample = -np.einsum("nk,nk->n", targets, log_p)
    return np.asarray(per_sample.mean())
