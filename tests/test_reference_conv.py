"""extract_patches is a strided view with the right values; conv matches a naive loop."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import cnn


def naive_patches(x, kh, kw):
    N, C, H, W = x.shape
    out = np.empty((N, C, H - kh + 1, W - kw + 1, kh, kw), dtype=x.dtype)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[:, :, i, j] = x[:, :, i:i + kh, j:j + kw]
    return out


def naive_conv(x, weight, bias):
    N, C, H, W = x.shape
    F, _, kh, kw = weight.shape
    out = np.zeros((N, F, H - kh + 1, W - kw + 1))
    for n in range(N):
        for f in range(F):
            for i in range(H - kh + 1):
                for j in range(W - kw + 1):
                    out[n, f, i, j] = np.sum(x[n, :, i:i + kh, j:j + kw] * weight[f]) + bias[f]
    return out


def layouts(rng):
    """The same kind of batch in several memory layouts and dtypes."""
    base = rng.normal(size=(3, 2, 7, 8))
    yield "contiguous", base
    yield "fortran", np.asfortranarray(base)
    yield "transposed", rng.normal(size=(8, 7, 2, 3)).transpose(3, 2, 1, 0)
    yield "sliced", rng.normal(size=(6, 2, 14, 9))[::2, :, ::2, 1:]
    yield "float32", base.astype(np.float32)
    yield "int64", rng.integers(0, 255, size=(2, 1, 6, 5))


@pytest.mark.parametrize("kh, kw", [(3, 3), (2, 4), (1, 1)])
def test_extract_patches_is_a_view_with_the_right_values(rng, kh, kw):
    for name, x in layouts(rng):
        patches = cnn.extract_patches(x, kh, kw)
        assert np.shares_memory(patches, x), name
        assert patches.dtype == x.dtype, name
        assert_array_equal(patches, naive_patches(x, kh, kw), err_msg=name)


def test_extract_patches_leaves_x_unchanged(rng):
    x = rng.normal(size=(2, 1, 5, 5))
    before = x.copy()
    cnn.extract_patches(x, 3, 3)
    assert_array_equal(x, before)


@pytest.mark.parametrize("kh, kw, f", [(3, 3, 4), (2, 3, 2), (1, 1, 3)])
def test_conv2d_forward_matches_naive_loop(rng, kh, kw, f):
    for name, x in layouts(rng):
        weight = rng.normal(size=(f, x.shape[1], kh, kw))
        bias = rng.normal(size=f)
        assert_allclose(cnn.conv2d_forward(x, weight, bias), naive_conv(x, weight, bias),
                        rtol=1e-5 if x.dtype == np.float32 else 1e-12, atol=1e-9, err_msg=name)


def test_conv2d_backward_matches_naive_loop(rng):
    x = rng.normal(size=(2, 3, 6, 5))
    weight = rng.normal(size=(4, 3, 3, 2))
    dout = rng.normal(size=(2, 4, 4, 4))
    dx_want = np.zeros_like(x)
    dweight_want = np.zeros_like(weight)
    for n in range(2):
        for f in range(4):
            for i in range(4):
                for j in range(4):
                    dx_want[n, :, i:i + 3, j:j + 2] += dout[n, f, i, j] * weight[f]
                    dweight_want[f] += dout[n, f, i, j] * x[n, :, i:i + 3, j:j + 2]
    dx, dweight, dbias = cnn.conv2d_backward(dout, x, weight)
    assert_allclose(dx, dx_want, rtol=1e-12, atol=1e-12)
    assert_allclose(dweight, dweight_want, rtol=1e-12, atol=1e-12)
    assert_allclose(dbias, dout.sum(axis=(0, 2, 3)), rtol=1e-12)
