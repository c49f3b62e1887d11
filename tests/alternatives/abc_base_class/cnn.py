import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import Model, relu, softmax


def extract_patches(x, kh, kw):
    n, c, h, w = x.shape
    return as_strided(x, shape=(n, c, h - kh + 1, w - kw + 1, kh, kw),
                      strides=x.strides[:2] + x.strides[2:] * 2, writeable=False)


def conv2d_forward(x, weight, bias):
    f, c, kh, kw = weight.shape
    windows = extract_patches(x, kh, kw)
    out = np.tensordot(weight, windows, axes=[(1, 2, 3), (1, 4, 5)])      # (F, N, OH, OW)
    out += bias.reshape(f, 1, 1, 1)
    return np.swapaxes(out, 0, 1)


def conv2d_backward(dout, x, weight):
    f, c, kh, kw = weight.shape
    n, _, oh, ow = dout.shape
    dbias = dout.sum(axis=(0, 2, 3))
    dweight = np.tensordot(dout, extract_patches(x, kh, kw), axes=[(0, 2, 3), (0, 2, 3)])
    # dx as a valid correlation of the zero-padded dout with the 180-degree rotated kernel
    dpad = np.zeros((n, f, oh + 2 * (kh - 1), ow + 2 * (kw - 1)), dtype=dout.dtype)
    dpad[:, :, kh - 1:kh - 1 + oh, kw - 1:kw - 1 + ow] = dout
    rot = np.flip(weight, axis=(2, 3))
    dx = np.tensordot(extract_patches(dpad, kh, kw), rot, axes=[(1, 4, 5), (0, 2, 3)])   # (N, H, W, C)
    return dx.transpose(0, 3, 1, 2), dweight, dbias


class CNN(Model):
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        o = image_size - kernel_size + 1
        fan_in_conv = in_channels * kernel_size ** 2
        fan_in_fc = num_filters * o * o
        self.params = {"conv_W": rng.normal(0, np.sqrt(2 / fan_in_conv),
                                            (num_filters, in_channels, kernel_size, kernel_size)),
                       "conv_b": np.zeros(num_filters)}
        self.params["fc_W"] = rng.normal(0, np.sqrt(1 / fan_in_fc), (fan_in_fc, num_classes))
        self.params["fc_b"] = np.zeros(num_classes)

    def forward(self, X):
        Z = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
        F = Z.reshape(Z.shape[0], -1)
        flat = relu(F)
        probs = softmax(flat @ self.params["fc_W"] + self.params["fc_b"])
        self._X, self._Z, self._flat, self._probs = X, Z, flat, probs
        return probs

    def backward(self, targets):
        delta = (self._probs - targets) / self._X.shape[0]
        dflat = delta @ self.params["fc_W"].T
        dZ = np.where(self._Z > 0, dflat.reshape(self._Z.shape), 0.0)
        _, dW, db = conv2d_backward(dZ, self._X, self.params["conv_W"])
        return {"conv_W": dW, "conv_b": db, "fc_W": self._flat.T @ delta, "fc_b": delta.sum(0)}
