"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax.

Alternative: the cache is a dict, dZ goes through an explicit relu_grad helper, and step
rebinds the dict entries instead of updating the arrays in place.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Read-only view (N, C, OH, OW, kh, kw): patches[n, c, i, j, p, q] = x[n, c, i+p, j+q]."""
    N, C, H, W = x.shape
    OH, OW = H - kh + 1, W - kw + 1
    sN, sC, sH, sW = x.strides
    return as_strided(x, (N, C, OH, OW, kh, kw), (sN, sC, sH, sW, sH, sW), writeable=False)


def conv2d_forward(x, weight, bias):
    """Valid cross-correlation with F filters plus bias; (N, F, OH, OW)."""
    F, C, kh, kw = weight.shape
    patches = extract_patches(x, kh, kw)
    N, _, OH, OW = patches.shape[:4]
    # (N*OH*OW, C*kh*kw) @ (C*kh*kw, F): the classic im2col matrix product
    cols = patches.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * kh * kw)
    out = cols @ weight.reshape(F, C * kh * kw).T + bias                     # (N*OH*OW, F)
    return np.ascontiguousarray(out.reshape(N, OH, OW, F).transpose(0, 3, 1, 2))


def conv2d_backward(dout, x, weight):
    """Gradients (dx, dweight, dbias) of conv2d_forward, im2col style."""
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    dbias = dout.sum(axis=(0, 2, 3))
    cols = extract_patches(x, kh, kw).transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * kh * kw)
    dout_mat = dout.transpose(0, 2, 3, 1).reshape(N * OH * OW, F)             # (N*OH*OW, F)
    dweight = (dout_mat.T @ cols).reshape(F, C, kh, kw)
    dcols = (dout_mat @ weight.reshape(F, C * kh * kw)).reshape(N, OH, OW, C, kh, kw)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + OH, q:q + OW] += dcols[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dx, dweight, dbias


def relu_grad(Z):
    """Derivative of relu at Z: 1 where Z > 0, else 0 (also at exactly 0)."""
    return (Z > 0).astype(Z.dtype)


class CNN:
    """conv -> ReLU -> flatten (C order over F, OH, OW) -> fc -> softmax."""

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        OH = image_size - kernel_size + 1
        fc_in = num_filters * OH * OH
        rng = np.random.default_rng(seed)
        conv_std = np.sqrt(2.0 / (in_channels * kernel_size ** 2))
        self.params = {}
        self.params["conv_W"] = rng.normal(0.0, conv_std, (num_filters, in_channels, kernel_size, kernel_size))
        self.params["conv_b"] = np.zeros(num_filters)
        self.params["fc_W"] = rng.normal(0.0, np.sqrt(1.0 / fc_in), (fc_in, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)
        self.cache = {}

    def forward(self, X):
        Z = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
        A = relu(Z)
        flat = A.reshape(A.shape[0], -1)
        probs = softmax(flat @ self.params["fc_W"] + self.params["fc_b"])
        self.cache = {"X": X, "Z": Z, "flat": flat, "probs": probs}
        return probs

    def backward(self, targets):
        c = self.cache
        delta = (c["probs"] - targets) / c["X"].shape[0]
        dflat = delta @ self.params["fc_W"].T
        dZ = dflat.reshape(c["Z"].shape) * relu_grad(c["Z"])
        _, dconv_W, dconv_b = conv2d_backward(dZ, c["X"], self.params["conv_W"])
        return {"conv_W": dconv_W, "conv_b": dconv_b,
                "fc_W": c["flat"].T @ delta, "fc_b": delta.sum(axis=0)}

    def step(self, grads, lr):
        for k in self.params:
            self.params[k] = self.params[k] - lr * grads[k]
