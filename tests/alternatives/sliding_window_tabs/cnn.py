import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from functional import relu, softmax


def extract_patches(x, kh, kw):
	# (N, C, OH, OW, kh, kw) read-only view of x
	return sliding_window_view(x, (kh, kw), axis=(2, 3))


def conv2d_forward(x, weight, bias):
	F, C, kh, kw = weight.shape
	win = extract_patches(x, kh, kw)
	N, _, OH, OW = win.shape[:4]
	cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N, OH, OW, C * kh * kw)
	out = cols @ weight.reshape(F, -1).T + bias                 # (N, OH, OW, F)
	return np.moveaxis(out, -1, 1)


def conv2d_backward(dout, x, weight):
	F, C, kh, kw = weight.shape
	N, _, OH, OW = dout.shape
	win = extract_patches(x, kh, kw)
	cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * kh * kw)
	g = np.moveaxis(dout, 1, -1).reshape(-1, F)                    # (N*OH*OW, F)
	dweight = (g.T @ cols).reshape(weight.shape)
	dbias = g.sum(axis=0)
	# dx: pad dout by k-1 on each side and correlate it with the flipped kernels
	padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
	pw = sliding_window_view(padded, (kh, kw), axis=(2, 3))        # (N, F, H, W, kh, kw)
	flipped = weight[:, :, ::-1, ::-1]
	dx = np.einsum("nfhwpq,fcpq->nchw", pw, flipped, optimize=True)
	return dx, dweight, dbias


class CNN:
	def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
				 num_classes=10, seed=0):
		rng = np.random.default_rng(seed)
		oh = image_size - kernel_size + 1
		n_flat = num_filters * oh * oh
		self.params = dict()
		self.params["conv_W"] = rng.normal(0, (2 / (in_channels * kernel_size ** 2)) ** 0.5,
										   size=(num_filters, in_channels, kernel_size, kernel_size))
		self.params["conv_b"] = np.zeros(num_filters)
		self.params["fc_W"] = rng.normal(0, (1 / n_flat) ** 0.5, size=(n_flat, num_classes))
		self.params["fc_b"] = np.zeros(num_classes)

	def forward(self, X):
		Z = conv2d_forward(X, self.params["conv_W"], self.params["conv_b"])
		A = relu(Z)
		flat = A.reshape(len(X), -1)
		probs = softmax(flat @ self.params["fc_W"] + self.params["fc_b"])
		self.cache = {"X": X, "A": A, "flat": flat, "probs": probs}
		return probs

	def backward(self, targets):
		X, A, flat, probs = (self.cache[k] for k in ("X", "A", "flat", "probs"))
		d = (probs - targets) / len(X)
		dA = (d @ self.params["fc_W"].T).reshape(A.shape)
		dZ = dA * (A > 0)
		_, dW, db = conv2d_backward(dZ, X, self.params["conv_W"])
		return {"conv_W": dW, "conv_b": db, "fc_W": flat.T @ d, "fc_b": d.sum(axis=0)}

	def step(self, grads, lr):
		for name in grads:
			self.params[name] -= lr * grads[name]
