import numpy as np
from functional import sigmoid, softmax


class MLP:
	def __init__(self, input_dim=784, hidden_dim=128, output_dim=10, weight_std=0.1, seed=0):
		rng = np.random.default_rng(seed)
		shapes = {"W1": (input_dim, hidden_dim), "b1": (hidden_dim,),
				  "W2": (hidden_dim, output_dim), "b2": (output_dim,)}
		# weights from the generator in the order W1, W2; biases are zero
		self.params = {name: (rng.normal(0, weight_std, shape) if name[0] == "W" else np.zeros(shape))
					   for name, shape in shapes.items()}

	def forward(self, X):
		Z1 = np.matmul(X, self.params["W1"]) + self.params["b1"]
		A1 = sigmoid(Z1)
		Z2 = np.matmul(A1, self.params["W2"]) + self.params["b2"]
		P = softmax(Z2)
		self.cache = {"X": X, "A1": A1, "P": P}
		return P

	def backward(self, targets):
		X, A1, P = self.cache["X"], self.cache["A1"], self.cache["P"]
		n = X.shape[0]
		g = {}
		d2 = (P - targets) / n
		g["W2"] = np.matmul(A1.T, d2)
		g["b2"] = d2.sum(0)
		d1 = np.matmul(d2, self.params["W2"].T) * (A1 * (1 - A1))
		g["W1"] = np.matmul(X.T, d1)
		g["b1"] = d1.sum(0)
		return g

	def step(self, grads, lr):
		for name in grads:
			self.params[name] -= lr * grads[name]
