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
        ### BEGIN SOLUTION
        # TODO: fill self.params with W1, b1, W2, b2 (W1 drawn before W2).
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.normal(0.0, weight_std, (input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": rng.normal(0.0, weight_std, (hidden_dim, output_dim)),
            "b2": np.zeros(output_dim),
        }
        ### END SOLUTION

    def forward(self, X):
        """Compute class probabilities for a batch and remember what backward needs.

        Inputs:
        - X: batch of flattened images, shape (N, input_dim)

        Returns:
        - probs: shape (N, output_dim); each row sums to 1
        """
        ### BEGIN SOLUTION
        # TODO: Z1, A1, Z2, probs as in the class docstring; keep X, A1 and probs in self.cache.
        p = self.params
        Z1 = X @ p["W1"] + p["b1"]       # (N, H)
        A1 = sigmoid(Z1)                 # (N, H)
        Z2 = A1 @ p["W2"] + p["b2"]      # (N, K)
        probs = softmax(Z2)              # (N, K)
        self.cache = (X, A1, probs)
        return probs
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        # TODO: follow the formulas above, using what forward stored in self.cache.
        X, A1, probs = self.cache
        N = X.shape[0]
        delta2 = (probs - targets) / N                          # (N, K)
        delta1 = (delta2 @ self.params["W2"].T) * A1 * (1.0 - A1)  # (N, H)
        return {
            "W1": X.T @ delta1,              # (D, H)
            "b1": np.sum(delta1, axis=0),    # (H,)
            "W2": A1.T @ delta2,             # (H, K)
            "b2": np.sum(delta2, axis=0),    # (K,)
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
