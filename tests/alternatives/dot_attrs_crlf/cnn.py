"""Conv -> ReLU -> FC -> softmax, with im2col done via np.dot."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    s0, s1, s2, s3 = x.strides
    out_shape = (N, C, H - kh + 1, W - kw + 1, kh, kw)
    return as_strided(x, shape=out_shape, strides=(s0, s1, s2, s3, s2, s3), writeable=False)


def conv2d_forward(x, weight, bias):
    F, C, kh, kw = weight.shape
    N, _, H, W = x.shape
    OH, OW = H - kh + 1, W - kw + 1
    P = extract_patches(x, kh, kw)
    # rows = output pixels, columns = (c, p, q)
    cols = P.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * kh * kw)
    out = np.dot(cols, weight.reshape(F, -1).T) + bias          # (N*OH*OW, F)
    return out.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    P = extract_patches(x, kh, kw)
    cols = P.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * kh * kw)
    d2 = dout.transpose(0, 2, 3, 1).reshape(N * OH * OW, F)
    db = d2.sum(axis=0)
    dW = np.dot(d2.T, cols).reshape(F, C, kh, kw)
    dx = np.zeros_like(x, dtype=np.result_type(dout, weight))
    for p in range(kh):
        for q in range(kw):
            w_pq = weight[:, :, p, q]                                 # (F, C)
            contrib = np.dot(d2, w_pq).reshape(N, OH, OW, C).transpose(0, 3, 1, 2)
            dx[:, :, p:p + OH, q:q + OW] += contrib
    return dx, dW, db


class CNN:
    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        k = kernel_size
        self.out_hw = image_size - k + 1
        fan_fc = num_filters * self.out_hw ** 2
        conv_std = np.sqrt(2.0 / (in_channels * k * k))
        fc_std = np.sqrt(1.0 / fan_fc)
        self.params = {}
        self.params['conv_W'] = rng.normal(0, conv_std, (num_filters, in_channels, k, k))
        self.params['conv_b'] = np.zeros(num_filters)
        self.params['fc_W'] = rng.normal(0, fc_std, (fan_fc, num_classes))
        self.params['fc_b'] = np.zeros(num_classes)

    def forward(self, X):
        self.X = X
        self.Z = conv2d_forward(X, self.params['conv_W'], self.params['conv_b'])
        self.A = relu(self.Z)
        self.flat = self.A.reshape(X.shape[0], -1)
        scores = np.dot(self.flat, self.params['fc_W']) + self.params['fc_b']
        self.probs = softmax(scores)
        return self.probs

    def backward(self, targets):
        N = self.X.shape[0]
        d_scores = (self.probs - targets) / N
        d_fcW = np.dot(self.flat.T, d_scores)
        d_fcb = np.sum(d_scores, axis=0)
        d_flat = np.dot(d_scores, self.params['fc_W'].T)
        dA = d_flat.reshape(self.Z.shape)
        dZ = dA * (self.Z > 0)
        _, d_convW, d_convb = conv2d_backward(dZ, self.X, self.params['conv_W'])
        return {'conv_W': d_convW, 'conv_b': d_convb, 'fc_W': d_fcW, 'fc_b': d_fcb}

    def step(self, grads, lr):
        for k, g in grads.items():
            self.params[k] = self.params[k] - lr * g
