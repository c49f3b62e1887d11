"""Perceptron multicouche : 784 → 128 (σ) → 10 (softmax)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from functional import sigmoid, softmax

Params = Dict[str, np.ndarray]


@dataclass
class MLP:
    """Z₁ = X·W₁ + b₁ ; A₁ = σ(Z₁) ; Z₂ = A₁·W₂ + b₂ ; P = softmax(Z₂)."""

    input_dim: int = 784
    hidden_dim: int = 128
    output_dim: int = 10
    weight_std: float = 0.1
    seed: int = 0
    params: Params = field(init=False, repr=False)
    _cache: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        W1 = rng.normal(0.0, self.weight_std, (self.input_dim, self.hidden_dim))
        W2 = rng.normal(0.0, self.weight_std, (self.hidden_dim, self.output_dim))
        self.params = {"W1": W1, "b1": np.zeros(self.hidden_dim),
                       "W2": W2, "b2": np.zeros(self.output_dim)}

    def forward(self, X: np.ndarray) -> np.ndarray:
        A1 = sigmoid(X @ self.params["W1"] + self.params["b1"])
        probs = softmax(A1 @ self.params["W2"] + self.params["b2"])
        self._cache = (X, A1, probs)
        return probs

    def backward(self, targets: np.ndarray) -> Params:
        """∂L/∂Z₂ = (P − Y)/N ; ∂L/∂Z₁ = (∂L/∂Z₂ · W₂ᵀ) ⊙ A₁ ⊙ (1 − A₁)."""
        assert self._cache is not None, "forward() d'abord"
        X, A1, probs = self._cache
        dZ2 = (probs - targets) / X.shape[0]
        dZ1 = (dZ2 @ self.params["W2"].T) * A1 * (1.0 - A1)
        return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": A1.T @ dZ2, "b2": dZ2.sum(axis=0)}

    def step(self, grads: Params, lr: float) -> None:
        self.params.update({k: v - lr * grads[k] for k, v in self.params.items()})
