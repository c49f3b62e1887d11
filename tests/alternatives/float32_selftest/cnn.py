"""Conv -> ReLU -> FC -> softmax, in the input's dtype."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax, one_hot, cross_entropy


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    st = x.strides
    return as_strided(x, (N, C, H - kh + 1, W - kw + 1, kh, kw), st + st[2:], writeable=False)


def columns(x, kh, kw):
    """Every window of x as a column: shape (C*kh*kw, N*OH*OW)."""
    C = x.shape[1]
    return extract_patches(x, kh, kw).transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, -1)


def conv2d_forward(x, weight, bias, X_col=None):
    F, C, kh, kw = weight.shape
    N, _, H, W = x.shape
    OH, OW = H - kh + 1, W - kw + 1
    X_col = columns(x, kh, kw) if X_col is None else X_col              # (CKK, N*OH*OW)
    out = weight.reshape(F, -1) @ X_col + bias.reshape(-1, 1)           # (F, N*OH*OW)
    return out.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    X_col = columns(x, kh, kw)
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)                        # (F, N*OH*OW)
    dweight = (d @ X_col.T).reshape(F, C, kh, kw)
    dbias = d.sum(axis=1)
    dx_col = weight.reshape(F, -1).T @ d                                  # (CKK, N*OH*OW)
    dx_col = dx_col.reshape(C, kh, kw, N, OH, OW)
    dx = np.zeros(x.shape, dtype=dx_col.dtype)
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + OH, q:q + OW] += dx_col[:, p, q].transpose(1, 0, 2, 3)
    return dx, dweight, dbias


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        k = kernel_size
        s = image_size - k + 1
        D = num_filters * s * s
        self.params = {
            "conv_W": np.sqrt(2 / (in_channels * k * k)) * rng.standard_normal((num_filters, in_channels, k, k)),
            "conv_b": np.zeros(num_filters),
            "fc_W": np.sqrt(1 / D) * rng.standard_normal((D, num_classes)),
            "fc_b": np.zeros(num_classes),
        }

    def _p(self, name, dtype):
        return self.params[name].astype(dtype, copy=False)

    def forward(self, X):
        dt = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = X.astype(dt, copy=False)
        k = self.params["conv_W"].shape[-1]
        X_col = columns(X, k, k)                                         # kept for backward
        Z = np.ascontiguousarray(conv2d_forward(X, self._p("conv_W", dt), self._p("conv_b", dt), X_col))
        A = relu(Z)
        flat = A.reshape(A.shape[0], -1)
        probs = softmax(flat @ self._p("fc_W", dt) + self._p("fc_b", dt))
        self.X, self.X_col, self.Z, self.flat, self.probs = X, X_col, Z, flat, probs
        return probs

    def backward(self, targets):
        dt = self.probs.dtype
        delta = (self.probs - targets.astype(dt, copy=False)) / self.X.shape[0]
        dZ = (delta @ self._p("fc_W", dt).T).reshape(self.Z.shape)
        dZ = dZ * (self.Z > 0)
        d = dZ.transpose(1, 0, 2, 3).reshape(dZ.shape[1], -1)              # (F, N*OH*OW); no dx: X is the input
        dW = (d @ self.X_col.T).reshape(self.params["conv_W"].shape)
        return {"conv_W": dW, "conv_b": d.sum(axis=1), "fc_W": self.flat.T @ delta, "fc_b": delta.sum(axis=0)}

    def step(self, grads, lr):
        for name, g in grads.items():
            self.params[name] -= lr * g


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 1, 10, 10))
    Y = one_hot(rng.integers(0, 3, 32), 3)
    net = CNN(1, 4, 3, 10, 3)
    for it in range(100):
        P = net.forward(X)
        net.step(net.backward(Y), 0.1)
    print("loss after 100 steps:", cross_entropy(net.forward(X), Y))
    print("float32 probs dtype:", net.forward(X.astype(np.float32)).dtype)
