"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax.

Alternative: the textbook convolution, plain np.einsum and a full correlation for dx.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Every kh x kw window of every image, as a read-only view of x:
    patches[n, c, i, j, p, q] = x[n, c, i + p, j + q], shape (N, C, OH, OW, kh, kw)."""
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),
                      strides=(sN, sC, sH, sW, sH, sW), writeable=False)


def conv2d_forward(x, weight, bias):
    """out[n, f, i, j] = sum_{c,p,q} x[n, c, i+p, j+q] * weight[f, c, p, q] + bias[f]."""
    kh, kw = weight.shape[2:]
    out = np.einsum("ncijpq,fcpq->nfij", extract_patches(x, kh, kw), weight)   # (N, F, OH, OW)
    return out + bias[None, :, None, None]


def conv2d_backward(dout, x, weight):
    """Gradients (dx, dweight, dbias) of conv2d_forward for the upstream gradient dout.

    dx is the "full" correlation of dout with the kernels rotated by 180 degrees:
    pad dout with kh-1 rows and kw-1 columns of zeros on each side, then correlate.
    """
    kh, kw = weight.shape[2:]
    dbias = dout.sum(axis=(0, 2, 3))                                                 # (F,)
    dweight = np.einsum("nfij,ncijpq->fcpq", dout, extract_patches(x, kh, kw))       # (F, C, kh, kw)
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))     # (N, F, H+kh-1, W+kw-1)
    flipped = weight[:, :, ::-1, ::-1]                                               # (F, C, kh, kw)
    dx = np.einsum("nfhwpq,fcpq->nchw", extract_patches(padded, kh, kw), flipped)    # (N, C, H, W)
    return dx, dweight, dbias


class CNN:
    """conv (F filters, k x k) -> ReLU -> flatten (C order over F, OH, OW) -> fc -> softmax."""

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        C, F, k = in_channels, num_filters, kernel_size
        fc_in = F * (image_size - k + 1) ** 2
        rng = np.random.default_rng(seed)
        conv_W = rng.normal(0.0, np.sqrt(2.0 / (C * k * k)), size=(F, C, k, k))
        fc_W = rng.normal(0.0, np.sqrt(1.0 / fc_in), size=(fc_in, num_classes))
        self.params = {"conv_W": conv_W, "conv_b": np.zeros(F),
                       "fc_W": fc_W, "fc_b": np.zeros(num_classes)}

    def forward(self, X):
        p = self.params
        Z = conv2d_forward(X, p["conv_W"], p["conv_b"])                           # (N, F, OH, OW)
        flat = relu(Z).reshape(len(X), -1)                                         # (N, F*OH*OW)
        probs = softmax(np.einsum("nd,dk->nk", flat, p["fc_W"]) + p["fc_b"])        # (N, K)
        self.cache = (X, Z, flat, probs)
        return probs

    def backward(self, targets):
        X, Z, flat, probs = self.cache
        delta = (probs - targets) / len(X)                                         # (N, K)
        dflat = np.einsum("nk,dk->nd", delta, self.params["fc_W"])                 # (N, F*OH*OW)
        dZ = np.where(Z > 0, dflat.reshape(Z.shape), 0.0)                          # (N, F, OH, OW)
        _, dconv_W, dconv_b = conv2d_backward(dZ, X, self.params["conv_W"])
        return {
            "conv_W": dconv_W,
            "conv_b": dconv_b,
            "fc_W": np.einsum("nd,nk->dk", flat, delta),
            "fc_b": np.einsum("nk->k", delta),
        }

    def step(self, grads, lr):
        for name in self.params:
            self.params[name] -= lr * grads[name]
