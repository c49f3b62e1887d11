"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax.

Alternative: the convolution loops over the kh * kw kernel offsets (p, q), each step one
contraction over (N, C, OH, OW) at once; dx is a "full" convolution of the zero-padded dout
with the flipped kernel, again through extract_patches.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Read-only view (N, C, OH, OW, kh, kw): patches[n, c, i, j, p, q] = x[n, c, i+p, j+q]."""
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),
                      strides=(sN, sC, sH, sW, sH, sW), writeable=False)


def conv2d_forward(x, weight, bias):
    """out[n, f, i, j] = sum_{p,q} sum_c x[n, c, i+p, j+q] * weight[f, c, p, q] + bias[f]."""
    F, C, kh, kw = weight.shape
    patches = extract_patches(x, kh, kw)                            # (N, C, OH, OW, kh, kw)
    N, _, OH, OW = patches.shape[:4]
    out = np.zeros((N, OH, OW, F), dtype=np.result_type(x, weight, bias))
    for p in range(kh):
        for q in range(kw):
            # x shifted by (p, q), i.e. patches[..., p, q]: (N, C, OH, OW) against weight[:, :, p, q]
            out += np.tensordot(patches[:, :, :, :, p, q], weight[:, :, p, q], axes=([1], [1]))
    out += bias                                                      # along F
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))           # (N, F, OH, OW)


def conv2d_backward(dout, x, weight):
    """Gradients (dx, dweight, dbias) of conv2d_forward."""
    F, C, kh, kw = weight.shape
    dbias = dout.sum(axis=(0, 2, 3))                                 # (F,)
    patches = extract_patches(x, kh, kw)                             # (N, C, OH, OW, kh, kw)
    dweight = np.empty((F, C, kh, kw), dtype=np.result_type(dout, x))
    for p in range(kh):
        for q in range(kw):
            dweight[:, :, p, q] = np.tensordot(dout, patches[:, :, :, :, p, q], axes=([0, 2, 3], [0, 2, 3]))
    # dx[n, c, y, x] = sum_{f,p,q} dout[n, f, y-p, x-q] weight[f, c, p, q]: a valid correlation of
    # dout padded by (kh-1, kw-1) with the kernel flipped in both spatial axes.
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))   # (N, F, H+kh-1, W+kw-1)
    windows = extract_patches(padded, kh, kw)                                      # (N, F, H, W, kh, kw)
    dx = np.tensordot(windows, weight[:, :, ::-1, ::-1], axes=([1, 4, 5], [0, 2, 3]))  # (N, H, W, C)
    return np.ascontiguousarray(dx.transpose(0, 3, 1, 2)), dweight, dbias


class CNN:
    """conv -> ReLU -> flatten (C order over F, OH, OW) -> fc -> softmax."""

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        C, F, k = in_channels, num_filters, kernel_size
        out_size = image_size - k + 1
        fc_in = F * out_size * out_size
        rng = np.random.default_rng(seed)
        self.params = {
            "conv_W": rng.normal(0.0, np.sqrt(2.0 / (C * k * k)), (F, C, k, k)),
            "conv_b": np.zeros(F),
            "fc_W": rng.normal(0.0, np.sqrt(1.0 / fc_in), (fc_in, num_classes)),
            "fc_b": np.zeros(num_classes),
        }

    def forward(self, X):
        p = self.params
        Z = conv2d_forward(X, p["conv_W"], p["conv_b"])    # (N, F, OH, OW)
        flat = relu(Z).reshape(X.shape[0], -1)             # (N, F*OH*OW)
        probs = softmax(flat @ p["fc_W"] + p["fc_b"])      # (N, num_classes)
        self.cache = (X, Z, flat, probs)
        return probs

    def backward(self, targets):
        X, Z, flat, probs = self.cache
        delta = (probs - targets) / X.shape[0]
        dZ = (delta @ self.params["fc_W"].T).reshape(Z.shape) * (Z > 0)
        _, dconv_W, dconv_b = conv2d_backward(dZ, X, self.params["conv_W"])
        return {"conv_W": dconv_W, "conv_b": dconv_b,
                "fc_W": flat.T @ delta, "fc_b": np.sum(delta, axis=0)}

    def step(self, grads, lr):
        for name in self.params:
            self.params[name] -= lr * grads[name]
