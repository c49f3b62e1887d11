"""Realistic student bugs, each a small text edit of one reference file in solution/.

A mutant is applied at test time (tests/test_mutants.py), so the table never drifts from the
reference: `old` must occur exactly once in solution/<file>, and is replaced by `new`.

    breaks     items that MUST lose points (score < max in at least one of their checks)
    may_break  items that are allowed to lose points too (downstream effects, training)
    every other item must keep full marks: a bug costs points once.

The grader runs the student's mlp.py / cnn.py with the reference functional.py for the mlp.* and
cnn.* value and gradient checks, so a functional.py mutant must break only its functional.* item
(the accuracy items train the student's own three files, hence they are usually in may_break).
Inside cnn.py nothing is substituted: a conv bug may also cost cnn.forward / cnn.backward.

Items: functional.{sigmoid,relu,softmax,one_hot,cross_entropy}, mlp.{init,forward,backward,step,
accuracy}, cnn.{extract_patches,conv2d_forward,conv2d_backward,init,forward,backward,step,accuracy},
policy.{vectorized,no_torch}.
"""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str                       # "functional.py", "mlp.py" or "cnn.py"
    old: str                        # occurs exactly once in solution/<file>
    new: str
    breaks: Tuple[str, ...]
    may_break: Tuple[str, ...] = ()


ACC = ("mlp.accuracy", "cnn.accuracy")
CNN_DOWNSTREAM = ("cnn.forward", "cnn.backward", "cnn.accuracy")


MUTANTS = [
    # ------------------------------------------------------------------ functional.py: sigmoid
    Mutant(
        "sigmoid_naive_overflows",              # exp(1e4) overflows at z = -1e4 (values still right)
        "functional.py",
        old="    return 0.5 * (1.0 + np.tanh(0.5 * z))\n",
        new="    return 1.0 / (1.0 + np.exp(-z))\n",
        breaks=("functional.sigmoid",), may_break=ACC,
    ),
    Mutant(
        "sigmoid_where_evaluates_both_branches",  # np.where computes both: overflow + inf/inf warnings
        "functional.py",
        old="    return 0.5 * (1.0 + np.tanh(0.5 * z))\n",
        new="    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))\n",
        breaks=("functional.sigmoid",), may_break=ACC,
    ),
    Mutant(
        "sigmoid_branches_swapped",             # sigmoid(-|z|) for z >= 0
        "functional.py",
        old="    return 0.5 * (1.0 + np.tanh(0.5 * z))\n",
        new="    e = np.exp(-np.abs(z))\n"
            "    return np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))\n",
        breaks=("functional.sigmoid",), may_break=ACC,
    ),
    # ------------------------------------------------------------------ functional.py: relu
    Mutant(
        "relu_in_place",                        # right values, but the caller's z is overwritten
        "functional.py",
        old="    return np.maximum(z, 0)\n",
        new="    return np.maximum(z, 0, out=z)\n",
        breaks=("functional.relu",), may_break=ACC,
    ),
    # ------------------------------------------------------------------ functional.py: softmax
    Mutant(
        "softmax_over_columns",                 # axis=0: every column sums to 1, not every row
        "functional.py",
        old="    shifted = z - np.max(z, axis=1, keepdims=True)    # (N, K), every row's max is 0\n"
            "    e = np.exp(shifted)\n"
            "    return e / np.sum(e, axis=1, keepdims=True)\n",
        new="    shifted = z - np.max(z, axis=0, keepdims=True)    # (N, K), every row's max is 0\n"
            "    e = np.exp(shifted)\n"
            "    return e / np.sum(e, axis=0, keepdims=True)\n",
        breaks=("functional.softmax",), may_break=ACC,
    ),
    Mutant(
        "softmax_without_max_shift",            # exp(1e4) overflows: inf / inf = nan
        "functional.py",
        old="    shifted = z - np.max(z, axis=1, keepdims=True)",
        new="    shifted = z",
        breaks=("functional.softmax",), may_break=ACC,
    ),
    # One maximum for the whole batch is NOT equivalent: a row of -1e4 under a global max of
    # +1e4 becomes exp(-2e4) = 0 everywhere, and 0 / 0 = nan (invalid warning). It only shows on
    # a batch that mixes very large and very small rows, which "logits of +-1e4 must work" covers.
    Mutant(
        "softmax_global_max",
        "functional.py",
        old="    shifted = z - np.max(z, axis=1, keepdims=True)",
        new="    shifted = z - np.max(z)",
        breaks=("functional.softmax",), may_break=ACC,
    ),
    Mutant(
        "softmax_sum_without_keepdims",         # (N, K) / (N,): error, or wrong values when N == K
        "functional.py",
        old="    return e / np.sum(e, axis=1, keepdims=True)\n",
        new="    return e / np.sum(e, axis=1)\n",
        breaks=("functional.softmax",), may_break=ACC,
    ),
    Mutant(
        "one_hot_transposed",                   # (num_classes, N)
        "functional.py",
        old="    out = np.zeros((labels.shape[0], num_classes))\n"
            "    out[np.arange(labels.shape[0]), labels] = 1.0\n",
        new="    out = np.zeros((num_classes, labels.shape[0]))\n"
            "    out[labels, np.arange(labels.shape[0])] = 1.0\n",
        breaks=("functional.one_hot",), may_break=ACC,
    ),
    Mutant(
        "one_hot_int_dtype",
        "functional.py",
        old="    out = np.zeros((labels.shape[0], num_classes))\n",
        new="    out = np.zeros((labels.shape[0], num_classes), dtype=int)\n",
        breaks=("functional.one_hot",), may_break=ACC,
    ),
    Mutant(
        "one_hot_width_from_labels",            # ignores num_classes: too narrow if max label < K - 1
        "functional.py",
        old="    out = np.zeros((labels.shape[0], num_classes))\n",
        new="    out = np.zeros((labels.shape[0], labels.max() + 1))\n",
        breaks=("functional.one_hot",), may_break=ACC,
    ),
    # ------------------------------------------------------------------ functional.py: cross_entropy
    Mutant(
        "cross_entropy_without_clip",           # log(0): divide warning, inf, and 0 * -inf = nan
        "functional.py",
        old="    clipped = np.clip(probs, eps, 1.0 - eps)\n"
            "    return float(-np.sum(targets * np.log(clipped)) / probs.shape[0])\n",
        new="    return float(-np.sum(targets * np.log(probs)) / probs.shape[0])\n",
        breaks=("functional.cross_entropy",), may_break=ACC,
    ),
    Mutant(
        "cross_entropy_summed_not_mean",
        "functional.py",
        old="    return float(-np.sum(targets * np.log(clipped)) / probs.shape[0])\n",
        new="    return float(-np.sum(targets * np.log(clipped)))\n",
        breaks=("functional.cross_entropy",), may_break=ACC,
    ),
    Mutant(
        "cross_entropy_mean_over_all_entries",  # divides by N * K
        "functional.py",
        old="    return float(-np.sum(targets * np.log(clipped)) / probs.shape[0])\n",
        new="    return float(-np.mean(targets * np.log(clipped)))\n",
        breaks=("functional.cross_entropy",), may_break=ACC,
    ),
    Mutant(
        "cross_entropy_ignores_eps",            # hard-coded 1e-8: wrong at probs 0 or with another eps
        "functional.py",
        old="    clipped = np.clip(probs, eps, 1.0 - eps)\n",
        new="    clipped = np.clip(probs, 1e-8, 1.0 - 1e-8)\n",
        breaks=("functional.cross_entropy",), may_break=ACC,
    ),
    Mutant(
        "cross_entropy_per_sample",             # returns an (N,) array, not a scalar
        "functional.py",
        old="    return float(-np.sum(targets * np.log(clipped)) / probs.shape[0])\n",
        new="    return -np.sum(targets * np.log(clipped), axis=1) / probs.shape[0]\n",
        breaks=("functional.cross_entropy",), may_break=ACC,
    ),
    # ------------------------------------------------------------------ mlp.py: init
    Mutant(
        "mlp_init_zero_weights",
        "mlp.py",
        old='            "W1": rng.normal(0.0, weight_std, (input_dim, hidden_dim)),\n'
            '            "b1": np.zeros(hidden_dim),\n'
            '            "W2": rng.normal(0.0, weight_std, (hidden_dim, output_dim)),\n',
        new='            "W1": np.zeros((input_dim, hidden_dim)),\n'
            '            "b1": np.zeros(hidden_dim),\n'
            '            "W2": np.zeros((hidden_dim, output_dim)),\n',
        breaks=("mlp.init",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_init_variance_as_std",             # std weight_std ** 2 = 0.01 instead of 0.1
        "mlp.py",
        old='            "W1": rng.normal(0.0, weight_std, (input_dim, hidden_dim)),\n'
            '            "b1": np.zeros(hidden_dim),\n'
            '            "W2": rng.normal(0.0, weight_std, (hidden_dim, output_dim)),\n',
        new='            "W1": rng.normal(0.0, weight_std ** 2, (input_dim, hidden_dim)),\n'
            '            "b1": np.zeros(hidden_dim),\n'
            '            "W2": rng.normal(0.0, weight_std ** 2, (hidden_dim, output_dim)),\n',
        breaks=("mlp.init",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_init_unseeded",                    # same seed, different weights
        "mlp.py",
        old="        rng = np.random.default_rng(seed)\n",
        new="        rng = np.random.default_rng()\n",
        breaks=("mlp.init",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_init_W2_drawn_first",              # right statistics, but not the contract's draws
        "mlp.py",
        old="        rng = np.random.default_rng(seed)\n",
        new="        rng = np.random.default_rng(seed)\n"
            "        W2 = rng.normal(0.0, weight_std, (hidden_dim, output_dim))   # drawn first\n",
        breaks=("mlp.init",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_init_transposed_draw",             # W1 drawn as (hidden, input) then transposed
        "mlp.py",
        old='            "W1": rng.normal(0.0, weight_std, (input_dim, hidden_dim)),\n',
        new='            "W1": rng.normal(0.0, weight_std, (hidden_dim, input_dim)).T,\n',
        breaks=("mlp.init",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_init_float32_params",
        "mlp.py",
        old='            "b2": np.zeros(output_dim),\n'
            '        }\n',
        new='            "b2": np.zeros(output_dim),\n'
            '        }\n'
            '        self.params = {name: value.astype(np.float32) for name, value in self.params.items()}\n',
        breaks=("mlp.init",),
        may_break=("mlp.forward", "mlp.backward", "mlp.step", "mlp.accuracy"),
    ),
    # ------------------------------------------------------------------ mlp.py: forward
    Mutant(
        "mlp_forward_missing_bias",             # visible as soon as b1 != 0
        "mlp.py",
        old='        Z1 = X @ p["W1"] + p["b1"]',
        new='        Z1 = X @ p["W1"]',
        breaks=("mlp.forward",), may_break=("mlp.backward", "mlp.accuracy"),
    ),
    Mutant(
        "mlp_forward_returns_logits",
        "mlp.py",
        old="        return probs\n",
        new="        return Z2\n",
        # the numerical gradient check differentiates the student's own forward
        breaks=("mlp.forward",), may_break=("mlp.backward", "mlp.accuracy"),
    ),
    Mutant(
        "mlp_forward_scales_X_in_place",        # "normalizes" the caller's batch: X /= 255
        "mlp.py",
        old="        p = self.params\n"
            '        Z1 = X @ p["W1"] + p["b1"]',
        new="        p = self.params\n"
            "        X /= 255.0\n"
            '        Z1 = X @ p["W1"] + p["b1"]',
        breaks=("mlp.forward",), may_break=("mlp.backward", "mlp.accuracy"),
    ),
    Mutant(
        "mlp_forward_stale_cache",              # backward keeps using the first forward batch
        "mlp.py",
        old="        self.cache = (X, A1, probs)\n",
        new='        if not hasattr(self, "cache"):\n'
            "            self.cache = (X, A1, probs)\n",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_cache_stores_Z1",                  # backward then uses Z1 where it needs A1
        "mlp.py",
        old="        self.cache = (X, A1, probs)\n",
        new="        self.cache = (X, Z1, probs)\n",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    # ------------------------------------------------------------------ mlp.py: backward
    Mutant(
        "mlp_backward_missing_mean",            # gradient of the summed loss, N times too large
        "mlp.py",
        old="        N = X.shape[0]\n"
            "        delta2 = (probs - targets) / N",
        new="        N = X.shape[0]\n"
            "        delta2 = probs - targets",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_sigmoid_of_activation",   # sigmoid'(z) = s(z)(1 - s(z)) applied to A1 = s(Z1)
        "mlp.py",
        old='        delta1 = (delta2 @ self.params["W2"].T) * A1 * (1.0 - A1)',
        new='        delta1 = (delta2 @ self.params["W2"].T) * sigmoid(A1) * (1.0 - sigmoid(A1))',
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_bias_sum_over_axis1",     # db1 of shape (N,)
        "mlp.py",
        old='            "b1": np.sum(delta1, axis=0),',
        new='            "b1": np.sum(delta1, axis=1),',
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_db2_scalar",              # sum over everything: a scalar db2
        "mlp.py",
        old='            "b2": np.sum(delta2, axis=0),',
        new='            "b2": np.sum(delta2),',
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_dW2_transposed",          # (K, H) instead of (H, K)
        "mlp.py",
        old='            "W2": A1.T @ delta2,',
        new='            "W2": delta2.T @ A1,',
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_accumulates",             # gradients summed into self.grads across calls
        "mlp.py",
        old="        return {\n"
            '            "W1": X.T @ delta1,              # (D, H)\n'
            '            "b1": np.sum(delta1, axis=0),    # (H,)\n'
            '            "W2": A1.T @ delta2,             # (H, K)\n'
            '            "b2": np.sum(delta2, axis=0),    # (K,)\n'
            "        }\n",
        new='        if not hasattr(self, "grads"):\n'
            "            self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}\n"
            '        self.grads["W1"] += X.T @ delta1\n'
            '        self.grads["b1"] += np.sum(delta1, axis=0)\n'
            '        self.grads["W2"] += A1.T @ delta2\n'
            '        self.grads["b2"] += np.sum(delta2, axis=0)\n'
            "        return self.grads\n",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_mutates_cached_probs",    # right gradients once; a second backward differs
        "mlp.py",
        old="        delta2 = (probs - targets) / N                          # (N, K)\n",
        new="        delta2 = probs                    # the cached array itself\n"
            "        delta2 -= targets\n"
            "        delta2 /= N\n",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    Mutant(
        "mlp_backward_mutates_targets",         # right gradients, but the caller's targets change
        "mlp.py",
        old="        N = X.shape[0]\n"
            "        delta2 = (probs - targets) / N",
        new="        N = X.shape[0]\n"
            "        targets -= probs                  # reuse the buffer: now -(probs - targets)\n"
            "        delta2 = -targets / N",
        breaks=("mlp.backward",), may_break=("mlp.accuracy",),
    ),
    # ------------------------------------------------------------------ mlp.py: step
    Mutant(
        "mlp_step_gradient_ascent",
        "mlp.py",
        old="            self.params[name] -= lr * grads[name]\n",
        new="            self.params[name] += lr * grads[name]\n",
        breaks=("mlp.step", "mlp.accuracy"),
    ),
    Mutant(
        "mlp_step_weights_only",                # biases never move
        "mlp.py",
        old="        for name in self.params:\n",
        new='        for name in ("W1", "W2"):\n',
        breaks=("mlp.step",), may_break=("mlp.accuracy",),
    ),
    # ------------------------------------------------------------------ cnn.py: extract_patches
    Mutant(
        "extract_patches_returns_copy",
        "cnn.py",
        old="    return as_strided(\n"
            "        x,\n"
            "        shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),\n"
            "        strides=(sN, sC, sH, sW, sH, sW),\n"
            "        writeable=False,\n"
            "    )\n",
        new="    return np.array(as_strided(\n"
            "        x,\n"
            "        shape=(N, C, H - kh + 1, W - kw + 1, kh, kw),\n"
            "        strides=(sN, sC, sH, sW, sH, sW),\n"
            "        writeable=False,\n"
            "    ))\n",
        breaks=("cnn.extract_patches",),
    ),
    Mutant(
        "extract_patches_contiguous_copy_first",  # a view of a copy, not of x, for non-contiguous x
        "cnn.py",
        old="    N, C, H, W = x.shape\n"
            "    sN, sC, sH, sW = x.strides\n",
        new="    x = np.ascontiguousarray(x)\n"
            "    N, C, H, W = x.shape\n"
            "    sN, sC, sH, sW = x.strides\n",
        breaks=("cnn.extract_patches",),
    ),
    Mutant(
        "extract_patches_strides_from_itemsize",  # assumes a C-contiguous x
        "cnn.py",
        old="    sN, sC, sH, sW = x.strides\n",
        new="    s = x.itemsize\n"
            "    sN, sC, sH, sW = C * H * W * s, H * W * s, W * s, s\n",
        breaks=("cnn.extract_patches",),
        may_break=("cnn.conv2d_forward", "cnn.conv2d_backward") + CNN_DOWNSTREAM,
    ),
    Mutant(
        "extract_patches_window_axes_swapped",  # p walks along columns, q along rows
        "cnn.py",
        old="        strides=(sN, sC, sH, sW, sH, sW),\n",
        new="        strides=(sN, sC, sH, sW, sW, sH),\n",
        breaks=("cnn.extract_patches",),
        may_break=("cnn.conv2d_forward", "cnn.conv2d_backward") + CNN_DOWNSTREAM,
    ),
    # ------------------------------------------------------------------ cnn.py: conv2d_forward
    Mutant(
        "conv_forward_kh_kw_swapped",           # only visible with non-square kernels
        "cnn.py",
        old="    patches = extract_patches(x, kh, kw)                                     # (N, C, OH, OW, kh, kw)\n"
            "    N, _, OH, OW = patches.shape[:4]\n",
        new="    patches = extract_patches(x, kw, kh)                                     # (N, C, OH, OW, kh, kw)\n"
            "    N, _, OH, OW = patches.shape[:4]\n",
        breaks=("cnn.conv2d_forward",),
    ),
    Mutant(
        "conv_forward_flipped_kernel",          # true convolution instead of cross-correlation
        "cnn.py",
        old="    out = np.matmul(weight.reshape(F, C * kh * kw), cols)",
        new="    out = np.matmul(weight[:, :, ::-1, ::-1].reshape(F, C * kh * kw), cols)",
        breaks=("cnn.conv2d_forward",), may_break=CNN_DOWNSTREAM,
    ),
    Mutant(
        "conv_forward_missing_bias",
        "cnn.py",
        old="    out += bias[:, None]                                                     # bias[f] on every pixel\n",
        new="",
        breaks=("cnn.conv2d_forward",), may_break=CNN_DOWNSTREAM,
    ),
    Mutant(
        "conv_forward_bias_on_last_axis",       # bias along the pixels: error unless F == OH*OW, then wrong
        "cnn.py",
        old="    out += bias[:, None]",
        new="    out += bias",
        # raises on the timing batch (F = 8, OH*OW = 676), so the speed cannot be measured either
        breaks=("cnn.conv2d_forward",), may_break=CNN_DOWNSTREAM + ("policy.vectorized",),
    ),
    Mutant(
        "conv_forward_returns_float32",         # "to save memory": float64 in, float32 out
        "cnn.py",
        old="    return out.reshape(N, F, OH, OW)\n",
        new="    return out.reshape(N, F, OH, OW).astype(np.float32)\n",
        breaks=("cnn.conv2d_forward",), may_break=CNN_DOWNSTREAM,
    ),
    Mutant(
        "conv_forward_pixel_loops",             # right values, loops over images and pixels
        "cnn.py",
        old="    patches = extract_patches(x, kh, kw)                                     # (N, C, OH, OW, kh, kw)\n"
            "    N, _, OH, OW = patches.shape[:4]\n"
            "    # one column of C*kh*kw inputs per output pixel (\"im2col\"); this reshape copies the windows once\n"
            "    cols = patches.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)\n"
            "    out = np.matmul(weight.reshape(F, C * kh * kw), cols)                    # (N, F, OH*OW)\n"
            "    out += bias[:, None]                                                     # bias[f] on every pixel\n"
            "    return out.reshape(N, F, OH, OW)\n",
        new="    N, _, H, W = x.shape\n"
            "    OH, OW = H - kh + 1, W - kw + 1\n"
            "    out = np.zeros((N, F, OH, OW), dtype=np.result_type(x, weight, bias))\n"
            "    for n in range(N):\n"
            "        for i in range(OH):\n"
            "            for j in range(OW):\n"
            "                window = x[n, :, i:i + kh, j:j + kw]                      # (C, kh, kw)\n"
            "                out[n, :, i, j] = np.sum(window * weight, axis=(1, 2, 3)) + bias\n"
            "    return out\n",
        breaks=("policy.vectorized",), may_break=("cnn.accuracy",),
    ),
    # ------------------------------------------------------------------ cnn.py: conv2d_backward
    Mutant(
        "conv_backward_dweight_mean",           # divides by N: the mean belongs to the loss, not here
        "cnn.py",
        old="    dweight = np.matmul(dout_rows, cols.transpose(0, 2, 1)).sum(axis=0)",
        new="    dweight = np.matmul(dout_rows, cols.transpose(0, 2, 1)).sum(axis=0) / N",
        breaks=("cnn.conv2d_backward",), may_break=("cnn.backward", "cnn.accuracy"),
    ),
    Mutant(
        "conv_backward_dx_left_zero",           # "the CNN never needs dx"
        "cnn.py",
        old="    for p in range(kh):\n"
            "        for q in range(kw):\n"
            "            # every output pixel (i, j) sends weight[:, :, p, q]^T dout back to x[.., i+p, j+q]\n"
            "            contribution = np.matmul(weight[:, :, p, q].T, dout_rows)       # (N, C, OH*OW)\n"
            "            dx[:, :, p:p + OH, q:q + OW] += contribution.reshape(N, C, OH, OW)\n",
        new="",
        breaks=("cnn.conv2d_backward",),
    ),
    Mutant(
        "conv_backward_dbias_per_image",        # (N, F): forgot to sum over the batch
        "cnn.py",
        old="    dbias = np.sum(dout, axis=(0, 2, 3))",
        new="    dbias = np.sum(dout, axis=(2, 3))",
        breaks=("cnn.conv2d_backward",), may_break=("cnn.backward", "cnn.accuracy"),
    ),
    Mutant(
        "conv_backward_dx_pixel_loops",         # right values, dx by a loop over output pixels
        "cnn.py",
        old="    for p in range(kh):\n"
            "        for q in range(kw):\n"
            "            # every output pixel (i, j) sends weight[:, :, p, q]^T dout back to x[.., i+p, j+q]\n"
            "            contribution = np.matmul(weight[:, :, p, q].T, dout_rows)       # (N, C, OH*OW)\n"
            "            dx[:, :, p:p + OH, q:q + OW] += contribution.reshape(N, C, OH, OW)\n",
        new="    for i in range(OH):\n"
            "        for j in range(OW):\n"
            "            # output pixel (i, j) sends dout[:, :, i, j] * weight back to its window of x\n"
            "            dx[:, :, i:i + kh, j:j + kw] += np.tensordot(dout[:, :, i, j], weight, axes=([1], [0]))\n",
        breaks=("policy.vectorized",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "conv_backward_strides_from_shape",     # patches built for a C-contiguous x only
        "cnn.py",
        old="    patches = extract_patches(x, kh, kw)                                     # (N, C, OH, OW, kh, kw)\n"
            "    cols = patches.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)  # as in conv2d_forward\n",
        new="    s, (H, W) = x.itemsize, x.shape[2:]\n"
            "    patches = as_strided(x, shape=(N, C, OH, OW, kh, kw),\n"
            "                         strides=(C * H * W * s, H * W * s, W * s, s, W * s, s))\n"
            "    cols = patches.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)\n",
        breaks=("cnn.conv2d_backward",),
    ),
    # ------------------------------------------------------------------ cnn.py: CNN
    Mutant(
        "cnn_init_fc_drawn_first",              # right statistics, but not the contract's draws
        "cnn.py",
        old="        rng = np.random.default_rng(seed)\n",
        new="        rng = np.random.default_rng(seed)\n"
            "        fc_first = rng.normal(0.0, np.sqrt(1.0 / fc_in), (fc_in, num_classes))\n",
        breaks=("cnn.init",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "cnn_init_fc_std_he",                   # sqrt(2 / fan_in) for fc_W too
        "cnn.py",
        old="np.sqrt(1.0 / fc_in)",
        new="np.sqrt(2.0 / fc_in)",
        breaks=("cnn.init",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "cnn_init_conv_variance_as_std",        # std 2 / (C k k) instead of its square root
        "cnn.py",
        old="np.sqrt(2.0 / (C * k * k))",
        new="2.0 / (C * k * k)",
        breaks=("cnn.init",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "cnn_init_output_size_off_by_one",      # fc_W has F * 25 * 25 rows instead of F * 26 * 26
        "cnn.py",
        old="        out_size = image_size - k + 1\n",
        new="        out_size = image_size - k\n",
        breaks=("cnn.init",),
        may_break=("cnn.forward", "cnn.backward", "cnn.step", "cnn.accuracy"),
    ),
    Mutant(
        "cnn_forward_channels_last_flatten",    # flattens (OH, OW, F) instead of (F, OH, OW)
        "cnn.py",
        old="        flat = relu(Z).reshape(N, -1)",
        new="        flat = relu(Z).transpose(0, 2, 3, 1).reshape(N, -1)",
        breaks=("cnn.forward",), may_break=("cnn.backward", "cnn.accuracy"),
    ),
    Mutant(
        "cnn_backward_missing_mean",
        "cnn.py",
        old="\n        delta = (probs - targets) / N ",
        new="\n        delta = probs - targets ",
        breaks=("cnn.backward",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "cnn_backward_no_relu_mask",
        "cnn.py",
        old="        dZ *= Z.reshape(N, -1) > 0                                         # through the relu\n",
        new="",
        breaks=("cnn.backward",), may_break=("cnn.accuracy",),
    ),
    # Only visible where Z == 0 exactly: an all-zero window (MNIST background) with conv_b == 0.
    # There dconv_b picks up gradient it must not get (dconv_W does not: the window is zero).
    Mutant(
        "cnn_backward_relu_grad_one_at_zero",
        "cnn.py",
        old="        dZ *= Z.reshape(N, -1) > 0 ",
        new="        dZ *= Z.reshape(N, -1) >= 0 ",
        breaks=("cnn.backward",), may_break=("cnn.accuracy",),
    ),
    Mutant(
        "cnn_step_rebinds_loop_variable",       # `value = value - ...` changes nothing
        "cnn.py",
        old="        for name in self.params:\n"
            "            self.params[name] -= lr * grads[name]\n",
        new="        for name, value in self.params.items():\n"
            "            value = value - lr * grads[name]\n",
        breaks=("cnn.step", "cnn.accuracy"),
    ),
]
