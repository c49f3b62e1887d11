# The notebook's tests of mlp.py, cut into cells by grader/course/nbgrader.py (`mnist-grader nbgrader`).
# Not a module: nothing imports this file.
#
# Each `# %% ITEM: visible tests` or `# %% ITEM: hidden tests` line opens a test cell, which runs to the
# next such line. ITEM is a contract item of mlp.py with a solution region (mlp.init, ...);
# each has one cell of each kind, and its points come from the rubric. A cell stands alone (students
# run cells in any order): it sees numpy as np and the code of the contract files' cells.
#
# FROZEN(expr) is written into the notebook as the literal value expr has when the cell runs on the
# reference, so the notebook needs neither the reference nor a stable random stream. Inside FROZEN
# only, these helpers are available: cases (grader/cases.py), random_like and two_decimals
# (grader/course/nbgrader.py). The reference must pass every cell as written, or nothing is written.

# %% mlp.init: visible tests
model = MLP(input_dim=6, hidden_dim=4, output_dim=3, weight_std=0.1, seed=0)
shapes = {name: np.shape(value) for name, value in model.params.items()}
assert shapes == {"W1": (6, 4), "b1": (4,), "W2": (4, 3), "b2": (3,)}, \
    f"MLP(input_dim=6, hidden_dim=4, output_dim=3).params has shapes {shapes}"
assert not np.any(model.params["b1"]) and not np.any(model.params["b2"]), "b1 and b2 must start at zero"

# %% mlp.init: hidden tests
model = MLP(input_dim=5, hidden_dim=3, output_dim=2, weight_std=0.3, seed=7)
want = FROZEN(model.params)
for name in want:
    np.testing.assert_allclose(model.params[name], want[name], rtol=1e-12,
                               err_msg=f"MLP(..., weight_std=0.3, seed=7).params[{name!r}]")
again = MLP(input_dim=5, hidden_dim=3, output_dim=2, weight_std=0.3, seed=7)
np.testing.assert_array_equal(again.params["W1"], model.params["W1"],
                              err_msg="the same seed must give the same weights")

# %% mlp.forward: visible tests
model = MLP(input_dim=6, hidden_dim=4, output_dim=3)
model.params = FROZEN(random_like(model.params, seed=21, scale=0.5))
X = FROZEN(two_decimals(cases.rng(22).normal(size=(5, 6))))
probs = model.forward(X)
assert np.shape(probs) == (5, 3), f"model.forward(X) returned shape {np.shape(probs)}; expected (5, 3)"
np.testing.assert_allclose(np.sum(probs, axis=1), np.ones(5), rtol=1e-10,
                           err_msg="every row of model.forward(X) must sum to 1")
want = FROZEN(probs)
np.testing.assert_allclose(probs, want, rtol=1e-7, atol=1e-12, err_msg="model.forward(X)")

# %% mlp.forward: hidden tests
model = MLP(input_dim=7, hidden_dim=5, output_dim=4)
model.params = FROZEN(random_like(model.params, seed=23))
X = FROZEN(two_decimals(cases.rng(24).normal(size=(3, 7))))
X_before = X.copy()
probs = model.forward(X)
np.testing.assert_allclose(probs, FROZEN(probs), rtol=1e-7, atol=1e-12, err_msg="model.forward(X)")
np.testing.assert_array_equal(X, X_before, err_msg="model.forward(X) changed X")

# %% mlp.backward: visible tests
model = MLP(input_dim=6, hidden_dim=4, output_dim=3)
model.params = FROZEN(random_like(model.params, seed=31, scale=0.5))
X = FROZEN(two_decimals(cases.rng(32).normal(size=(5, 6))))
targets = FROZEN(np.eye(3)[cases.labels(seed=33, n=5, k=3)])
model.forward(X)
grads = model.backward(targets)
shapes = {name: np.shape(value) for name, value in grads.items()}
assert shapes == {"W1": (6, 4), "b1": (4,), "W2": (4, 3), "b2": (3,)}, \
    f"model.backward(targets) returned shapes {shapes}"
want = FROZEN(grads)
for name in want:
    np.testing.assert_allclose(grads[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"model.backward(targets)[{name!r}]")

# %% mlp.backward: hidden tests
model = MLP(input_dim=6, hidden_dim=4, output_dim=3)
model.params = FROZEN(random_like(model.params, seed=34, scale=0.8))
X1, X2 = FROZEN(two_decimals((cases.rng(35).normal(size=(4, 6)), cases.rng(36).normal(size=(3, 6)))))
T1, T2 = FROZEN((np.eye(3)[cases.labels(seed=37, n=4, k=3)], np.eye(3)[cases.labels(seed=38, n=3, k=3)]))
model.forward(X1)
model.backward(T1)
model.forward(X2)
X2_before, T2_before = X2.copy(), T2.copy()
grads = model.backward(T2)
again = model.backward(T2)
want = FROZEN(grads)
for name in want:
    np.testing.assert_allclose(grads[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"backward after a second forward, [{name!r}]")
    np.testing.assert_allclose(again[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"backward called twice, [{name!r}]")
np.testing.assert_array_equal(X2, X2_before, err_msg="forward/backward changed X")
np.testing.assert_array_equal(T2, T2_before, err_msg="backward changed targets")

# %% mlp.step: visible tests
model = MLP(input_dim=6, hidden_dim=4, output_dim=3, seed=0)
before = {name: np.copy(value) for name, value in model.params.items()}
grads = FROZEN(random_like(model.params, seed=41))
model.step(grads, 0.1)
for name in before:
    np.testing.assert_allclose(model.params[name], before[name] - 0.1 * grads[name], rtol=1e-12,
                               atol=1e-15, err_msg=f"params[{name!r}] after model.step(grads, 0.1)")

# %% mlp.step: hidden tests
model = MLP(input_dim=3, hidden_dim=2, output_dim=2, seed=1)
model.params = FROZEN(random_like(model.params, seed=42))
grads = FROZEN(random_like(model.params, seed=43))
grads_before = {name: np.copy(value) for name, value in grads.items()}
model.step(grads, 0.5)
want = FROZEN(model.params)
for name in want:
    np.testing.assert_allclose(model.params[name], want[name], rtol=1e-12, atol=1e-15,
                               err_msg=f"params[{name!r}] after model.step(grads, 0.5)")
    np.testing.assert_array_equal(grads[name], grads_before[name], err_msg="model.step changed grads")
