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


def extreme_logits():
    return np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 0.0]])


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


def random_grads(params, seed):
    r = rng(seed)
    return {k: r.normal(size=v.shape) for k, v in params.items()}
