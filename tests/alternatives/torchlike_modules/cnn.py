"""A tiny PyTorch-style CNN: Conv2d -> ReLU -> Flatten -> Linear, softmax on top."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax
from mlp import Linear


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    strides = x.strides + x.strides[2:]
    return as_strided(x, (N, C, H - kh + 1, W - kw + 1, kh, kw), strides, writeable=False)


def conv2d_forward(x, weight, bias):
    """torch.nn.functional.conv2d(x, weight, bias) (stride 1, no padding)."""
    out = np.einsum("ncijpq,fcpq->nfij", extract_patches(x, *weight.shape[2:]), weight, optimize=True)
    return out + bias[:, None, None]


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    dw = np.einsum("nfij,ncijpq->fcpq", dout, extract_patches(x, kh, kw), optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + OH, q:q + OW] += np.einsum("nfij,fc->ncij", dout, weight[:, :, p, q], optimize=True)
    return dx, dw, db


class Conv2d:
    def __init__(self, params, w, b):
        self.params, self.w, self.b = params, w, b

    def forward(self, x):
        self.x = x
        return conv2d_forward(x, self.params[self.w], self.params[self.b])

    def backward(self, dy, grads):
        _, grads[self.w], grads[self.b] = conv2d_backward(dy, self.x, self.params[self.w])
        return None          # first layer: nobody needs dx


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return relu(x)

    def backward(self, dy, grads):
        return dy * self.mask


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, grads):
        return dy.reshape(self.shape)


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        k = kernel_size
        n_flat = num_filters * (image_size - k + 1) ** 2
        self.params = {}
        self.params["conv_W"] = rng.normal(0, np.sqrt(2 / (in_channels * k * k)), (num_filters, in_channels, k, k))
        self.params["conv_b"] = np.zeros(num_filters)
        self.params["fc_W"] = rng.normal(0, np.sqrt(1 / n_flat), (n_flat, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)
        self.modules = [Conv2d(self.params, "conv_W", "conv_b"), ReLU(), Flatten(),
                        Linear(self.params, "fc_W", "fc_b")]

    def forward(self, X):
        h = X
        for m in self.modules:
            h = m.forward(h)
        self.probs = softmax(h)
        return self.probs

    def backward(self, targets):
        grads = {}
        d = (self.probs - targets) / targets.shape[0]
        for m in reversed(self.modules):
            d = m.backward(d, grads)
        return grads

    def step(self, grads, lr):
        for k in self.params:
            self.params[k] -= lr * grads[k]
