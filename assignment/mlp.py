# GENERATED from solution/mlp.py by "mnist-grader release".
# Students: write your code where it says TODO. Course staff: edit solution/mlp.py and regenerate.
"""A two-layer fully connected network: 784 -> 128 (sigmoid) -> 10 (softmax)."""
import numpy as np

from functional import sigmoid, softmax


class MLP:
    """Multi-layer perceptron with one sigmoid hidden layer and a softmax output.

        Z1 = X W1 + b1        A1 = sigmoid(Z1)
        Z2 = A1 W2 + b2       probs = softmax(Z2)

    Attributes:
    - params: dict of float64 arrays
        W1 (input_dim, hidden_dim), b1 (hidden_dim,),
        W2 (hidden_dim, output_dim), b2 (output_dim,)
    """

    def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
        """Create the parameters.

        rng = np.random.default_rng(seed); draw W1, then W2, each with
        rng.normal(0, weight_std, shape); biases start at zero. The grader compares
        the weights with its own draws, so the order of the draws matters.

        Inputs:
        - input_dim, hidden_dim, output_dim: layer sizes D, H, K
        - weight_std: standard deviation of the initial weights
        - seed: seed of the random generator (same seed, same weights)
        """
        # TODO: fill self.params with W1, b1, W2, b2 (W1 drawn before W2).
        raise NotImplementedError("MLP.__init__: not written yet")

    def forward(self, X):
        """Compute class probabilities for a batch and remember what backward needs.

        Inputs:
        - X: batch of flattened images, shape (N, input_dim)

        Returns:
        - probs: shape (N, output_dim); each row sums to 1
        """
        # TODO: Z1, A1, Z2, probs as in the class docstring; keep X, A1 and probs in self.cache.
        raise NotImplementedError("MLP.forward: not written yet")

    def backward(self, targets):
        """Gradients of the mean cross-entropy of the last forward batch.

            delta2 = (probs - targets) / N                    dZ2, (N, K)
            dW2 = A1^T delta2          db2 = sum_n delta2
            delta1 = (delta2 W2^T) * A1 * (1 - A1)            dZ1, (N, H)
            dW1 = X^T delta1           db1 = sum_n delta1

        Inputs:
        - targets: one-hot labels of the last forward batch, shape (N, output_dim)

        Returns:
        - grads: dict with the keys and shapes of self.params
        """
        # TODO: follow the formulas above, using what forward stored in self.cache.
        raise NotImplementedError("MLP.backward: not written yet")

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
        raise NotImplementedError("MLP.step: not written yet")
