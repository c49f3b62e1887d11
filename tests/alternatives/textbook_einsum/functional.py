"""Building blocks shared by the MLP and the CNN: activations, softmax and the loss.

Every function works on whole batches at once (no Python loops over samples) and
keeps the dtype of its input: float64 in, float64 out; float32 in, float32 out.
"""
import numpy as np


def sigmoid(z):
    """Apply the logistic sigmoid elementwise.

        sigmoid(z) = 1 / (1 + exp(-z))

    Written so that no exp() ever sees a large positive number: for z >= 0 use
    1 / (1 + exp(-z)), for z < 0 use exp(z) / (1 + exp(z)). Both only ever
    exponentiate -|z| <= 0, so z = +-1e4 gives exactly 1 and 0, without an
    overflow warning.

    Inputs:
    - z: array of any shape

    Returns:
    - out: array of the same shape as z, values in [0, 1]
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(z):
    """Apply the rectified linear unit elementwise: relu(z) = max(z, 0).

    Its derivative, used by the CNN's backward pass, is 1 where z > 0 and 0 where
    z <= 0 (at exactly 0 we take 0).

    Inputs:
    - z: array of any shape

    Returns:
    - out: array of the same shape and dtype as z
    """
    return np.maximum(z, 0)


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
    shifted = z - np.max(z, axis=1, keepdims=True)    # (N, K), every row's max is 0
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


def one_hot(labels, num_classes=10):
    """Encode integer class labels as one-hot rows.

        out[n, labels[n]] = 1, every other entry 0

    Inputs:
    - labels: integer class labels, shape (N,), values in [0, num_classes)
    - num_classes: K, the number of classes

    Returns:
    - out: float64 array of shape (N, num_classes)
    """
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], num_classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


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
    clipped = np.clip(probs, eps, 1.0 - eps)
    return float(-np.sum(targets * np.log(clipped)) / probs.shape[0])
