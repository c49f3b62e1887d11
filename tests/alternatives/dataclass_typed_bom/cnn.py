"""Réseau convolutif : conv 3×3 → ReLU → aplatissement → dense → softmax."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np
from numpy.lib import stride_tricks

from functional import relu, softmax


def extract_patches(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """patches[n, c, i, j, p, q] = x[n, c, i + p, j + q] (une vue, pas de copie)."""
    n, c, h, w = x.shape
    sn, sc, sh, sw = x.strides
    return stride_tricks.as_strided(x, (n, c, h - kh + 1, w - kw + 1, kh, kw),
                                    (sn, sc, sh, sw, sh, sw), writeable=False)


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Corrélation croisée « valid », pas de 1."""
    out = np.tensordot(extract_patches(x, *weight.shape[2:]), weight, axes=((1, 4, 5), (1, 2, 3)))
    return (out + bias).transpose(0, 3, 1, 2)                  # (N, OH, OW, F) → (N, F, OH, OW)


def conv2d_backward(dout: np.ndarray, x: np.ndarray, weight: np.ndarray) -> Tuple[np.ndarray, ...]:
    f, c, kh, kw = weight.shape
    oh, ow = dout.shape[2:]
    dbias = dout.sum(axis=(0, 2, 3))
    dweight = np.tensordot(dout, extract_patches(x, kh, kw), axes=((0, 2, 3), (0, 2, 3)))
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + oh, q:q + ow] += np.tensordot(weight[:, :, p, q], dout, axes=(0, 1)).transpose(1, 0, 2, 3)
    return dx, dweight, dbias


@dataclass
class CNN:
    in_channels: int = 1
    num_filters: int = 8
    kernel_size: int = 3
    image_size: int = 28
    num_classes: int = 10
    seed: int = 0
    params: Dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        k, C, F = self.kernel_size, self.in_channels, self.num_filters
        side = self.image_size - k + 1
        d = F * side * side
        conv_W = rng.normal(0.0, math.sqrt(2.0 / (C * k * k)), (F, C, k, k))
        fc_W = rng.normal(0.0, math.sqrt(1.0 / d), (d, self.num_classes))
        self.params = {"conv_W": conv_W, "conv_b": np.zeros(F), "fc_W": fc_W, "fc_b": np.zeros(self.num_classes)}

    def forward(self, X: np.ndarray) -> np.ndarray:
        Z = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
        flat = relu(Z).reshape(X.shape[0], -1)
        probs = softmax(flat @ self.params["fc_W"] + self.params["fc_b"])
        self._cache = (X, Z, flat, probs)
        return probs

    def backward(self, targets: np.ndarray) -> Dict[str, np.ndarray]:
        X, Z, flat, probs = self._cache
        delta = (probs - targets) / X.shape[0]
        dZ = (delta @ self.params["fc_W"].T).reshape(Z.shape) * (Z > 0)
        _, dW, db = conv2d_backward(dZ, X, self.params["conv_W"])
        return {"conv_W": dW, "conv_b": db, "fc_W": flat.T @ delta, "fc_b": delta.sum(axis=0)}

    def step(self, grads: Dict[str, np.ndarray], lr: float) -> None:
        self.params.update({k: v - lr * grads[k] for k, v in self.params.items()})
