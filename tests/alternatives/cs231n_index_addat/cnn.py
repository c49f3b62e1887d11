import numpy as np
from numpy.lib.stride_tricks import as_strided
from functional import *


def extract_patches(x, kh, kw):
    N, C, H, W = x.shape
    shape = (N, C, H - kh + 1, W - kw + 1, kh, kw)
    strides = x.strides + x.strides[-2:]
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def get_im2col_indices(C, H, W, kh, kw):
    """Index arrays (k, i, j) such that x[:, k, i, j] has shape (N, C*kh*kw, OH*OW)."""
    OH, OW = H - kh + 1, W - kw + 1
    i0 = np.tile(np.repeat(np.arange(kh), kw), C)
    i1 = np.repeat(np.arange(OH), OW)
    j0 = np.tile(np.arange(kw), kh * C)
    j1 = np.tile(np.arange(OW), OH)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), kh * kw).reshape(-1, 1)
    return k, i, j


def im2col(x, kh, kw):
    N, C, H, W = x.shape
    k, i, j = get_im2col_indices(C, H, W, kh, kw)
    cols = x[:, k, i, j]                                   # (N, C*kh*kw, OH*OW)
    return cols.transpose(1, 2, 0).reshape(C * kh * kw, -1)


def col2im(cols, x_shape, kh, kw):
    N, C, H, W = x_shape
    x = np.zeros(x_shape, dtype=cols.dtype)
    k, i, j = get_im2col_indices(C, H, W, kh, kw)
    cols_reshaped = cols.reshape(C * kh * kw, -1, N).transpose(2, 0, 1)
    np.add.at(x, (slice(None), k, i, j), cols_reshaped)
    return x


def conv2d_forward(x, weight, bias):
    N, C, H, W = x.shape
    F, _, kh, kw = weight.shape
    OH, OW = H - kh + 1, W - kw + 1
    x_cols = im2col(x, kh, kw)
    out = weight.reshape(F, -1).dot(x_cols) + bias.reshape(-1, 1)
    out = out.reshape(F, OH, OW, N).transpose(3, 0, 1, 2)
    return out


def conv2d_backward(dout, x, weight):
    F, C, kh, kw = weight.shape
    db = np.sum(dout, axis=(0, 2, 3))
    x_cols = im2col(x, kh, kw)
    dout_r = dout.transpose(1, 2, 3, 0).reshape(F, -1)
    dw = dout_r.dot(x_cols.T).reshape(weight.shape)
    dx_cols = weight.reshape(F, -1).T.dot(dout_r)
    dx = col2im(dx_cols, x.shape, kh, kw)
    return dx, dw, db


class CNN(object):

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        C, F, k = in_channels, num_filters, kernel_size
        OH = image_size - k + 1
        self.params = {}
        self.params['conv_W'] = rng.normal(0, np.sqrt(2. / (C * k * k)), (F, C, k, k))
        self.params['conv_b'] = np.zeros(F)
        self.params['fc_W'] = rng.normal(0, np.sqrt(1. / (F * OH * OH)), (F * OH * OH, num_classes))
        self.params['fc_b'] = np.zeros(num_classes)

    def forward(self, X):
        conv = conv2d_forward(X, self.params['conv_W'], self.params['conv_b'])
        act = relu(conv)
        flat = act.reshape(X.shape[0], -1)
        probs = softmax(flat.dot(self.params['fc_W']) + self.params['fc_b'])
        self.cache = (X, conv, flat, probs)
        return probs

    def backward(self, targets):
        X, conv, flat, probs = self.cache
        N = X.shape[0]
        dscores = (probs - targets) / N
        grads = {'fc_W': flat.T.dot(dscores), 'fc_b': dscores.sum(axis=0)}
        dflat = dscores.dot(self.params['fc_W'].T)
        dconv = dflat.reshape(conv.shape)
        dconv[conv <= 0] = 0
        dx, grads['conv_W'], grads['conv_b'] = conv2d_backward(dconv, X, self.params['conv_W'])
        return grads

    def step(self, grads, lr):
        for p in self.params:
            self.params[p] += -lr * grads[p]
