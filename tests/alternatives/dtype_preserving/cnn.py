"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax.

Alternative: the conv functions name their output dtype explicitly (np.result_type of the
inputs), so float32 inputs are computed in float32 and float64 inputs in float64.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Read-only view (N, C, OH, OW, kh, kw) of x with patches[n, c, i, j, p, q] = x[n, c, i+p, j+q]."""
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),
                      strides=(sN, sC, sH, sW, sH, sW), writeable=False)


def conv2d_forward(x, weight, bias):
    """Valid cross-correlation plus bias, in np.result_type(x, weight, bias)."""
    dtype = np.result_type(x, weight, bias)
    kh, kw = weight.shape[2:]
    patches = extract_patches(x, kh, kw)                                          # (N, C, OH, OW, kh, kw)
    out = np.tensordot(patches, weight, axes=([1, 4, 5], [1, 2, 3]))              # (N, OH, OW, F)
    out = out.astype(dtype, copy=False)
    out += np.asarray(bias, dtype=dtype)
    return np.ascontiguousarray(np.moveaxis(out, 3, 1))                           # (N, F, OH, OW)


def conv2d_backward(dout, x, weight):
    """Gradients (dx, dweight, dbias) of conv2d_forward."""
    kh, kw = weight.shape[2:]
    OH, OW = dout.shape[2:]
    dbias = dout.sum(axis=(0, 2, 3))                                              # (F,)
    patches = extract_patches(x, kh, kw)
    dweight = np.tensordot(dout, patches, axes=([0, 2, 3], [0, 2, 3]))            # (F, C, kh, kw)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))                    # (N, C, H, W)
    for p in range(kh):
        for q in range(kw):
            part = np.tensordot(weight[:, :, p, q], dout, axes=([0], [1]))        # (C, N, OH, OW)
            dx[:, :, p:p + OH, q:q + OW] += np.moveaxis(part, 0, 1)
    return dx, dweight, dbias


class CNN:
    """conv -> ReLU -> flatten (C order over F, OH, OW) -> fc -> softmax; float64 parameters."""

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        C, F, k = in_channels, num_filters, kernel_size
        OH = image_size - k + 1
        rng = np.random.default_rng(seed)
        conv_W = rng.normal(0.0, np.sqrt(2.0 / (C * k * k)), (F, C, k, k))
        fc_W = rng.normal(0.0, np.sqrt(1.0 / (F * OH * OH)), (F * OH * OH, num_classes))
        self.params = {"conv_W": conv_W.astype(np.float64), "conv_b": np.zeros(F, np.float64),
                       "fc_W": fc_W.astype(np.float64), "fc_b": np.zeros(num_classes, np.float64)}

    def forward(self, X):
        p = self.params
        X = np.asarray(X)
        Z = conv2d_forward(X, p["conv_W"], p["conv_b"])            # (N, F, OH, OW), float64
        flat = relu(Z).reshape(X.shape[0], -1)
        probs = softmax(flat @ p["fc_W"] + p["fc_b"])
        self.cache = (X, Z, flat, probs)
        return probs

    def backward(self, targets):
        X, Z, flat, probs = self.cache
        targets = np.asarray(targets).astype(probs.dtype, copy=False)
        delta = (probs - targets) / probs.dtype.type(X.shape[0])
        dZ = (delta @ self.params["fc_W"].T).reshape(Z.shape)
        dZ *= (Z > 0)
        _, dconv_W, dconv_b = conv2d_backward(dZ, X, self.params["conv_W"])
        return {"conv_W": dconv_W, "conv_b": dconv_b,
                "fc_W": flat.T @ delta, "fc_b": delta.sum(axis=0)}

    def step(self, grads, lr):
        for name, value in self.params.items():
            value -= np.asarray(lr * grads[name], dtype=value.dtype)
