# The notebook's tests of cnn.py, cut into cells by grader/course/nbgrader.py (`mnist-grader nbgrader`).
# Not a module: nothing imports this file.
#
# Each `# %% ITEM: visible tests` or `# %% ITEM: hidden tests` line opens a test cell, which runs to the
# next such line. ITEM is a contract item of cnn.py with a solution region (cnn.extract_patches, ...);
# each has one cell of each kind, and its points come from the rubric. A cell stands alone (students
# run cells in any order): it sees numpy as np and the code of the contract files' cells.
#
# FROZEN(expr) is written into the notebook as the literal value expr has when the cell runs on the
# reference, so the notebook needs neither the reference nor a stable random stream. Inside FROZEN
# only, these helpers are available: cases (grader/cases.py), random_like and two_decimals
# (grader/course/nbgrader.py). The reference must pass every cell as written, or nothing is written.

# %% cnn.extract_patches: visible tests
x = np.arange(2 * 1 * 4 * 5, dtype=np.float64).reshape(2, 1, 4, 5)
patches = extract_patches(x, 2, 3)
assert np.shape(patches) == (2, 1, 3, 3, 2, 3), \
    f"extract_patches(x, 2, 3) with x of shape (2, 1, 4, 5) returned shape {np.shape(patches)}; expected (2, 1, 3, 3, 2, 3)"
np.testing.assert_array_equal(patches[1, 0, 2, 1], x[1, 0, 2:4, 1:4],
                              err_msg="patches[1, 0, 2, 1] must be the window x[1, 0, 2:4, 1:4]")

# %% cnn.extract_patches: hidden tests
x = FROZEN(two_decimals(cases.rng(51).normal(size=(2, 3, 5, 4))))
windows = np.array([[[[x[n, c, i:i + 3, j:j + 2] for j in range(3)] for i in range(3)]
                     for c in range(3)] for n in range(2)])
padded = np.zeros((2, 3, 7, 8))
padded[:, :, 1:6, ::2] = x
for label, view in [("x", x), ("np.asfortranarray(x)", np.asfortranarray(x)),
                    ("a strided slice", padded[:, :, 1:6, ::2])]:
    patches = extract_patches(view, 3, 2)
    np.testing.assert_array_equal(patches, windows, err_msg=f"extract_patches({label}, 3, 2)")
    assert np.shares_memory(patches, view), f"extract_patches({label}, 3, 2) must be a view of it, not a copy"
patches32 = extract_patches(x.astype(np.float32), 3, 2)
assert patches32.dtype == np.float32, f"extract_patches of float32 input returned {patches32.dtype}"
np.testing.assert_array_equal(patches32, windows.astype(np.float32), err_msg="float32 input")

# %% cnn.conv2d_forward: visible tests
x, weight, bias = FROZEN(two_decimals(cases.conv_inputs(seed=61, n=2, c=2, h=4, w=5, f=3, kh=3, kw=2)))
out = conv2d_forward(x, weight, bias)
assert np.shape(out) == (2, 3, 2, 4), \
    f"conv2d_forward(x, weight, bias) returned shape {np.shape(out)}; expected (2, 3, 2, 4)"
np.testing.assert_allclose(out[1, 2, 0, 3], np.sum(x[1, :, 0:3, 3:5] * weight[2]) + bias[2], rtol=1e-10,
                           err_msg="out[1, 2, 0, 3] must be sum(x[1, :, 0:3, 3:5] * weight[2]) + bias[2]")
want = FROZEN(out)
np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-10, err_msg="conv2d_forward(x, weight, bias)")

# %% cnn.conv2d_forward: hidden tests
x, weight, bias = FROZEN(two_decimals(cases.conv_inputs(seed=62, n=2, c=3, h=5, w=4, f=2, kh=2, kw=3)))
before = [np.copy(x), np.copy(weight), np.copy(bias)]
out = conv2d_forward(x, weight, bias)
want = FROZEN(out)
np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-10, err_msg="conv2d_forward(x, weight, bias)")
np.testing.assert_allclose(conv2d_forward(np.asfortranarray(x), weight, bias), want, rtol=1e-7, atol=1e-10,
                           err_msg="conv2d_forward with a Fortran-ordered x")
for value, original in zip([x, weight, bias], before):
    np.testing.assert_array_equal(value, original, err_msg="conv2d_forward changed its inputs")
pointwise = conv2d_forward(x, weight[:, :, :1, :1], bias)
np.testing.assert_allclose(pointwise, FROZEN(pointwise), rtol=1e-7, atol=1e-10, err_msg="a 1x1 kernel")

# %% cnn.conv2d_backward: visible tests
x, weight, _ = FROZEN(two_decimals(cases.conv_inputs(seed=71, n=2, c=2, h=4, w=5, f=3, kh=3, kw=2)))
dout = FROZEN(two_decimals(cases.rng(72).normal(size=(2, 3, 2, 4))))
dx, dweight, dbias = conv2d_backward(dout, x, weight)
shapes = [np.shape(dx), np.shape(dweight), np.shape(dbias)]
assert shapes == [(2, 2, 4, 5), (3, 2, 3, 2), (3,)], \
    f"conv2d_backward returned shapes {shapes}; expected [(2, 2, 4, 5), (3, 2, 3, 2), (3,)]"
want = FROZEN((dx, dweight, dbias))
for label, got, expected in zip(["dx", "dweight", "dbias"], [dx, dweight, dbias], want):
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-10, err_msg=f"{label} of conv2d_backward")

# %% cnn.conv2d_backward: hidden tests
x, weight, _ = FROZEN(two_decimals(cases.conv_inputs(seed=73, n=2, c=3, h=5, w=4, f=2, kh=2, kw=3)))
dout = FROZEN(two_decimals(cases.rng(74).normal(size=(2, 2, 4, 2))))
before = [np.copy(dout), np.copy(x), np.copy(weight)]
got = conv2d_backward(dout, x, weight)
want = FROZEN(got)
for label, value, expected in zip(["dx", "dweight", "dbias"], got, want):
    np.testing.assert_allclose(value, expected, rtol=1e-7, atol=1e-10, err_msg=label)
for label, value, expected in zip(["dx", "dweight", "dbias"], conv2d_backward(dout, np.asfortranarray(x), weight), want):
    np.testing.assert_allclose(value, expected, rtol=1e-7, atol=1e-10, err_msg=f"{label} with a Fortran-ordered x")
for value, original in zip([dout, x, weight], before):
    np.testing.assert_array_equal(value, original, err_msg="conv2d_backward changed its inputs")

# %% cnn.init: visible tests
model = CNN(in_channels=2, num_filters=3, kernel_size=2, image_size=4, num_classes=4, seed=0)
shapes = {name: np.shape(value) for name, value in model.params.items()}
assert shapes == {"conv_W": (3, 2, 2, 2), "conv_b": (3,), "fc_W": (27, 4), "fc_b": (4,)}, \
    f"CNN(in_channels=2, num_filters=3, kernel_size=2, image_size=4, num_classes=4).params has shapes {shapes}"
assert not np.any(model.params["conv_b"]) and not np.any(model.params["fc_b"]), "conv_b and fc_b must start at zero"

# %% cnn.init: hidden tests
model = CNN(in_channels=1, num_filters=2, kernel_size=2, image_size=5, num_classes=3, seed=5)
want = FROZEN(model.params)
for name in want:
    np.testing.assert_allclose(model.params[name], want[name], rtol=1e-12,
                               err_msg=f"CNN(..., seed=5).params[{name!r}]")
again = CNN(in_channels=1, num_filters=2, kernel_size=2, image_size=5, num_classes=3, seed=5)
np.testing.assert_array_equal(again.params["conv_W"], model.params["conv_W"],
                              err_msg="the same seed must give the same weights")

# %% cnn.forward: visible tests
model = CNN(in_channels=2, num_filters=3, kernel_size=2, image_size=4, num_classes=4)
model.params = FROZEN(random_like(model.params, seed=81, scale=0.5))
X = FROZEN(two_decimals(cases.rng(82).normal(size=(2, 2, 4, 4))))
probs = model.forward(X)
assert np.shape(probs) == (2, 4), f"model.forward(X) returned shape {np.shape(probs)}; expected (2, 4)"
np.testing.assert_allclose(np.sum(probs, axis=1), np.ones(2), rtol=1e-10,
                           err_msg="every row of model.forward(X) must sum to 1")
want = FROZEN(probs)
np.testing.assert_allclose(probs, want, rtol=1e-7, atol=1e-12, err_msg="model.forward(X)")

# %% cnn.forward: hidden tests
model = CNN(in_channels=1, num_filters=4, kernel_size=2, image_size=5, num_classes=3)
model.params = FROZEN(random_like(model.params, seed=83))
X = FROZEN(two_decimals(cases.rng(84).normal(size=(3, 1, 5, 5))))
X_before = X.copy()
probs = model.forward(X)
np.testing.assert_allclose(probs, FROZEN(probs), rtol=1e-7, atol=1e-12, err_msg="model.forward(X)")
np.testing.assert_array_equal(X, X_before, err_msg="model.forward(X) changed X")

# %% cnn.backward: visible tests
model = CNN(in_channels=2, num_filters=3, kernel_size=2, image_size=4, num_classes=4)
model.params = FROZEN(random_like(model.params, seed=91, scale=0.5))
X = FROZEN(two_decimals(cases.rng(92).normal(size=(2, 2, 4, 4))))
targets = FROZEN(np.eye(4)[cases.labels(seed=93, n=2, k=4)])
model.forward(X)
grads = model.backward(targets)
shapes = {name: np.shape(value) for name, value in grads.items()}
assert shapes == {"conv_W": (3, 2, 2, 2), "conv_b": (3,), "fc_W": (27, 4), "fc_b": (4,)}, \
    f"model.backward(targets) returned shapes {shapes}"
want = FROZEN(grads)
for name in want:
    np.testing.assert_allclose(grads[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"model.backward(targets)[{name!r}]")

# %% cnn.backward: hidden tests
model = CNN(in_channels=1, num_filters=2, kernel_size=2, image_size=5, num_classes=3)
model.params = FROZEN(random_like(model.params, seed=94))
model.params["conv_b"][0] = 0.0
X1, X2 = FROZEN(two_decimals((cases.rng(95).normal(size=(2, 1, 5, 5)), cases.rng(96).normal(size=(3, 1, 5, 5)))))
X2[:, :, :2, :] = 0.0   # all-zero windows: with conv_b[0] = 0, Z is exactly 0 there
T1, T2 = FROZEN((np.eye(3)[cases.labels(seed=97, n=2, k=3)], np.eye(3)[cases.labels(seed=98, n=3, k=3)]))
model.forward(X1)
model.backward(T1)
model.forward(X2)
grads = model.backward(T2)
again = model.backward(T2)
want = FROZEN(grads)
for name in want:
    np.testing.assert_allclose(grads[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"backward after a second forward, [{name!r}]")
    np.testing.assert_allclose(again[name], want[name], rtol=1e-7, atol=1e-12,
                               err_msg=f"backward called twice, [{name!r}]")

# %% cnn.step: visible tests
model = CNN(in_channels=2, num_filters=3, kernel_size=2, image_size=4, num_classes=4, seed=0)
before = {name: np.copy(value) for name, value in model.params.items()}
grads = FROZEN(random_like(model.params, seed=101))
model.step(grads, 0.1)
for name in before:
    np.testing.assert_allclose(model.params[name], before[name] - 0.1 * grads[name], rtol=1e-12,
                               atol=1e-15, err_msg=f"params[{name!r}] after model.step(grads, 0.1)")

# %% cnn.step: hidden tests
model = CNN(in_channels=1, num_filters=2, kernel_size=2, image_size=4, num_classes=2, seed=1)
model.params = FROZEN(random_like(model.params, seed=102))
grads = FROZEN(random_like(model.params, seed=103))
grads_before = {name: np.copy(value) for name, value in grads.items()}
model.step(grads, 0.5)
want = FROZEN(model.params)
for name in want:
    np.testing.assert_allclose(model.params[name], want[name], rtol=1e-12, atol=1e-15,
                               err_msg=f"params[{name!r}] after model.step(grads, 0.5)")
    np.testing.assert_array_equal(grads[name], grads_before[name], err_msg="model.step changed grads")
