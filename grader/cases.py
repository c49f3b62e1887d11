"""Seeded inputs shared by the checks (and the kit's tests). Small, and shaped to expose bugs:
batch sizes with N != K != hidden, exact zeros, extreme logits, odd memory layouts."""
from contextlib import contextmanager

import numpy as np

# Small models whose every dimension differs, so a wrong axis or a transpose cannot hide.
MLP_SMALL = dict(input_dim=13, hidden_dim=7, output_dim=5)
CNN_SMALL = dict(in_channels=2, num_filters=3, kernel_size=3, image_size=7, num_classes=4)


# The rubric's [inputs] salt, set by grade(). With salt 0 (the public kit, which replays answers recorded
# for these inputs) every seed gives the numbers it always gave; any other salt gives numbers the public
# kit never showed, so answers looked up from it are worth nothing. `fixed` inputs ignore the salt: the
# numerical-gradient checks keep inputs checked to sit clear of ReLU's kink.
SALT = 0


@contextmanager
def salted(salt):
    """Draw the inputs with this salt inside the block (a grading run), with 0 again after it."""
    global SALT
    before, SALT = SALT, int(salt)
    try:
        yield
    finally:
        SALT = before


def rng(seed, fixed=False):
    return np.random.default_rng(seed if fixed or SALT == 0 else [SALT, seed])


def model_seed(seed, fixed=False):
    """An int seed for a reference model's constructor, salted like rng()."""
    return seed if fixed or SALT == 0 else int(rng(seed).integers(2**31))


def logits(seed, n, k, scale=3.0):
    return rng(seed).normal(scale=scale, size=(n, k))


def extreme_sigmoid_inputs(seed, n=12):
    """Logits of magnitude 700 to 1e4, both signs, with +-1e4 exactly, where exp(-z) or exp(z) overflows."""
    r = rng(seed)
    z = r.uniform(700.0, 1e4, size=n) * r.choice([-1.0, 1.0], size=n)
    z[r.choice(n, size=2, replace=False)] = [1e4, -1e4]
    return z.reshape(2, -1)


def extreme_logits():
    """Fixed logits of +-1e4 (the notebook's frozen softmax test); the grader's check draws its own."""
    return np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 0.0]])


def extreme_logit_rows(seed):
    """Rows of logits near +-1e4 where a softmax without the max shift overflows (inf / inf) or underflows
    (0 / 0): a level of 700 to 1e4 (either sign) plus small offsets, one row of ties at the level, and a
    row mixing +-1e4."""
    r = rng(seed)
    n, k = int(r.integers(4, 8)), int(r.integers(3, 11))
    level = r.uniform(700.0, 1e4, size=(n, 1)) * r.choice([-1.0, 1.0], size=(n, 1))
    z = level + r.normal(scale=2.0, size=(n, k))
    z[0] = level[0, 0]                                         # all equal: uniform probabilities
    z[1] = r.choice([-1e4, 1e4], size=k)
    z[1, r.integers(k)] = 1e4                                  # at least one +1e4
    return z


def saturated_probs(seed, exact):
    """probs (N, K) and one-hot targets where the true class has probability exactly `exact` (0 or 1) in
    some rows (the rest of the row sums to 1 - exact), and ordinary probabilities elsewhere; also the
    saturated rows."""
    r = rng(seed)
    n, k = int(r.integers(4, 9)), int(r.integers(3, 11))
    probs, targets = probs_and_targets(seed + 1, n, k)
    rows = sorted(int(i) for i in r.choice(n, size=int(r.integers(1, n)), replace=False))
    labels = targets.argmax(axis=1)
    for i in rows:
        rest = r.random(k)
        rest[labels[i]] = 0.0
        probs[i] = rest / rest.sum() * (1.0 - exact)
        probs[i, labels[i]] = exact
    return probs, targets, rows


def probs_and_targets(seed, n, k):
    r = rng(seed)
    z = r.normal(scale=2.0, size=(n, k))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), np.eye(k)[r.integers(0, k, size=n)]


def labels(seed, n, k=10):
    return rng(seed).integers(0, k, size=n)


def conv_inputs(seed, n, c, h, w, f, kh, kw, fixed=False):
    r = rng(seed, fixed)
    return r.normal(size=(n, c, h, w)), r.normal(size=(f, c, kh, kw)), r.normal(size=f)


def layouts(x):
    """The same values in other memory layouts: (label, array)."""
    n, c, h, w = x.shape
    yield "a Fortran-ordered x", np.asfortranarray(x)
    yield "a transposed view for x", np.ascontiguousarray(x.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)
    padded = np.zeros((n, c, h + 3, 2 * w))
    padded[:, :, 1:h + 1, ::2] = x
    yield "a strided slice for x", padded[:, :, 1:h + 1, ::2]


def model_inputs(item, seed, n, small=True, fixed=False):
    """Inputs X and one-hot targets for the MLP or the CNN."""
    r = rng(seed, fixed)
    if item == "mlp":
        d, k = (MLP_SMALL["input_dim"], MLP_SMALL["output_dim"]) if small else (784, 10)
        X = r.normal(size=(n, d))
    else:
        c, s, k = (CNN_SMALL["in_channels"], CNN_SMALL["image_size"], CNN_SMALL["num_classes"]) if small else (1, 28, 10)
        X = r.normal(size=(n, c, s, s))
        X[:, :, :3, :] = 0.0                 # all-zero windows: with conv_b[0] = 0 they give Z == 0 exactly
    return X, np.eye(k)[r.integers(0, k, size=n)]


def model_params(item, seed, fixed=False):
    """Parameters for the small models: biases nonzero (a missing bias shows), nothing saturated."""
    from grader import reference
    r = rng(seed + 1, fixed)
    if item == "mlp":
        params = reference.mlp.MLP(**MLP_SMALL, weight_std=0.5, seed=model_seed(seed, fixed)).params
    else:
        params = reference.cnn.CNN(**CNN_SMALL, seed=model_seed(seed, fixed)).params
        params["fc_W"] = params["fc_W"] * 4
    for name, value in params.items():
        if value.ndim == 1:
            params[name] = r.normal(scale=0.3, size=value.shape)
    if item == "cnn":
        params["conv_b"][0] = 0.0        # with the zero windows of model_inputs: Z == 0 exactly
    return params


def real_params(item, seed):
    """Parameters of the contract's default MLP or CNN (784-128-10; 28x28, 8 filters of 3x3): the default
    weights, biases drawn here (nonzero, so no ReLU sits exactly at its kink)."""
    from grader import reference
    params = (reference.mlp.MLP() if item == "mlp" else reference.cnn.CNN()).params
    r = rng(seed)
    return {name: r.normal(scale=0.3, size=value.shape) if value.ndim == 1 else value for name, value in params.items()}


def real_batch(item, seed, n):
    """A batch of n inputs for the default MLP (n, 784) or CNN (n, 1, 28, 28), with one-hot targets."""
    r = rng(seed)
    X = r.normal(size=(n, 784) if item == "mlp" else (n, 1, 28, 28))
    return X, np.eye(10)[r.integers(0, 10, size=n)]


def random_grads(params, seed):
    r = rng(seed)
    return {k: r.normal(size=v.shape) for k, v in params.items()}
