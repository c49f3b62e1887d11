import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(x, (N, C, H - kh + 1, W - kw + 1, kh, kw), (sN, sC, sH, sW, sH, sW))


def _im2col(x, kh, kw):
    """(N, OH*OW, C*kh*kw) copy of the windows."""
    P = extract_patches(x, kh, kw)
    N, C, OH, OW = P.shape[:4]
    return P.transpose(0, 2, 3, 1, 4, 5).reshape(N, OH * OW, C * kh * kw)


def conv2d_forward(x, weight, bias):
    F = weight.shape[0]
    N, _, H, W = x.shape
    OH, OW = H - weight.shape[2] + 1, W - weight.shape[3] + 1
    cols = _im2col(x, *weight.shape[2:])
    out = cols @ weight.reshape(F, -1).T + bias                    # (N, OH*OW, F)
    return out.transpose(0, 2, 1).reshape(N, F, OH, OW)


def _backward_from_cols(dout, cols, x_shape, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    d = dout.reshape(N, F, OH * OW)
    dweight = np.einsum("nfa,nak->fk", d, cols).reshape(weight.shape)
    dbias = d.sum(axis=(0, 2))
    dcols = np.einsum("nfa,fk->nak", d, weight.reshape(F, -1)).reshape(N, OH, OW, C, kh, kw)
    dx = np.zeros(x_shape, dtype=dcols.dtype)
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + OH, q:q + OW] += np.moveaxis(dcols[:, :, :, :, p, q], 3, 1)
    return dx, dweight, dbias


def conv2d_backward(dout, x, weight):
    return _backward_from_cols(dout, _im2col(x, *weight.shape[2:]), x.shape, weight)


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        k = kernel_size
        self.k = k
        D = num_filters * (image_size - k + 1) ** 2
        self.params = {}
        self.params["conv_W"] = rng.normal(0, (2 / (in_channels * k * k)) ** .5, (num_filters, in_channels, k, k))
        self.params["conv_b"] = np.zeros(num_filters)
        self.params["fc_W"] = rng.normal(0, D ** -.5, (D, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)

    def forward(self, X):
        W, b = self.params["conv_W"], self.params["conv_b"]
        cols = _im2col(X, self.k, self.k)                          # kept for backward
        N, F = X.shape[0], W.shape[0]
        OH = X.shape[2] - self.k + 1
        OW = X.shape[3] - self.k + 1
        Z = (cols @ W.reshape(F, -1).T + b).transpose(0, 2, 1).reshape(N, F, OH, OW)
        A = relu(Z)
        h = A.reshape(N, -1)
        P = softmax(h @ self.params["fc_W"] + self.params["fc_b"])
        self.cache = dict(x_shape=X.shape, cols=cols, Z=Z, h=h, P=P)
        return P

    def backward(self, targets):
        c = self.cache
        dS = (c["P"] - targets) / c["P"].shape[0]
        dZ = (dS @ self.params["fc_W"].T).reshape(c["Z"].shape) * np.heaviside(c["Z"], 0.0)
        _, dW, db = _backward_from_cols(dZ, c["cols"], c["x_shape"], self.params["conv_W"])
        return {"conv_W": dW, "conv_b": db,
                "fc_W": np.einsum("ni,nj->ij", c["h"], dS), "fc_b": dS.sum(axis=0)}

    def step(self, grads, lr):
        for k in self.params:
            self.params[k] -= lr * grads[k]
