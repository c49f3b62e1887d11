import numpy as np
from numpy.lib.stride_tricks import as_strided

import functional as fn


def extract_patches(x, kh, kw):
    n, c, h, w = x.shape
    sn, sc, sh, sw = x.strides
    return as_strided(x, shape=(n, c, h - kh + 1, w - kw + 1, kh, kw),
                      strides=(sn, sc, sh, sw, sh, sw), writeable=False)


def conv2d_forward(x, weight, bias):
    F, C, kh, kw = weight.shape
    patches = extract_patches(x, kh, kw)                   # (N, C, OH, OW, kh, kw)
    N, _, OH, OW, _, _ = patches.shape
    out = np.empty((N, F, OH, OW), dtype=np.result_type(x, weight, bias))
    for f in range(F):                                      # one filter at a time (allowed)
        out[:, f] = np.sum(patches * weight[f][:, None, None, :, :], axis=(1, 4, 5)) + bias[f]
    return out


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    patches = extract_patches(x, kh, kw)
    dweight = np.empty(weight.shape, dtype=np.result_type(dout, x))
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))
    for f in range(F):
        g = dout[:, f][:, None, :, :, None, None]           # (N, 1, OH, OW, 1, 1)
        dweight[f] = np.sum(g * patches, axis=(0, 2, 3))
        for p in range(kh):
            for q in range(kw):
                dx[:, :, p:p + OH, q:q + OW] += g[..., 0, 0] * weight[f, :, p, q][None, :, None, None]
    dbias = dout.sum(axis=(0, 2, 3))
    return dx, dweight, dbias


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        self.rng = np.random.default_rng(seed)
        out_side = image_size - kernel_size + 1
        flat = num_filters * out_side * out_side
        self.params = {}
        self.params["conv_W"] = self.rng.normal(0, np.sqrt(2 / (in_channels * kernel_size * kernel_size)),
                                                (num_filters, in_channels, kernel_size, kernel_size))
        self.params["conv_b"] = np.zeros(num_filters)
        self.params["fc_W"] = self.rng.normal(0, np.sqrt(1 / flat), (flat, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)

    def forward(self, X):
        self.inputs = X
        self.pre = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
        self.flat = fn.relu(self.pre).reshape(len(X), -1)
        self.output = fn.softmax(self.flat @ self.params["fc_W"] + self.params["fc_b"])
        return self.output

    def backward(self, targets):
        targets = np.array(targets, dtype=float)
        err = (self.output - targets) / len(targets)
        d_pre = (err @ self.params["fc_W"].T).reshape(self.pre.shape) * (self.pre > 0)
        _, dW, db = conv2d_backward(d_pre, self.inputs, self.params["conv_W"])
        return {"conv_W": dW, "conv_b": db, "fc_W": self.flat.T @ err, "fc_b": err.sum(axis=0)}

    def step(self, grads, lr):
        for name in self.params:
            np.subtract(self.params[name], lr * grads[name], out=self.params[name])
