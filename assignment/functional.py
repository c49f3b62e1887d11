# GENERATED from solution/functional.py by "mnist-grader release".
# Students: write your code where it says TODO. Course staff: edit solution/functional.py and regenerate.
"""Building blocks shared by the MLP and the CNN: activations, softmax and the loss.

Every function works on whole batches at once (no Python loops over samples) and
keeps the dtype of its input: float64 in, float64 out; float32 in, float32 out.
"""
import numpy as np


def sigmoid(z):
    """Apply the logistic sigmoid elementwise.

        sigmoid(z) = 1 / (1 + exp(-z))

    Written so that nothing overflows: the identity
        sigmoid(z) = (1 + tanh(z / 2)) / 2
    needs one np.tanh and no exp() at all, and tanh saturates at +-1, so
    z = +-1e4 gives exactly 1 and 0, without an overflow warning. (Picking
    1 / (1 + exp(-z)) for z >= 0 and exp(z) / (1 + exp(z)) for z < 0 is stable
    too, but np.where computes both branches for every element.)

    Inputs:
    - z: array of any shape

    Returns:
    - out: array of the same shape as z, values in [0, 1]
    """
    # TODO: one line with np.tanh, using the identity above.
    raise NotImplementedError("sigmoid: not written yet")


def relu(z):
    """Apply the rectified linear unit elementwise: relu(z) = max(z, 0).

    Its derivative, used by the CNN's backward pass, is 1 where z > 0 and 0 where
    z <= 0 (at exactly 0 we take 0).

    Inputs:
    - z: array of any shape

    Returns:
    - out: array of the same shape and dtype as z
    """
    # TODO: one call to np.maximum.
    raise NotImplementedError("relu: not written yet")


def softmax(z):
    """Turn each row of logits into a probability distribution.

        softmax(z)[n, k] = exp(z[n, k]) / sum_j exp(z[n, j])

    Subtracting the row's maximum first leaves the result unchanged and keeps
    exp() from overflowing: logits of +-1e4 must work.

    Inputs:
    - z: logits, shape (N, K)

    Returns:
    - probs: shape (N, K); every row is non-negative and sums to 1
    """
    # TODO: subtract each row's max (keepdims=True), exponentiate, divide by each row's sum.
    raise NotImplementedError("softmax: not written yet")


def one_hot(labels, num_classes=10):
    """Encode integer class labels as one-hot rows.

        out[n, labels[n]] = 1, every other entry 0

    Inputs:
    - labels: integer class labels, shape (N,), values in [0, num_classes)
    - num_classes: K, the number of classes

    Returns:
    - out: float64 array of shape (N, num_classes)
    """
    # TODO: start from np.zeros((N, num_classes)) and set one entry per row.
    raise NotImplementedError("one_hot: not written yet")


def cross_entropy(probs, targets, eps=1e-12):
    """Mean cross-entropy of predicted probabilities against one-hot targets.

        loss = -(1/N) * sum_n sum_k targets[n, k] * log(clip(probs[n, k], eps, 1 - eps))

    Clipping keeps log() finite when a probability is exactly 0 (or 1).

    Inputs:
    - probs: predicted probabilities, shape (N, K)
    - targets: one-hot targets, shape (N, K)
    - eps: clipping bound

    Returns:
    - loss: a scalar (Python float, NumPy float or 0-d array)
    """
    # TODO: clip probs to [eps, 1 - eps], take the log, weight by targets, sum, divide by N.
    raise NotImplementedError("cross_entropy: not written yet")
