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
    ### BEGIN SOLUTION
    # TODO: shape (N, C, OH, OW, kh, kw); strides (sN, sC, sH, sW, sH, sW) from x.strides.
    N, C, H, W = x.shape
    sN, sC, sH, sW = x.strides
    return as_strided(
        x,
        shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),
        strides=(sN, sC, sH, sW, sH, sW),
        writeable=False,
    )
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    # TODO: patches = extract_patches(x, kh, kw); transpose and reshape them to columns of shape
    # (N, C*kh*kw, OH*OW); one np.matmul with weight reshaped to (F, C*kh*kw); add bias[:, None];
    # reshape to (N, F, OH, OW).
    F, C, kh, kw = weight.shape
    patches = extract_patches(x, kh, kw)                                     # (N, C, OH, OW, kh, kw)
    N, _, OH, OW = patches.shape[:4]
    # one column of C*kh*kw inputs per output pixel ("im2col"); this reshape copies the windows once
    cols = patches.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)
    out = np.matmul(weight.reshape(F, C * kh * kw), cols)                    # (N, F, OH*OW)
    out += bias[:, None]                                                     # bias[f] on every pixel
    return out.reshape(N, F, OH, OW)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    # TODO: dbias by summing dout; dweight by one np.matmul of dout as (N, F, OH*OW) with the
    # columns of conv2d_forward, summed over n; dx with a loop over the kernel offsets (p, q).
    F, C, kh, kw = weight.shape
    N, _, OH, OW = dout.shape
    patches = extract_patches(x, kh, kw)                                     # (N, C, OH, OW, kh, kw)
    cols = patches.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)  # as in conv2d_forward
    dout_rows = dout.reshape(N, F, OH * OW)                                  # (N, F, OH*OW)
    dbias = np.sum(dout, axis=(0, 2, 3))                                     # (F,)
    dweight = np.matmul(dout_rows, cols.transpose(0, 2, 1)).sum(axis=0)     # (F, C*kh*kw), summed over n
    dweight = dweight.reshape(F, C, kh, kw)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, weight))              # (N, C, H, W)
    for p in range(kh):
        for q in range(kw):
            # every output pixel (i, j) sends weight[:, :, p, q]^T dout back to x[.., i+p, j+q]
            contribution = np.matmul(weight[:, :, p, q].T, dout_rows)       # (N, C, OH*OW)
            dx[:, :, p:p + OH, q:q + OW] += contribution.reshape(N, C, OH, OW)
    return dx, dweight, dbias
    ### END SOLUTION


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
        ### BEGIN SOLUTION
        # TODO: fill self.params with conv_W, conv_b, fc_W, fc_b (conv_W drawn before fc_W).
        C, F, k = in_channels, num_filters, kernel_size
        out_size = image_size - k + 1
        fc_in = F * out_size * out_size
        rng = np.random.default_rng(seed)
        self.params = {
            "conv_W": rng.normal(0.0, np.sqrt(2.0 / (C * k * k)), (F, C, k, k)),
            "conv_b": np.zeros(F),
            "fc_W": rng.normal(0.0, np.sqrt(1.0 / fc_in), (fc_in, num_classes)),
            "fc_b": np.zeros(num_classes),
        }
        ### END SOLUTION

    def forward(self, X):
        """Compute class probabilities for a batch and remember what backward needs.

        Inputs:
        - X: batch of images, shape (N, C, H, W)

        Returns:
        - probs: shape (N, num_classes); each row sums to 1
        """
        ### BEGIN SOLUTION
        # TODO: conv2d_forward, relu, reshape to (N, -1), fc, softmax; keep what backward needs.
        p = self.params
        N = X.shape[0]
        F, C, k, _ = p["conv_W"].shape
        # conv2d_forward(X, conv_W, conv_b), written out here so that backward can reuse its columns,
        # with one more row of ones that multiplies the bias (so the bias needs no pass of its own):
        #     Z = [conv_W | conv_b] @ [columns; 1]
        patches = extract_patches(X, k, k)                                 # (N, C, OH, OW, k, k)
        OH, OW = patches.shape[2:4]
        cols = np.empty((N, C * k * k + 1, OH * OW), dtype=np.result_type(X, p["conv_W"]))
        cols[:, :-1].reshape(N, C, k, k, OH, OW)[...] = patches.transpose(0, 1, 4, 5, 2, 3)   # copies once
        cols[:, -1] = 1.0
        weight_and_bias = np.concatenate([p["conv_W"].reshape(F, -1), p["conv_b"][:, None]], axis=1)
        Z = np.matmul(weight_and_bias, cols).reshape(N, F, OH, OW)          # = conv2d_forward(X, conv_W, conv_b)
        flat = relu(Z).reshape(N, -1)                                      # (N, F*OH*OW)
        probs = softmax(flat @ p["fc_W"] + p["fc_b"])                      # (N, num_classes)
        self.cache = (cols, Z, flat, probs)
        return probs
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        # TODO: follow the formulas above, using what forward stored in self.cache.
        cols, Z, flat, probs = self.cache
        N = flat.shape[0]
        F, C, k, _ = self.params["conv_W"].shape
        delta = (probs - targets) / N                                      # (N, num_classes)
        dZ = delta @ self.params["fc_W"].T                                 # (N, F*OH*OW), at relu(Z)
        dZ *= Z.reshape(N, -1) > 0                                         # through the relu
        # conv2d_backward(dZ, X, conv_W) gives dconv_W and dconv_b, but also dx, which nobody needs
        # here (conv is the first layer) and which costs as much as the rest of backward together.
        # So this does only its dweight and dbias, in one product with forward's columns: their row
        # of ones turns the last column into sum_{n,i,j} dZ = dconv_b.
        d_weight_and_bias = np.matmul(dZ.reshape(N, F, -1), cols.transpose(0, 2, 1)).sum(axis=0)  # (F, C*k*k + 1)
        return {
            "conv_W": d_weight_and_bias[:, :-1].reshape(F, C, k, k),
            "conv_b": d_weight_and_bias[:, -1].copy(),
            "fc_W": (delta.T @ flat).T,      # = flat^T delta; OpenBLAS is several times faster this way
            "fc_b": np.sum(delta, axis=0),
        }
        ### END SOLUTION

    def step(self, grads, lr):
        """One step of gradient descent: params[k] <- params[k] - lr * grads[k].

        Updating the arrays in place (-=) or rebinding the entries
        (self.params[k] = ...) are both fine.

        Inputs:
        - grads: dict with the keys and shapes of self.params
        - lr: learning rate (float)

        Returns: nothing; self.params is updated.
        """
        ### BEGIN SOLUTION
        # TODO: update every entry of self.params.
        for name in self.params:
            self.params[name] -= lr * grads[name]
        ### END SOLUTION
