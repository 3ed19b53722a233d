"""Hidden activations: values against formulas, derivatives against finite differences, stability."""
from __future__ import annotations

import numpy as np
import pytest

from nnscratch import activations as A

FORMULAS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z < 0, 0.01 * z, z),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def sample(dtype="float64", n=200, seed=0) -> np.ndarray:
    z = np.random.default_rng(seed).uniform(-4, 4, size=(n // 10, 10)).astype(dtype)
    z[np.abs(z) < 1e-3] = 0.5  # stay away from the ReLU kink for the finite differences
    return z


@pytest.mark.parametrize("name", sorted(FORMULAS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_formula_in_place(name, dtype):
    z = sample(dtype)
    expected = FORMULAS[name](z.astype(np.float64))
    activation = A.get_activation(name)
    out = activation.forward(z)
    assert out is z and out.dtype == np.dtype(dtype)  # computed in place, no upcast
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == "float32" else 1e-12, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_backward_matches_central_differences(name):
    z = sample()
    eps = 1e-6
    numeric = (FORMULAS[name](z + eps) - FORMULAS[name](z - eps)) / (2 * eps)
    activation = A.get_activation(name)
    upstream = np.random.default_rng(1).standard_normal(z.shape)
    output = activation.forward(z.copy())
    grad = upstream.copy()
    result = activation.backward(grad, output)
    assert result is grad
    np.testing.assert_allclose(result, upstream * numeric, rtol=1e-6, atol=1e-9)


def test_relu_derivative_is_zero_at_and_below_zero():
    relu = A.get_activation("relu")
    output = relu.forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3)), output), [[0.0, 0.0, 1.0]])


def test_leaky_relu_slope_is_configurable_and_validated():
    leaky = A.LeakyReLU(negative_slope=0.2)
    np.testing.assert_allclose(leaky.forward(np.array([[-1.0, 2.0]])), [[-0.2, 2.0]])
    np.testing.assert_allclose(leaky.backward(np.ones((1, 2)), np.array([[-0.2, 2.0]])), [[0.2, 1.0]])
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="negative_slope"):
            A.LeakyReLU(negative_slope=bad)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    z = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = A.sigmoid(z)
    assert out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    assert out[0, 0] == 0.0 and out[0, 3] == 0.5 and out[0, -1] == 1.0
    np.testing.assert_allclose(out + A.sigmoid(-z), 1.0, rtol=1e-6)


def test_sigmoid_with_out_writes_into_it():
    z = np.array([[-1.0, 0.0, 2.0]])
    out = np.empty_like(z)
    assert A.sigmoid(z, out=out) is out
    np.testing.assert_allclose(out, FORMULAS["sigmoid"](z))
    np.testing.assert_array_equal(z, [[-1.0, 0.0, 2.0]])  # input untouched


def test_unknown_activation_is_rejected_naming_the_argument_and_choices():
    with pytest.raises(ValueError, match="activation='swish'.*relu"):
        A.get_activation("swish")
