"""CNN for HW2: the convolution is written as one broadcasted product-and-sum (no Python loops)."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(x, shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),
                      strides=(sN, sC, sH, sW, sH, sW), writeable=False)


def conv2d_forward(x, weight, bias):
    kh, kw = weight.shape[2:]
    P = extract_patches(x, kh, kw)[:, None]                       # (N, 1, C, OH, OW, kh, kw)
    Wb = weight[None, :, :, None, None, :, :]                     # (1, F, C, 1, 1, kh, kw)
    return (P * Wb).sum(axis=(2, 5, 6)) + bias[None, :, None, None]


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    P = extract_patches(x, kh, kw)[:, None]                       # (N, 1, C, OH, OW, kh, kw)
    G = dout[:, :, None, :, :, None, None]                        # (N, F, 1, OH, OW, 1, 1)
    dweight = (G * P).sum(axis=(0, 3, 4))                         # (F, C, kh, kw)
    dbias = dout.sum(axis=(0, 2, 3))
    # dx: zero-pad dout and correlate with the flipped kernel, again as one broadcast
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    Q = extract_patches(padded, kh, kw)[:, :, None]               # (N, F, 1, H, W, kh, kw)
    Wf = weight[:, :, ::-1, ::-1][None, :, :, None, None, :, :]   # (1, F, C, 1, 1, kh, kw)
    dx = (Q * Wf).sum(axis=(1, 5, 6))                             # (N, C, H, W)
    return dx, dweight, dbias


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        C, F, k = in_channels, num_filters, kernel_size
        side = image_size - k + 1
        self.params = {"conv_W": rng.normal(0, np.sqrt(2 / (C * k * k)), size=(F, C, k, k)),
                       "conv_b": np.zeros(F)}
        self.params["fc_W"] = rng.normal(0, np.sqrt(1 / (F * side * side)), size=(F * side * side, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)

    def forward(self, X):
        Z = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
        A = relu(Z)
        H = A.reshape(A.shape[0], -1)
        probs = softmax(H @ self.params["fc_W"] + self.params["fc_b"])
        self.X, self.Z, self.H, self.probs = X, Z, H, probs
        return probs

    def backward(self, targets):
        n = self.X.shape[0]
        dS = (self.probs - targets) / n
        dH = dS @ self.params["fc_W"].T
        dZ = dH.reshape(self.Z.shape) * (self.Z > 0)
        _, dW, db = conv2d_backward(dZ, self.X, self.params["conv_W"])
        return {"conv_W": dW, "conv_b": db, "fc_W": self.H.T @ dS, "fc_b": dS.sum(0)}

    def step(self, grads, lr):
        for key, g in grads.items():
            self.params[key] -= lr * g
