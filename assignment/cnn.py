# GENERATED from solution/cnn.py by "mnist-grader release".
# Students: write your code where it says TODO. Course staff: edit solution/cnn.py and regenerate.
"""A small convolutional network: conv (8 filters, 3x3) -> ReLU -> flatten -> fc -> softmax."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from functional import relu, softmax


def extract_patches(x, kh, kw):
    """Every kh x kw window of every image, as a view of x (no copy).

        patches[n, c, i, j, p, q] = x[n, c, i + p, j + q]

    as_strided builds the view from x's own strides: moving one step along i
    (or along p) moves one row in x; one step along j (or q) moves one column.
    The grader also passes float32 and non-contiguous x, so take the strides from
    x.strides, never from the item size; writeable=False makes the view read-only.

    Inputs:
    - x: batch of images, shape (N, C, H, W); any dtype, any memory layout
    - kh, kw: window height and width

    Returns:
    - patches: read-only view of x, shape (N, C, H - kh + 1, W - kw + 1, kh, kw)
    """
    # TODO: shape (N, C, OH, OW, kh, kw); strides (sN, sC, sH, sW, sH, sW) from x.strides.
    raise NotImplementedError("extract_patches: not written yet")


def conv2d_forward(x, weight, bias):
    """Apply F filters to a batch of images (valid cross-correlation, stride 1).

    Each filter is laid over every kh x kw window of the image, multiplied
    elementwise across all C channels and summed; bias[f] is then added:
        out[n, f, i, j] = sum_{c,p,q} x[n, c, i+p, j+q] * weight[f, c, p, q] + bias[f]
    No padding, and the kernel is not flipped.

    Inputs:
    - x: batch of images, shape (N, C, H, W)
    - weight: filters, shape (F, C, kh, kw)
    - bias: one offset per filter, shape (F,)

    Returns:
    - out: feature maps, shape (N, F, H - kh + 1, W - kw + 1); float64 for float64 inputs

    Hint: extract_patches(x, kh, kw) hands you every window at once; laid out as
    columns (the TODO below) they need one np.matmul, and np.tensordot or np.einsum
    compute the same. Either way, one contraction
    over the (C, kh, kw) axes does the rest. Loops over images or pixels are too slow.
    """
    # TODO: patches = extract_patches(x, kh, kw); transpose and reshape them to columns of shape
    # (N, C*kh*kw, OH*OW); one np.matmul with weight reshaped to (F, C*kh*kw); add bias[:, None];
    # reshape to (N, F, OH, OW).
    raise NotImplementedError("conv2d_forward: not written yet")


def conv2d_backward(dout, x, weight):
    """Gradients of a loss through conv2d_forward, given the upstream gradient dout.

        dbias[f]         = sum_{n,i,j} dout[n, f, i, j]
        dweight[f,c,p,q] = sum_{n,i,j} dout[n, f, i, j] * x[n, c, i+p, j+q]
        dx[n,c,i+p,j+q] += sum_f      dout[n, f, i, j] * weight[f, c, p, q]

    Inputs:
    - dout: upstream gradient, shape (N, F, OH, OW)
    - x: the input of the forward pass, shape (N, C, H, W)
    - weight: the filters of the forward pass, shape (F, C, kh, kw)

    Returns a tuple of:
    - dx: shape (N, C, H, W)
    - dweight: shape (F, C, kh, kw)
    - dbias: shape (F,)

    Hint: dweight is one contraction of dout with extract_patches(x, kh, kw).
    For dx, a loop over the kh * kw kernel offsets (p, q) is fine.
    """
    # TODO: dbias by summing dout; dweight by one np.matmul of dout as (N, F, OH*OW) with the
    # columns of conv2d_forward, summed over n; dx with a loop over the kernel offsets (p, q).
    raise NotImplementedError("conv2d_backward: not written yet")


class CNN:
    """conv (F filters, k x k, no padding) -> ReLU -> flatten -> fully connected -> softmax.

        Z = conv2d_forward(X, conv_W, conv_b)     (N, F, OH, OW)
        A = relu(Z)                               (N, F, OH, OW)
        flat = A reshaped to (N, F * OH * OW)     (C order over F, OH, OW)
        probs = softmax(flat fc_W + fc_b)         (N, num_classes)

    Attributes:
    - params: dict of float64 arrays
        conv_W (F, C, k, k), conv_b (F,), fc_W (F * OH * OW, num_classes), fc_b (num_classes,)
    """

    def __init__(self, in_channels=1, num_filters=8, kernel_size=3, image_size=28,
                 num_classes=10, seed=0):
        """Create the parameters.

        rng = np.random.default_rng(seed); draw conv_W first with standard deviation
        sqrt(2 / (C * k * k)) (He initialization), then fc_W with standard deviation
        sqrt(1 / (F * OH * OW)); biases start at zero. OH = OW = image_size - k + 1.
        The grader compares the weights with its own draws, so the order of the draws
        matters.

        Inputs:
        - in_channels: C
        - num_filters: F
        - kernel_size: k (square kernels)
        - image_size: the height (= width) of the square input images
        - num_classes: number of outputs
        - seed: seed of the random generator (same seed, same weights)
        """
        # TODO: fill self.params with conv_W, conv_b, fc_W, fc_b (conv_W drawn before fc_W).
        raise NotImplementedError("CNN.__init__: not written yet")

    def forward(self, X):
        """Compute class probabilities for a batch and remember what backward needs.

        Inputs:
        - X: batch of images, shape (N, C, H, W)

        Returns:
        - probs: shape (N, num_classes); each row sums to 1
        """
        # TODO: conv2d_forward, relu, reshape to (N, -1), fc, softmax; keep what backward needs.
        raise NotImplementedError("CNN.forward: not written yet")

    def backward(self, targets):
        """Gradients of the mean cross-entropy of the last forward batch.

            delta = (probs - targets) / N                  (N, num_classes)
            dfc_W = flat^T delta       dfc_b = sum_n delta
            dZ = (delta fc_W^T reshaped to Z's shape) * (Z > 0)
            dconv_W, dconv_b from conv2d_backward(dZ, X, conv_W)

        Inputs:
        - targets: one-hot labels of the last forward batch, shape (N, num_classes)

        Returns:
        - grads: dict with the keys and shapes of self.params
        """
        # TODO: follow the formulas above, using what forward stored in self.cache.
        raise NotImplementedError("CNN.backward: not written yet")

    def step(self, grads, lr):
        """One step of gradient descent: params[k] <- params[k] - lr * grads[k].

        Updating the arrays in place (-=) or rebinding the entries
        (self.params[k] = ...) are both fine.

        Inputs:
        - grads: dict with the keys and shapes of self.params
        - lr: learning rate (float)

        Returns: nothing; self.params is updated.
        """
        # TODO: update every entry of self.params.
        raise NotImplementedError("CNN.step: not written yet")
