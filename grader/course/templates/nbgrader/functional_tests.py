# The notebook's tests of functional.py, cut into cells by grader/course/nbgrader.py (`mnist-grader nbgrader`).
# Not a module: nothing imports this file.
#
# Each `# %% ITEM: visible tests` or `# %% ITEM: hidden tests` line opens a test cell, which runs to the
# next such line. ITEM is a contract item of functional.py with a solution region (functional.sigmoid, ...);
# each has one cell of each kind, and its points come from the rubric. A cell stands alone (students
# run cells in any order): it sees numpy as np and the code of the contract files' cells.
#
# FROZEN(expr) is written into the notebook as the literal value expr has when the cell runs on the
# reference, so the notebook needs neither the reference nor a stable random stream. Inside FROZEN
# only, these helpers are available: cases (grader/cases.py), random_like and two_decimals
# (grader/course/nbgrader.py). The reference must pass every cell as written, or nothing is written.

# %% functional.sigmoid: visible tests
z = np.array([[-3.0, -0.5, 0.0], [0.5, 2.0, 7.0]])
out = sigmoid(z)
assert np.shape(out) == (2, 3), f"sigmoid(z) returned shape {np.shape(out)}; expected (2, 3)"
want = FROZEN(out)
np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-12, err_msg="sigmoid(z)")

# %% functional.sigmoid: hidden tests
z = FROZEN(two_decimals(cases.logits(seed=11, n=5, k=7, scale=4.0)))
z_before = z.copy()
out = sigmoid(z)
np.testing.assert_allclose(out, FROZEN(out), rtol=1e-7, atol=1e-12, err_msg="sigmoid(z)")
np.testing.assert_array_equal(z, z_before, err_msg="sigmoid(z) changed z")
with np.errstate(over="raise", invalid="raise"):
    extreme = sigmoid(np.array([1e4, -1e4, 0.0]))
np.testing.assert_allclose(extreme, [1.0, 0.0, 0.5], atol=1e-12, err_msg="sigmoid at +-1e4")
assert sigmoid(z.astype(np.float32)).dtype == np.float32, "sigmoid must keep float32 input float32"

# %% functional.relu: visible tests
z = np.array([[-2.0, 0.0, 3.5], [1e-3, -1e-3, 0.0]])
out = relu(z)
assert np.shape(out) == (2, 3), f"relu(z) returned shape {np.shape(out)}; expected (2, 3)"
np.testing.assert_array_equal(out, [[0.0, 0.0, 3.5], [1e-3, 0.0, 0.0]], err_msg="relu(z)")

# %% functional.relu: hidden tests
z = FROZEN(two_decimals(cases.rng(12).normal(size=(3, 4, 5))))
z[0, 0, :2] = 0.0
z_before = z.copy()
out = relu(z)
np.testing.assert_array_equal(out, FROZEN(out), err_msg="relu(z)")
np.testing.assert_array_equal(z, z_before, err_msg="relu(z) changed z")
assert relu(z.astype(np.float32)).dtype == np.float32, "relu must keep float32 input float32"

# %% functional.softmax: visible tests
z = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [-5.0, 10.0, 2.5, -1.0]])
probs = softmax(z)
assert np.shape(probs) == (3, 4), f"softmax(z) returned shape {np.shape(probs)}; expected (3, 4)"
np.testing.assert_allclose(np.sum(probs, axis=1), np.ones(3), rtol=1e-12,
                           err_msg="every row of softmax(z) must sum to 1")
want = FROZEN(probs)
np.testing.assert_allclose(probs, want, rtol=1e-7, atol=1e-12, err_msg="softmax(z)")

# %% functional.softmax: hidden tests
z = FROZEN(two_decimals(cases.logits(seed=13, n=6, k=5)))
z_before = z.copy()
probs = softmax(z)
np.testing.assert_allclose(probs, FROZEN(probs), rtol=1e-7, atol=1e-12, err_msg="softmax(z)")
np.testing.assert_array_equal(z, z_before, err_msg="softmax(z) changed z")
with np.errstate(over="raise", invalid="raise"):
    extreme = softmax(FROZEN(cases.extreme_logits()))
np.testing.assert_allclose(extreme, FROZEN(extreme), atol=1e-12, err_msg="softmax at +-1e4")
assert softmax(z.astype(np.float32)).dtype == np.float32, "softmax must keep float32 input float32"

# %% functional.one_hot: visible tests
out = one_hot(np.array([2, 0, 1, 2]), num_classes=3)
assert np.shape(out) == (4, 3), f"one_hot(labels, num_classes=3) returned shape {np.shape(out)}; expected (4, 3)"
assert out.dtype == np.float64, f"one_hot returned dtype {out.dtype}; expected float64"
np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
                              err_msg="one_hot([2, 0, 1, 2], num_classes=3)")

# %% functional.one_hot: hidden tests
labels = FROZEN(cases.labels(seed=14, n=9))
labels_before = labels.copy()
out = one_hot(labels)
assert np.shape(out) == (9, 10), f"one_hot(labels) returned shape {np.shape(out)}; expected (9, 10)"
np.testing.assert_array_equal(out, FROZEN(out), err_msg="one_hot(labels)")
np.testing.assert_array_equal(labels, labels_before, err_msg="one_hot(labels) changed labels")

# %% functional.cross_entropy: visible tests
probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.25, 0.5, 0.25]])
targets = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
loss = cross_entropy(probs, targets)
assert np.ndim(loss) == 0, f"cross_entropy(probs, targets) returned shape {np.shape(loss)}; expected a scalar"
np.testing.assert_allclose(loss, -(np.log(0.7) + np.log(0.8) + np.log(0.5)) / 3, rtol=1e-10,
                           err_msg="cross_entropy(probs, targets)")

# %% functional.cross_entropy: hidden tests
probs, targets = FROZEN(cases.probs_and_targets(seed=15, n=4, k=5))
probs_before, targets_before = probs.copy(), targets.copy()
loss = cross_entropy(probs, targets)
np.testing.assert_allclose(loss, FROZEN(loss), rtol=1e-10, err_msg="cross_entropy(probs, targets)")
np.testing.assert_array_equal(probs, probs_before, err_msg="cross_entropy changed probs")
np.testing.assert_array_equal(targets, targets_before, err_msg="cross_entropy changed targets")
edge = cross_entropy(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]),
                     np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]))
np.testing.assert_allclose(edge, FROZEN(edge), rtol=1e-10, err_msg="cross_entropy with probabilities 0 and 1")
loss32 = cross_entropy(probs.astype(np.float32), targets.astype(np.float32))
np.testing.assert_allclose(float(loss32), FROZEN(loss), rtol=1e-5, err_msg="cross_entropy of float32 inputs")
