"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax.

Alternative: stride_tricks imported as a module; the network keeps its cache in attributes.
"""
import numpy as np
import numpy.lib.stride_tricks as st

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Read-only view (N, C, OH, OW, kh, kw): patches[n, c, i, j, p, q] = x[n, c, i+p, j+q]."""
    N, C, H, W = x.shape
    strides = x.strides + x.strides[2:]
    return st.as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw), strides=strides,
                         writeable=False)


def conv2d_forward(x, weight, bias):
    """Valid cross-correlation with F filters plus bias; (N, F, OH, OW)."""
    patches = extract_patches(x, weight.shape[2], weight.shape[3])
    out = np.tensordot(weight, patches, axes=([1, 2, 3], [1, 4, 5]))        # (F, N, OH, OW)
    out = out + bias.reshape(-1, 1, 1, 1)
    return np.ascontiguousarray(out.swapaxes(0, 1))                          # (N, F, OH, OW)


def conv2d_backward(dout, x, weight):
    """Gradients (dx, dweight, dbias) of conv2d_forward."""
    F, C, kh, kw = weight.shape
    OH, OW = dout.shape[2], dout.shape[3]
    dbias = dout.sum(axis=3).sum(axis=2).sum(axis=0)
    dweight = np.tensordot(dout, extract_patches(x, kh, kw), axes=([0, 2, 3], [0, 2, 3]))
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + OH, q:q + OW] += np.einsum("nfij,fc->ncij", dout, weight[:, :, p, q])
    return dx, dweight, dbias


class CNN:
    """conv -> ReLU -> flatten (C order over F, OH, OW) -> fc -> softmax."""

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        k = kernel_size
        fc_in = num_filters * (image_size - k + 1) ** 2
        rng = np.random.default_rng(seed)
        conv_W = rng.standard_normal((num_filters, in_channels, k, k)) * np.sqrt(2.0 / (in_channels * k * k))
        fc_W = rng.standard_normal((fc_in, num_classes)) * np.sqrt(1.0 / fc_in)
        self.params = {"conv_W": conv_W, "conv_b": np.zeros(num_filters),
                       "fc_W": fc_W, "fc_b": np.zeros(num_classes)}

    def forward(self, X):
        p = self.params
        self._X = X
        self._Z = conv2d_forward(X, p["conv_W"], p["conv_b"])
        self._flat = relu(self._Z).reshape(len(X), -1)
        self._probs = softmax(self._flat @ p["fc_W"] + p["fc_b"])
        return self._probs

    def backward(self, targets):
        delta = (self._probs - targets) / len(self._X)
        dZ = (delta @ self.params["fc_W"].T).reshape(self._Z.shape)
        dZ[self._Z <= 0] = 0.0
        _, dconv_W, dconv_b = conv2d_backward(dZ, self._X, self.params["conv_W"])
        return {"conv_W": dconv_W, "conv_b": dconv_b,
                "fc_W": self._flat.T @ delta, "fc_b": delta.sum(axis=0)}

    def step(self, grads, lr):
        for name in self.params:
            self.params[name] -= lr * grads[name]
